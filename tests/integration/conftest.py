"""Shared fixtures of Slipway's integration tests: the built binaries, a real slipwayd on a temporary state
dir driven through the real `slipway` CLI, test images made once per run with buildah/skopeo
(tests/fixtures/make-images), and a local docker-registry.  Nothing here talks to any address outside
127.0.0.0/8; every daemon a fixture starts is stopped (SIGTERM) and must exit cleanly.
"""

import contextlib
import fcntl
import json as jsonlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import slipway_images  # noqa: E402

READY_TIMEOUT = 30
STOP_TIMEOUT = 20
CLI_TIMEOUT = 300
# The large image of the streaming test and the bench: big enough that buffering it whole would show.
LARGE_IMAGE_MB = 160


def pytest_configure(config):
        config.addinivalue_line("markers", "slow: takes more than a few seconds")


# ---------------------------------------------------------------------------------------------------------
# small helpers

def free_port():
        with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]


def free_port_range(n=8, low=20000, high=60000, reuse_addr=False):
        """A base port in low..high with n free consecutive ports after it (each daemon's ingress listeners).
        reuse_addr: probe as listeners with SO_REUSEADDR do, so ports in TIME_WAIT count as free."""
        import random
        for _ in range(200):
                base = random.randrange(low, high - n)
                socks = []
                try:
                        for p in range(base, base + n):
                                s = socket.socket()
                                socks.append(s)
                                if reuse_addr:
                                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                                s.bind(("0.0.0.0", p))
                        return base
                except OSError:
                        continue
                finally:
                        for s in socks:
                                s.close()
        raise RuntimeError("no free port range for ingress listeners")


def wait_port(port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                        return True
                time.sleep(0.1)
        return False


def proc_status(pid, key):
        """A field of /proc/PID/status in KiB (VmHWM, VmRSS), or None once the process is gone."""
        try:
                with open(f"/proc/{pid}/status") as f:
                        for line in f:
                                if line.startswith(key + ":"):
                                        return int(line.split()[1])
        except FileNotFoundError:
                return None
        return None


def assert_clean_error(proc, *words):
        """A failed command as the contract wants it: non-zero exit and one clear sentence on stderr
        ("Error: ..." optionally followed by "Hint: ..."), no crash."""
        err = proc.stderr.strip()
        assert proc.returncode not in (0, None), f"expected a failure, got exit 0; stdout={proc.stdout!r}"
        assert proc.returncode in (1, 2), f"exit {proc.returncode} (a crash?); stderr={err!r}"
        assert err, "failure without a message on stderr"
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) <= 3, f"expected one sentence (+ hint), got:\n{err}"
        assert lines[0].startswith("Error: ") and len(lines[0]) > len("Error: ") + 10, err
        for l in lines[1:]:
                assert l.startswith("Hint: "), err
        for w in ("Traceback", "Segmentation", "AddressSanitizer", "runtime error"):
                assert w not in err
        low = err.lower()
        for w in words:
                assert w.lower() in low, f"{w!r} not in error message {err!r}"
        return err


# ---------------------------------------------------------------------------------------------------------
# binaries

class Build:
        def __init__(self, path):
                self.path = Path(path)
                self.slipwayd = self.path / "appliance" / "engine" / "slipwayd"
                self.slipway = self.path / "appliance" / "cli" / "slipway"
                self.proxy = self.path / "runtime" / "proxy" / "slipway-proxy"


@pytest.fixture(scope="session")
def build_dir():
        if os.geteuid() != 0:
                pytest.skip("integration tests must run as root (tests/run does)")
        b = Build(os.environ.get("SLIPWAY_BUILD_DIR") or REPO / "build")
        missing = [str(p) for p in (b.slipwayd, b.slipway) if not os.access(p, os.X_OK)]
        if missing:
                pytest.skip(f"Slipway is not built ({', '.join(missing)} missing): run "
                            f"`meson setup build && ninja -C build` or set SLIPWAY_BUILD_DIR")
        return b


# ---------------------------------------------------------------------------------------------------------
# the daemon

