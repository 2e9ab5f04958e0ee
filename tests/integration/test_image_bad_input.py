"""Bad input to the image store: each case fails with a non-zero exit and one clear sentence on stderr, and
nothing is stored (image list unchanged, no new blob referenced from DIR/oci/index.json, no temp files
left).  Hostile tar entries never write outside the target directory."""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

import slipway_images as si
from conftest import Daemon, assert_clean_error


@pytest.fixture(scope="module")
def store(module_daemon, images):
        """The module's daemon with busybox:1 imported (so 'unchanged' has something to compare)."""
        module_daemon.cli("image", "import", images / "busybox.oci.tar")
        return module_daemon


def _tmp_leftovers(d):
        tmp = d.state_dir / "tmp"
        return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def expect_rejected(d, *args, words=()):
        """Runs `slipway ARGS`, asserts a clean failure and that nothing was stored; returns the message."""
        before = d.snapshot()
        p = d.cli(*args, check=False)
        msg = assert_clean_error(p, *words)
        assert d.snapshot() == before, f"`slipway {' '.join(map(str, args))}` failed but changed the store"
        deadline = time.monotonic() + 3
        while _tmp_leftovers(d) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert _tmp_leftovers(d) == [], "a failed import left temporary files"
        return msg


def _multi_copy(images, tmp_path):
        layout = tmp_path / "layout"
        shutil.copytree(images / "multi-oci", layout)
        desc = si.layout_manifest_desc(str(layout), "multi:1")
        return layout, desc, si.layout_read_json(str(layout), desc["digest"])


def _repoint(layout, manifest_bytes_or_obj):
        """Stores a new manifest blob and makes index.json name it bad-src:1."""
        desc = si.layout_write_blob(str(layout), manifest_bytes_or_obj, si.OCI_MANIFEST)
        desc["annotations"] = {si.REF_ANNOTATION: "bad-src:1"}
        si.layout_write_index(str(layout), {"schemaVersion": 2, "manifests": [desc]})


# --- each builder makes a bad import source in tmp_path and returns its path

def bad_missing_file(images, tmp_path):
        return tmp_path / "does-not-exist.tar"


def bad_not_a_tar(images, tmp_path):
        p = tmp_path / "notes.tar"
        p.write_text("These are my notes, not a tar archive.\n" * 40)
        return p


def bad_truncated_tar(images, tmp_path):
        p = tmp_path / "truncated.tar"
        data = (images / "multi.oci.tar").read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p


