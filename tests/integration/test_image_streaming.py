"""Large images are streamed: neither slipwayd nor the CLI holds an image in memory, so their peak RSS stays
flat while a ~160 MiB image of incompressible layers goes in and out."""

import os
import subprocess

from conftest import LARGE_IMAGE_MB

MAX_GROWTH_KB = 50 * 1024


def _run_measured(argv):
        """Runs argv; returns (CompletedProcess-like tuple (rc, stderr), peak RSS of that process in KiB)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        err = p.stderr.read()
        _, status, rusage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        return p.returncode, err.decode(errors="replace"), rusage.ru_maxrss


def test_import_export_large_image_with_flat_memory(daemon, large_image, skopeo, tmp_path):
        daemon.cli("status")
        base = daemon.vmhwm()
        assert base, "cannot read slipwayd's VmHWM"

        rc, err, cli_rss = _run_measured(daemon.cli_argv("image", "import", large_image))
        assert rc == 0, err
        after_import = daemon.vmhwm()
        digest, manifest = skopeo.raw_manifest(f"oci-archive:{large_image}:large:1")
        assert daemon.cli("image", "inspect", "large:1")["digest"] == digest
        assert after_import - base < MAX_GROWTH_KB, (
                f"slipwayd's peak RSS grew by {(after_import - base) // 1024} MiB importing a "
                f"{LARGE_IMAGE_MB} MiB image (from {base // 1024} MiB)")
        assert cli_rss < MAX_GROWTH_KB + 20 * 1024, f"slipway import peaked at {cli_rss // 1024} MiB"

        out = tmp_path / "large-export.tar"
        rc, err, cli_rss = _run_measured(daemon.cli_argv("image", "export", "large:1", "--oci-archive", out))
        assert rc == 0, err
        after_export = daemon.vmhwm()
        assert after_export - base < MAX_GROWTH_KB, (
                f"slipwayd's peak RSS grew by {(after_export - base) // 1024} MiB exporting a "
                f"{LARGE_IMAGE_MB} MiB image")
        assert cli_rss < MAX_GROWTH_KB + 20 * 1024, f"slipway export peaked at {cli_rss // 1024} MiB"
        d2, m2 = skopeo.raw_manifest(f"oci-archive:{out}:large:1")
        assert d2 == digest and m2 == manifest

        # leave no 160 MiB copies behind in pytest's temp dirs
        out.unlink()
        daemon.cli("image", "rm", "large:1")
        assert daemon.cli("image", "gc")["bytes_freed"] >= sum(l["size"] for l in manifest["layers"])
