"""COPY/ADD flags of BuildKit's syntax (issue 15 item 3): --parents (with the "/./" pivot and "**"),
--exclude (repeatable, COPY and ADD), --link as a cache boundary, --chmod in chmod(1)'s symbolic forms.

buildah 1.28 knows none of these but octal --chmod, so each test builds the flag-using Dockerfile with
Slipway and the Dockerfile a person would have written without the flag (files spelled out, a
.dockerignore, an octal mode, no --link) with buildah, and compares the two images entry by entry; then it
checks what the flag promises on the image itself, so a mistake shared with the unrolled Dockerfile would
still show."""

import os
import stat
from pathlib import Path

import pytest

from build_util import (Buildah, assert_no_leftovers, build_env, layout_image, slipway_build,  # noqa: F401
                        slipway_export, tree, tree_diff, umoci_unpack, write)
from test_build_cache import build_logged
from test_build_errors import dockerfile_ctx, expect_failure


@pytest.fixture(scope="module")
def buildah(images, tmp_path_factory):
        b = Buildah(tmp_path_factory.mktemp("buildah"))
        b.pull_archive(images / "busybox.oci.tar", "busybox:1")
        return b


def make_ctx(d, dockerfile, files, dirs=()):
        """A context dir: the Dockerfile, files {rel: (text, mode)} and extra dirs {rel: mode}."""
        d = Path(d)
        write(d / "Dockerfile", dockerfile)
        for rel, (text, mode) in files.items():
                write(d / rel, text, mode)
        for rel, mode in dict(dirs).items():
                (d / rel).mkdir(parents=True, exist_ok=True)
                os.chmod(d / rel, mode)
        return d


def compare(daemon, buildah, s_ctx, b_ctx, tag, work):
        """Slipway builds s_ctx, buildah b_ctx (the same tag); returns (tree diff, Slipway's rootfs)."""
        work = Path(work)
        slipway_build(daemon, s_ctx, "-t", tag)
        buildah.bud(b_ctx, tag)
        s_root = umoci_unpack(slipway_export(daemon, tag, work / "s-oci"), work / "s-bundle")
        b_root = umoci_unpack(buildah.export(tag, work / "b-oci"), work / "b-bundle")
        return tree_diff(tree(s_root), tree(b_root)), s_root


TREE = {"x/a.txt": ("xa\n", 0o644), "y/a.txt": ("ya\n", 0o644), "x/y/b.txt": ("b\n", 0o644),
        "x/y/c.txt": ("c\n", 0o600), "x/y/skip.md": ("md\n", 0o644), "src/main.c": ("main\n", 0o644),
        "src/lib/deep/u.c": ("u\n", 0o644), "src/lib/readme.md": ("r\n", 0o644)}


def test_parents_like_the_unrolled_copies(build_env, buildah, tmp_path):
        s = make_ctx(tmp_path / "s", "FROM busybox:1\n"
                                     "COPY --parents ./x/a.txt ./y/a.txt /parents/\n"
                                     "COPY --parents ./x/./y/*.txt /pivot/\n"
                                     "COPY --parents src/**/*.c /globs/\n"
                                     "COPY --parents x/y /whole/\n", TREE)
        b = make_ctx(tmp_path / "b", "FROM busybox:1\n"
                                     "COPY x/a.txt /parents/x/a.txt\n"
                                     "COPY y/a.txt /parents/y/a.txt\n"
                                     "COPY x/y/b.txt x/y/c.txt /pivot/y/\n"
                                     "COPY src/main.c /globs/src/\n"
                                     "COPY src/lib/deep/u.c /globs/src/lib/deep/\n"
                                     "COPY x/y /whole/x/y/\n", TREE)
        diff, root = compare(build_env, buildah, s, b, "parents:1", tmp_path)
        assert diff == [], "\n".join(diff[:60])
        assert (root / "parents/x/a.txt").read_text() == "xa\n"
        assert (root / "pivot/y/c.txt").read_text() == "c\n" and not (root / "pivot/x").exists()
        assert (root / "globs/src/lib/deep/u.c").read_text() == "u\n"
        assert not (root / "globs/src/lib/readme.md").exists()
        assert (root / "whole/x/y/skip.md").read_text() == "md\n"
        assert_no_leftovers(build_env)


