"""The image store under hostile input and faults (issue 10): a crash (kill -9 of slipwayd mid-import,
mid-build, mid-export) leaves no temp file behind once the daemon is back, and `image gc` reports and
removes those that killed writers left while never touching a write in progress; a name can never look
like a digest, and a digest finds every image the store holds; a stalled export client does not hold gc;
`image unpack` of an untrusted image creates no device node and no setuid file on the host, and never
writes into the state dir."""

import http.client
import io
import json
import os
import signal
import socket
import stat
import subprocess
import tarfile
import threading
import time
import urllib.parse

import pytest

from build_util import ApiBuild, context_tar, write
from conftest import assert_clean_error

EXPORT_STALL_TIMEOUT_SEC = 60  # web/api/api-image-export.c


# ---------------------------------------------------------------------------------------------------------
# helpers

def _kill9(d):
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()


def _temps(d):
        """Every temp entry of the store and build side: blob temps, layer-cache unpacks, build dirs, uploads."""
        found = []
        for sub, prefix in (("oci/blobs/sha256", ".#"), ("layers", ".tmp-"), ("builds", "tmp-"), ("tmp", "upload-")):
                p = d.state_dir / sub
                if p.is_dir():
                        found += [f"{sub}/{n}" for n in os.listdir(p) if n.startswith(prefix)]
        return sorted(found)


def _wait_for(fn, timeout, interval=0.01):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
                v = fn()
                if v:
                        return v
                time.sleep(interval)
        return None


def _assert_consistent(d):
        """What a user checks after a crash: the store lists, gc finds no temp file, and after one gc the store
        holds exactly what its images reference."""
        d.cli("image", "list")
        dry = d.cli("image", "gc", "--dry-run")
        assert dry["temp_removed"] == 0 and dry["temp_bytes"] == 0, dry
        d.cli("image", "gc")
        assert d.cli("image", "gc", "--dry-run")["blobs"] == []
        assert d.blob_files() == d.reachable_blobs()
        assert _temps(d) == []


def _rootfs_tar(path, entries):
        """A plain rootfs tar: entries are (name, type, mode, data_or_devnums)."""
        with tarfile.open(path, "w") as t:
                for name, kind, mode, extra in entries:
                        ti = tarfile.TarInfo(name)
                        ti.type, ti.mode, ti.mtime = kind, mode, 1700000000
                        data = None
                        if kind == tarfile.REGTYPE:
                                data = extra.encode()
                                ti.size = len(data)
                        elif kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                                ti.devmajor, ti.devminor = extra
                        t.addfile(ti, io.BytesIO(data) if data is not None else None)
        return path


HOSTILE = [
        ("bin", tarfile.DIRTYPE, 0o755, None),
        ("bin/rootshell", tarfile.REGTYPE, 0o4755, "#!/bin/sh\n"),
        ("bin/groupshell", tarfile.REGTYPE, 0o2755, "#!/bin/sh\n"),
        ("dev", tarfile.DIRTYPE, 0o755, None),
        ("dev/sda", tarfile.BLKTYPE, 0o666, (8, 0)),
        ("dev/mem", tarfile.CHRTYPE, 0o666, (1, 1)),
        ("tmp", tarfile.DIRTYPE, 0o1777, None),
        ("etc", tarfile.DIRTYPE, 0o755, None),
        ("etc/hello", tarfile.REGTYPE, 0o644, "hello\n"),
]


def _import_hostile(d, tmp_path, name="hostile:1"):
        tar = _rootfs_tar(tmp_path / "hostile.tar", HOSTILE)
        return d.cli("image", "import", tar, "--rootfs", "--name", name)["images"][0]["digest"]


