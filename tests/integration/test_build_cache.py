"""The build cache as a user sees it: an unchanged rebuild hits every step, touching a file's mtime still
hits, changing its content misses from that COPY on; --no-cache misses everything; the cache survives a
daemon restart.  And reproducibility: two clean builds with the same SOURCE_DATE_EPOCH give the same
manifest digest, with times taken from it."""

import json
import os
import tarfile
import time

from build_util import (add_special_files, assert_no_leftovers, build_env, context, layout_image,  # noqa: F401
                        slipway_build, slipway_export, write, write_archives)

CACHE_STEPS = 6  # tests/fixtures/build/cache/Dockerfile: ENV, COPY, RUN, COPY, RUN, CMD


def build_logged(daemon, ctx, *opts):
        """Builds in human mode (the log on stdout) and in the same run gets the JSON result: --json prints
        the log on stderr and the result on stdout."""
        p = slipway_build(daemon, ctx, *opts, check=False)
        assert p.returncode == 0, f"build failed:\n{p.stderr}\n{daemon.log()[-2000:]}"
        return json.loads(p.stdout), p.stderr


def test_cache_hits_and_misses(build_env, tmp_path):
        ctx = context("cache", tmp_path / "ctx")
        first, log = build_logged(build_env, ctx, "-t", "cache:1")
        assert (first["steps"], first["cached_steps"]) == (CACHE_STEPS, 0), log
        assert "--> cached" not in log
        assert "STEP 3/" in log and "RUN cat /a.txt > /from-a" in log

        again, log = build_logged(build_env, ctx, "-t", "cache:1")
        assert (again["steps"], again["cached_steps"]) == (CACHE_STEPS, CACHE_STEPS), log
        assert log.count("--> cached") == CACHE_STEPS, log
        assert again["digest"] == first["digest"], "a fully cached rebuild should give the same image"

        # A new mtime is not a change.
        future = time.time() + 3600
        os.utime(ctx / "a.txt", (future, future))
        os.utime(ctx / "b.txt", (future, future))
        touched, log = build_logged(build_env, ctx, "-t", "cache:1")
        assert touched["cached_steps"] == CACHE_STEPS, log

        # New content of b.txt: ENV, COPY a.txt and its RUN still hit; COPY b.txt and all after it miss.
        write(ctx / "b.txt", "b v2\n")
        changed, log = build_logged(build_env, ctx, "-t", "cache:2")
        assert (changed["steps"], changed["cached_steps"]) == (CACHE_STEPS, 3), log
        assert log.count("--> cached") == 3, log
        assert changed["digest"] != first["digest"]
        # ...and the image really has the new content.
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "cache:2", root)
        assert (root / "from-b").read_text() == "b v2\n" and (root / "from-a").read_text() == "a v1\n"

        # A mode change of a copied file is a change too.
        os.chmod(ctx / "a.txt", 0o600)
        moded, log = build_logged(build_env, ctx, "-t", "cache:3")
        assert moded["cached_steps"] == 1, log

        nocache, log = build_logged(build_env, ctx, "-t", "cache:4", "--no-cache")
        assert nocache["cached_steps"] == 0 and "--> cached" not in log
        assert_no_leftovers(build_env)


def test_cache_survives_a_restart(start_daemon, images, tmp_path):
        d = start_daemon()
        d.cli("image", "import", images / "busybox.oci.tar")
        ctx = context("cache", tmp_path / "ctx")
        first = slipway_build(d, ctx, "-t", "cache:1")
        d.stop()
        d.start()
        again = slipway_build(d, ctx, "-t", "cache:1")
        assert again["cached_steps"] == again["steps"] == first["steps"]


def test_reproducible_with_source_date_epoch(build_env, tmp_path):
        ctx = context("everything", tmp_path / "ctx")
        add_special_files(ctx / "links")
        write_archives(ctx)
        epoch = 1700000000
        opts = ("--no-cache", "--build-arg", f"SOURCE_DATE_EPOCH={epoch}")
        one = slipway_build(build_env, ctx, "-t", "repro:1", *opts)
        time.sleep(1.1)  # a second later: any wall-clock time that leaked would differ
        two = slipway_build(build_env, ctx, "-t", "repro:2", *opts)
        assert one["cached_steps"] == two["cached_steps"] == 0
        assert one["digest"] == two["digest"]

        layout = slipway_export(build_env, "repro:1", tmp_path / "oci")
        _, manifest, config = layout_image(layout)
        assert config["created"].startswith("2023-11-14T22:13:20")
        base_layers = 1  # the busybox fixture: one layer, one history entry
        assert all(h["created"].startswith("2023-11-14T22:13:20") for h in config["history"][base_layers:])
        # Every entry of the layers this build made has an mtime at or before the epoch.
        for layer in manifest["layers"][base_layers:]:
                with tarfile.open(layout / "blobs" / "sha256" / layer["digest"].split(":")[1]) as t:
                        late = [m.name for m in t.getmembers() if m.mtime > epoch]
                assert late == [], f"entries newer than SOURCE_DATE_EPOCH in {layer['digest']}: {late[:10]}"