class Daemon:
        """A slipwayd on its own state dir and port, driven by the real CLI."""

        def __init__(self, build, state_dir, port=None):
                self.build = build
                self.state_dir = Path(state_dir)
                self.port = port or free_port()
                self.api = f"127.0.0.1:{self.port}"
                self.ingress_base = free_port_range()  # kept across restarts of this daemon
                self.log_path = self.state_dir.parent / (self.state_dir.name + ".slipwayd.log")
                self.bake_default = "0"  # slipwayd --bake-default; a test may set it before start()
                self.extra_args = []  # more slipwayd options (e.g. --registry-anonymous-pull), set before start()
                self.proc = None
                self.url = None
                self.token = None

        @property
        def pid(self):
                return self.proc.pid

        def log(self):
                try:
                        return self.log_path.read_text(errors="replace")
                except FileNotFoundError:
                        return ""

        def start(self):
                self.state_dir.parent.mkdir(parents=True, exist_ok=True)
                if self.state_dir not in STARTED_STATE_DIRS:
                        STARTED_STATE_DIRS.append(self.state_dir)
                logf = open(self.log_path, "ab")
                # The log is appended to across restarts: only this start's "ready" line counts.
                log_start = logf.tell()
                env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
                # No bake window unless a test's component asks for one: with slipwayd's default (30 s)
                # every swap in the suite would wait for its old instance to be retired.
                self.proc = subprocess.Popen([str(self.build.slipwayd), "--state-dir", str(self.state_dir),
                                              "--api", self.api, "--ingress-base-port", str(self.ingress_base),
                                              "--bake-default", self.bake_default, *self.extra_args],
                                             stdout=logf, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env)
                logf.close()
                deadline = time.monotonic() + READY_TIMEOUT
                url_file = self.state_dir / "api.url"
                while time.monotonic() < deadline:
                        if self.proc.poll() is not None:
                                raise AssertionError(f"slipwayd exited with {self.proc.returncode} before it was "
                                                     f"ready:\n{self.log()}")
                        # Ready means the line slipwayd logs after its recovery (failed releases marked,
                        # orphan dirs removed, instances restarted); api.url and the port come earlier, and
                        # a restart finds the previous run's api.url still there.
                        if b"slipwayd ready on" in self.log_path.read_bytes()[log_start:]:
                                break
                        time.sleep(0.05)
                else:
                        self.proc.kill()
                        self.proc.wait()
                        raise AssertionError(f"slipwayd not ready after {READY_TIMEOUT}s:\n{self.log()}")
                assert wait_port(self.port, 5), f"slipwayd says ready but {self.api} refuses:\n{self.log()}"
                self.url = (url_file.read_text().strip() if url_file.exists() else f"http://{self.api}")
                self.token = (self.state_dir / "admin.token").read_text().strip()
                return self

        def stop(self, check=True):
                """SIGTERM; with check, asserts a clean exit (status 0) within STOP_TIMEOUT."""
                if self.proc is None or self.proc.poll() is not None:
                        rc = None if self.proc is None else self.proc.returncode
                        self._stop_proxies()
                        return rc
                self.proc.send_signal(signal.SIGTERM)
                try:
                        rc = self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait()
                        rc = None
                self._stop_proxies()
                if check:
                        assert rc == 0, f"slipwayd did not stop cleanly on SIGTERM (status {rc}):\n{self.log()[-3000:]}"
                return rc

        def proxy_pids(self):
                """The pids of the slipway-proxy of this state dir (slipwayd starts one that outlives it by
                design)."""
                pids = []
                for pid in os.listdir("/proc"):
                        if not pid.isdigit():
                                continue
                        try:
                                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                        except OSError:
                                continue
                        if (argv and os.path.basename(argv[0]) == b"slipway-proxy"
                                        and str(self.state_dir).encode() in argv):
                                pids.append(int(pid))
                return pids

        def _stop_proxies(self):
                """SIGTERM to this state dir's proxies, then waits until they are gone (they are not our
                children, so /proc is polled): a proxy removes DIR/proxy.sock as it exits, and a test that
                looks at the state dir right after stop() must not race that."""
                pids = self.proxy_pids()
                for pid in pids:
                        with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while pids and time.monotonic() < deadline:
                        pids = [p for p in pids if p in self.proxy_pids()]
                        if pids:
                                time.sleep(0.02)
                for pid in pids:
                        with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGKILL)

        def vmhwm(self):
                return proc_status(self.pid, "VmHWM")

        def cli_argv(self, *args, json=True):
                return [str(self.build.slipway), "--state-dir", str(self.state_dir)] + (["--json"] if json else []) \
                        + [str(a) for a in args]

        def cli(self, *args, json=True, check=True, input=None, timeout=CLI_TIMEOUT):
                """Runs `slipway --state-dir DIR [--json] ARGS`.  With json and check: the parsed JSON output
                (asserting exit 0); otherwise the CompletedProcess."""
                env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
                p = subprocess.run(self.cli_argv(*args, json=json), input=input, capture_output=True, text=True,
                                   timeout=timeout, env=env)
                if check:
                        assert p.returncode == 0, (f"`slipway {' '.join(map(str, args))}` failed with "
                                                   f"{p.returncode}:\n{p.stderr}\n--- slipwayd log:\n{self.log()[-2000:]}")
                        if json:
                                try:
                                        return jsonlib.loads(p.stdout)
                                except ValueError:
                                        raise AssertionError(f"`slipway --json {' '.join(map(str, args))}` printed "
                                                             f"no JSON document: {p.stdout!r}")
                return p

        # --- store views used by many tests
        def images(self):
                return self.cli("image", "list")["images"]

        def image_refs(self):
                return sorted(r for i in self.images() for r in i["refs"])

        def oci_dir(self):
                return self.state_dir / "oci"

        def reachable_blobs(self):
                if not (self.oci_dir() / "index.json").exists():
                        return set()
                return slipway_images.layout_reachable(str(self.oci_dir()))

        def blob_files(self):
                d = self.oci_dir() / "blobs" / "sha256"
                return {"sha256:" + n for n in os.listdir(d)} if d.is_dir() else set()

        def snapshot(self):
                """What 'nothing stored' compares: the image list and the blobs index.json references."""
                imgs = sorted((i["digest"], tuple(sorted(i["refs"]))) for i in self.images())
                return imgs, self.reachable_blobs()


