"""Issue 10, "Why" 1 and part of 12: nothing of a deleted project reaches a later one, and a deploy cut off
by a killed slipwayd is recorded as such.

A hostile project writes a file into its container's file system and prints a marker, then is deleted
with --force; the next project, deployed on the same daemon, must not serve that file, must not show that
marker in its logs, and must get ids, directories and netns names of its own.  Before the fix sqlite
handed out the deleted rows' ids again and the instance directory stayed: the new instance mounted the old
overlay upper (200 for the old file) and appended to the old logs."""

import os
import re
import signal
import sqlite3
import time

from deploy_util import (build_image, deploy, http_get, ingress_url, instance_pid, make_site, pid_alive,
                         project_with_component, release_doc, running_deploy_daemon, wait_for)

MARKER_A = "hostile-marker-of-project-a"
SECRET_A = "written by the container of project a"


def instance_dirs(d):
        """The instance directories under DIR/instances (the overlay shim is not one)."""
        top = d.state_dir / "instances"
        return sorted(n for n in os.listdir(top) if not n.startswith(".")) if top.is_dir() else []


def ids_of(d, project):
        """Row ids of everything of project that names a path, a netns or a route."""
        db = sqlite3.connect(f"file:{d.state_dir}/slipway.db?mode=ro", uri=True)
        try:
                q = lambda sql: {r[0] for r in db.execute(sql, (project,))}
                return {
                        "project": q("SELECT id FROM projects WHERE name = ?"),
                        "environment": q("SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id"
                                         " WHERE p.name = ?"),
                        "bridge": q("SELECT e.bridge FROM environments e JOIN projects p ON p.id = e.project_id"
                                    " WHERE p.name = ?"),
                        "component": q("SELECT c.id FROM components c JOIN projects p ON p.id = c.project_id"
                                       " WHERE p.name = ?"),
                        "release": q("SELECT r.id FROM releases r JOIN components c ON c.id = r.component_id"
                                     " JOIN projects p ON p.id = c.project_id WHERE p.name = ?"),
                        "instance": q("SELECT i.id FROM instances i JOIN releases r ON r.id = i.release_id"
                                      " JOIN components c ON c.id = r.component_id"
                                      " JOIN projects p ON p.id = c.project_id WHERE p.name = ?"),
                        "netns": q("SELECT i.netns FROM instances i JOIN releases r ON r.id = i.release_id"
                                   " JOIN components c ON c.id = r.component_id"
                                   " JOIN projects p ON p.id = c.project_id WHERE p.name = ?"),
                }
        finally:
                db.close()


