"""Image import/export through the real CLI and daemon, checked against skopeo, umoci and docker-registry:
every input format lands in the store, the store is a standard OCI layout other tools read as is, and a
round trip changes no digest."""

import json
import os
import subprocess

import pytest

import slipway_images as si
from conftest import assert_clean_error


def _layer_digests(manifest):
        return [l["digest"] for l in manifest["layers"]]


def _check_listed(daemon, ref, digest, layers):
        listed = [i for i in daemon.images() if ref in i["refs"]]
        assert len(listed) == 1, daemon.images()
        assert listed[0]["digest"] == digest
        assert listed[0]["layers"] == layers
        assert listed[0]["size"] > 0


def _umoci_unpack(layout, ref, dest):
        p = subprocess.run(["umoci", "unpack", "--image", f"{layout}:{ref}", str(dest)], capture_output=True,
                           text=True)
        assert p.returncode == 0, f"umoci unpack {layout}:{ref} failed: {p.stderr}"
        return dest / "rootfs"


@pytest.mark.parametrize("fmt", ["oci-dir", "oci-archive"])
def test_import_oci_uses_the_archive_name(daemon, images, skopeo, fmt):
        path = images / ("busybox-oci" if fmt == "oci-dir" else "busybox.oci.tar")
        digest, manifest = skopeo.raw_manifest(f"oci-archive:{images}/busybox.oci.tar:busybox:1")
        out = daemon.cli("image", "import", path)
        assert [(i["digest"], i["refs"]) for i in out["images"]] == [(digest, ["busybox:1"])]
        _check_listed(daemon, "busybox:1", digest, 1)

        info = daemon.cli("image", "inspect", "busybox:1")
        assert info["digest"] == digest
        assert info["refs"] == ["busybox:1"]
        assert _layer_digests(info["manifest"]) == _layer_digests(manifest)
        cfg = info["config"]
        assert cfg["config"]["Labels"]["org.slipway.test"] == "busybox"
        assert cfg["config"]["Cmd"] == ["/bin/sh"]
        assert "8080/tcp" in cfg["config"]["ExposedPorts"]
        assert daemon.cli("image", "inspect", digest)["refs"] == ["busybox:1"]
        assert daemon.cli("status")["images"] == 1


def test_import_human_output_and_name_override(daemon, images):
        p = daemon.cli("image", "import", images / "busybox.oci.tar", "--name", "tools", json=False)
        assert p.stdout.startswith("Imported tools:latest (sha256:"), p.stdout
        assert daemon.image_refs() == ["tools:latest"]
        listing = daemon.cli("image", "list", json=False).stdout
        assert "tools:latest" in listing


def test_import_docker_archive(daemon, images, skopeo):
        src = f"docker-archive:{images}/busybox.docker.tar"
        want_cfg = skopeo.config(src)
        out = daemon.cli("image", "import", images / "busybox.docker.tar")
        refs = out["images"][0]["refs"]
        assert any(r == "busybox:1" or r.endswith("/busybox:1") for r in refs), refs
        info = daemon.cli("image", "inspect", out["images"][0]["digest"])
        assert info["config"]["rootfs"]["diff_ids"] == want_cfg["rootfs"]["diff_ids"]
        assert info["config"]["config"]["Labels"] == want_cfg["config"]["Labels"]
        assert info["config"]["config"]["Env"] == want_cfg["config"]["Env"]
        # what we store from a docker-archive is a normal image skopeo reads back
        got = skopeo.inspect(f"oci:{daemon.oci_dir()}:{refs[0]}")
        assert got["Digest"] == info["digest"]
        assert got["Labels"]["org.slipway.test"] == "busybox"


def test_import_rootfs_tar(daemon, images, tmp_path):
        out = daemon.cli("image", "import", "--rootfs", images / "rootfs.tar", "--name", "base")
        assert out["images"][0]["refs"] == ["base:latest"]
        _check_listed(daemon, "base:latest", out["images"][0]["digest"], 1)
        info = daemon.cli("image", "inspect", "base")
        assert info["config"]["os"] == "linux" and info["config"]["architecture"] == "amd64"
        assert len(info["config"]["rootfs"]["diff_ids"]) == 1
        daemon.cli("image", "unpack", "base:latest", tmp_path / "root")
        assert si.check_busybox_tree(str(tmp_path / "root")) == []


def test_store_is_read_as_is_by_skopeo_and_umoci(daemon, images, skopeo, tmp_path):
        digest = daemon.cli("image", "import", images / "multi.oci.tar")["images"][0]["digest"]
        store = daemon.oci_dir()
        assert json.loads((store / "oci-layout").read_text())["imageLayoutVersion"]
        got = skopeo.inspect(f"oci:{store}:multi:1")
        assert got["Digest"] == digest
        assert got["Labels"]["org.slipway.test"] == "multi"
        rootfs = _umoci_unpack(store, "multi:1", tmp_path / "bundle")
        assert si.check_multi_tree(str(rootfs)) == []


@pytest.mark.parametrize("name,layer_type", [("busybox", "tar+gzip"), ("busybox-plain", "tar"),
                                             ("busybox-zstd", "tar+zstd"), ("multi", "tar+gzip")])
