"""RUN --mount as a user of BuildKit Dockerfiles sees it: every mount type gives the same image as `buildah bud`
(the same file tree and config, mount targets leaving the same directories); a cache mount keeps what a step
put there for the next build and never enters a layer, is counted and cleared by `image gc --build-cache`;
sharing=locked makes a second build wait; an rw bind's writes and a tmpfs are gone after the step; a build
secret reaches only the step that mounts it and appears in no layer, config, log or file under the state dir,
and its value is not part of the cache key while its id is."""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from build_util import (Buildah, assert_no_leftovers, build_env, compare_with_buildah, slipway_build,  # noqa: F401
                        slipway_export, write)


@pytest.fixture(scope="module")
def buildah(images, tmp_path_factory):
        b = Buildah(tmp_path_factory.mktemp("buildah"))
        b.pull_archive(images / "busybox.oci.tar", "busybox:1")
        return b


def dockerfile(ctx, text, files=None):
        ctx = Path(ctx)
        ctx.mkdir(parents=True, exist_ok=True)
        write(ctx / "Dockerfile", text)
        for rel, content in (files or {}).items():
                write(ctx / rel, content)
        return ctx


def built(daemon, ctx, *opts):
        """(result, log) of a human-mode build: --json puts the log on stderr and the result on stdout."""
        p = slipway_build(daemon, ctx, *opts, check=False)
        assert p.returncode == 0, f"build failed:\n{p.stderr}\n--- slipwayd log:\n{daemon.log()[-3000:]}"
        return json.loads(p.stdout), p.stderr


def unpack(daemon, ref, dest):
        daemon.cli("image", "unpack", ref, dest)
        return Path(dest)


def cache_mount_dir(daemon):
        return daemon.state_dir / "build-cache-mounts"


EVERY_TYPE = """\
FROM busybox:1 AS tools
RUN mkdir -p /opt/tools && echo tool-from-stage > /opt/tools/t.txt
FROM busybox:1
RUN mkdir /out
RUN --mount=type=cache,target=/cache/deep sh -c 'echo x > /cache/deep/a; ls /cache/deep > /out/cache-ls'
RUN --mount=type=cache,target=/var/cache/apt,uid=1000,mode=0700 \\
    stat -c '%a %u %g' /var/cache/apt > /out/cache-stat
RUN --mount=type=tmpfs,target=/tmpfs/deep sh -c 'echo x > /tmpfs/deep/a; ls /tmpfs/deep > /out/tmpfs-ls'
RUN --mount=type=bind,source=sub,target=/bind/deep cat /bind/deep/f > /out/bind-dir
RUN --mount=type=bind,source=file.txt,target=/bindf/deep/file cat /bindf/deep/file > /out/bind-file
RUN --mount=type=bind,source=sub,target=/rw,rw sh -c 'echo y > /rw/new; ls /rw > /out/rw-ls'
RUN --mount=type=bind,from=tools,source=/opt/tools,target=/tools cat /tools/t.txt > /out/from-stage
RUN --mount=type=bind,from=busybox:1,source=/bin,target=/img-bin sh -c 'test -e /img-bin/sh && echo yes > /out/from-image'
RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /out/secret-size; stat -c %a /run/secrets/tok > /out/secret-mode'
RUN --mount=type=secret,id=tok,target=/etc/sec/deep/tok,mode=0440,uid=1,gid=2 \\
    stat -c '%a %u %g' /etc/sec/deep/tok > /out/secret-stat
RUN --mount=type=secret,id=absent sh -c 'test -e /run/secrets/absent && echo there > /out/absent || echo none > /out/absent'
"""


