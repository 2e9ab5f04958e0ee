"""slipway-init, the program every container starts with (it answers clone3 with ENOSYS, which the seccomp
support of systemd-nspawn cannot say): a daemon that cannot find it refuses to start instances and build steps
with a sentence saying what is missing and what to do, instead of running them without it.

It stays the container's PID 1 and runs the app as its child (Docker's --init), seen as a user sees it: an app
with no SIGTERM handler (busybox httpd) stops at once when a swap retires it instead of holding the next deploy
for the whole stop grace, orphans are reaped, the exit status the deploy log records is the app's (128 + N when
signal N killed it)."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from deploy_util import (DEPLOY_TIMEOUT, build_image, deploy, deploy_daemon, free_port_range, http_get,
                         ingress_url, instance_pid, make_site, pid_alive, project_with_component, release_doc,
                         running_deploy_daemon, stop_all, wait_for)

pytestmark = pytest.mark.slow


def nspawn_processes_of(state_dir):
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        return [l for l in ps.splitlines() if "systemd-nspawn" in l and str(state_dir) in l]


def test_missing_init_refuses_deploy_and_run_step(build_dir, images, tmp_path):
        state = tmp_path / "state"
        d = deploy_daemon(build_dir, state, free_port_range())
        missing = tmp_path / "nowhere" / "slipway-init"
        # The wrapper deploy_daemon wrote: point this daemon at a shim that is not there.
        w = Path(d.build.slipwayd)
        w.write_text(w.read_text().replace("exec ", f"SLIPWAY_INIT={missing} exec ", 1))
        d.start()
        try:
                d.cli("image", "import", images / "busybox.oci.tar")
                build_image(d, make_site(tmp_path / "ctx", "unprotected"), "web:1")  # COPY only: no container
                d.cli("project", "create", "noinit")
                d.cli("component", "create", "noinit/web", "--image", "web:1")
                p = d.cli("deploy", "noinit/web", "development", "--image", "web:1", json=False, check=False,
                          timeout=DEPLOY_TIMEOUT)
                assert p.returncode == 1, (p.stdout, p.stderr)
                assert p.stderr.startswith("Error: ") and "slipway-init" in p.stderr, p.stderr
                assert "SLIPWAY_INIT names no executable file" in p.stderr, p.stderr
                rel = d.cli("releases", "noinit/web", "development")["releases"][0]
                assert rel["status"] == "failed" and "slipway-init" in rel["reason"], rel
                assert not nspawn_processes_of(state)

                ctx = tmp_path / "runctx"
                ctx.mkdir()
                (ctx / "Dockerfile").write_text("FROM busybox:1\nRUN echo built > /built\n")
                p = d.cli("image", "build", str(ctx), "-t", "run:1", json=False, check=False)
                assert p.returncode != 0, (p.stdout, p.stderr)
                assert "slipway-init" in p.stdout + p.stderr, (p.stdout, p.stderr)
                assert "run:1" not in d.image_refs()
        finally:
                stop_all(d)
                d.stop()


# DEPLOY_STOP_GRACE_MS: how long a retired instance that ignores its stop signal holds the next deploy.
STOP_GRACE_S = 10


def payload_of(nspawn):
        """The container's PID 1 as the host sees it (nspawn's only child)."""
        def child():
                try:
                        kids = Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split()
                except OSError:
                        return None
                return int(kids[0]) if kids else None
        pid = wait_for(child, 10)
        assert pid, f"systemd-nspawn {nspawn} has no payload"
        return pid


def children_of(pid):
        try:
                return [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
                return []


def cmdline(pid):
        try:
                return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
                return []


def pid_namespace_members(pid):
        """(pid, state letter, command) of every process in pid's pid namespace, as the host sees them."""
        ns = os.readlink(f"/proc/{pid}/ns/pid")
        out = []
        for p in os.listdir("/proc"):
                if not p.isdigit():
                        continue
                try:
                        if os.readlink(f"/proc/{p}/ns/pid") != ns:
                                continue
                        stat = Path(f"/proc/{p}/stat").read_text()
                except OSError:
                        continue
                out.append((int(p), stat.rsplit(") ", 1)[1][0], stat[stat.index("(") + 1:stat.rindex(")")]))
        return out


