"""Releases, instances and their views before the deployer exists: rows are written into the daemon's real
slipway.db (as the deployer will write them) and read back through the CLI: releases, component show, url,
logs, status counts, project delete refusing while instances run, and image gc keeping released images."""
import json
import sqlite3
import time

from conftest import assert_clean_error


def db(daemon):
        con = sqlite3.connect(str(daemon.state_dir / "slipway.db"), timeout=10)
        con.execute("PRAGMA foreign_keys = ON")
        return con


def ids(con, project, component, env):
        return con.execute("SELECT c.id, e.id FROM components c JOIN projects p ON p.id = c.project_id"
                           " JOIN environments e ON e.project_id = p.id WHERE p.name = ? AND c.name = ? AND e.name = ?",
                           (project, component, env)).fetchone()


def add_release(con, comp, env, digest, status, reason=None):
        """A release as the deployer writes it: the component's spec snapshotted."""
        now = int(time.time())
        cur = con.execute("INSERT INTO releases(component_id, environment_id, image_digest, spec, status, reason,"
                          " created_at, finished_at)"
                          " SELECT ?, ?, ?, spec, ?, ?, ?, ? FROM components WHERE id = ?",
                          (comp, env, digest, status, reason, now, now if status != "pending" else None, comp))
        return cur.lastrowid


