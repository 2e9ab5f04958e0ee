"""Helpers of the deploy tests (test_deploy*.py): a slipwayd with its own ingress port range, busybox httpd
images built with `slipway image build` over the busybox fixture, and HTTP through the ingress.  Traffic goes
only to 127.0.0.1 and to the bridges/namespaces the daemon under test created (10.213.0.0/16)."""

import collections
import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import signal

from conftest import Daemon, drop_own_claims, remove_own_network
from conftest import free_port_range as conftest_free_port_range

DEPLOY_TIMEOUT = 180


def free_port_range(n=4):
        """A base port such that base..base+n-1 are free on 0.0.0.0 (ingress listeners bind there)."""
        return conftest_free_port_range(n, low=21000, high=29000, reuse_addr=True)


class _Build:
        """The build's binaries, with slipwayd wrapped to add --ingress-base-port (exec: same pid)."""

        def __init__(self, build, wrapper):
                self.path = build.path
                self.slipway = build.slipway
                self.proxy = build.proxy
                self.slipwayd = wrapper


def deploy_daemon(build_dir, state_dir, ingress_base, extra_args=()):
        """A Daemon whose slipwayd gets --ingress-base-port (and extra_args, e.g. --reconcile-interval 1)."""
        wrapper = Path(str(state_dir) + ".slipwayd.sh")
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        extra = "".join(f" {a}" for a in extra_args)
        wrapper.write_text(f'#!/bin/sh\nexec "{build_dir.slipwayd}" "$@" '
                           f'--ingress-base-port {ingress_base}{extra}\n')
        wrapper.chmod(0o755)
        return Daemon(_Build(build_dir, wrapper), state_dir)


@contextlib.contextmanager
def running_deploy_daemon(build_dir, state_dir, images=None, ports=4, extra_args=()):
        """A started deploy_daemon() on its own ingress port range (ports ports), with busybox:1 imported when
        images (the fixture) is given.  On leaving, what it runs is stopped (stop_all()), then the daemon."""
        d = deploy_daemon(build_dir, state_dir, free_port_range(ports), extra_args).start()
        try:
                if images is not None:
                        d.cli("image", "import", images / "busybox.oci.tar")
                yield d
        finally:
                stop_all(d)
                d.stop()


class OutsideNetwork(collections.namedtuple("OutsideNetwork", "netns address gateway")):
        """A network outside every environment: netns (with a listener on address:8080) behind a veth whose
        host end is gateway."""


@contextlib.contextmanager
def outside_network(tag, net):
        """Makes a network the daemon knows nothing of: netns slwtest-TAG-PID on 10.254.NET.0/24 behind a veth
        (the host's end 10.254.NET.1, the default route of the netns), with a listener on 10.254.NET.2:8080
        that accepts and closes.  Yields an OutsideNetwork; everything is removed on leaving."""
        pid = os.getpid() % 100000
        netns, veth = f"slwtest-{tag}-{pid}", f"slw{tag[0]}{pid}"
        gateway, address = f"10.254.{net}.1", f"10.254.{net}.2"
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        listener = None
        try:
                run("ip", "netns", "add", netns)
                run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
                run("ip", "addr", "add", f"{gateway}/24", "dev", veth)
                run("ip", "link", "set", veth, "up")
                run("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
                run("ip", "-n", netns, "link", "set", "eth0", "up")
                run("ip", "-n", netns, "link", "set", "lo", "up")
                run("ip", "-n", netns, "route", "add", "default", "via", gateway)
                listener = subprocess.Popen(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c",
                                             "import socket\ns=socket.socket()\n"
                                             "s.bind(('0.0.0.0',8080)); s.listen(8)\n"
                                             "while True:\n c,_=s.accept(); c.close()\n"])
                yield OutsideNetwork(netns, address, gateway)
        finally:
                if listener:
                        listener.kill()
                        listener.wait()
                subprocess.run(["ip", "link", "delete", veth], capture_output=True)
                subprocess.run(["ip", "netns", "delete", netns], capture_output=True)