class StalledExport:
        """GET /api/v1/images/REF/export on a raw socket with a tiny receive buffer, then nothing read."""

        def __init__(self, d, ref):
                u = urllib.parse.urlparse(d.url)
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                self.sock.connect((u.hostname, u.port))
                self.sock.sendall(f"GET /api/v1/images/{urllib.parse.quote(ref, safe='')}/export HTTP/1.1\r\n"
                                  f"Host: {u.hostname}\r\nAuthorization: Bearer {d.token}\r\n\r\n".encode())

        def read_all(self, out=None, timeout=120):
                """Reads until the server closes, decoding the chunked body into the binary file out (when
                given) as it comes, so a 160 MiB export is never held in memory: (head, whether the last
                chunk came)."""
                self.sock.settimeout(timeout)
                buf, head, complete, eof = bytearray(), None, False, False

                def more():
                        try:
                                b = self.sock.recv(1 << 20)
                        except ConnectionResetError:
                                b = b""
                        buf.extend(b)
                        return bool(b)

                while head is None:
                        end = buf.find(b"\r\n\r\n")
                        if end >= 0:
                                head = bytes(buf[:end])
                                del buf[:end + 4]
                        elif not more():
                                return bytes(buf), False
                while not complete and not eof:
                        eol = buf.find(b"\r\n")
                        if eol < 0:
                                eof = not more()
                                continue
                        n = int(buf[:eol], 16)
                        if n == 0:
                                complete = True
                                break
                        while len(buf) < eol + 2 + n + 2 and not eof:
                                eof = not more()
                        if len(buf) < eol + 2 + n + 2:
                                break  # cut off inside a chunk
                        if out is not None:
                                out.write(buf[eol + 2:eol + 2 + n])
                        del buf[:eol + 2 + n + 2]
                return head, complete

        def close(self):
                self.sock.close()


# ---------------------------------------------------------------------------------------------------------
# references: a name never looks like a digest; a digest finds every image the store holds

def test_a_name_cannot_pin_another_images_digest(daemon, images, tmp_path):
        other = daemon.cli("image", "import", images / "busybox.oci.tar")["images"][0]["digest"]
        before = daemon.snapshot()
        tar = _rootfs_tar(tmp_path / "mine.tar", [("etc", tarfile.DIRTYPE, 0o755, None),
                                                  ("etc/mine", tarfile.REGTYPE, 0o644, "mine\n")])
        for name in (f"web@{other}", f"web:1@{other}"):
                p = daemon.cli("image", "import", tar, "--rootfs", "--name", name, check=False)
                assert_clean_error(p, "digest")
        assert daemon.snapshot() == before
        # '@sha256:' only ever means the digest: whatever the name part, it is that content
        for ref in (f"web@{other}", f"busybox@{other}", other):
                assert daemon.cli("image", "inspect", ref)["digest"] == other
        p = daemon.cli("image", "inspect", "busybox@sha256:" + "0" * 64, check=False)
        assert_clean_error(p, "no image named")
        # a build cannot be tagged so either
        ctx = tmp_path / "ctx"
        write(ctx / "Dockerfile", "FROM busybox:1\n")
        p = daemon.cli("image", "build", ctx, "-t", f"web@{other}", json=False, check=False)
        assert_clean_error(p, "digest")
        assert daemon.snapshot() == before


def test_a_digest_finds_an_image_whose_last_name_was_removed(daemon, images, tmp_path):
        digest = daemon.cli("image", "import", images / "busybox.oci.tar")["images"][0]["digest"]
        daemon.cli("image", "rm", "busybox:1")
        assert daemon.images() == []
        # its blobs stay until gc: the digest still finds it, with no name
        info = daemon.cli("image", "inspect", digest)
        assert info["digest"] == digest and info["refs"] == []
        daemon.cli("image", "export", digest, "--oci-archive", tmp_path / "bb.tar")
        assert (tmp_path / "bb.tar").stat().st_size > 0
        daemon.cli("image", "unpack", digest, tmp_path / "root")
        assert (tmp_path / "root" / "bin").is_dir()
        daemon.cli("image", "gc")
        p = daemon.cli("image", "inspect", digest, check=False)
        assert_clean_error(p, "no image named")