def bad_corrupt_blob(images, tmp_path):
        layout, _, m = _multi_copy(images, tmp_path)
        blob = si.layout_blob_path(str(layout), m["layers"][1]["digest"])  # not the base layer we already hold
        data = bytearray(open(blob, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(blob, "wb").write(bytes(data))
        return layout


def bad_corrupt_blob_archive(images, tmp_path):
        layout = bad_corrupt_blob(images, tmp_path)
        si.archive_layout(str(layout), str(tmp_path / "corrupt.tar"))
        return tmp_path / "corrupt.tar"


def bad_corrupt_config(images, tmp_path):
        layout, _, m = _multi_copy(images, tmp_path)
        blob = si.layout_blob_path(str(layout), m["config"]["digest"])
        text = open(blob).read().replace("multi", "MULTI")
        open(blob, "w").write(text)
        return layout


def bad_missing_blob(images, tmp_path):
        layout, _, m = _multi_copy(images, tmp_path)
        os.unlink(si.layout_blob_path(str(layout), m["layers"][2]["digest"]))
        return layout


def bad_no_amd64(images, tmp_path):
        layout = tmp_path / "multiarch"
        si.make_multiarch_layout(str(images / "multi-oci"), "multi:1", str(layout), "multiarch:1")
        top = si.layout_index(str(layout))["manifests"][0]
        index = si.layout_read_json(str(layout), top["digest"])
        index["manifests"] = [m for m in index["manifests"] if m["platform"]["architecture"] != "amd64"]
        desc = si.layout_write_blob(str(layout), index, si.OCI_INDEX)
        desc["annotations"] = {si.REF_ANNOTATION: "multiarch:1"}
        si.layout_write_index(str(layout), {"schemaVersion": 2, "manifests": [desc]})
        return layout


def bad_index_json(images, tmp_path):
        layout, _, _ = _multi_copy(images, tmp_path)
        si.layout_write_index(str(layout), '{"schemaVersion": 2, "manifests": [ {"digest": ')
        return layout


def bad_manifest_json(images, tmp_path):
        layout, _, _ = _multi_copy(images, tmp_path)
        _repoint(layout, b'{"schemaVersion": 2, "config": {"mediaType": ')
        return layout


def bad_unknown_media_type(images, tmp_path):
        layout, _, m = _multi_copy(images, tmp_path)
        m["layers"][1]["mediaType"] = "application/vnd.example.mystery.v1"
        _repoint(layout, m)
        return layout


def bad_unknown_manifest_type(images, tmp_path):
        layout, desc, m = _multi_copy(images, tmp_path)
        m["mediaType"] = "application/vnd.example.manifest.v9+json"
        new = si.layout_write_blob(str(layout), m, "application/vnd.example.manifest.v9+json")
        new["annotations"] = {si.REF_ANNOTATION: "bad-src:1"}
        si.layout_write_index(str(layout), {"schemaVersion": 2, "manifests": [new]})
        return layout


def bad_digest_size_mismatch(images, tmp_path):
        layout, _, m = _multi_copy(images, tmp_path)
        m["layers"][1]["size"] += 100
        _repoint(layout, m)
        return layout


BAD_SOURCES = [bad_missing_file, bad_not_a_tar, bad_truncated_tar, bad_corrupt_blob, bad_corrupt_blob_archive,
               bad_corrupt_config, bad_missing_blob, bad_no_amd64, bad_index_json, bad_manifest_json,
               bad_unknown_media_type, bad_unknown_manifest_type, bad_digest_size_mismatch]


@pytest.mark.parametrize("make", BAD_SOURCES, ids=[f.__name__[4:] for f in BAD_SOURCES])
def test_bad_import_source(store, images, tmp_path, make):
        path = make(images, tmp_path)
        words = (path.name,) if make is bad_missing_file else ()
        expect_rejected(store, "image", "import", path, "--name", "bad:1", words=words)
        assert "bad:1" not in store.image_refs()


@pytest.mark.parametrize("make", [bad_missing_file, bad_not_a_tar, bad_truncated_tar],
                         ids=["missing_file", "not_a_tar", "truncated_tar"])
def test_bad_rootfs_source(store, images, tmp_path, make):
        path = make(images, tmp_path)
        if make is bad_truncated_tar:
                data = (images / "rootfs.tar").read_bytes()
                path.write_bytes(data[: len(data) // 2])
        expect_rejected(store, "image", "import", "--rootfs", path, "--name", "bad:1")


def test_rootfs_needs_a_name(store, images):
        expect_rejected(store, "image", "import", "--rootfs", images / "rootfs.tar")


def test_bare_tag_in_archive_needs_a_name(store, images, tmp_path):
        layout, desc, _ = _multi_copy(images, tmp_path)
        desc["annotations"] = {si.REF_ANNOTATION: "latest"}
        si.layout_write_index(str(layout), {"schemaVersion": 2, "manifests": [desc]})
        expect_rejected(store, "image", "import", layout, words=("--name",))


@pytest.mark.parametrize("ref", ["UPPER:case", "a b", ":tag", "busybox:", "x" * 300, "x:" + "t" * 200,
                                 "-leading:1", "semi;colon:1"])
def test_invalid_reference_names(store, images, ref):
        expect_rejected(store, "image", "import", "--rootfs", images / "rootfs.tar", "--name", ref)


def test_rm_unknown_image(store):
        msg = expect_rejected(store, "image", "rm", "nosuch:1", words=("nosuch:1",))
        assert "no image" in msg.lower()


def test_inspect_export_unpack_unknown_image(store, tmp_path):
        expect_rejected(store, "image", "inspect", "nosuch:1", words=("nosuch:1",))
        expect_rejected(store, "image", "export", "nosuch:1", "--oci-archive", tmp_path / "x.tar")
        assert not (tmp_path / "x.tar").exists()
        expect_rejected(store, "image", "unpack", "nosuch:1", tmp_path / "u")


def test_second_daemon_on_same_state_dir(store, build_dir):
        p = subprocess.run([str(build_dir.slipwayd), "--state-dir", str(store.state_dir), "--api",
                            f"127.0.0.1:{store.port + 1 if store.port < 65535 else 1024}"],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 1, p
        assert str(store.pid) in p.stderr, f"the message should name pid {store.pid}: {p.stderr!r}"
        assert str(store.state_dir) in p.stderr
        assert store.cli("status")["daemon"]["pid"] == store.pid


def test_api_needs_the_token(store):
        url = store.url.rstrip("/") + "/api/v1/images"
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
                with pytest.raises(urllib.error.HTTPError) as e:
                        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
                assert e.value.code == 401
                body = json.loads(e.value.read())
                assert body["error"]
        ok = urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {store.token}"}),
                                    timeout=10)
        assert any("busybox:1" in i["refs"] for i in json.loads(ok.read())["images"])


def test_api_rejects_corrupt_upload_with_422(store, images, tmp_path):
        path = bad_corrupt_blob_archive(images, tmp_path)
        before = store.snapshot()
        req = urllib.request.Request(store.url.rstrip("/") + "/api/v1/images/import?format=oci-archive&name=bad%3A1",
                                     data=path.read_bytes(), method="POST",
                                     headers={"Authorization": f"Bearer {store.token}",
                                              "Content-Type": "application/x-tar"})
        with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=60)
        assert e.value.code == 422
        assert json.loads(e.value.read())["error"]
        assert store.snapshot() == before


# --- hostile rootfs tars: refused at import with one clear sentence, nothing stored, nothing written
# outside (hostile layers inside OCI images are stopped at unpack: see the unpack tests)

@pytest.fixture
def canary(tmp_path_factory):
        u = uuid.uuid4().hex[:12]
        d = f"/tmp/slipway-canary-{u}"
        os.mkdir(d)
        with open(f"{d}/target.txt", "w") as f:
                f.write("original\n")
        yield u, d
        shutil.rmtree(d, ignore_errors=True)
        for p in (f"/etc/slipway-escape-{u}", f"/slipway-escape-{u}", f"/tmp/slipway-escape-{u}"):
                if os.path.lexists(p):
                        os.unlink(p)


def _hostile(kind, u, d):
        ti, ok = si.tarinfo, (si.tarinfo("ok.txt"), b"fine\n")
        deep = "../" * 20
        entries = {
                "dotdot": [ok, (ti(f"../slipway-escape-{u}"), b"x"), (ti(f"a/../../slipway-escape-{u}"), b"x"),
                           (ti(f"{deep}tmp/slipway-canary-{u}/dotdot"), b"x")],
                "absolute": [ok, (ti(f"/etc/slipway-escape-{u}"), b"x"), (ti(f"{d}/absolute"), b"x")],
                "symlink": [ok, (ti("link", "symlink", 0o777, d), None), (ti("link/via-abs-link"), b"x"),
                            (ti("rel", "symlink", 0o777, f"{deep}{d[1:]}"), None), (ti("rel/via-rel-link"), b"x"),
                            (ti("sub", "dir", 0o755), None), (ti("sub/up", "symlink", 0o777, "../../../../../../.."),
                                                              None),
                            (ti(f"sub/up/tmp/slipway-canary-{u}/via-nested-link"), b"x")],
                "hardlink": [ok, (ti("hl", "hardlink", linkname=f"{d}/target.txt"), None),
                             (ti("hl"), b"pwned\n"),
                             (ti("hl2", "hardlink", linkname=f"{deep}{d[1:]}/target.txt"), None),
                             (ti("hl2"), b"pwned\n")],
        }[kind]
        return si.tar_bytes(entries)


def _escaped(u, d, roots, allowed):
        found = []
        if sorted(os.listdir(d)) != ["target.txt"] or open(f"{d}/target.txt").read() != "original\n":
                found.append(f"canary dir {d} changed: {os.listdir(d)}")
        for p in (f"/etc/slipway-escape-{u}", f"/slipway-escape-{u}", f"/tmp/slipway-escape-{u}"):
                if os.path.lexists(p):
                        found.append(p)
        for root in roots:
                for dirpath, dirnames, filenames in os.walk(root):
                        for n in dirnames + filenames:
                                p = os.path.join(dirpath, n)
                                if u in n and not any(p.startswith(str(a) + "/") for a in allowed):
                                        found.append(p)
        return found


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_hostile_rootfs_tar_never_writes_outside(store, tmp_path, tmp_path_factory, canary, kind):
        u, d = canary
        tar = tmp_path / f"{kind}.tar"
        tar.write_bytes(_hostile(kind, u, d))
        target = tmp_path / "deep" / "er" / "target"
        target.parent.mkdir(parents=True)
        name = f"hostile-{kind}:1"
        before = store.snapshot()
        p = store.cli("image", "import", "--rootfs", tar, "--name", name, check=False)
        assert p.returncode != 0, f"a {kind} escape was imported"
        assert_clean_error(p)
        assert "outside" in p.stderr
        assert store.snapshot() == before
        allowed = [target, store.state_dir / "layers"]
        leaks = _escaped(u, d, [tmp_path_factory.getbasetemp(), store.state_dir], allowed)
        # inside the layer cache only as a real file below one layer directory
        for p in (store.state_dir / "layers").rglob(f"*{u}*") if (store.state_dir / "layers").exists() else []:
                rel = p.relative_to(store.state_dir / "layers").parts
                if len(rel) < 2:
                        leaks.append(str(p))
        assert leaks == []
