"""Deploy recovery as a user sees it: after a simulated reboot (daemon, proxy, nspawns killed, mounts, netns,
bridges and nft table gone) a restarted slipwayd brings the live release back on the same ingress URL; a
version whose health path answers 500 fails with the probe result while the old release keeps serving; from
inside a development instance another project's service, the host (API port and any host port via the bridge)
and a network outside the environment (a netns on 10.254.N.0/24 the test makes) are unreachable."""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest


from deploy_util import (build_image, deploy, deploy_site, http_get, ingress_url, make_site, netns_connect,
                         outside_network, pid_alive, pids_with as _pids_with, running_deploy_daemon,
                         simulate_reboot, wait_for)

pytestmark = pytest.mark.slow


def test_reboot_brings_live_release_back(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state") as d:
                _, rel, _ = deploy_site(d, images, make_site(tmp_path / "v1", "hello v1"), "boot/web", "web:1")
                url = ingress_url(d, "boot", "web", "development")
                assert http_get(url) == (200, "hello v1\n")

                simulate_reboot(d)
                assert http_get(url, timeout=2)[0] == 0, "something still serves after the simulated reboot"

                d.start()
                assert wait_for(lambda: http_get(url, timeout=2) == (200, "hello v1\n"), 15), d.log()[-3000:]
                rels = d.cli("releases", "boot/web", "development")["releases"]
                assert [(r["id"], r["status"]) for r in rels] == [(rel["id"], "live")]
                bundles = (str(d.state_dir) + "/instances/").encode()
                nspawn = [p for p in _pids_with(bundles)
                          if b"nspawn" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0]]
                assert len(nspawn) == 1, nspawn


def test_health_500_fails_and_old_release_serves(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                # The health path is a CGI (busybox httpd runs CGIs from /cgi-bin): 200 in v1, 500 in v2.
                for ver, text, status in (("1", "good v1", "200 OK"), ("2", "bad v2", "500 Internal Server Error")):
                        ctx = make_site(tmp_path / ver, text)
                        cgi = ctx / "www" / "cgi-bin" / "fail"
                        cgi.write_text("#!/bin/sh\n"
                                       f"printf 'Status: {status}\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\n"
                                       "echo state\n")
                        cgi.chmod(0o755)
                        build_image(d, ctx, "web:" + ver)
                d.cli("project", "create", "sick")
                d.cli("component", "create", "sick/web", "--image", "web:1", "--health", "http:/cgi-bin/fail")
                deploy(d, "sick/web", "development", "web:1")
                url = ingress_url(d, "sick", "web", "development")
                t0 = time.monotonic()
                rc, doc, err = deploy(d, "sick/web", "development", "web:2", check=False)
                assert time.monotonic() - t0 < 120, "the failing health check did not time out"
                assert rc == 1 and doc and doc["status"] == "failed", (rc, doc, err)
                assert "500" in doc["reason"], doc["reason"]
                assert http_get(url) == (200, "good v1\n")
                assert [r["status"] for r in d.cli("releases", "sick/web", "development")["releases"]] == \
                        ["failed", "live"]


def _bridge_address(bridge):
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True,
                             text=True, check=True).stdout
        return out.split(" inet ")[1].split("/")[0]


def test_isolation_matrix_from_development(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                build_image(d, make_site(tmp_path / "v1", "hello v1"), "web:1")
                for proj in ("mine", "theirs"):
                        d.cli("project", "create", proj)
                        d.cli("component", "create", f"{proj}/web", "--image", "web:1", "--health", "http:/healthz")
                _, mine, _ = deploy(d, "mine/web", "development", "web:1")
                deploy(d, "theirs/web", "development", "web:1")
                ns = mine["instances"][0]["netns"]
                svc = {p: {e["name"]: e for e in d.cli("component", "show", f"{p}/web")["environments"]}
                       ["development"]["service_address"] for p in ("mine", "theirs")}
                db = sqlite3.connect(f"file:{d.state_dir}/slipway.db?mode=ro", uri=True)
                bridge = db.execute("SELECT e.bridge FROM environments e JOIN projects p ON p.id = e.project_id "
                                    "WHERE p.name = 'mine' AND e.name = 'development'").fetchone()[0]
                db.close()
                gw = _bridge_address(bridge)

                with outside_network("out", 10 + os.getpid() % 200) as net:
                        outside = net.address
                        # Positive controls: the outside listener answers from the host, our own service from
                        # inside.
                        assert wait_for(lambda: netns_connect_host(outside, 8080), 5)
                        assert netns_connect(ns, svc["mine"], 8080)
                        # The matrix: another project's service, the host's API port via the bridge, the
                        # outside net.
                        assert not netns_connect(ns, svc["theirs"], 8080)
                        assert not netns_connect(ns, gw, d.port)
                        # Not only because the API binds 127.0.0.1: a host port open on every address is
                        # refused too.
                        import socket
                        host = socket.socket()
                        host.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        host.bind(("0.0.0.0", 0))
                        host.listen(8)
                        try:
                                assert netns_connect_host(gw, host.getsockname()[1])
                                assert not netns_connect(ns, gw, host.getsockname()[1])
                        finally:
                                host.close()
                        assert not netns_connect(ns, outside, 8080)


def netns_connect_host(address, port):
        import socket
        s = socket.socket()
        s.settimeout(2)
        try:
                s.connect((address, port))
                return True
        except OSError:
                return False
        finally:
                s.close()
