"""slipwayd and slipway basics as a user meets them: first start, the one-daemon lock, token auth,
status, SIGTERM, and the image life cycle on a busybox-static rootfs."""
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import STARTED_STATE_DIRS

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SLIPWAY_BUILD_DIR", REPO / "build"))
SLIPWAYD = BUILD / "appliance" / "engine" / "slipwayd"
SLIPWAY = BUILD / "appliance" / "cli" / "slipway"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, state_dir, log_path, port=None):
        self.state_dir = Path(state_dir)
        # conftest's session cleanup removes what this state dir owns on the host (its nft table, claims).
        if self.state_dir not in STARTED_STATE_DIRS:
            STARTED_STATE_DIRS.append(self.state_dir)
        self.port = port or free_port()
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(SLIPWAYD), "--state-dir", str(self.state_dir), "--api", f"127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"slipwayd exited with {self.proc.returncode}: {self.output()}")
            if "slipwayd ready on" in self.output():
                return self
            time.sleep(0.05)
        raise AssertionError(f"slipwayd not ready after {timeout}s: {self.output()}")

    def output(self):
        return Path(self.log_path).read_text(errors="replace")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def token(self):
        return (self.state_dir / "admin.token").read_text().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # slipwayd starts a slipway-proxy that outlives it by design; stop the one of this state dir.
        for pid in os.listdir("/proc"):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if pid.isdigit() else []
            except OSError:
                continue
            if argv and os.path.basename(argv[0]) == b"slipway-proxy" and str(self.state_dir).encode() in argv:
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass
        return self.proc.returncode


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("daemon-basics")
    d = Daemon(base / "state", base / "slipwayd.log").wait_ready()
    yield d
    d.stop()