def plain_image(d, ctx, ref, cmd):
        """An image FROM busybox:1 that runs cmd (and serves nothing: its component gets --health none)."""
        ctx = Path(ctx)
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text(f"FROM busybox:1\nCMD {json.dumps(cmd)}\n")
        build_image(d, ctx, ref)


@pytest.fixture(scope="module")
def env(build_dir, images, tmp_path_factory):
        """A daemon with web:1 and web:2 (busybox httpd as the entrypoint, no SIGTERM handler)."""
        root = tmp_path_factory.mktemp("pid1")
        with running_deploy_daemon(build_dir, root / "state", images, ports=8) as d:
                build_image(d, make_site(root / "v1", "hello v1"), "web:1")
                build_image(d, make_site(root / "v2", "hello v2"), "web:2")
                d.root = root
                yield d


def test_busybox_httpd_is_gone_right_after_the_swap(env):
        # busybox httpd installs no SIGTERM handler: as PID 1 it ignored the stop signal, so each retired
        # instance was killed only after the grace, and held the component's deploy that long (~10 s each).
        d = env
        project_with_component(d, "swap/web", "web:1")
        _, first, _ = deploy(d, "swap/web", "development", "web:1")
        old = first["instances"][0]
        old_nspawn = instance_pid(d.state_dir, old["id"])
        url = ingress_url(d, "swap", "web", "development")
        assert http_get(url) == (200, "hello v1\n")

        for n, image in enumerate(("web:2", "web:1", "web:2")):
                t0 = time.monotonic()
                _, rel, _ = deploy(d, "swap/web", "development", image)
                took = time.monotonic() - t0
                # `deploy` returns once the new release is live; the old instance is stopped right after.
                def stopped_lines():
                        doc = release_doc(d, "swap", "web", rel["id"])
                        return [l for l in doc["log"] if l.startswith(f"previous instance {old['id']} stopped")]
                stopped = wait_for(stopped_lines, STOP_GRACE_S + 5)
                doc = release_doc(d, "swap", "web", rel["id"])
                assert len(stopped) == 1, doc["log"]
                m = re.fullmatch(r"previous instance \d+ stopped (\d+) ms after its stop signal", stopped[0])
                assert m, f"the old instance did not stop by its stop signal (redeploy took {took:.1f} s): " \
                          f"{stopped[0]!r}"
                assert int(m.group(1)) < 2000, stopped[0]
                # The live-to-stopped order of the log: the old instance went after the swap, not before it.
                log = doc["log"]
                assert log.index(f"release {rel['id']} is live") < log.index(stopped[0]), log
                assert not pid_alive(old_nspawn)
                assert took < STOP_GRACE_S, f"redeploy {n + 1} took {took:.1f} s"
                assert http_get(url) == (200, f"hello v{image[-1]}\n")
                old = rel["instances"][0]
                old_nspawn = instance_pid(d.state_dir, old["id"])
        states = {i["id"]: i["state"] for i in release_doc(d, "swap", "web", first["id"])["instances"]}
        assert states == {first["instances"][0]["id"]: "stopped"}, states