@pytest.fixture
def start_daemon(build_dir, tmp_path_factory):
        """Factory: start_daemon(state_dir=None, port=None, extra_args=()) -> a ready Daemon, stopped at teardown."""
        started = []

        def start(state_dir=None, port=None, extra_args=()):
                d = Daemon(build_dir, state_dir or tmp_path_factory.mktemp("slipway") / "state", port)
                d.extra_args = list(extra_args)
                started.append(d)
                return d.start()

        yield start
        errors = []
        for d in started:
                try:
                        d.stop()
                except AssertionError as e:
                        errors.append(str(e))
        assert not errors, "\n".join(errors)


@pytest.fixture
def daemon(start_daemon):
        return start_daemon()


@pytest.fixture(scope="module")
def module_daemon(build_dir, tmp_path_factory):
        """One daemon shared by a module's tests (for the many small bad-input cases)."""
        d = Daemon(build_dir, tmp_path_factory.mktemp("slipway-mod") / "state").start()
        yield d
        d.stop()


# ---------------------------------------------------------------------------------------------------------
# test images (made once, cached across runs under /var/tmp unless SLIPWAY_FIXTURE_CACHE says elsewhere)

def _cache_root():
        return Path(os.environ.get("SLIPWAY_FIXTURE_CACHE", "/var/tmp/slipway-test-images"))


@contextlib.contextmanager
def _locked(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path) + ".lock", "w") as lk:
                fcntl.flock(lk, fcntl.LOCK_EX)
                yield


@pytest.fixture(scope="session")
def images():
        """Directory of the images tests/fixtures/make-images makes (see its usage text for the names)."""
        if os.geteuid() != 0:
                pytest.skip("building the test images with buildah needs root")
        for tool in ("buildah", "skopeo"):
                if not any(os.access(os.path.join(p, tool), os.X_OK) for p in os.environ["PATH"].split(":")):
                        pytest.skip(f"{tool} is not installed: run packaging/install-deps")
        out = _cache_root() / f"v{slipway_images.FIXTURE_VERSION}"
        with _locked(out):
                slipway_images.make_all(str(out))
        return out


@pytest.fixture(scope="session")
def large_image():
        """An oci-archive (ref large:1) of LARGE_IMAGE_MB MiB of random data in 4 uncompressed layers."""
        out = _cache_root() / f"large-v{slipway_images.FIXTURE_VERSION}-{LARGE_IMAGE_MB}"
        archive = out / "large.oci.tar"
        with _locked(out):
                if not archive.exists():
                        out.mkdir(parents=True, exist_ok=True)
                        slipway_images.make_large(str(out), LARGE_IMAGE_MB)
        return archive


# ---------------------------------------------------------------------------------------------------------
# peers

class Skopeo:
        @staticmethod
        def raw_manifest(ref):
                """(digest, manifest) of a transport reference as skopeo reads it."""
                raw = subprocess.run(["skopeo", "inspect", "--raw", ref], check=True, capture_output=True).stdout
                import hashlib
                return "sha256:" + hashlib.sha256(raw).hexdigest(), jsonlib.loads(raw)

        @staticmethod
        def config(ref):
                return jsonlib.loads(subprocess.run(["skopeo", "inspect", "--config", "--raw", ref], check=True,
                                                    capture_output=True).stdout)

        @staticmethod
        def inspect(ref, *opts):
                p = subprocess.run(["skopeo", "inspect", *opts, ref], capture_output=True, text=True)
                assert p.returncode == 0, f"skopeo inspect {ref} failed: {p.stderr}"
                return jsonlib.loads(p.stdout)

        @staticmethod
        def copy(src, dst, *opts):
                p = subprocess.run(["skopeo", "copy", "--quiet", *opts, src, dst], capture_output=True, text=True)
                assert p.returncode == 0, f"skopeo copy {src} {dst} failed: {p.stderr}"


