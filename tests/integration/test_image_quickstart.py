"""packaging/quickstart, as the README tells a new user to run it: twice on the same state dir (idempotent),
leaving a running daemon with the busybox base image listed."""

import os
import signal
import subprocess
import time

from conftest import REPO, Daemon, free_port, wait_port
import slipway_images as si


def _quickstart(build_dir, state_dir, port):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        return subprocess.run([str(REPO / "packaging" / "quickstart"), "--state-dir", str(state_dir),
                               "--api", f"127.0.0.1:{port}", "--build-dir", str(build_dir.path)],
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
        port = free_port()
        d = Daemon(build_dir, state, port)
        pid = None
        try:
                p = _quickstart(build_dir, state, port)
                assert p.returncode == 0, f"quickstart failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                assert wait_port(port, 5)
                st = d.cli("status")
                pid = st["daemon"]["pid"]
                assert st["images"] == 1
                assert "busybox:latest" in d.image_refs()
                assert "Try next" in p.stdout and "Stop the daemon" in p.stdout

                p = _quickstart(build_dir, state, port)
                assert p.returncode == 0, f"second quickstart failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                assert "already running" in p.stdout and "already in the store" in p.stdout
                assert d.cli("status")["daemon"]["pid"] == pid, "the second run should reuse the daemon"
                assert d.image_refs() == ["busybox:latest"]

                d.cli("image", "unpack", "busybox:latest", tmp_path / "root")
                assert si.check_busybox_tree(str(tmp_path / "root")) == []
        finally:
                if pid:
                        os.kill(pid, signal.SIGTERM)
                        deadline = time.monotonic() + 20
                        while _alive(pid) and time.monotonic() < deadline:
                                time.sleep(0.1)
                        assert not _alive(pid), "slipwayd did not stop on SIGTERM"
                d._stop_proxies()
