"""A full disk is survivable (issue 10, "Why" 7): on a 64 MiB tmpfs state dir filled by imports and then by
another program, every ENOSPC is one 507 that says which disk is full, how much is free and what to run
(import, project create), a failed import leaves nothing of itself, and the disk is freed through Slipway
(`image rm`, `image gc` work on the full disk) after which imports, projects and status carry on."""

import io
import json
import os
import subprocess
import tarfile
import urllib.error
import urllib.request

import pytest

from conftest import drop_own_claims, remove_own_network
from deploy_util import DEPLOY_TIMEOUT, running_deploy_daemon

MIB = 1024 * 1024
DISK_MB = 64
FILL_IMAGE_MB = 6   # incompressible: each import takes this much (and as much again while uploading)


@pytest.fixture
def small_disk(tmp_path):
        """A 64 MiB tmpfs of our own, used as the state dir itself (the daemon's log stays outside it)."""
        mnt = tmp_path / "disk"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(mnt)],
                       check=True)
        try:
                yield mnt
        finally:
                remove_own_network(mnt)
                drop_own_claims(mnt)
                subprocess.run(["umount", str(mnt)], check=False)
                if os.path.ismount(mnt):
                        subprocess.run(["umount", "-l", str(mnt)], check=False)


def random_rootfs(path, mb, seed):
        """A rootfs tar holding one file of mb MiB of random (incompressible) bytes."""
        data = os.urandom(mb * MIB)
        with tarfile.open(path, "w") as t:
                info = tarfile.TarInfo(f"data-{seed}.bin")
                info.size = len(data)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(data))
        return path


def api(d, method, path, data=None):
        """(status, JSON body) of one API request."""
        req = urllib.request.Request(d.url.rstrip("/") + "/api/v1/" + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {d.token}",
                                              "Content-Type": "application/json" if method != "POST" or
                                              not path.startswith("images/import") else "application/x-tar"})
        try:
                with urllib.request.urlopen(req, timeout=120) as r:
                        return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"{}")


def assert_disk_full(status, body, disk):
        """The one answer to any ENOSPC: 507, which disk, how much is free, what to run."""
        assert status == 507, (status, body)
        msg, hint = body.get("error", ""), body.get("hint", "")
        assert "full" in msg and str(disk) in msg, body
        assert " free of 64 MiB" in msg, body  # how much is free
        assert "slipway image rm" in hint and "slipway image gc" in hint, body
        assert "subnet" not in msg.lower(), body


def stray_files(d):
        """Temp files an import could leave: half-written blobs and uploads."""
        blobs = d.state_dir / "oci" / "blobs" / "sha256"
        left = [n for n in os.listdir(blobs) if n.startswith(".#")] if blobs.is_dir() else []
        tmp = d.state_dir / "tmp"
        left += [f"tmp/{n}" for n in os.listdir(tmp)] if tmp.is_dir() else []
        return left


def free_bytes(path):
        st = os.statvfs(path)
        return st.f_bfree * st.f_frsize


def fill_with_filler(disk):
        """Another program takes every byte left; returns its file."""
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
                for chunk in (256 * 1024, 4096, 1):
                        try:
                                while os.write(fd, b"\0" * chunk) > 0:
                                        pass
                        except OSError:
                                pass
        finally:
                os.close(fd)
        assert free_bytes(disk) < 64 * 1024
        return filler