def slipway(*args, state_dir=None, check=True):
    argv = [str(SLIPWAY)]
    if state_dir is not None:
        argv += ["--state-dir", str(state_dir)]
    p = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"slipway {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def api(daemon, path, token=None, method="GET"):
    req = urllib.request.Request(daemon.url + path, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_first_start_creates_secrets(daemon):
    key = daemon.state_dir / "master.key"
    token = daemon.state_dir / "admin.token"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.stat().st_size == 32
    assert token.stat().st_mode & 0o777 == 0o600
    assert len(daemon.token()) >= 32
    assert (daemon.state_dir / "api.url").read_text().strip() == daemon.url
    assert f"Initialised state directory {daemon.state_dir}" in daemon.output()
    assert (daemon.state_dir / "slipway.db").exists()
    assert (daemon.state_dir / "oci" / "oci-layout").exists()


def test_second_daemon_on_same_dir_is_refused(daemon, tmp_path):
    second = Daemon(daemon.state_dir, tmp_path / "second.log")
    rc = second.proc.wait(timeout=10)
    second.log.close()
    assert rc == 1
    assert f"Another slipwayd (pid {daemon.proc.pid}) is already using {daemon.state_dir}." in second.output()
    assert daemon.proc.poll() is None


def test_busy_port_is_one_clear_sentence(daemon, tmp_path):
    other = Daemon(tmp_path / "other-state", tmp_path / "other.log", port=daemon.port)
    assert other.proc.wait(timeout=10) == 1
    other.log.close()
    out = other.output()
    assert f"127.0.0.1:{daemon.port}" in out and "already uses that port" in out


def test_api_needs_the_token(daemon):
    status, body = api(daemon, "/api/v1/status")
    assert status == 401
    assert body["error"] and "hint" in body
    status, body = api(daemon, "/api/v1/status", token="not-the-token")
    assert status == 401
    status, body = api(daemon, "/api/v1/status", token=daemon.token())
    assert status == 200
    assert body["daemon"]["pid"] == daemon.proc.pid
    status, body = api(daemon, "/api/v1/no/such/thing", token=daemon.token())
    assert status == 404 and body["error"]


def test_cli_status_finds_the_daemon_from_the_state_dir(daemon):
    p = slipway("status", "--json", state_dir=daemon.state_dir)
    doc = json.loads(p.stdout)
    assert doc["daemon"]["pid"] == daemon.proc.pid
    assert doc["daemon"]["state_dir"] == str(daemon.state_dir)
    assert doc["daemon"]["api"] == daemon.url
    assert doc["proxy"] == {"running": True}  # slipwayd starts slipway-proxy for its state dir
    assert isinstance(doc["images"], int)
    # SLIPWAY_STATE_DIR works too, and the human form names the daemon.
    p = subprocess.run([str(SLIPWAY), "status"], capture_output=True, text=True,
                       env={**os.environ, "SLIPWAY_STATE_DIR": str(daemon.state_dir)})
    assert p.returncode == 0 and daemon.url in p.stdout


def test_cli_errors(daemon, tmp_path):
    p = slipway("status", state_dir=tmp_path / "never-started", check=False)
    assert p.returncode == 1 and p.stderr.startswith("Error: ")
    p = slipway("--url", f"http://127.0.0.1:{free_port()}", "--token", "x", "status", check=False)
    assert p.returncode == 1 and "slipwayd is not running at" in p.stderr and "Hint: " in p.stderr
    p = slipway("frobnicate", state_dir=daemon.state_dir, check=False)
    assert p.returncode == 2
    for cmd in (["status"], ["image"], ["image", "import"], ["image", "export"], ["image", "list"],
                ["image", "inspect"], ["image", "rm"], ["image", "gc"], ["image", "unpack"]):
        p = slipway(*cmd, "--help", state_dir=daemon.state_dir)
        assert p.stdout.startswith("Usage: slipway"), cmd


@pytest.fixture(scope="module")
def rootfs_tar(tmp_path_factory):
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.skip("busybox-static is not installed")
    path = tmp_path_factory.mktemp("rootfs") / "rootfs.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(busybox, arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tar.addfile(link)
    return path


def test_image_life_cycle(daemon, rootfs_tar, tmp_path):
    d = daemon.state_dir
    doc = json.loads(slipway("image", "import", str(rootfs_tar), "--rootfs", "--name", "basics-bb",
                             "--json", state_dir=d).stdout)
    (img,) = doc["images"]
    assert img["refs"] == ["basics-bb:latest"] and img["digest"].startswith("sha256:")

    listed = json.loads(slipway("--json", "image", "list", state_dir=d).stdout)["images"]
    mine = [i for i in listed if "basics-bb:latest" in i["refs"]]
    assert len(mine) == 1 and mine[0]["layers"] == 1 and mine[0]["digest"] == img["digest"]
    human = slipway("image", "list", state_dir=d).stdout
    assert human.splitlines()[0].split() == ["REF", "DIGEST", "SIZE", "CREATED"]
    assert any(l.startswith("basics-bb:latest") and img["digest"][7:19] in l for l in human.splitlines())

    # Export both ways and import the layout directory back under a second name: same digest.
    archive = tmp_path / "bb.tar"
    slipway("image", "export", "basics-bb", "--oci-archive", str(archive), state_dir=d)
    layout = tmp_path / "layout"
    slipway("image", "export", "basics-bb", "--oci", str(layout), state_dir=d)
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == img["digest"]
    again = json.loads(slipway("image", "import", str(layout), "--name", "basics-copy:1", "--json",
                               state_dir=d).stdout)["images"][0]
    assert again["digest"] == img["digest"]
    p = slipway("image", "export", "basics-bb", "--oci", str(layout), state_dir=d, check=False)
    assert p.returncode == 1 and "not empty" in p.stderr

    rootfs = tmp_path / "unpacked"
    slipway("image", "unpack", "basics-copy:1", str(rootfs), state_dir=d)
    assert (rootfs / "bin" / "busybox").read_bytes() == Path("/bin/busybox").read_bytes()

    # Removing names; the blobs go only with gc once nothing names the image.
    slipway("image", "rm", "basics-bb", state_dir=d)
    assert json.loads(slipway("image", "gc", "--dry-run", "--json", state_dir=d).stdout)["blobs_removed"] == 0
    rm = json.loads(slipway("image", "rm", "basics-copy:1", "--json", state_dir=d).stdout)
    assert rm == {"removed": "basics-copy:1", "digest": img["digest"]}
    p = slipway("image", "rm", "basics-copy:1", state_dir=d, check=False)
    assert p.returncode == 1 and "Error: no image named basics-copy:1." in p.stderr
    gc = json.loads(slipway("image", "gc", "--json", state_dir=d).stdout)
    assert img["digest"] in gc["blobs"] and gc["bytes_freed"] > 0
    assert not (d / "oci" / "blobs" / "sha256" / img["digest"][7:]).exists()


def test_sigterm_stops_quickly(tmp_path):
    d = Daemon(tmp_path / "state", tmp_path / "log").wait_ready()
    start = time.time()
    rc = d.stop()
    assert rc == 0
    assert time.time() - start < 5
    assert "Initialised state directory" in d.output()
    # A restart reuses the state: no second initialisation, same token.
    token = (tmp_path / "state" / "admin.token").read_text()
    again = Daemon(tmp_path / "state", tmp_path / "log2").wait_ready()
    assert "Initialised" not in again.output()
    assert again.stop() == 0
    assert (tmp_path / "state" / "admin.token").read_text() == token