def test_every_mount_type_like_buildah(build_env, buildah, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", EVERY_TYPE, {"sub/f": "hi from sub\n", "file.txt": "top file\n"})
        secret = tmp_path / "tok"
        secret.write_bytes(b"a-token-for-the-comparison")
        res, diff, s_cfg, b_cfg, root = compare_with_buildah(
                build_env, buildah, ctx, "mounts-every:1", tmp_path,
                ("--secret", f"id=tok,src={secret}"), ("--secret", f"id=tok,src={secret}"))
        assert diff == [], "Slipway's tree differs from buildah's:\n" + "\n".join(diff[:80])
        assert s_cfg == b_cfg

        out = root / "out"
        assert (out / "cache-ls").read_text() == "a\n"
        assert (out / "cache-stat").read_text() == "700 1000 0\n"
        assert (out / "tmpfs-ls").read_text() == "a\n"
        assert (out / "bind-dir").read_text() == "hi from sub\n"
        assert (out / "bind-file").read_text() == "top file\n"
        assert (out / "rw-ls").read_text() == "f\nnew\n"
        assert (out / "from-stage").read_text() == "tool-from-stage\n"
        assert (out / "from-image").read_text() == "yes\n"
        assert (out / "secret-size").read_text().strip() == str(len(b"a-token-for-the-comparison"))
        assert (out / "secret-mode").read_text() == "400\n"
        assert (out / "secret-stat").read_text() == "440 1 2\n"
        assert (out / "absent").read_text() == "none\n"
        # What the mounts held stays out of the image; their targets' parents are left, as buildah leaves them.
        for gone in ("cache/deep", "var/cache/apt", "tmpfs/deep", "bind/deep", "bindf/deep/file", "rw", "tools",
                     "img-bin", "run/secrets/tok", "etc/sec/deep/tok"):
                assert not os.path.lexists(root / gone), gone
        for kept in ("cache", "var/cache", "tmpfs", "bind", "bindf/deep", "etc/sec/deep", "run/secrets"):
                assert (root / kept).is_dir(), kept
        assert_no_leftovers(build_env)


def test_cache_mount_survives_builds_and_gc_clears_it(build_env, tmp_path):
        """A package-manager-like step: it lists what the cache holds, then downloads one more file into it."""
        ctx = dockerfile(tmp_path / "ctx", """\
FROM busybox:1
ARG RUN_ID
RUN --mount=type=cache,id=pkgs,target=/var/cache/pkgs \\
    sh -c 'ls /var/cache/pkgs > /seen; echo "package of $RUN_ID" > /var/cache/pkgs/pkg-$RUN_ID.deb'
""")
        first, log = built(build_env, ctx, "-t", "pkgcache:1", "--build-arg", "RUN_ID=one")
        assert (unpack(build_env, "pkgcache:1", tmp_path / "r1") / "seen").read_text() == ""
        second, log = built(build_env, ctx, "-t", "pkgcache:2", "--build-arg", "RUN_ID=two", "--no-cache")
        r2 = unpack(build_env, "pkgcache:2", tmp_path / "r2")
        assert (r2 / "seen").read_text() == "pkg-one.deb\n", "the second build must find the first one's files"
        assert not os.path.lexists(r2 / "var/cache/pkgs"), "the cache's files must not be in the layer"
        assert (r2 / "var/cache").is_dir()
        # A rebuild is a cache hit whatever the cache mount now holds.
        third, log = built(build_env, ctx, "-t", "pkgcache:2", "--build-arg", "RUN_ID=two")
        assert third["cached_steps"] == third["steps"] and third["digest"] == second["digest"], log

        # gc counts the cache mounts, and clears them only with --build-cache.
        gc = build_env.cli("image", "gc", "--dry-run")
        assert gc["build_cache"]["dirs"] >= 1 and gc["build_cache"]["bytes"] >= len("package of one\n") * 2
        assert gc["build_cache"]["removed"] == 0
        human = build_env.cli("image", "gc", "--dry-run", json=False).stdout
        assert "cache mounts" in human, human
        gc = build_env.cli("image", "gc", "--build-cache", "--dry-run")
        assert gc["build_cache"]["removed"] >= 1 and gc["build_cache"]["bytes_removed"] >= 30
        assert any(cache_mount_dir(build_env).iterdir()), "a dry run removes nothing"
        gc = build_env.cli("image", "gc", "--build-cache")
        assert gc["build_cache"]["removed"] >= 1
        assert not [p for p in cache_mount_dir(build_env).iterdir() if p.is_dir()]
        built(build_env, ctx, "-t", "pkgcache:3", "--build-arg", "RUN_ID=three", "--no-cache")
        assert (unpack(build_env, "pkgcache:3", tmp_path / "r3") / "seen").read_text() == ""
        assert build_env.cli("image", "gc", "--dry-run")["build_cache"]["bytes"] > 0
        assert_no_leftovers(build_env)


def test_locked_sharing_makes_a_second_build_wait(build_env, tmp_path):
        text = """\
FROM busybox:1
ARG WHO
RUN --mount=type=cache,id=locked-test,target=/c,sharing=locked \\
    sh -c 'echo "start $WHO" >> /c/log; sleep 3; echo "end $WHO" >> /c/log; cat /c/log > /log'
"""
        ctx = dockerfile(tmp_path / "ctx", text)
        results = {}

        def run(who):
                results[who] = slipway_build(build_env, ctx, "-t", f"locked:{who}", "--build-arg", f"WHO={who}",
                                             check=False)

        t1 = threading.Thread(target=run, args=("a",))
        t1.start()
        time.sleep(1.0)
        t2 = threading.Thread(target=run, args=("b",))
        t2.start()
        t1.join(120)
        t2.join(120)
        for who in ("a", "b"):
                assert results[who].returncode == 0, results[who].stderr
        assert "waiting for cache mount locked-test" in results["b"].stderr
        log = (unpack(build_env, "locked:b", tmp_path / "rb") / "log").read_text().splitlines()
        assert log == ["start a", "end a", "start b", "end b"], log


def test_private_sharing_gives_a_busy_cache_a_fresh_copy(build_env, tmp_path):
        text = """\
FROM busybox:1
ARG WHO
RUN --mount=type=cache,id=private-test,target=/c,sharing=private \\
    sh -c 'ls /c > /seen; echo $WHO > /c/$WHO; sleep 3'
"""
        ctx = dockerfile(tmp_path / "ctx", text)
        results = {}

        def run(who):
                results[who] = slipway_build(build_env, ctx, "-t", f"private:{who}", "--build-arg", f"WHO={who}",
                                             check=False)

        threads = [threading.Thread(target=run, args=(w,)) for w in ("a", "b")]
        threads[0].start()
        time.sleep(1.0)
        threads[1].start()
        for t in threads:
                t.join(120)
        assert all(r.returncode == 0 for r in results.values()), [r.stderr for r in results.values()]
        seen = {w: (unpack(build_env, f"private:{w}", tmp_path / f"r{w}") / "seen").read_text() for w in "ab"}
        assert seen == {"a": "", "b": ""}, "b ran while a held the cache: it must get a directory of its own"


def test_rw_bind_is_discarded_and_ro_bind_is_read_only(build_env, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", """\
FROM busybox:1
RUN --mount=type=bind,source=sub,target=/m,rw sh -c 'echo new > /m/new; echo changed > /m/f; cat /m/f > /seen-rw'
RUN --mount=type=bind,source=sub,target=/m sh -c 'ls /m > /after; cat /m/f >> /after'
RUN --mount=type=bind,source=sub,target=/m sh -c 'if touch /m/x 2>/dev/null; then echo writable; else echo read-only; fi > /ro'
RUN --mount=type=bind,source=sub/f,target=/etc/f-copy,rw sh -c 'echo more >> /etc/f-copy; cat /etc/f-copy > /seen-file'
RUN --mount=type=bind,source=sub,target=/m cat /m/f > /file-after
""", {"sub/f": "original\n"})
        built(build_env, ctx, "-t", "rwbind:1")
        root = unpack(build_env, "rwbind:1", tmp_path / "root")
        assert (root / "seen-rw").read_text() == "changed\n"
        assert (root / "after").read_text() == "f\noriginal\n", "rw writes must be gone after their step"
        assert (root / "ro").read_text() == "read-only\n"
        assert (root / "seen-file").read_text() == "original\nmore\n"
        assert (root / "file-after").read_text() == "original\n"
        assert not os.path.lexists(root / "m") and not os.path.lexists(root / "etc/f-copy")
        assert (ctx / "sub/f").read_text() == "original\n"


def test_tmpfs_is_empty_after_and_sized_and_what_buildah_lacks(build_env, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", """\
FROM busybox:1
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo x > /scratch/a; \\
    if dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null; then echo fits; else echo full; fi > /size'
RUN --mount=type=tmpfs,target=/scratch sh -c 'ls -A /scratch > /second'
WORKDIR /work
RUN --mount=type=tmpfs,target=rel sh -c 'mount | grep -q " /work/rel " && echo mounted > /relative'
RUN --mount=type=cache,target=/gidc,uid=7,gid=100 stat -c '%u %g' /gidc > /cache-owner
""")
        built(build_env, ctx, "-t", "tmpfs:1")
        root = unpack(build_env, "tmpfs:1", tmp_path / "root")
        assert (root / "size").read_text() == "full\n"
        assert (root / "second").read_text() == ""
        assert not os.path.lexists(root / "scratch")
        # A relative target is below the WORKDIR, as BuildKit has it (buildah 1.28 refuses it).
        assert (root / "relative").read_text() == "mounted\n"
        assert not os.path.lexists(root / "work/rel")
        # The cache's gid= (buildah 1.28 ignores it; BuildKit's reference sets it).
        assert (root / "cache-owner").read_text() == "7 100\n"


SECRET_DOCKERFILE = """\
FROM busybox:1
RUN --mount=type=secret,id=npmrc,required=true sh -c 'cat /run/secrets/npmrc; echo; wc -c < /run/secrets/npmrc > /len'
RUN echo after > /after
"""


def secret_file(path, value):
        path.write_bytes(value)
        return path


def grep_tree(top, needle):
        """Files below top (not following links) whose bytes contain needle."""
        hits = []
        for dirpath, dirnames, filenames in os.walk(top):
                for name in filenames:
                        p = os.path.join(dirpath, name)
                        try:
                                if not os.path.isfile(p) or os.path.islink(p):
                                        continue
                                with open(p, "rb") as f:
                                        if needle in f.read():
                                                hits.append(p)
                        except OSError:
                                pass
        return hits


def test_secret_is_nowhere_after_the_build(build_env, tmp_path):
        value = b"s3cr3t-" + os.urandom(12).hex().encode()
        ctx = dockerfile(tmp_path / "ctx", SECRET_DOCKERFILE)
        src = secret_file(tmp_path / "npmrc", value)
        res, log = built(build_env, ctx, "-t", "secret:1", "--secret", f"id=npmrc,src={src}")
        assert "[secret npmrc]" in log, log
        assert value.decode() not in log
        root = unpack(build_env, "secret:1", tmp_path / "root")
        assert (root / "len").read_text().strip() == str(len(value)), "the step must have read the secret"
        assert not os.path.lexists(root / "run/secrets/npmrc")

        layout = slipway_export(build_env, "secret:1", tmp_path / "oci")
        assert grep_tree(layout, value) == []
        assert grep_tree(root, value) == []
        assert grep_tree(build_env.state_dir, value) == [], "no file under the state dir may hold the secret"
        assert value not in build_env.log().encode()
        # The raw layer blobs are compressed: look inside them too.
        for blob in (layout / "blobs" / "sha256").iterdir():
                out = subprocess.run(["sh", "-c", f"gzip -dc < '{blob}' 2>/dev/null || cat '{blob}'"],
                                     capture_output=True).stdout
                assert value not in out, blob
        assert_no_leftovers(build_env)


def test_secret_cache_key_has_the_id_not_the_value(build_env, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", SECRET_DOCKERFILE)
        a = secret_file(tmp_path / "a", b"first-value-1234")
        b = secret_file(tmp_path / "b", b"other-value-5678")
        first, _ = built(build_env, ctx, "-t", "seckey:1", "--secret", f"id=npmrc,src={a}")
        again, log = built(build_env, ctx, "-t", "seckey:2", "--secret", f"id=npmrc,src={b}")
        assert again["cached_steps"] == again["steps"], "a changed value alone reuses the cache (as BuildKit)"
        assert again["digest"] == first["digest"]

        other = dockerfile(tmp_path / "ctx2", SECRET_DOCKERFILE.replace("id=npmrc", "id=token")
                           .replace("/run/secrets/npmrc", "/run/secrets/token"))
        renamed, log = built(build_env, other, "-t", "seckey:3", "--secret", f"id=token,src={b}")
        assert renamed["cached_steps"] == 0, "another id is another step"

        # Presence counts: an optional secret given or not is two different steps.
        opt = dockerfile(tmp_path / "ctx3", "FROM busybox:1\nRUN --mount=type=secret,id=opt ls /run/secrets > /l 2>&1 || true\n")
        built(build_env, opt, "-t", "seckey:4")
        given, _ = built(build_env, opt, "-t", "seckey:5", "--secret", f"id=opt,src={a}")
        assert given["cached_steps"] == 0
        again, _ = built(build_env, opt, "-t", "seckey:6", "--secret", f"id=opt,src={b}")
        assert again["cached_steps"] == again["steps"]


def test_secret_from_environment_and_errors(build_env, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", SECRET_DOCKERFILE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env["MY_NPMRC"] = "value-from-env-99"
        p = subprocess.run(build_env.cli_argv("image", "build", ctx, "-t", "secenv:1", "--no-cache",
                                              "--secret", "id=npmrc,env=MY_NPMRC", json=True),
                           capture_output=True, text=True, env=env, timeout=180)
        assert p.returncode == 0, p.stderr
        assert "value-from-env-99" not in p.stderr and "[secret npmrc]" in p.stderr
        root = unpack(build_env, "secenv:1", tmp_path / "root")
        assert (root / "len").read_text().strip() == str(len("value-from-env-99"))

        # A required secret nobody gave: which id, which line, how to give it.
        p = slipway_build(build_env, ctx, "-t", "secenv:2", check=False, json_out=False)
        assert p.returncode != 0
        assert ("The build secret 'npmrc' (line 2) is not set: pass --secret id=npmrc,src=FILE to image build, "
                "or set it with `slipway config set PROJECT/COMP --build npmrc=VALUE --secret`.") in p.stderr, p.stderr

        # CLI refusals.
        p = slipway_build(build_env, ctx, "--secret", "src=/etc/hostname", check=False, json_out=False)
        assert p.returncode == 2 and "has no id=ID" in p.stderr
        p = slipway_build(build_env, ctx, "--secret", f"id=npmrc,src={tmp_path}/missing", check=False,
                          json_out=False)
        assert p.returncode == 1 and "Cannot read the secret file" in p.stderr
        big = tmp_path / "big"
        big.write_bytes(b"x" * (500 * 1024 + 1))
        p = slipway_build(build_env, ctx, "--secret", f"id=npmrc,src={big}", check=False, json_out=False)
        assert p.returncode == 1 and "larger than 500 KiB" in p.stderr


def test_mount_errors_name_the_flag(build_env, tmp_path):
        ctx = dockerfile(tmp_path / "ctx", "FROM busybox:1\nRUN --network=none --mount=type=cache,taget=/x true\n")
        p = slipway_build(build_env, ctx, check=False, json_out=False)
        assert p.returncode != 0
        assert "Dockerfile:2:20: RUN --mount: unknown option 'taget' for type=cache; it takes target" in p.stderr, \
                p.stderr
        ctx = dockerfile(tmp_path / "ctx2", "FROM busybox:1\nARG KIND=volume\nRUN --mount=type=$KIND,target=/x true\n")
        p = slipway_build(build_env, ctx, check=False, json_out=False)
        assert p.returncode != 0 and "Dockerfile:3:1: RUN --mount: unknown type 'volume'" in p.stderr, p.stderr
        ctx = dockerfile(tmp_path / "ctx3", "FROM busybox:1\nRUN --mount=type=bind,source=nope,target=/x true\n")
        p = slipway_build(build_env, ctx, check=False, json_out=False)
        assert p.returncode != 0 and "RUN --mount source nope does not exist in the build context" in p.stderr, \
                p.stderr
        assert_no_leftovers(build_env)
