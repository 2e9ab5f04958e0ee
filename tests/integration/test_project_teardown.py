"""Deleting a project with live instances (issue 5, "Bad input"): refused without --force and nothing
changes; with --force everything it ran is torn down — no netns, bridge, mount, nft rule, proxy route or
process of it is left — while another project keeps serving untouched."""

import os
import sqlite3
import subprocess

from conftest import assert_clean_error
from deploy_util import (build_image, deploy, http_get, ingress_url, instance_pid, make_site, pid_alive,
                         running_deploy_daemon, wait_for)


def netns_names():
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return {l.split()[0] for l in out.splitlines() if l.strip()}


def link_exists(name):
        return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def nft_table(d):
        """This daemon's own table (inet slipway_<state id>)."""
        table = "slipway_" + (d.state_dir / "state-id").read_text().strip()
        return subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True).stdout


def mounts_under(path):
        with open("/proc/self/mountinfo") as f:
                return [l.split()[4] for l in f if l.split()[4].startswith(str(path))]


def routes(d):
        p = subprocess.run([str(d.build.proxy), "route", "list", "--state-dir", str(d.state_dir)],
                           capture_output=True, text=True)
        return p.stdout


def test_project_delete_force_leaves_nothing_behind(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images, ports=6) as d:
                build_image(d, make_site(tmp_path / "site", "teardown"), "web:1")
                for proj in ("shop", "keep"):
                        d.cli("project", "create", proj)
                        d.cli("component", "create", f"{proj}/web", "--image", "web:1", "--health",
                              "http:/healthz")
                d.cli("component", "create", "shop/api", "--image", "web:1", "--health", "http:/healthz")
                insts = []
                for target, env in (("shop/web", "development"), ("shop/api", "development"),
                                    ("shop/web", "production")):
                        _, doc, _ = deploy(d, target, env, "web:1")
                        insts += doc["instances"]
                deploy(d, "keep/web", "development", "web:1")
                keep_url = ingress_url(d, "keep", "web", "development")
                shop_url = ingress_url(d, "shop", "web", "development")
                assert http_get(shop_url)[0] == 200 and http_get(keep_url)[0] == 200

                db = sqlite3.connect(f"file:{d.state_dir}/slipway.db?mode=ro", uri=True)
                bridges = {n: b for n, b in db.execute(
                        "SELECT p.name, e.bridge FROM environments e JOIN projects p ON p.id = e.project_id "
                        "WHERE e.name = 'development' OR p.name = 'shop'")}
                shop_bridges = [b for (b,) in db.execute(
                        "SELECT e.bridge FROM environments e JOIN projects p ON p.id = e.project_id "
                        "WHERE p.name = 'shop'")]
                dirs = [r for (r,) in db.execute(
                        "SELECT i.dir FROM instances i JOIN releases r ON r.id = i.release_id "
                        "JOIN components c ON c.id = r.component_id JOIN projects p ON p.id = c.project_id "
                        "WHERE p.name = 'shop'")]
                db.close()
                netns = {i["netns"] for i in insts}
                pids = [instance_pid(d.state_dir, i["id"]) for i in insts]
                assert all(pid_alive(p) for p in pids)
                assert netns <= netns_names()
                live_bridges = [b for b in shop_bridges if link_exists(b)]
                assert live_bridges, "the shop environments that run something have bridges"
                assert all(b in nft_table(d) for b in live_bridges)
                assert all(mounts_under(x) for x in dirs), "each instance has its overlay root mounted"
                assert "/shop/web" in routes(d)

                # Without --force: refused, and everything still serves.
                p = d.cli("project", "delete", "shop", json=False, check=False)
                assert_clean_error(p, "running", "--force")
                assert http_get(shop_url)[0] == 200
                assert netns <= netns_names()

                d.cli("project", "delete", "shop", "--force")
                assert [p["name"] for p in d.cli("project", "list")["projects"]] == ["keep"]
                assert not (netns & netns_names()), netns & netns_names()
                assert not [b for b in shop_bridges if link_exists(b)]
                table = nft_table(d)
                assert not [b for b in shop_bridges if b in table]
                for x in dirs:
                        assert mounts_under(x) == []
                for pid in pids:
                        assert wait_for(lambda: not pid_alive(pid), 10), f"pid {pid} still runs"
                # Nothing of shop's left running anywhere: no nspawn of its instance dirs.
                ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
                assert not [x for x in dirs if x in ps]
                assert "/shop/" not in routes(d)
                # Their host uid ranges (user namespaces) are released.
                claims = "/run/slipway/uid-ranges"
                if os.path.isdir(claims):
                        held = [os.readlink(os.path.join(claims, c)) for c in os.listdir(claims)]
                        assert not [h for h in held if any(h.startswith(x) for x in dirs)], held
                assert http_get(shop_url)[0] in (0, 404)

                # The other project is untouched.
                assert http_get(keep_url)[0] == 200
                assert link_exists(bridges["keep"]) and bridges["keep"] in nft_table(d)