def fill_with_images(d, tmp_path):
        """Imports incompressible images until the disk refuses one; returns the names that went in."""
        names = []
        for i in range(DISK_MB // FILL_IMAGE_MB + 2):
                tar = random_rootfs(tmp_path / f"fill-{i}.tar", FILL_IMAGE_MB, i)
                status, body = api(d, "POST", f"images/import?format=rootfs&name=fill%3A{i}", tar.read_bytes())
                tar.unlink()
                if status == 200:
                        names.append(f"fill:{i}")
                        continue
                return names, status, body
        raise AssertionError(f"{DISK_MB} MiB took {len(names)} images of {FILL_IMAGE_MB} MiB without a refusal")


def test_full_disk_is_reported_then_freed_through_slipway(small_disk, start_daemon, tmp_path):
        d = start_daemon(state_dir=small_disk)
        assert (small_disk / "disk-reserve").stat().st_size > 0, "slipwayd keeps a reserve for deletes"

        early = d.cli("project", "create", "early", "--envs", "dev")
        assert early["name"] == "early"

        # 1. Imports until the disk refuses one: that refusal names the disk, and leaves nothing of itself.
        names, status, body = fill_with_images(d, tmp_path)
        assert len(names) >= 3, names
        assert_disk_full(status, body, small_disk)
        assert d.image_refs() == sorted(names)
        assert d.blob_files() == d.reachable_blobs(), "a refused import left blobs behind"
        assert stray_files(d) == []

        # 2. Another program takes the rest: the disk is full to the last byte.
        filler = fill_with_filler(small_disk)

        # Every write now says the disk is full, through the API and through the CLI.
        small = random_rootfs(tmp_path / "small.tar", 1, 100)
        before = d.snapshot()
        status, body = api(d, "POST", "images/import?format=rootfs&name=small%3A1", small.read_bytes())
        assert_disk_full(status, body, small_disk)
        assert d.snapshot() == before and stray_files(d) == []
        p = d.cli("image", "import", "--rootfs", small, "--name", "small:1", json=False, check=False)
        assert p.returncode != 0 and "is full" in p.stderr and "slipway image gc" in p.stderr, p.stderr

        status, body = api(d, "POST", "projects", json.dumps({"name": "shop"}).encode())
        assert_disk_full(status, body, small_disk)
        p = d.cli("project", "create", "shop", json=False, check=False)
        assert p.returncode != 0 and "is full" in p.stderr and "subnet" not in p.stderr, p.stderr
        assert [p["name"] for p in d.cli("project", "list")["projects"]] == ["early"], \
                "a refused create left a project behind"

        # A build's context does not fit either: the same answer, and no half-made build directory.
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM {names[-1]}\nCOPY data.bin /data.bin\n")
        (ctx / "data.bin").write_bytes(os.urandom(MIB))
        p = d.cli("image", "build", ctx, "-t", "built:1", json=False, check=False)
        assert p.returncode != 0 and "is full" in p.stderr and "slipway image gc" in p.stderr, p.stderr
        builds = small_disk / "builds"
        assert not builds.is_dir() or [n for n in os.listdir(builds) if n.startswith("tmp-")] == []

        # The daemon still answers on the full disk.
        assert d.cli("status")

        # 3. Freed through Slipway on the full disk: a project delete, image rm (metadata only), then gc (the
        # blobs).  Each commits on the full disk (the reserve gives the database room).
        d.cli("project", "delete", "early")
        assert d.cli("project", "list")["projects"] == []
        for n in names[:2]:
                d.cli("image", "rm", n)
        assert d.image_refs() == sorted(names[2:])
        # Until gc has freed the blobs, the room the reserve gave back is kept for deletes, not taken by imports.
        status, body = api(d, "POST", "images/import?format=rootfs&name=small%3A1", small.read_bytes())
        assert_disk_full(status, body, small_disk)
        gc = d.cli("image", "gc")
        assert gc["blobs_removed"] >= 2 and gc["bytes_freed"] >= 2 * FILL_IMAGE_MB * MIB, gc
        assert d.blob_files() == d.reachable_blobs()
        assert free_bytes(small_disk) > FILL_IMAGE_MB * MIB
        assert (small_disk / "disk-reserve").exists(), "the reserve comes back once there is room"

        # 4. And carries on: import, a project, status.
        out = d.cli("image", "import", "--rootfs", small, "--name", "small:1")
        assert out["images"][0]["refs"] == ["small:1"]
        proj = d.cli("project", "create", "shop")
        assert proj["name"] == "shop"
        assert d.cli("status")
        assert stray_files(d) == []

        # Nothing was lost across the restart either: what the database says matches the store.
        d.stop()
        filler.unlink()
        d.start()
        assert d.image_refs() == sorted(names[2:] + ["small:1"])
        assert [p["name"] for p in d.cli("project", "list")["projects"]] == ["shop"]
        d.cli("project", "delete", "shop")


@pytest.fixture
def tiny_disk(tmp_path):
        """A 2 MiB tmpfs for unpack and export targets (the daemon's state dir stays on the normal disk)."""
        mnt = tmp_path / "tiny"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
        try:
                yield mnt
        finally:
                subprocess.run(["umount", str(mnt)], check=False)
                if os.path.ismount(mnt):
                        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_target_disk_of_unpack_and_export_is_named(daemon, tiny_disk, tmp_path):
        tar = random_rootfs(tmp_path / "big.tar", 4, 7)
        daemon.cli("image", "import", "--rootfs", tar, "--name", "big:1")

        # The daemon writes the unpack: 507 naming the target's disk, not the state dir's, and no half tree.
        target = tiny_disk / "rootfs"
        status, body = api(daemon, "POST", "images/big%3A1/unpack", json.dumps({"path": str(target)}).encode())
        assert status == 507, (status, body)
        assert f"The disk holding {target}" in body["error"] and "is full" in body["error"], body
        assert " free of 2.0 MiB" in body["error"] or " free of 2 MiB" in body["error"], body
        assert str(tiny_disk) in body["hint"], body
        assert not target.exists(), "a failed unpack left its directory"

        # The CLI writes the export: the same sentence about the export's disk, and nothing written.
        for how, out in (("--oci-archive", tiny_disk / "big.tar"), ("--oci", tiny_disk / "layout")):
                p = daemon.cli("image", "export", "big:1", how, out, json=False, check=False)
                assert p.returncode != 0, p.stdout
                assert f"The disk holding {out}" in p.stderr and "is full" in p.stderr, p.stderr
                assert sorted(os.listdir(tiny_disk)) == [], os.listdir(tiny_disk)

        assert daemon.cli("status")
        assert daemon.image_refs() == ["big:1"]


@pytest.mark.slow
@pytest.mark.parametrize("left_kib", [0, 256], ids=["no-byte-left", "room-for-rows-not-layers"])
def test_deploy_on_a_full_disk_says_so(small_disk, build_dir, images, left_kib):
        """With no byte left the deploy request itself is refused (507); with room for the release's rows but not
        for the image's layers the release fails, and its reason says which disk is full."""
        with running_deploy_daemon(build_dir, small_disk, images) as d:
                d.cli("project", "create", "shop", "--envs", "dev")
                d.cli("component", "create", "shop/web", "--image", "busybox:1")
                filler = fill_with_filler(small_disk)
                os.truncate(filler, max(0, filler.stat().st_size - left_kib * 1024))
                try:
                        p = d.cli("deploy", "shop/web", "dev", "--image", "busybox:1", json=False, check=False,
                                  timeout=DEPLOY_TIMEOUT)
                        assert p.returncode != 0, p.stdout
                        assert "is full" in p.stderr and "slipway image gc" in p.stderr, p.stderr
                        rels = d.cli("releases", "shop/web", "dev")["releases"]
                        if left_kib:
                                assert len(rels) == 1, rels
                        assert all(r["status"] == "failed" and "is full" in r["reason"] for r in rels), rels
                        assert d.cli("status")
                finally:
                        filler.unlink()