def stop_all(d):
        """Stops what the daemon runs (instances, routes, bridges) through the product's own command."""
        if d.proc is None:
                return
        if d.proc.poll() is not None:
                # Killed by the test (or crashed): a daemon is needed to stop what it left running.
                try:
                        d.start()
                except AssertionError:
                        return
        with contextlib.suppress(Exception):
                for p in d.cli("project", "list").get("projects", []):
                        d.cli("project", "delete", p["name"], "--force", check=False)


def make_site(dir, text, healthz=True, cmd=None):
        """A build context: FROM busybox:1, /www with index.html (and healthz), a CGI, httpd on 8080."""
        dir = Path(dir)
        (dir / "www" / "cgi-bin").mkdir(parents=True)
        (dir / "www" / "index.html").write_text(text + "\n")
        if healthz:
                (dir / "www" / "healthz").write_text("ok\n")
        cgi = dir / "www" / "cgi-bin" / "hello"
        body = f"cgi {text}"
        # CRLF header lines: busybox passes the script's header lines through as they are, and slipway-proxy
        # (strict parsing) does not take bare-LF header lines from an upstream.
        cgi.write_text("#!/bin/sh\n"
                       f"printf 'Content-Type: text/plain\\r\\nContent-Length: {len(body) + 1}\\r\\n\\r\\n'\n"
                       f'echo "{body}"\n')
        cgi.chmod(0o755)
        cmd = cmd or ["httpd", "-f", "-p", "8080", "-h", "/www"]
        (dir / "Dockerfile").write_text("FROM busybox:1\nCOPY www /www\n"
                                        f"CMD {json.dumps(cmd)}\nEXPOSE 8080\n")
        return dir


def build_image(d, ctx, ref):
        p = d.cli("image", "build", str(ctx), "-t", ref, json=False, check=False)
        assert p.returncode == 0, f"image build {ref} failed:\n{p.stdout}\n{p.stderr}"


def project_with_component(d, target, image):
        """Creates the project of target ("project/component") and the component, health-checked on /healthz."""
        d.cli("project", "create", target.split("/", 1)[0])
        d.cli("component", "create", target, "--image", image, "--health", "http:/healthz")


def deploy_site(d, images, ctx, target, image, env="development"):
        """Imports busybox, builds ctx as image, creates target with it and deploys it: deploy()'s result."""
        d.cli("image", "import", images / "busybox.oci.tar")
        build_image(d, ctx, image)
        project_with_component(d, target, image)
        return deploy(d, target, env, image)


def deploy(d, target, env, image, check=True):
        """`slipway --json deploy …`: (exit status, the release document or None, stderr)."""
        p = d.cli("deploy", target, env, "--image", image, check=False, timeout=DEPLOY_TIMEOUT)
        doc = None
        with contextlib.suppress(ValueError):
                doc = json.loads(p.stdout)
        if check:
                assert p.returncode == 0 and doc and doc["status"] == "live", \
                        f"deploy {target} {env} {image}: exit {p.returncode}\n{p.stdout}\n{p.stderr}\n" \
                        f"--- slipwayd:\n{d.log()[-3000:]}"
        return p.returncode, doc, p.stderr


def http_get(url, timeout=5):
        """(status, body) of a GET; status 0 when the connection failed."""
        try:
                with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as r:
                        return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
                return e.code, e.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
                return 0, ""


def ingress_url(d, project, component, env):
        envs = {e["name"]: e for e in d.cli("env", "list", project)["environments"]}
        return f"http://127.0.0.1:{envs[env]['ingress_port']}/{project}/{component}/"


def instance_pid(state_dir, instance_id):
        f = Path(state_dir) / "instances" / str(instance_id) / "instance.json"
        return json.loads(f.read_text())["pid"]


