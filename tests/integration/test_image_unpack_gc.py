"""`image unpack` gives the tree a container would see; `image rm` + `image gc` free exactly the blobs no
remaining tag references, and the store stays readable by skopeo afterwards."""

import os

import slipway_images as si
from conftest import assert_clean_error


def _cached_layers(daemon):
        d = daemon.state_dir / "layers"
        return sorted(n for n in os.listdir(d) if not n.startswith(".")) if d.is_dir() else []


def test_unpack_applies_layers_whiteouts_links_modes(daemon, images, tmp_path):
        daemon.cli("image", "import", images / "multi.oci.tar")
        # --keep-special: the fixture's setuid tool keeps its bit only when asked (see test_hostile_store.py)
        res = daemon.cli("image", "unpack", "multi:1", tmp_path / "root", "--keep-special")
        assert res["ref"] == "multi:1" and res["path"] == str(tmp_path / "root")
        assert si.check_multi_tree(str(tmp_path / "root")) == []
        # a second unpack (from the layer cache, if there is one) gives the same tree
        daemon.cli("image", "unpack", "multi:1", tmp_path / "again", "--keep-special")
        assert si.check_multi_tree(str(tmp_path / "again")) == []


def test_unpack_fills_the_shared_layer_cache_with_overlay_whiteouts(daemon, images, tmp_path):
        """DIR/layers/<diff_id hex>/ holds each layer once, in the form overlayfs reads: the top layer's
        deletions are 0:0 character devices, not .wh. files."""
        import json
        import stat
        digest = daemon.cli("image", "import", images / "multi.oci.tar")["images"][0]["digest"]
        config = daemon.cli("image", "inspect", "multi:1")["config"]
        diff_ids = config["rootfs"]["diff_ids"]
        daemon.cli("image", "unpack", "multi:1", tmp_path / "root")
        assert _cached_layers(daemon) == sorted(d.split(":", 1)[1] for d in diff_ids)
        top = daemon.state_dir / "layers" / diff_ids[-1].split(":", 1)[1]
        whiteouts = [p for p in top.rglob("*") if p.name in ("gone.txt", "gonedir")]
        assert whiteouts, "the top layer records its deletions"
        for p in whiteouts:
                st = os.lstat(p)
                assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0, f"{p} is not an overlay whiteout"
        assert not list(top.rglob(".wh.*"))
        assert digest


def test_unpack_refuses_a_non_empty_target(daemon, images, tmp_path):
        daemon.cli("image", "import", images / "busybox.oci.tar")
        target = tmp_path / "busy"
        target.mkdir()
        (target / "precious").write_text("mine\n")
        p = daemon.cli("image", "unpack", "busybox:1", target, check=False)
        assert_clean_error(p)
        assert os.listdir(target) == ["precious"]
        assert (target / "precious").read_text() == "mine\n"


def test_rm_then_gc_dry_run_then_gc(daemon, images, skopeo, tmp_path):
        bb = daemon.cli("image", "import", images / "busybox.oci.tar")["images"][0]["digest"]
        multi = daemon.cli("image", "import", images / "multi.oci.tar")["images"][0]["digest"]
        bb_manifest = si.layout_read_json(str(daemon.oci_dir()), bb)
        multi_manifest = si.layout_read_json(str(daemon.oci_dir()), multi)
        shared = bb_manifest["layers"][0]["digest"]
        assert shared == multi_manifest["layers"][0]["digest"], "fixture images must share their base layer"
        keep = daemon.reachable_blobs()

        # nothing unreferenced yet: gc finds nothing
        assert daemon.cli("image", "gc", "--dry-run")["blobs"] == []

        res = daemon.cli("image", "rm", "busybox:1")
        assert res == {"removed": "busybox:1", "digest": bb}
        assert daemon.image_refs() == ["multi:1"]
        assert daemon.cli("status")["images"] == 1

        only_bb = {bb, bb_manifest["config"]["digest"]}
        before = daemon.blob_files()
        dry = daemon.cli("image", "gc", "--dry-run")
        assert dry["dry_run"] is True
        assert set(dry["blobs"]) == only_bb
        assert dry["blobs_removed"] == len(only_bb)
        assert dry["bytes_freed"] > 0
        assert daemon.blob_files() == before, "gc --dry-run removed blobs"

        real = daemon.cli("image", "gc")
        assert real["dry_run"] is False
        assert set(real["blobs"]) == only_bb
        after = daemon.blob_files()
        assert after == before - only_bb
        assert keep - only_bb <= after, "gc removed a blob a remaining tag references"
        assert shared in after
        assert daemon.cli("image", "gc")["blobs"] == []

        # the remaining image is whole: skopeo reads the store, export and unpack work
        assert skopeo.inspect(f"oci:{daemon.oci_dir()}:multi:1")["Digest"] == multi
        daemon.cli("image", "export", "multi:1", "--oci-archive", tmp_path / "m.tar")
        assert skopeo.raw_manifest(f"oci-archive:{tmp_path}/m.tar:multi:1")[0] == multi
        daemon.cli("image", "unpack", "multi:1", tmp_path / "root", "--keep-special")
        assert si.check_multi_tree(str(tmp_path / "root")) == []


def test_rm_keeps_image_while_a_name_is_left_and_gc_frees_layers(daemon, images, tmp_path):
        digest = daemon.cli("image", "import", images / "multi.oci.tar")["images"][0]["digest"]
        daemon.cli("image", "import", images / "multi.oci.tar", "--name", "alias:1")
        daemon.cli("image", "unpack", "multi:1", tmp_path / "root")
        cached = _cached_layers(daemon)

        daemon.cli("image", "rm", "multi:1")
        assert [(i["digest"], i["refs"]) for i in daemon.images()] == [(digest, ["alias:1"])]
        assert daemon.cli("image", "gc")["blobs"] == []

        daemon.cli("image", "rm", "alias:1")
        assert daemon.images() == []
        res = daemon.cli("image", "gc")
        assert res["blobs_removed"] == len(res["blobs"]) >= 5  # manifest, config, 3 layers
        assert res["layers_removed"] == len(cached)
        assert daemon.reachable_blobs() == set()
        assert daemon.blob_files() == set()
        assert _cached_layers(daemon) == []
