"""`slipway image build` builds the fixture Dockerfiles (tests/fixtures/build) like `buildah bud
--isolation=chroot` does from the same busybox base: both images are exported as OCI, unpacked with umoci and
compared entry by entry (paths, types, modes, owners, sizes, contents, link targets, hardlinks) and on the
config fields (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels, StopSignal, Volumes,
Healthcheck, OnBuild).  Each test also checks a few things the Dockerfile promises, so that a mistake shared
with buildah would still show."""

import os
import stat

import pytest

from build_util import (Buildah, add_special_files, build_env, compare_with_buildah, context,  # noqa: F401
                        slipway_build, write, write_archives, assert_no_leftovers)


@pytest.fixture(scope="module")
def buildah(images, tmp_path_factory):
        b = Buildah(tmp_path_factory.mktemp("buildah"))
        b.pull_archive(images / "busybox.oci.tar", "busybox:1")
        return b


def assert_same(diff, s_cfg, b_cfg):
        assert diff == [], "Slipway's tree differs from buildah's:\n" + "\n".join(diff[:80])
        assert s_cfg == b_cfg


def test_every_instruction(build_env, buildah, tmp_path):
        ctx = context("everything", tmp_path / "ctx")
        add_special_files(ctx / "links")
        write_archives(ctx)
        args = ("--build-arg", "GREETING=hi")
        res, diff, s_cfg, b_cfg, root = compare_with_buildah(build_env, buildah, ctx, "everything:1", tmp_path,
                                                             args, args)
        assert res["digest"].startswith("sha256:") and "everything:1" in res["ref"]
        assert_same(diff, s_cfg, b_cfg)

        app = root / "srv/app/work/dir"
        assert (app / "greeting.txt").read_text() == "hi from /srv/app\nHELLO fallback\n"
        assert (app / "files/sub/c.txt").read_text() == "charlie\n"
        assert (root / "tmp/uid-of-run").read_text() == "65534\n"          # USER applies to RUN
        assert (root / "tmp/pwd-of-run").read_text() == "/srv/app/work/dir\n"  # WORKDIR too
        assert not (root / "bin/vi").exists() and (root / "bin/sh").exists()  # deleted from the base layer
        assert not (root / "data/gone").exists() and not (root / "data/gone.txt").exists()
        assert stat.S_IMODE(os.lstat(root / "data/suid").st_mode) == 0o4755
        assert stat.S_IMODE(os.lstat(root / "data/empty").st_mode) == 0o2750 and not os.listdir(root / "data/empty")
        assert os.lstat(root / "data/hard").st_ino == os.lstat(root / "data/keep").st_ino
        assert os.readlink(root / "data/sym") == "keep"
        assert os.readlink(root / "links/outside-link") == "/etc/passwd"   # copied as the link
        assert os.lstat(root / "links/hard1").st_ino == os.lstat(root / "links/hard2").st_ino
        # docker build strips setuid/setgid from build-context files (buildah too); RUN-made ones stay.
        assert stat.S_IMODE(os.lstat(root / "links/suid").st_mode) == 0o755
        assert stat.S_IMODE(os.lstat(root / "etc/a-640.txt").st_mode) == 0o640
        st = os.lstat(root / "srv/owned/a.txt")
        assert (st.st_uid, st.st_gid) == (65534, 65534)                     # --chown by name
        st = os.lstat(root / "srv/numeric-owner.txt")
        assert (st.st_uid, st.st_gid) == (1234, 4321)
        assert (root / "opt/unpacked/gz-dir/secret").read_text() == "private\n"  # ADD extracts
        assert (root / "opt/plain/plain-dir/secret").read_text() == "private\n"
        assert (root / "opt/copied-archive.tar.gz").is_file()               # COPY does not
        assert s_cfg["User"] == "nobody:nogroup"
        assert s_cfg["Entrypoint"] == ["/bin/sh", "-c"] and s_cfg["Cmd"] == ["echo $GREETING"]
        assert s_cfg["StopSignal"] == "SIGQUIT" and "/var/lib/app" in s_cfg["Volumes"]
        assert set(s_cfg["ExposedPorts"]) == {"8080/tcp", "53/udp"}
        assert s_cfg["Labels"]["org.example.greeting"] == "hi world"
        assert s_cfg["Healthcheck"]["Test"] == ["CMD", "/bin/true"]
        assert_no_leftovers(build_env)