def test_parents_keep_the_source_directories_modes(build_env, tmp_path):
        ctx = make_ctx(tmp_path / "ctx", "FROM busybox:1\nCOPY --parents conf/app/settings.ini /etc/\n",
                       {"conf/app/settings.ini": ("k=v\n", 0o640)}, {"conf": 0o750, "conf/app": 0o700})
        slipway_build(build_env, ctx, "-t", "parents-modes:1")
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "parents-modes:1", root)
        assert stat.S_IMODE(os.lstat(root / "etc/conf").st_mode) == 0o750
        assert stat.S_IMODE(os.lstat(root / "etc/conf/app").st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(root / "etc/conf/app/settings.ini").st_mode) == 0o640
        # /etc itself is the base image's, untouched
        assert stat.S_IMODE(os.lstat(root / "etc").st_mode) == 0o755


def test_exclude_like_a_dockerignore(build_env, buildah, tmp_path):
        files = {"app.py": ("print()\n", 0o644), "README.md": ("doc\n", 0o644), "tmp/scratch": ("t\n", 0o644),
                 "pkg/mod.py": ("m\n", 0o644), "pkg/notes.md": ("n\n", 0o644), "logs/a.log": ("l\n", 0o644),
                 "logs/keep.txt": ("k\n", 0o644)}
        s = make_ctx(tmp_path / "s", "FROM busybox:1\n"
                                     "COPY --exclude=*.md --exclude=tmp --exclude=**/notes.md --exclude=logs "
                                     "--exclude=Dockerfile . /app/\n"
                                     "ADD --exclude=*.log logs /logs/\n", files)
        b = make_ctx(tmp_path / "b", "FROM busybox:1\n"
                                     "COPY . /app/\n"
                                     "ADD logs/keep.txt /logs/\n", files)
        write(b / ".dockerignore", "*.md\ntmp\n**/notes.md\nlogs/a.log\nDockerfile\n.dockerignore\n")
        # buildah's ignore file drops logs/a.log for the whole build; the Slipway COPY leaves out all of logs/
        # and its ADD only the .log: the same tree once buildah's /app/logs is set aside.
        diff, root = compare(build_env, buildah, s, b, "exclude:1", tmp_path)
        diff = [d for d in diff if not d.startswith("app/logs")]
        assert diff == [], "\n".join(diff[:60])
        assert sorted(os.listdir(root / "app")) == ["app.py", "pkg"]
        assert sorted(os.listdir(root / "app/pkg")) == ["mod.py"]
        assert sorted(os.listdir(root / "logs")) == ["keep.txt"]


def test_exclude_applies_to_that_instruction_only_and_not_to_its_cache_key(build_env, tmp_path):
        ctx = make_ctx(tmp_path / "ctx", "FROM busybox:1\n"
                                         "COPY --exclude=secret.txt . /a/\n"
                                         "COPY secret.txt /b/\n"
                                         "COPY --exclude=*.txt hom* /home/\n",
                       {"secret.txt": ("s1\n", 0o644), "home.txt": ("h\n", 0o644),
                        "homepage.html": ("p\n", 0o644)})
        first, log = build_logged(build_env, ctx, "-t", "exclude-scope:1")
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "exclude-scope:1", root)
        assert not (root / "a/secret.txt").exists() and (root / "b/secret.txt").read_text() == "s1\n"
        assert os.listdir(root / "home") == ["homepage.html"]
        # A change of a file the first COPY leaves out keeps that step cached; the second COPY misses.
        write(ctx / "secret.txt", "s2\n")
        again, log = build_logged(build_env, ctx, "-t", "exclude-scope:2")
        assert again["cached_steps"] == 1, log  # COPY --exclude hits; the COPYs after it miss
        assert_no_leftovers(build_env)


def test_symbolic_chmod_like_its_octal_equivalent(build_env, buildah, tmp_path):
        files = {"run.sh": ("#!/bin/sh\n", 0o600), "conf.ini": ("c\n", 0o666)}
        s = make_ctx(tmp_path / "s", "FROM busybox:1\n"
                                     "COPY --chmod=u=rwx,go=rx run.sh /opt/\n"
                                     "COPY --chmod=a=r,u+w conf.ini /opt/\n"
                                     "COPY --chmod=go-w conf.ini /opt/other.ini\n", files)
        b = make_ctx(tmp_path / "b", "FROM busybox:1\n"
                                     "COPY --chmod=0755 run.sh /opt/\n"
                                     "COPY --chmod=0644 conf.ini /opt/\n"
                                     "COPY --chmod=0644 conf.ini /opt/other.ini\n", files)
        diff, root = compare(build_env, buildah, s, b, "chmod:1", tmp_path)
        assert diff == [], "\n".join(diff[:60])
        assert stat.S_IMODE(os.lstat(root / "opt/run.sh").st_mode) == 0o755


