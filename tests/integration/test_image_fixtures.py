"""The test images and peers themselves, checked with the reference tools only (skopeo, umoci,
docker-registry): if these fail, a Slipway test failing on the same image says nothing about Slipway."""

import os
import subprocess

import slipway_images as si


def test_busybox_image_config(images, skopeo):
        for ref in (f"oci-archive:{images}/busybox.oci.tar:busybox:1", f"oci:{images}/busybox-oci:busybox:1",
                    f"docker-archive:{images}/busybox.docker.tar"):
                cfg = skopeo.config(ref)
                assert cfg["architecture"] == "amd64" and cfg["os"] == "linux"
                c = cfg["config"]
                assert c["Cmd"] == ["/bin/sh"]
                assert "SLIPWAY_FIXTURE=busybox" in c["Env"]
                assert c["WorkingDir"] == "/root"
                assert c["Labels"]["org.slipway.test"] == "busybox"
                assert "8080/tcp" in c["ExposedPorts"]


def test_layer_compressions(images, skopeo):
        want = {"busybox": "tar+gzip", "busybox-plain": "tar", "busybox-zstd": "tar+zstd"}
        diff_ids = set()
        for name, kind in want.items():
                ref = f"oci-archive:{images}/{name}.oci.tar:{name}:1"
                _, m = skopeo.raw_manifest(ref)
                assert [l["mediaType"] for l in m["layers"]] == ["application/vnd.oci.image.layer.v1." + kind]
                diff_ids.add(tuple(skopeo.config(ref)["rootfs"]["diff_ids"]))
        assert len(diff_ids) == 1, "the three encodings should carry the same uncompressed layer"


def test_multi_image_shares_base_layer_and_unpacks(images, skopeo, tmp_path):
        _, bb = skopeo.raw_manifest(f"oci-archive:{images}/busybox.oci.tar:busybox:1")
        _, multi = skopeo.raw_manifest(f"oci-archive:{images}/multi.oci.tar:multi:1")
        assert len(multi["layers"]) >= 3
        assert multi["layers"][0]["digest"] == bb["layers"][0]["digest"]
        subprocess.run(["umoci", "unpack", "--image", f"{images}/multi-oci:multi:1", str(tmp_path / "b")],
                       check=True, capture_output=True)
        assert si.check_multi_tree(str(tmp_path / "b" / "rootfs")) == []


def test_multiarch_layout_is_read_as_amd64_by_skopeo(images, skopeo, tmp_path):
        amd, arm = si.make_multiarch_layout(f"{images}/busybox-oci", "busybox:1", str(tmp_path / "l"), "multiarch:1")
        for arch, digest in (("amd64", amd), ("arm64", arm)):
                got = skopeo.inspect(f"oci:{tmp_path}/l:multiarch:1", "--override-arch", arch)
                want = si.layout_read_json(str(tmp_path / "l"), digest)
                assert got["Architecture"] == arch
                assert got["Layers"] == [l["digest"] for l in want["layers"]]


def test_registry_round_trip_with_skopeo(images, skopeo, docker_registry, tmp_path):
        src = f"oci-archive:{images}/busybox.oci.tar:busybox:1"
        skopeo.copy(src, f"docker://{docker_registry}/fixture/busybox:1", "--dest-tls-verify=false")
        skopeo.copy(f"docker://{docker_registry}/fixture/busybox:1", f"oci-archive:{tmp_path}/x.tar:busybox:1",
                    "--src-tls-verify=false")
        d1, m1 = skopeo.raw_manifest(src)
        d2, m2 = skopeo.raw_manifest(f"oci-archive:{tmp_path}/x.tar:busybox:1")
        assert d1 == d2 and m1 == m2


def test_large_image(large_image, skopeo):
        _, m = skopeo.raw_manifest(f"oci-archive:{large_image}:large:1")
        assert len(m["layers"]) == 4
        assert sum(l["size"] for l in m["layers"]) > 100 << 20
        assert os.path.getsize(large_image) > 100 << 20