def test_pid1_is_slipway_init_and_the_app_its_child(env):
        d = env
        ctx = make_site(d.root / "pid1", "pid1", cmd=[
                "sh", "-c", "echo \"pid1=$(tr '\\0' '\\n' </proc/1/cmdline | head -n 1)\"; "
                            "echo \"app pid=$$ ppid=$PPID\"; exec httpd -f -p 8080 -h /www"])
        build_image(d, ctx, "pid1:1")
        project_with_component(d, "pid1/web", "pid1:1")
        _, rel, _ = deploy(d, "pid1/web", "development", "pid1:1")
        assert http_get(ingress_url(d, "pid1", "web", "development")) == (200, "pid1\n")

        def logs():
                p = d.cli("logs", "pid1/web", "development", json=False, check=False)
                return p.stdout if "app pid=" in p.stdout else None
        out = wait_for(logs, 10)
        assert out, "no output of the entrypoint in `slipway logs`"
        assert "pid1=/run/slipway/init\n" in out, out
        m = re.search(r"app pid=(\d+) ppid=(\d+)", out)
        assert m and m.group(1) != "1" and m.group(2) == "1", out

        # From the host: nspawn's child (the container's PID 1) is slipway-init, and httpd is its only child.
        init = payload_of(instance_pid(d.state_dir, rel["instances"][0]["id"]))
        assert cmdline(init)[0] == b"/run/slipway/init", cmdline(init)
        kids = children_of(init)
        assert len(kids) == 1 and cmdline(kids[0])[0] == b"httpd", [cmdline(k) for k in kids]


def test_orphans_are_reaped(env):
        # The subshell's background child is orphaned and reparented to PID 1.  The app then becomes a
        # `sleep`, which never waits for anything: as PID 1 it left the orphan a zombie for good.
        d = env
        plain_image(d, d.root / "orphan", "orphan:1",
                    ["sh", "-c", "(sh -c 'sleep 0.5; echo orphan done' &); exec sleep 100000"])
        d.cli("project", "create", "orph")
        d.cli("component", "create", "orph/worker", "--image", "orphan:1", "--health", "none")
        _, rel, _ = deploy(d, "orph/worker", "development", "orphan:1")
        init = payload_of(instance_pid(d.state_dir, rel["instances"][0]["id"]))

        def logs():
                p = d.cli("logs", "orph/worker", "development", json=False, check=False)
                return "orphan done" in p.stdout
        assert wait_for(logs, 10), "the orphan never ran"
        # Reaped once it ended: no zombie in the container's pid namespace, only slipway-init and the app.
        settled = wait_for(lambda: not any(s == "Z" for _, s, _ in pid_namespace_members(init)), 5)
        members = pid_namespace_members(init)
        assert settled, f"zombies in the container: {members}"
        assert sorted(c for _, _, c in members) == ["init", "sleep"], members


def test_exit_status_is_the_apps(env):
        d = env
        d.cli("project", "create", "exits")
        for name, cmd, status in (("three", "echo bye; exit 3", 3), ("killed", "kill -9 $$", 137)):
                plain_image(d, d.root / name, f"{name}:1", ["sh", "-c", cmd])
                # Readiness: a TCP connect to the port busybox:1 exposes, which nothing answers; the exit comes
                # first.
                d.cli("component", "create", f"exits/{name}", "--image", f"{name}:1", "--deploy-timeout", "30s")
                code, doc, err = deploy(d, f"exits/{name}", "development", f"{name}:1", check=False)
                assert code == 1, (doc, err)
                rel = d.cli("releases", f"exits/{name}", "development")["releases"][0]
                assert rel["status"] == "failed", rel
                assert f"exited with status {status} before it was ready" in rel["reason"], rel

        # A live app killed by SIGKILL (as the OOM killer does): the supervisor records 137 and restarts it.
        d.cli("component", "create", "exits/web", "--image", "web:1", "--health", "http:/healthz")
        _, rel, _ = deploy(d, "exits/web", "development", "web:1")
        inst = rel["instances"][0]
        nspawn = instance_pid(d.state_dir, inst["id"])
        init = payload_of(nspawn)
        (app,) = children_of(init)
        os.kill(app, signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(nspawn), 10), "the container outlived its app"
        line = f"supervisor: instance {inst['id']} exited with status 137"
        assert wait_for(lambda: line in release_doc(d, "exits", "web", rel["id"])["log"], 20), \
                release_doc(d, "exits", "web", rel["id"])["log"]
        url = ingress_url(d, "exits", "web", "development")
        assert wait_for(lambda: http_get(url) == (200, "hello v1\n"), 30), "not restarted"
