"""Large images are streamed: neither slipwayd nor the CLI holds an image in memory, so their peak RSS stays
flat while a ~160 MiB image of incompressible layers goes in and out."""

import json
import os
import subprocess

import slipway_images
from conftest import LARGE_IMAGE_MB

MAX_GROWTH_KB = 50 * 1024


# The peak RSS of a process forked from pytest starts at pytest's own (the copied address space's high-water
# mark survives exec), so the command is forked from this small launcher instead; it reports the child's
# rusage on the descriptor named by its first argument.
_MEASURE = r"""
import json, os, sys
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
        os.close(fd)
        os.execvp(sys.argv[2], sys.argv[2:])
_, status, rusage = os.wait4(pid, 0)
os.write(fd, json.dumps([os.waitstatus_to_exitcode(status), rusage.ru_maxrss]).encode())
"""


def _run_measured(argv):
        """Runs argv; returns (exit code, stderr, peak RSS of that process alone in KiB)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        r, w = os.pipe()
        try:
                p = subprocess.Popen(["/usr/bin/python3", "-c", _MEASURE, str(w), *map(str, argv)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, pass_fds=(w,))
                os.close(w)
                w = -1
                err = p.stderr.read()
                p.wait()
                with os.fdopen(r, "rb") as f:
                        r = -1
                        rc, maxrss = json.loads(f.read())
        finally:
                for fd in (r, w):
                        if fd >= 0:
                                os.close(fd)
        return rc, err.decode(errors="replace"), maxrss


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


def test_interrupted_import_leaves_nothing(daemon, large_image):
        """The client dies half-way through an upload: no image, no referenced blob, no temp file remain."""
        import http.client
        import time
        import urllib.parse
        before = daemon.snapshot()
        files_before = daemon.blob_files()
        u = urllib.parse.urlparse(daemon.url)
        size = os.path.getsize(large_image)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.putrequest("POST", "/api/v1/images/import?format=oci-archive")
        conn.putheader("Authorization", f"Bearer {daemon.token}")
        conn.putheader("Content-Type", "application/x-tar")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        with open(large_image, "rb") as f:
                left = size * 2 // 3
                while left:
                        chunk = f.read(min(left, 1 << 20))
                        conn.send(chunk)
                        left -= len(chunk)
        time.sleep(0.5)
        conn.sock.shutdown(2)
        conn.close()

        deadline = time.monotonic() + 15
        tmp = daemon.state_dir / "tmp"
        while time.monotonic() < deadline and tmp.is_dir() and os.listdir(tmp):
                time.sleep(0.2)
        assert not tmp.is_dir() or os.listdir(tmp) == [], f"temp files left: {os.listdir(tmp)}"
        assert daemon.snapshot() == before
        assert "large:1" not in daemon.image_refs()
        # a blob under its final name is always whole (written to a temp name, verified, then renamed)
        for digest in daemon.blob_files() - files_before:
                path = daemon.oci_dir() / "blobs" / "sha256" / digest.split(":")[1]
                assert slipway_images.sha256_file(path) == digest, f"partial blob {path} is visible"
        # and the daemon still works
        assert daemon.cli("status")["images"] == len(before[0])