def add_instance(con, release, inst_dir):
        """A ready instance of release whose logs are in inst_dir."""
        con.execute("INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                    " VALUES (?, '10.213.0.100', 'ns', ?, 'ready', 0)", (release, str(inst_dir)))


def shop_web(d, tmp_path):
        """Project shop with the component shop/web; returns an empty directory for its instance's logs."""
        d.cli("project", "create", "shop")
        d.cli("component", "create", "shop/web", "--image", "web:1", "--endpoint", "http:8080")
        inst_dir = tmp_path / "instance"
        inst_dir.mkdir()
        return inst_dir


def test_releases_show_logs_and_delete_refusal(daemon, tmp_path):
        d = daemon
        inst_dir = shop_web(d, tmp_path)
        (inst_dir / "stdout.log").write_text("".join(f"out line {i}\n" for i in range(1, 301)))
        (inst_dir / "stderr.log").write_text("warning: disk almost full\n")
        digest_old, digest_new = "sha256:" + "a" * 64, "sha256:" + "b" * 64
        with db(d) as con:
                comp, dev = ids(con, "shop", "web", "development")
                r1 = add_release(con, comp, dev, digest_old, "superseded")
                r2 = add_release(con, comp, dev, digest_new, "live")
                r3 = add_release(con, comp, dev, "sha256:" + "c" * 64, "failed", "readiness: connection refused")
                add_instance(con, r2, inst_dir)

        rel = d.cli("releases", "shop/web")["releases"]
        assert [r["id"] for r in rel] == [r3, r2, r1]
        assert [r["status"] for r in rel] == ["failed", "live", "superseded"]
        assert rel[0]["reason"] == "readiness: connection refused"
        assert d.cli("releases", "shop/web", "production")["releases"] == []
        text = d.cli("releases", "shop/web", "development", json=False).stdout.splitlines()
        assert text[0].split() == ["ID", "STATUS", "DIGEST", "ORIGIN", "VALUES", "CREATED", "FINISHED", "REASON"]
        assert text[1].split()[:3] == [str(r3), "failed", "c" * 12]

        show = d.cli("component", "show", "shop/web")
        dev_view = [e for e in show["environments"] if e["name"] == "development"][0]
        assert dev_view["live"]["id"] == r2 and dev_view["live"]["image_digest"] == digest_new
        assert [r["id"] for r in dev_view["releases"]] == [r3, r2, r1]
        assert f"#{r2}" in d.cli("component", "show", "shop/web", json=False).stdout
        assert d.cli("url", "shop/web", "development")["live"] is True

        logs = d.cli("logs", "shop/web", "development", "--lines", "3")
        assert logs["stdout"] == "out line 298\nout line 299\nout line 300\n"
        assert logs["stderr"] == "warning: disk almost full\n"
        p = d.cli("logs", "shop/web", "development", json=False)
        assert p.stdout.splitlines()[-1] == "out line 300" and len(p.stdout.splitlines()) == 100
        assert p.stderr == "warning: disk almost full\n"
        assert_clean_error(d.cli("logs", "shop/web", "development", "--lines", "x", json=False, check=False), "lines")

        assert d.cli("status")["instances"] == 1
        assert d.cli("project", "list")["projects"][0]["instances"] == 1
        # A project with a running instance is not deleted, and --force needs the deployer's teardown.
        assert_clean_error(d.cli("project", "delete", "shop", json=False, check=False), "running", "--force")
        p = d.cli("project", "delete", "shop", "--force", json=False, check=False)
        if p.returncode == 0:  # the deployer's teardown is wired in: everything is gone
                assert d.cli("project", "list")["projects"] == []
                return
        assert_clean_error(p, "stop")
        assert d.cli("project", "list")["projects"][0]["name"] == "shop"

        with db(d) as con:
                con.execute("UPDATE instances SET state = 'stopped'")
        assert d.cli("status")["instances"] == 0
        assert d.cli("project", "delete", "shop")["deleted"] == "shop"
        with db(d) as con:
                assert con.execute("SELECT count(*) FROM releases").fetchone()[0] == 0


def test_gc_keeps_images_releases_run(daemon, images):
        d = daemon
        digest = d.cli("image", "import", images / "busybox.oci.tar")["images"][0]["digest"]
        d.cli("project", "create", "shop")
        d.cli("component", "create", "shop/web", "--image", "busybox:1")
        blobs = d.blob_files()
        assert len(blobs) >= 3
        with db(d) as con:
                comp, prod = ids(con, "shop", "web", "production")
                add_release(con, comp, prod, digest, "live")
        d.cli("image", "rm", "busybox:1")
        assert d.images() == []
        gc = d.cli("image", "gc")
        assert gc["blobs_removed"] == 0
        assert d.blob_files() == blobs, "gc removed blobs of an image a release runs"
        # Once no release references it, the image's blobs go.
        d.cli("project", "delete", "shop")
        assert d.cli("image", "gc")["blobs_removed"] == len(blobs)
        assert d.blob_files() == set()


def test_logs_follow(daemon, tmp_path):
        import subprocess
        d = daemon
        inst_dir = shop_web(d, tmp_path)
        out_log, err_log = inst_dir / "stdout.log", inst_dir / "stderr.log"
        out_log.write_text("before 1\nbefore 2\n")
        with db(d) as con:
                comp, dev = ids(con, "shop", "web", "development")
                rel = add_release(con, comp, dev, "sha256:" + "a" * 64, "live")
                add_instance(con, rel, inst_dir)

        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SLIPWAY_")}
        p = subprocess.Popen(d.cli_argv("logs", "shop/web", "development", "--follow", "--lines", "1", json=False),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
                assert p.stdout.readline() == "before 2\n"
                with open(out_log, "a") as f:
                        f.write("after 1\n")
                with open(err_log, "a") as f:
                        f.write("oops\n")
                assert p.stdout.readline() == "after 1\n"
                assert p.stderr.readline() == "oops\n"
                # The instance stops: the stream ends by itself.
                with db(d) as con:
                        con.execute("UPDATE instances SET state = 'stopped'")
                assert p.wait(timeout=10) == 0
                assert "stopped" in p.stderr.read()
        finally:
                if p.poll() is None:
                        p.kill()
                        p.wait()

        # A follower open while slipwayd stops does not hold the daemon up.
        with db(d) as con:
                con.execute("UPDATE instances SET state = 'ready'")
        p = subprocess.Popen(d.cli_argv("logs", "shop/web", "development", "--follow", json=True),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
                head = json.loads(p.stdout.readline())
                assert head["instance"] > 0 and head["state"] == "ready"
                d.stop()
                assert p.wait(timeout=10) == 0
        finally:
                if p.poll() is None:
                        p.kill()
                        p.wait()