def pid_alive(pid):
        try:
                os.kill(pid, 0)
        except ProcessLookupError:
                return False
        # A zombie is not alive either.
        with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                        return False
        return True


def wait_for(fn, timeout=20, interval=0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
                v = fn()
                if v:
                        return v
                time.sleep(interval)
        return fn()


def netns_probe(netns, address, port, timeout=2):
        """A TCP connect from inside netns to address:port (Python in `ip netns exec`): "open", "refused"
        (a reset: what the isolation rules answer), "unreachable", "timeout" or "error: ...".  Asserts that
        the probe itself ran, so a failing `ip netns exec` can never pass for a blocked connection."""
        code = ("import socket,sys\n"
                "s=socket.socket(); s.settimeout(%d)\n"
                "try:\n s.connect((%r,%d)); print('probe: open')\n"
                "except ConnectionRefusedError: print('probe: refused')\n"
                "except socket.timeout: print('probe: timeout')\n"
                "except OSError as e:\n"
                " import errno\n"
                " print('probe: unreachable' if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES)\n"
                "       else 'probe: error: %%s' %% e)\n") % (timeout, address, port)
        p = subprocess.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", code],
                           capture_output=True, text=True, timeout=timeout + 10)
        out = p.stdout.strip()
        assert p.returncode == 0 and out.startswith("probe: "), \
                f"the probe in netns {netns} did not run (exit {p.returncode}): {p.stderr.strip()!r} {out!r}"
        return out[len("probe: "):]


def netns_connect(netns, address, port, timeout=2):
        """Whether a TCP connect from inside netns to address:port succeeds (asserts the probe ran)."""
        return netns_probe(netns, address, port, timeout) == "open"


def release_doc(d, project, component, rid):
        """GET …/releases/ID: one release with its deploy log and instances."""
        path = f"/api/v1/projects/{project}/components/{component}/releases/{rid}"
        req = urllib.request.Request(d.url + path, headers={"Authorization": f"Bearer {d.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())


def netns_http_get(netns, address, port, path="/", timeout=3):
        """Body of GET http://address:port/path from inside netns ('' when the request failed; asserts that
        the command itself ran)."""
        code = ("import urllib.request\n"
                "try:\n print(urllib.request.urlopen('http://%s:%d%s', timeout=%d).read().decode(), end='')\n"
                "except Exception as e: pass\n") % (address, port, path, timeout)
        p = subprocess.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", code],
                           capture_output=True, text=True, timeout=timeout + 10)
        assert p.returncode == 0, f"`ip netns exec {netns}` failed (exit {p.returncode}): {p.stderr.strip()!r}"
        return p.stdout


def api_request(d, method, path, body=None, timeout=10):
        """The JSON reply of an API call with the admin token (what the CLI sends); asserts a 2xx status."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(d.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {d.token}",
                                              "Content-Type": "application/json"})
        try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                        return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
                raise AssertionError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")


def pids_with(needle):
        """Pids whose command line contains needle (bytes)."""
        out = []
        for p in os.listdir("/proc"):
                if p.isdigit():
                        try:
                                if needle in Path(f"/proc/{p}/cmdline").read_bytes():
                                        out.append(int(p))
                        except OSError:
                                pass
        return out


def simulate_reboot(d):
        """Everything a reboot loses, of this daemon only: processes, mounts, netns, bridges, its nft table and
        its /run/slipway claims (another state dir on this host keeps all of its own)."""
        sd = str(d.state_dir)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        victims = set(pids_with(sd.encode()))
        for p in victims:
                try:
                        os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                        pass
        assert wait_for(lambda: not any(pid_alive(p) for p in victims), 10)
        mounts = [l.split()[1] for l in Path("/proc/self/mounts").read_text().splitlines()
                  if l.split()[1].startswith(sd + "/")]
        for m in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
        remove_own_network(d.state_dir, kill=False)
        drop_own_claims(d.state_dir)