def test_deleted_project_leaves_nothing_to_the_next(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                # Project A: its container writes into its own root file system and prints a marker.
                a_cmd = ["/bin/sh", "-c", f"echo {MARKER_A}; echo '{SECRET_A}' > /www/leak.txt; "
                                          "exec httpd -f -p 8080 -h /www"]
                build_image(d, make_site(tmp_path / "a", "site a", cmd=a_cmd), "a:1")
                build_image(d, make_site(tmp_path / "b", "site b"), "b:1")
                project_with_component(d, "alpha/web", "a:1")
                deploy(d, "alpha/web", "development", "a:1")
                url_a = ingress_url(d, "alpha", "web", "development")
                assert http_get(url_a + "leak.txt") == (200, SECRET_A + "\n")
                assert MARKER_A in d.cli("logs", "alpha/web", "development", json=False).stdout
                ids_a = ids_of(d, "alpha")
                dirs_a = instance_dirs(d)
                assert dirs_a == [str(i) for i in sorted(ids_a["instance"])], dirs_a

                # A failed deploy too, so that A has a failed instance with logs of its own.
                build_image(d, make_site(tmp_path / "a2", "never ready", healthz=False,
                                         cmd=["/bin/sh", "-c", f"echo {MARKER_A}-failed; exec sleep 1000"]),
                            "a:2")
                rc, doc, _ = deploy(d, "alpha/web", "development", "a:2", check=False)
                assert rc != 0 and doc and doc["status"] == "failed", doc
                ids_a = ids_of(d, "alpha")
                assert len(ids_a["instance"]) == 2 and len(instance_dirs(d)) == 2

                d.cli("project", "delete", "alpha", "--force")
                # Nothing of A is left under DIR/instances: no upper, no logs, no bundle.
                assert instance_dirs(d) == [], instance_dirs(d)

                # Project B, on the same daemon, created and deployed the same way.
                project_with_component(d, "beta/web", "b:1")
                deploy(d, "beta/web", "development", "b:1")
                url_b = ingress_url(d, "beta", "web", "development")
                assert http_get(url_b) == (200, "site b\n")
                status, body = http_get(url_b + "leak.txt")
                assert status == 404 and SECRET_A not in body, (status, body)
                logs = d.cli("logs", "beta/web", "development", json=False)
                assert logs.returncode == 0 and MARKER_A not in logs.stdout + logs.stderr, logs.stdout
                ids_b = ids_of(d, "beta")
                for kind in ("project", "environment", "component", "release", "instance", "netns"):
                        assert ids_b[kind] and not (ids_b[kind] & ids_a[kind]), (kind, ids_a[kind], ids_b[kind])
                        if kind != "netns":
                                assert min(ids_b[kind]) > max(ids_a[kind]), (kind, ids_a[kind], ids_b[kind])
                # The only instance directory is B's own, and holds no file of A.
                (inst_b,) = ids_b["instance"]
                assert instance_dirs(d) == [str(inst_b)]
                upper = d.state_dir / "instances" / str(inst_b) / "upper"
                leaked = [p for p in upper.rglob("leak.txt")] if upper.is_dir() else []
                assert not leaked, leaked

                # A project made again under the deleted one's name gets new ids and new bridges too (the
                # names alone used to make the bridge names).
                d.cli("project", "create", "alpha")
                again = ids_of(d, "alpha")
                for kind in ("project", "environment", "bridge"):
                        assert again[kind] and not (again[kind] & ids_a[kind]), (kind, ids_a[kind], again[kind])
                d.cli("project", "delete", "alpha")

                # After a restart B keeps its ids and its directory (the start sweep keeps what a row owns).
                d.stop()
                d.start()
                assert instance_dirs(d) == [str(inst_b)]
                assert wait_for(lambda: http_get(url_b) == (200, "site b\n"), 30)


def test_orphan_instance_dir_is_removed_at_start(build_dir, images, tmp_path):
        """A directory that an older slipwayd's project delete left in DIR/instances (no row owns it) is gone
        after the next start, and no new instance inherits it."""
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                build_image(d, make_site(tmp_path / "b", "site b"), "b:1")
                project_with_component(d, "beta/web", "b:1")
                orphan = d.state_dir / "instances" / "1"
                (orphan / "upper" / "www").mkdir(parents=True)
                (orphan / "upper" / "www" / "leak.txt").write_text("left behind\n")
                (orphan / "stdout.log").write_text(MARKER_A + "\n")
                d.stop()
                d.start()
                assert not orphan.exists(), os.listdir(orphan)
                deploy(d, "beta/web", "development", "b:1")
                url_b = ingress_url(d, "beta", "web", "development")
                assert http_get(url_b + "leak.txt")[0] == 404
                assert MARKER_A not in d.cli("logs", "beta/web", "development", json=False).stdout


def test_release_cut_off_by_kill_is_failed_with_finished_at_and_log_line(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                build_image(d, make_site(tmp_path / "slow", "never ready", healthz=False), "web:slow")
                project_with_component(d, "cut/web", "web:slow")
                pending = d.cli("deploy", "cut/web", "development", "--image", "web:slow", "--no-wait")

                def started():
                        r = release_doc(d, "cut", "web", pending["id"])
                        return r if r["status"] == "deploying" and r.get("instances") else None
                doc = wait_for(started, 60)
                assert doc, release_doc(d, "cut", "web", pending["id"])
                inst = doc["instances"][0]["id"]
                state_file = d.state_dir / "instances" / str(inst) / "instance.json"
                pid = wait_for(lambda: state_file.exists() and instance_pid(d.state_dir, inst), 20)
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                before_restart = int(time.time())
                d.start()

                assert wait_for(lambda: release_doc(d, "cut", "web", pending["id"])["status"] != "deploying", 30)
                doc = release_doc(d, "cut", "web", pending["id"])
                assert doc["status"] == "failed", doc
                assert doc["finished_at"] is not None and doc["finished_at"] >= before_restart - 1, doc
                assert doc["finished_at"] >= doc["created_at"], doc
                assert any("slipwayd restarted while this release was deploying; marked failed" in l
                           for l in doc["log"]), doc["log"]
                assert [i["state"] for i in doc["instances"]] == ["failed"]
                assert not pid or wait_for(lambda: not pid_alive(pid), 15)
                # What `slipway releases` shows: failed, with a FINISHED time, and the reason.
                rel = d.cli("releases", "cut/web", "development")["releases"]
                assert [(r["id"], r["status"]) for r in rel] == [(pending["id"], "failed")]
                assert rel[0]["finished_at"] is not None and rel[0]["reason"], rel
                table = d.cli("releases", "cut/web", "development", json=False).stdout
                row = [l.split() for l in table.splitlines() if l.split() and l.split()[0] == str(pending["id"])]
                # ID STATUS DIGEST CREATED (date time) FINISHED (date time) REASON: FINISHED is not "-".
                assert row and row[0][1] == "failed" and re.fullmatch(r"\d{4}-\d\d-\d\d", row[0][5]), table