def test_multistage_with_build_arg(build_env, buildah, tmp_path):
        ctx = context("multistage", tmp_path / "ctx")
        args = ("--build-arg", "VERSION=2.0")
        _, diff, s_cfg, b_cfg, root = compare_with_buildah(build_env, buildah, ctx, "multi-final:1", tmp_path,
                                                           args, args)
        assert_same(diff, s_cfg, b_cfg)
        assert (root / "app/version").read_text() == "built 2.0\n"
        assert (root / "app/version-by-index").read_text() == "built 2.0\n"
        st = os.lstat(root / "app/version-owned")
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        # COPY of a directory copies its contents: /app is made, not a copy of /out (which is 0750).
        assert stat.S_IMODE(os.lstat(root / "app").st_mode) == 0o755
        assert not (root / "unused").exists() and not (root / "out").exists()
        assert s_cfg["Labels"] == {"org.slipway.test": "busybox", "version": "2.0"}


def test_multistage_target(build_env, buildah, tmp_path):
        ctx = context("multistage", tmp_path / "ctx")
        _, diff, s_cfg, b_cfg, root = compare_with_buildah(build_env, buildah, ctx, "multi-builder:1", tmp_path,
                                                           ("--target", "builder"), ("--target", "builder"))
        assert_same(diff, s_cfg, b_cfg)
        assert (root / "out/version").read_text() == "built 1.0\n"
        assert s_cfg["Labels"]["stage"] == "builder"


def test_dockerignore_and_special_files(build_env, buildah, tmp_path):
        ctx = context("dockerignore", tmp_path / "ctx")
        for rel in ("a.txt", "x.log", "keep.log", "secret/key", "build/tmp/t", "build/out", "sub/dir/deep.txt",
                    "sub/old.bak"):
                write(ctx / rel, f"{rel}\n")
        add_special_files(ctx / "special")
        _, diff, s_cfg, b_cfg, root = compare_with_buildah(build_env, buildah, ctx, "ignore:1", tmp_path)
        assert_same(diff, s_cfg, b_cfg)
        c = root / "ctx"
        for kept in ("a.txt", "keep.log", "build/out", "sub/dir/deep.txt", "Dockerfile", ".dockerignore"):
                assert (c / kept).is_file(), kept
        for gone in ("x.log", "secret", "build/tmp", "sub/old.bak"):
                assert not os.path.lexists(c / gone), gone
        assert os.readlink(c / "special/outside-link") == "/etc/passwd"
        assert os.lstat(c / "special/hard1").st_ino == os.lstat(c / "special/hard2").st_ino
        assert stat.S_IMODE(os.lstat(c / "special/empty").st_mode) == 0o700


def test_onbuild_triggers_run_in_the_child(build_env, buildah, tmp_path):
        base = context("onbuild-base", tmp_path / "base")
        _, diff, s_cfg, b_cfg, _ = compare_with_buildah(build_env, buildah, base, "onbuild-base:1", tmp_path / "b")
        assert_same(diff, s_cfg, b_cfg)
        assert s_cfg["OnBuild"] == ["COPY trigger.txt /trigger/", "RUN echo triggered > /trigger/ran"]

        child = context("onbuild-child", tmp_path / "child")
        _, diff, s_cfg, b_cfg, root = compare_with_buildah(build_env, buildah, child, "onbuild-child:1",
                                                           tmp_path / "c")
        assert_same(diff, s_cfg, b_cfg)
        assert (root / "trigger/both").read_text() == "from the child context\ntriggered\n"
        assert "OnBuild" not in s_cfg, "triggers are not inherited by the child's children"


def test_stage_the_target_does_not_need_is_not_built(build_env, tmp_path):
        write(tmp_path / "ctx/Dockerfile", "FROM busybox:1 AS broken\nRUN exit 7\n\n"
                                           "FROM busybox:1\nRUN echo ok > /ok\n")
        res = slipway_build(build_env, tmp_path / "ctx", "-t", "skip-unneeded:1")
        assert res["steps"] == 1