def test_deploy_by_digest_after_rm_of_the_live_image(build_dir, images, tmp_path):
        from deploy_util import build_image, deploy, make_site, project_with_component, running_deploy_daemon
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                build_image(d, make_site(tmp_path / "site", "v1"), "site:1")
                project_with_component(d, "p/web", "site:1")
                _, doc, _ = deploy(d, "p/web", "development", "site:1")
                digest = doc["image_digest"]
                assert digest == d.cli("image", "inspect", "site:1")["digest"]
                d.cli("image", "rm", "site:1")
                d.cli("image", "gc")  # the live release keeps its blobs
                rc, doc2, err = deploy(d, "p/web", "development", digest, check=False)
                assert rc == 0 and doc2 and doc2["status"] == "live", err
                assert "no image named" not in err


# ---------------------------------------------------------------------------------------------------------
# image unpack of an untrusted image

def test_unpack_drops_device_nodes_and_setuid_unless_asked(daemon, tmp_path):
        _import_hostile(daemon, tmp_path)
        root = tmp_path / "root"
        res = daemon.cli("image", "unpack", "hostile:1", root)
        assert not os.path.lexists(root / "dev/sda") and not os.path.lexists(root / "dev/mem")
        assert stat.S_IMODE(os.lstat(root / "bin/rootshell").st_mode) == 0o755
        assert stat.S_IMODE(os.lstat(root / "bin/groupshell").st_mode) == 0o755
        assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
        assert (root / "etc/hello").read_text() == "hello\n"
        for dirpath, dirs, files in os.walk(root):
                for n in dirs + files:
                        st = os.lstat(os.path.join(dirpath, n))
                        assert not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)), n
                        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), n
        assert res["keep_special"] is False

        # asked for explicitly, the tree is the image's as it is
        kept = tmp_path / "kept"
        assert daemon.cli("image", "unpack", "hostile:1", kept, "--keep-special")["keep_special"] is True
        assert stat.S_ISBLK(os.lstat(kept / "dev/sda").st_mode)
        assert os.lstat(kept / "dev/sda").st_rdev == os.makedev(8, 0)
        assert stat.S_IMODE(os.lstat(kept / "bin/rootshell").st_mode) == 0o4755


def test_unpack_refuses_a_target_inside_the_state_dir(daemon, tmp_path):
        _import_hostile(daemon, tmp_path)
        link = tmp_path / "innocent"
        os.symlink(daemon.state_dir, link)
        before = sorted(os.listdir(daemon.state_dir / "oci" / "blobs" / "sha256"))
        for target in (daemon.state_dir / "oci" / "blobs" / "sha256" / "x", daemon.state_dir / "instances" / "y",
                       link / "layers" / "z", daemon.state_dir):
                p = daemon.cli("image", "unpack", "hostile:1", target, check=False)
                assert_clean_error(p, "state directory")
                assert not os.path.lexists(target) or target == daemon.state_dir
        assert sorted(os.listdir(daemon.state_dir / "oci" / "blobs" / "sha256")) == before
        assert not (daemon.state_dir / "instances" / "y").exists()
        daemon.cli("status")


# ---------------------------------------------------------------------------------------------------------
# a crash leaves nothing half-made