def test_round_trip_keeps_digests(daemon, images, skopeo, tmp_path, name, layer_type):
        ref = f"{name}:1"
        src = f"oci-archive:{images}/{name}.oci.tar:{ref}"
        digest, manifest = skopeo.raw_manifest(src)
        assert {l["mediaType"] for l in manifest["layers"]} == {"application/vnd.oci.image.layer.v1." + layer_type}

        out = daemon.cli("image", "import", images / f"{name}.oci.tar")
        assert out["images"][0]["digest"] == digest
        info = daemon.cli("image", "inspect", ref)
        assert [l["mediaType"] for l in info["manifest"]["layers"]] == [l["mediaType"] for l in manifest["layers"]]

        archive = tmp_path / "export.tar"
        res = daemon.cli("image", "export", ref, "--oci-archive", archive)
        assert res["digest"] == digest and res["ref"] == ref
        d2, m2 = skopeo.raw_manifest(f"oci-archive:{archive}:{ref}")
        assert d2 == digest
        assert _layer_digests(m2) == _layer_digests(manifest)
        assert m2["config"]["digest"] == manifest["config"]["digest"]

        layout = tmp_path / "export-oci"
        daemon.cli("image", "export", ref, "--oci", layout)
        idx = json.loads((layout / "index.json").read_text())
        assert [(m["digest"], m["annotations"][si.REF_ANNOTATION]) for m in idx["manifests"]] == [(digest, ref)]
        check = si.check_multi_tree if name == "multi" else si.check_busybox_tree
        if layer_type != "tar+zstd":  # umoci 0.4.7 (Debian 12) cannot read zstd layers
                rootfs = _umoci_unpack(layout, ref, tmp_path / "bundle")
                assert check(str(rootfs)) == []

        # and the unpacker reads every compression
        daemon.cli("image", "unpack", ref, tmp_path / "unpacked", "--keep-special")
        assert check(str(tmp_path / "unpacked")) == []


@pytest.mark.parametrize("packed", [False, True], ids=["oci-dir", "oci-archive"])
def test_index_picks_linux_amd64(daemon, images, tmp_path, packed):
        layout = tmp_path / "multiarch"
        amd, arm = si.make_multiarch_layout(str(images / "busybox-oci"), "busybox:1", str(layout), "multiarch:1")
        path = layout
        if packed:
                path = tmp_path / "multiarch.tar"
                si.archive_layout(str(layout), str(path))
        out = daemon.cli("image", "import", path)
        assert out["images"][0]["refs"] == ["multiarch:1"]
        assert out["images"][0]["digest"] == amd
        info = daemon.cli("image", "inspect", "multiarch:1")
        assert info["config"]["architecture"] == "amd64"
        daemon.cli("image", "unpack", "multiarch:1", tmp_path / "root")
        assert not os.path.exists(tmp_path / "root" / "ARM64-ONLY")
        assert si.check_busybox_tree(str(tmp_path / "root")) == []


def test_registry_pull_then_import(daemon, images, skopeo, docker_registry, tmp_path):
        remote = f"docker://{docker_registry}/busybox:1"
        skopeo.copy(f"oci-archive:{images}/busybox.oci.tar:busybox:1", remote, "--dest-tls-verify=false")
        pulled = tmp_path / "x.tar"
        skopeo.copy(remote, f"oci-archive:{pulled}:busybox:1", "--src-tls-verify=false")
        reg = skopeo.inspect(remote, "--tls-verify=false")
        out = daemon.cli("image", "import", pulled)
        assert out["images"][0]["digest"] == reg["Digest"]
        info = daemon.cli("image", "inspect", "busybox:1")
        assert _layer_digests(info["manifest"]) == reg["Layers"]

        # and what we export goes back into the registry unchanged
        archive = tmp_path / "export.tar"
        daemon.cli("image", "export", "busybox:1", "--oci-archive", archive)
        skopeo.copy(f"oci-archive:{archive}:busybox:1", f"docker://{docker_registry}/again:1",
                    "--dest-tls-verify=false")
        assert skopeo.inspect(f"docker://{docker_registry}/again:1", "--tls-verify=false")["Digest"] == reg["Digest"]


def test_reimport_is_idempotent_and_tags_accumulate(daemon, images):
        a = daemon.cli("image", "import", images / "busybox.oci.tar")["images"][0]
        b = daemon.cli("image", "import", images / "busybox-oci", "--name", "other:2")["images"][0]
        assert a["digest"] == b["digest"]
        imgs = daemon.images()
        assert len(imgs) == 1
        assert sorted(imgs[0]["refs"]) == ["busybox:1", "other:2"]


def test_remote_cli_with_url_and_token(daemon, images, tmp_path):
        """`slipway --url URL --token TOKEN` works without access to the state dir (as from another host)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env["SLIPWAY_STATE_DIR"] = str(tmp_path / "nowhere")

        def remote(token, *args):
                return subprocess.run([str(daemon.build.slipway), "--url", daemon.url, "--token", token, "--json",
                                       *map(str, args)], capture_output=True, text=True, env=env, timeout=120)

        p = remote(daemon.token, "image", "import", images / "busybox.oci.tar")
        assert p.returncode == 0, p.stderr
        p = remote(daemon.token, "image", "list")
        assert p.returncode == 0, p.stderr
        assert [i["refs"] for i in json.loads(p.stdout)["images"]] == [["busybox:1"]]
        p = remote("not-the-token", "image", "list")
        assert_clean_error(p)