@pytest.fixture(scope="session")
def skopeo():
        return Skopeo


@pytest.fixture(scope="module")
def docker_registry(tmp_path_factory):
        """A local docker-registry (Debian's distribution v2) on 127.0.0.1:<free port>, plain HTTP."""
        binary = "/usr/bin/docker-registry"
        if not os.access(binary, os.X_OK):
                pytest.skip("docker-registry is not installed: run packaging/install-deps")
        d = tmp_path_factory.mktemp("registry")
        port = free_port()
        cfg = d / "config.yml"
        cfg.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d / 'data'}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
        logf = open(d / "registry.log", "wb")
        p = subprocess.Popen([binary, "serve", str(cfg)], stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        try:
                assert wait_port(port, 20), f"docker-registry did not listen:\n{(d / 'registry.log').read_text()}"
                yield f"127.0.0.1:{port}"
        finally:
                p.terminate()
                try:
                        p.wait(10)
                except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()


# ---------------------------------------------------------------------------------------------------------
# host network state: every netns, bridge, nft table and /run/slipway claim a test's daemon made is removed at
# the end of the session (a daemon leaves its networks up on purpose when it stops: instances keep serving).
# Only what a daemon of this session owns is touched: its table is named from its state dir's id, its bridges
# and netns are the ones its database names, its claims are links to its state dir.  A quickstart daemon or
# another engineer's test run on the same host keeps everything of its own.

CLAIMS_ROOT = Path("/run/slipway")
POOL = "10.213.0.0/16"
STARTED_STATE_DIRS = []  # every state dir a Daemon of this session started


def state_id(state_dir):
        try:
                return (Path(state_dir) / "state-id").read_text().strip()
        except FileNotFoundError:
                return None


def own_network(state_dir):
        """(nft table, bridges, netns) the daemon of state_dir owns, from its id and its own database."""
        import sqlite3
        bridges, netns = [], []
        db = Path(state_dir) / "slipway.db"
        if db.exists():
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                try:
                        bridges = [r[0] for r in con.execute("SELECT bridge FROM environments") if r[0]]
                        netns = [r[0] for r in con.execute("SELECT netns FROM instances") if r[0]]
                except sqlite3.Error:
                        pass
                finally:
                        con.close()
        sid = state_id(state_dir)
        return (f"slipway_{sid}" if sid else None), bridges, netns


def drop_own_claims(state_dir):
        """Removes the /run/slipway claims that name state_dir (or an instance dir inside it), as a reboot would
        for this daemon; the pool's unreachable route goes only when no other live share is left."""
        sd = str(state_dir)
        if not CLAIMS_ROOT.is_dir():
                return
        for link in list(CLAIMS_ROOT.glob("*/*")) + list(CLAIMS_ROOT.glob("pool-routes/*/*")):
                if not link.is_symlink():
                        continue
                target = os.readlink(link)
                if target == sd or target.startswith(sd + "/"):
                        link.unlink()
        shares = CLAIMS_ROOT / "pool-routes" / POOL.replace("/", "-")
        if shares.is_dir():
                live = [l for l in shares.iterdir() if l.is_symlink() and os.path.exists(os.readlink(l))]
                if not live:
                        subprocess.run(["ip", "route", "del", "unreachable", POOL], capture_output=True)


def remove_own_network(state_dir, kill=True):
        """Deletes what the daemon of state_dir made on the host: its netns (and their processes), bridges,
        nft table; nothing of any other state dir."""
        table, bridges, netns = own_network(state_dir)
        spaces = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
        for ns in netns:
                if ns not in spaces:
                        continue
                if kill:
                        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
                        for pid in pids.split():
                                with contextlib.suppress(ProcessLookupError, ValueError):
                                        os.kill(int(pid), signal.SIGKILL)
                subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        for b in bridges:
                subprocess.run(["ip", "link", "delete", b, "type", "bridge"], capture_output=True)
        if table:
                subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def host_network_cleanup():
        yield
        for sd in STARTED_STATE_DIRS:
                remove_own_network(sd)
                drop_own_claims(sd)
