"""packaging/quickstart, as the README tells a new user to run it: twice on the same state dir (idempotent),
leaving a running daemon with the busybox base image and the demo as a git component: a local repository of
packaging/demo, built once through the pipeline into demo/web:<commit> and live in development at the URL it
prints; the first run sets and shows admin's console password, the second says it was set before."""

import json
import os
import re
import signal
import urllib.request
import subprocess
import time

from conftest import REPO, STARTED_STATE_DIRS, Daemon, free_port, free_port_range, wait_port
import slipway_images as si


def _quickstart(build_dir, state_dir, port, ingress):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        return subprocess.run([str(REPO / "packaging" / "quickstart"), "--state-dir", str(state_dir),
                               "--api", f"127.0.0.1:{port}", "--ingress-base-port", str(ingress),
                               "--build-dir", str(build_dir.path)],
                              capture_output=True, text=True, timeout=600, env=env)


def _alive(pid):
        # Not our child (quickstart detached it): a zombie waiting for its new parent counts as stopped.
        try:
                with open(f"/proc/{pid}/status") as f:
                        return not any(l.startswith("State:") and "Z" in l.split()[1] for l in f)
        except FileNotFoundError:
                return False


def test_quickstart_twice(build_dir, tmp_path):
        state = tmp_path / "var"
        STARTED_STATE_DIRS.append(state)  # the quickstart starts slipwayd itself: clean up what it owns
        port = free_port()
        d = Daemon(build_dir, state, port)
        ingress = free_port_range()
        pid = None
        try:
                p = _quickstart(build_dir, state, port, ingress)
                assert p.returncode == 0, f"quickstart failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                assert wait_port(port, 5)
                st = d.cli("status")
                pid = st["daemon"]["pid"]
                refs = sorted(d.image_refs())
                assert refs[0] == "busybox:latest" and len(refs) == 2 and re.fullmatch(r"demo/web:[0-9a-f]{7,12}", refs[1]), refs
                builds = d.cli("builds", "demo/web")["builds"]
                assert [(b["status"], b["trigger"], b["image_ref"]) for b in builds] == [("succeeded", "manual", refs[1])]
                assert "=== step 9/9: deploy" in p.stdout  # the build's log, followed live
                assert "Try next" in p.stdout and "Stop the daemon" in p.stdout
                # the build's scan result and SBOM are shown
                assert re.search(r"SBOM of build \d+: CycloneDX 1\.5, \d+ component\(s\)", p.stdout), p.stdout[-3000:]
                assert "Policy:" in p.stdout
                # the demo answers where quickstart says, through slipway-proxy on development's ingress port
                url = re.search(r"demo/web answers at (\S+)", p.stdout).group(1)
                assert f":{ingress}/demo/web" in url
                with urllib.request.urlopen(url, timeout=10) as r:
                        assert b"Hello from Slipway" in r.read()
                assert "hostname:" in p.stdout  # the CGI's answer, printed by quickstart
                # the console's address and a first admin password, made now and shown once
                m = re.search(r"^Console: (http://\S+/)  \(user admin, password (\S+)\)$", p.stdout, re.M)
                assert m and m.group(1) == f"http://127.0.0.1:{port}/", p.stdout[-3000:]
                assert p.stdout.count(m.group(2)) == 1
                login = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/session", method="POST",
                                               data=json.dumps({"name": "admin", "password": m.group(2)}).encode())
                with urllib.request.urlopen(login, timeout=30) as r:
                        assert r.status == 200 and "slipway_session=" in r.headers["Set-Cookie"]

                p = _quickstart(build_dir, state, port, ingress)
                assert p.returncode == 0, f"second quickstart failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                assert "already running" in p.stdout and "already in the store" in p.stdout
                assert d.cli("status")["daemon"]["pid"] == pid, "the second run should reuse the daemon"
                assert sorted(d.image_refs()) == refs
                assert "already live" in p.stdout
                assert "password was set before" in p.stdout and m.group(2) not in p.stdout
                assert len(d.cli("builds", "demo/web")["builds"]) == 1, "the second run built again"
                releases = d.cli("releases", "demo/web", "development")
                assert [r["status"] for r in releases["releases"]] == ["live"], "the second run redeployed"

                d.cli("image", "unpack", "busybox:latest", tmp_path / "root")
                assert si.check_busybox_tree(str(tmp_path / "root")) == []
        finally:
                stop_quickstart_daemon(d, pid)


def stop_quickstart_daemon(d, pid):
        """Removes the demo and stops the daemon the quickstart detached (pid may be None: it never started)."""
        if pid:
                d.cli("project", "delete", "demo", "--force", check=False)
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 20
                while _alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.1)
                assert not _alive(pid), "slipwayd did not stop on SIGTERM"
        d._stop_proxies()