def test_symbolic_chmod_on_a_tree(build_env, tmp_path):
        ctx = make_ctx(tmp_path / "ctx", "FROM busybox:1\n"
                                         "COPY --chmod=u=rwX,go=rX tree /srv/\n"
                                         "ARG MODE=+x\n"
                                         "COPY --chmod=$MODE tree/data /srv/data-x\n",
                       {"tree/data": ("d\n", 0o600), "tree/tool": ("#!/bin/sh\n", 0o700),
                        "tree/sub/deep": ("x\n", 0o640)}, {"tree/sub": 0o700})
        slipway_build(build_env, ctx, "-t", "chmod-tree:1")
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "chmod-tree:1", root)
        modes = {rel: stat.S_IMODE(os.lstat(root / "srv" / rel).st_mode)
                 for rel in ("data", "tool", "sub", "sub/deep", "data-x")}
        # X: directories and files that were executable get x; the others do not
        assert modes == {"data": 0o644, "tool": 0o755, "sub": 0o755, "sub/deep": 0o644, "data-x": 0o711}, modes


def test_bad_chmod_names_file_line_and_column(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nCOPY --chmod=u+y a /a\n")
        write(ctx / "a", "a\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1", words=("--chmod=u+y", "r, w, x, X, s or t"))
        assert "Dockerfile:2:6: " in err, err
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nARG M=g+q\nCOPY --chmod=$M a /a\n", name="ctx2")
        write(ctx / "a", "a\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1", words=("--chmod=g+q",))
        assert "Dockerfile:3:" in err, err


def test_parents_errors(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nCOPY --parents x*/./a /d/\n")
        write(ctx / "x1/a", "a\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1", words=("/./", "wildcard"))
        assert "Dockerfile:2:" in err
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nADD --parents a /d/\n", name="ctx2")
        expect_failure(build_env, ctx, "-t", "bad:1", words=("COPY --parents",))


def test_link_reuses_its_layer_when_an_earlier_step_changes(build_env, buildah, tmp_path):
        files = {"base.txt": ("base 1\n", 0o644), "app/main.py": ("print(1)\n", 0o644)}
        s = make_ctx(tmp_path / "s", "FROM busybox:1\n"
                                     "COPY base.txt /base.txt\n"
                                     "COPY --link app /srv/app/\n"
                                     "RUN cat /base.txt /srv/app/main.py > /both\n", files)
        b = make_ctx(tmp_path / "b", "FROM busybox:1\n"
                                     "COPY base.txt /base.txt\n"
                                     "COPY app /srv/app/\n"
                                     "RUN cat /base.txt /srv/app/main.py > /both\n", files)
        diff, _ = compare(build_env, buildah, s, b, "link:1", tmp_path / "one")
        assert diff == [], "\n".join(diff[:60])
        _, manifest1, _ = layout_image(tmp_path / "one" / "s-oci")

        # Only the first COPY's input changes: the --link COPY is a hit, the RUN after it is not.
        for d in (s, b):
                write(d / "base.txt", "base 2\n")
        res, log = build_logged(build_env, s, "-t", "link:2")
        assert res["cached_steps"] == 1 and "--> cached (--link)" in log, log
        buildah.bud(b, "link:2")
        work = tmp_path / "two"
        s_root = umoci_unpack(slipway_export(build_env, "link:2", work / "s-oci"), work / "s-bundle")
        b_root = umoci_unpack(buildah.export("link:2", work / "b-oci"), work / "b-bundle")
        assert tree_diff(tree(s_root), tree(b_root)) == []
        assert (s_root / "both").read_text() == "base 2\nprint(1)\n"
        _, manifest2, _ = layout_image(work / "s-oci")
        l1, l2 = manifest1["layers"], manifest2["layers"]
        assert len(l1) == len(l2)
        assert l1[-2]["digest"] == l2[-2]["digest"], "the --link layer was rebuilt"
        assert l1[-3]["digest"] != l2[-3]["digest"]
        assert_no_leftovers(build_env)
