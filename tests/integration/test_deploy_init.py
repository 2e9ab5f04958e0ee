"""slipway-init, the program every container starts with (it answers clone3 with ENOSYS, which the seccomp
support of systemd-nspawn cannot say): a daemon that cannot find it refuses to start instances and build steps
with a sentence saying what is missing and what to do, instead of running them without it."""

import subprocess
from pathlib import Path

import pytest

from deploy_util import DEPLOY_TIMEOUT, build_image, deploy_daemon, free_port_range, make_site, stop_all

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