def test_kill_during_import_leaves_no_partial_blob(start_daemon, large_image):
        d = start_daemon()
        blobs = d.state_dir / "oci" / "blobs" / "sha256"
        cli = subprocess.Popen(d.cli_argv("image", "import", large_image), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        try:
                seen = _wait_for(lambda: [n for n in os.listdir(blobs) if n.startswith(".#")], 120, 0.002)
                assert seen, "the import never wrote a blob temp file"
                _kill9(d)
        finally:
                cli.wait(60)
        assert cli.returncode != 0
        assert [n for n in os.listdir(blobs) if n.startswith(".#")], "the kill came too late to test anything"

        d.start()
        assert _temps(d) == [], "a restart left what the killed import was writing"
        assert "large:1" not in d.image_refs()
        _assert_consistent(d)
        # and the same import works now
        d.cli("image", "import", large_image)
        assert "large:1" in d.image_refs()
        _assert_consistent(d)


def _slow_upload(d, archive, first):
        """POST an import of archive with only its first bytes sent so far: (connection, file at that point)."""
        u = urllib.parse.urlparse(d.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        conn.putrequest("POST", "/api/v1/images/import?format=oci-archive")
        conn.putheader("Authorization", f"Bearer {d.token}")
        conn.putheader("Content-Type", "application/x-tar")
        conn.putheader("Content-Length", str(os.path.getsize(archive)))
        conn.endheaders()
        f = open(archive, "rb")
        conn.send(f.read(first))
        return conn, f


def test_kill_during_a_slow_upload_leaves_nothing(start_daemon, large_image):
        d = start_daemon()
        conn, f = _slow_upload(d, large_image, 32 << 20)
        try:
                assert _wait_for(lambda: _temps(d), 10), "the upload has no temp file"
                _kill9(d)
        finally:
                f.close()
                conn.close()
        d.start()
        assert _temps(d) == []
        assert d.images() == []
        _assert_consistent(d)


def test_gc_removes_what_killed_writers_left_but_not_a_live_upload(daemon, large_image):
        """A slow upload is in progress while gc runs: its temp stays and the import succeeds; the temps a
        killed daemon would have left (planted, as nobody holds them) are counted, reported and removed."""
        sd = daemon.state_dir
        planted = {
                sd / "oci/blobs/sha256/.#incoming.0123456789abcdef": 1000,
                sd / "tmp/upload-dead01": 2000,
        }
        (sd / "layers").mkdir(exist_ok=True)
        (sd / "builds").mkdir(exist_ok=True)
        for p, n in planted.items():
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"x" * n)
        for p in (sd / "layers/.tmp-dead0123456789ab", sd / "builds/tmp-99999-1"):
                (p / "sub").mkdir(parents=True)
                (p / "sub" / "f").write_bytes(b"y" * 500)
        want_bytes = 1000 + 2000 + 500 + 500

        conn, f = _slow_upload(daemon, large_image, os.path.getsize(large_image) // 3)
        with f:
                live = _wait_for(lambda: [n for n in os.listdir(sd / "tmp") if n.startswith("upload-")
                                          and n != "upload-dead01"], 10)
                assert live, "the upload has no temp file"

                text = daemon.cli("image", "gc", "--dry-run", json=False).stdout
                assert "4 temp files" in text, text
                dry = daemon.cli("image", "gc", "--dry-run")
                assert (dry["temp_removed"], dry["temp_bytes"]) == (4, want_bytes), dry
                assert all(p.exists() for p in planted)
                res = daemon.cli("image", "gc")
                assert (res["temp_removed"], res["temp_bytes"]) == (4, want_bytes), res
                assert not any(p.exists() for p in planted)
                assert not (sd / "layers/.tmp-dead0123456789ab").exists()
                assert not (sd / "builds/tmp-99999-1").exists()
                assert (sd / "tmp" / live[0]).exists(), "gc removed the temp file of a live upload"

                while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                                break
                        conn.send(chunk)
        r = conn.getresponse()
        body = r.read()
        conn.close()
        assert r.status == 200, body
        assert json.loads(body)["images"][0]["refs"] == ["large:1"]
        _assert_consistent(daemon)


SLEEPER = "FROM busybox:1\nRUN echo sleeping && sleep 60\nRUN echo never\n"


def test_kill_mid_build_run_leaves_no_workspace(start_daemon, images, tmp_path):
        d = start_daemon()
        d.cli("image", "import", images / "busybox.oci.tar")
        ctx = tmp_path / "ctx"
        write(ctx / "Dockerfile", SLEEPER)
        b = ApiBuild(d, context_tar(ctx), tag="sleeper:1", no_cache="1")
        try:
                for line in b.lines():
                        if line == "sleeping":
                                break
                else:
                        pytest.fail(f"the build never reached its RUN step: {b.log}")
                assert [t for t in _temps(d) if t.startswith("builds/")], "no build workspace to test with"
                _kill9(d)
        finally:
                b.close()
        # what the killed daemon's build was running is not ours to keep: stop it like a reboot would
        from deploy_util import pids_with
        for pid in pids_with(str(d.state_dir / "builds").encode()):
                try:
                        os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                        pass

        d.start()
        assert _temps(d) == [], "a restart left the killed build's workspace"
        assert "sleeper:1" not in d.image_refs()
        _assert_consistent(d)


def test_kill_mid_export_leaves_nothing_half_written(start_daemon, large_image, tmp_path):
        d = start_daemon()
        d.cli("image", "import", large_image)
        before = d.snapshot()
        out = tmp_path / "out"
        out.mkdir()
        cli = subprocess.Popen(d.cli_argv("image", "export", "large:1", "--oci-archive", out / "large.tar"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
                def partial():
                        return [n for n in os.listdir(out) if n.startswith(".#")
                                and os.path.getsize(out / n) > 16 << 20]
                assert _wait_for(partial, 120), "the export never got going"
                _kill9(d)
                _, err = cli.communicate(timeout=60)
        finally:
                if cli.poll() is None:
                        cli.kill()
                        cli.wait()
        assert cli.returncode != 0
        assert "broke off" in err or "not written" in err, err
        assert os.listdir(out) == [], "a half-written export is left"

        d.start()
        assert d.snapshot() == before
        _assert_consistent(d)
        d.cli("image", "export", "large:1", "--oci-archive", out / "large.tar")
        (out / "large.tar").unlink()


# ---------------------------------------------------------------------------------------------------------
# a stalled export client

def test_a_stalled_export_does_not_hold_gc(daemon, large_image, tmp_path):
        digest = daemon.cli("image", "import", large_image)["images"][0]["digest"]
        manifest_layers = daemon.cli("image", "inspect", "large:1")["manifest"]["layers"]
        s = StalledExport(daemon, "large:1")
        try:
                time.sleep(2)  # the socket buffers fill, the export waits on its client
                t0 = time.monotonic()
                daemon.cli("image", "gc", "--dry-run", timeout=20)
                daemon.cli("image", "gc", timeout=20)
                # the name goes while the export streams: gc keeps what the export reads (it is pinned)
                daemon.cli("image", "rm", "large:1", timeout=20)
                dry = daemon.cli("image", "gc", "--dry-run", timeout=20)
                assert not set(dry["blobs"]) & {l["digest"] for l in manifest_layers}, "a streaming image's blobs would go"
                daemon.cli("image", "gc", timeout=20)
                assert time.monotonic() - t0 < 20, "gc waited for the stalled export"
                # the client resumes: the archive is whole
                with open(tmp_path / "export.tar", "wb") as out:
                        head, complete = s.read_all(out)
        finally:
                s.close()
        assert head.startswith(b"HTTP/1.1 200") and complete, head
        with tarfile.open(tmp_path / "export.tar") as t:
                names = t.getnames()
        (tmp_path / "export.tar").unlink()
        assert f"blobs/sha256/{digest.split(':')[1]}" in names
        # once the export is over, the unnamed image is garbage like any other
        assert daemon.cli("image", "gc")["blobs_removed"] >= len(manifest_layers)
        assert daemon.blob_files() == set()


@pytest.mark.slow
def test_a_stalled_export_client_is_closed(daemon, large_image):
        daemon.cli("image", "import", large_image)
        s = StalledExport(daemon, "large:1")
        try:
                time.sleep(EXPORT_STALL_TIMEOUT_SEC + 15)
                head, complete = s.read_all(timeout=30)
        finally:
                s.close()
        assert head.startswith(b"HTTP/1.1 200")
        assert not complete, "the stalled export was not given up"
        assert "Export of" in daemon.log() and "stopped" in daemon.log()
        # the handler thread is free again and the image can be exported whole
        daemon.cli("status")
        daemon.cli("image", "gc", "--dry-run", timeout=20)
