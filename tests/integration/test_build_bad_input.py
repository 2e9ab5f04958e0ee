"""Issue 3's remaining bad input: missing FROM, a stage used before it is defined, a 10 MB Dockerfile,
and a context symlink pointing outside the context (copied as the link, never followed out).  Each
failure is one clear sentence, nothing tagged, no mounts or temp dirs left."""

import os
import re

from build_util import assert_no_leftovers, build_env, slipway_build, write  # noqa: F401
from test_build_errors import dockerfile_ctx, expect_failure


def test_missing_from(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "# no base\nRUN echo hello\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1", words=("FROM",))
        assert re.search(r"^Error: Dockerfile:2:\d+: ", err, re.M), err


def test_stage_used_before_it_is_defined(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1 AS first\nCOPY --from=later /x /x\n"
                                       "FROM busybox:1 AS later\nRUN echo x > /x\n")
        # the target needs the stage that refers forward (a later stage is no stage yet: like Docker, the
        # name is then read as an image, which does not exist)
        err = expect_failure(build_env, ctx, "--target", "first", "-t", "bad:1", words=("later",))
        assert "Dockerfile:2" in err


def test_ten_megabyte_dockerfile_is_refused(build_env, tmp_path):
        d = tmp_path / "big"
        d.mkdir()
        with open(d / "Dockerfile", "w") as f:
                f.write("FROM busybox:1\n")
                line = "LABEL filler=" + "x" * 1000 + "\n"
                for _ in range(10 * 1024):
                        f.write(line)
        assert os.path.getsize(d / "Dockerfile") > 10 * 1000 * 1000
        expect_failure(build_env, d, "-t", "bad:1", words=("Dockerfile",))


def test_context_symlink_out_of_the_context_is_copied_as_a_link(build_env, tmp_path):
        ctx = tmp_path / "ctx"
        write(ctx / "Dockerfile", "FROM busybox:1\nCOPY . /app/\n")
        secret = tmp_path / "outside-secret.txt"
        secret.write_text("host secret\n")
        os.symlink(str(secret), ctx / "escape")
        os.symlink("../outside-secret.txt", ctx / "escape-rel")
        res = slipway_build(build_env, ctx, "-t", "links:1")
        assert res["ref"] == "links:1"
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "links:1", root)
        for name, target in (("escape", str(secret)), ("escape-rel", "../outside-secret.txt")):
                p = root / "app" / name
                assert os.path.islink(p), f"{name} was followed instead of copied as a link"
                assert os.readlink(p) == target
        # the host file's content never entered the image
        for dirpath, _, files in os.walk(root):
                for n in files:
                        p = os.path.join(dirpath, n)
                        if not os.path.islink(p):
                                with open(p, "rb") as f:
                                        assert b"host secret" not in f.read(), p
        assert_no_leftovers(build_env)
