"""Builds that must fail, and builds that are stopped: each bad input gives one clear sentence (with
Dockerfile:line:column where there is one), exit 1, nothing tagged; a cancelled build (Ctrl-C in the CLI,
DELETE in the API, or a client that goes away) ends within seconds.  None leaves a mount below the state
dir or a DIR/builds/tmp-* directory.  Also: the stream's framing, and two builds at once."""

import os
import re
import signal
import subprocess
import time

import pytest

from build_util import (ApiBuild, api_delete, assert_no_leftovers, build_env, context, context_tar,  # noqa: F401
                        mounts_under, slipway_build, write)
from conftest import assert_clean_error

CANCEL_WITHIN = 8  # seconds from the cancel to the end of the build


def dockerfile_ctx(tmp_path, text, name="ctx"):
        d = tmp_path / name
        write(d / "Dockerfile", text)
        return d


def expect_failure(daemon, ctx, *opts, words=()):
        before = daemon.image_refs()
        p = slipway_build(daemon, ctx, *opts, check=False, json_out=False)
        err = assert_clean_error(p, *words)
        assert daemon.image_refs() == before, "a failed build tagged something"
        assert_no_leftovers(daemon)
        return err


def test_missing_base_image(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM nosuchbase:3\nRUN true\n")
        expect_failure(build_env, ctx, "-t", "bad:1", words=("nosuchbase:3", "import"))


def test_syntax_error_names_file_line_column(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nRUN echo ok\n\n# a comment\nFROBNICATE now\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1")
        assert re.search(r"^Error: Dockerfile:5:1: ", err, re.M), err
        assert "frobnicate" in err.lower()


def test_unterminated_quote(build_env, tmp_path):
        # (An unterminated JSON array is Docker's shell form, not an error; an open quote is.)
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nENV A=\"open\n")
        err = expect_failure(build_env, ctx, words=("quote",))
        assert re.search(r"^Error: Dockerfile:2:7: ", err, re.M), err


def test_add_url_is_refused_air_gapped(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nADD https://example.com/x.tar.gz /x/\n")
        err = expect_failure(build_env, ctx, "-t", "bad:1", words=("network",))
        assert re.search(r"^Error: Dockerfile:2:\d+: ", err, re.M), err


def test_failing_run_shows_exit_status_and_tags_nothing(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nRUN echo before-the-failure && exit 3\nRUN echo never\n")
        p = slipway_build(build_env, ctx, "-t", "failing:1", check=False, json_out=False)
        err = assert_clean_error(p)
        assert re.search(r"\b3\b", err), f"exit status 3 not in {err!r}"
        assert "Dockerfile:2" in err
        assert "before-the-failure" in p.stdout, "the step's output was not shown"
        assert "never" not in p.stdout.replace("RUN echo never", "")
        assert "failing:1" not in " ".join(build_env.image_refs())
        assert_no_leftovers(build_env)


def test_unknown_target(build_env, tmp_path):
        ctx = context("multistage", tmp_path / "ctx")
        expect_failure(build_env, ctx, "--target", "nosuchstage", words=("nosuchstage",))


def test_context_without_dockerfile(build_env, tmp_path):
        (tmp_path / "empty").mkdir()
        expect_failure(build_env, tmp_path / "empty", words=("Dockerfile",))
        expect_failure(build_env, tmp_path / "empty", "-f", "Nope.dockerfile", words=("Nope.dockerfile",))
        # The API says the same to a client that sends no Dockerfile.
        b = ApiBuild(build_env, context_tar(tmp_path / "empty"))
        assert b.resp.status == 400 and "Dockerfile" in b.resp.read().decode()
        assert_no_leftovers(build_env)


def test_dockerfile_elsewhere_in_the_context(build_env, tmp_path):
        # -f names a Dockerfile in a directory the .dockerignore excludes: it is still sent and used, while
        # the rest of that directory stays out of the context.
        ctx = tmp_path / "ctx"
        write(ctx / "docker/Dockerfile.dev", "FROM busybox:1\nCOPY . /ctx/\n")
        write(ctx / "docker/notes.txt", "excluded\n")
        write(ctx / "app.txt", "app\n")
        write(ctx / ".dockerignore", "docker\n")
        for f in ("docker/Dockerfile.dev", ctx / "docker/Dockerfile.dev"):
                res = slipway_build(build_env, ctx, "-f", f, "-t", "elsewhere:1")
                assert res["ref"].endswith("elsewhere:1")
        root = tmp_path / "root"
        build_env.cli("image", "unpack", "elsewhere:1", root)
        assert (root / "ctx/app.txt").read_text() == "app\n"
        assert not (root / "ctx/docker/notes.txt").exists()
        # outside the context: refused by the CLI before anything is sent
        write(tmp_path / "Outside.dockerfile", "FROM busybox:1\n")
        expect_failure(build_env, ctx, "-f", tmp_path / "Outside.dockerfile", words=("outside the build context",))


def test_copy_of_missing_or_outside_source(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nCOPY nothere.txt /x\n")
        err = expect_failure(build_env, ctx, words=("nothere.txt",))
        assert "Dockerfile:2" in err
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nCOPY ../../etc/passwd /x\n", "ctx2")
        expect_failure(build_env, ctx)


def test_api_refuses_unsafe_context_names(build_env, tmp_path):
        import io
        import tarfile
        for name in ("../escape", "/abs", "a/../../b"):
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as t:
                        for n, data in (("Dockerfile", b"FROM busybox:1\n"), (name, b"evil\n")):
                                ti = tarfile.TarInfo(n)
                                ti.size = len(data)
                                t.addfile(ti, io.BytesIO(data))
                b = ApiBuild(build_env, buf.getvalue())
                body = b.resp.read().decode()
                assert b.resp.status == 400 and "unsafe" in body, (name, body)
        assert not os.path.exists("/escape") and not os.path.exists("/abs")
        assert_no_leftovers(build_env)


def test_stream_framing_and_result(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, "FROM busybox:1\nRUN echo line-one && echo '{not the result}'\n")
        b = ApiBuild(build_env, context_tar(ctx), tag="framing:1", no_cache="1")
        assert b.resp.status == 200 and re.fullmatch(r"[0-9a-f]{16}", b.id or "")
        final = b.finish()
        assert "line-one" in b.log and "{not the result}" in b.log
        assert final["ref"].endswith("framing:1") and final["digest"].startswith("sha256:")
        assert final["id"] == b.id and final["steps"] == 1


# ---------------------------------------------------------------------------------------------------------
# cancel

SLEEPER = "FROM busybox:1\nRUN echo sleeping && sleep 60\nRUN echo never\n"


def sleeping_build(daemon, tmp_path, tag):
        """An API build of SLEEPER tagged tag, once its RUN step has said "sleeping"."""
        b = ApiBuild(daemon, context_tar(dockerfile_ctx(tmp_path, SLEEPER)), tag=tag, no_cache="1")
        for line in b.lines():
                if line == "sleeping":
                        break
        return b


def test_cancel_with_ctrl_c(build_env, tmp_path):
        ctx = dockerfile_ctx(tmp_path, SLEEPER)
        p = subprocess.Popen(build_env.cli_argv("image", "build", ctx, "-t", "cancelled:1", "--no-cache", json=False),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
                for line in p.stdout:
                        if "sleeping" in line and "echo" not in line:
                                break
                else:
                        pytest.fail(f"the build never reached its RUN step: {p.stderr.read()}")
                t0 = time.monotonic()
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=CANCEL_WITHIN + 5)
                took = time.monotonic() - t0
        finally:
                if p.poll() is None:
                        p.kill()
                        p.wait()
        assert p.returncode == 130, (p.returncode, err)
        assert "cancelled" in err.lower()
        assert took < CANCEL_WITHIN, f"cancel took {took:.1f}s"
        assert "cancelled:1" not in " ".join(build_env.image_refs())
        assert_no_leftovers(build_env)


def test_cancel_with_api_delete(build_env, tmp_path):
        b = sleeping_build(build_env, tmp_path, "cancelled:2")
        t0 = time.monotonic()
        status, body = api_delete(build_env, f"/api/v1/images/builds/{b.id}")
        assert status == 200 and body["cancelled"] is True
        final = b.finish()
        assert time.monotonic() - t0 < CANCEL_WITHIN
        assert final and "error" in final and final["id"] == b.id
        assert_no_leftovers(build_env)
        # The build is gone: a second cancel finds nothing.
        assert api_delete(build_env, f"/api/v1/images/builds/{b.id}")[0] == 404


def test_client_going_away_cancels(build_env, tmp_path):
        b = sleeping_build(build_env, tmp_path, "cancelled:3")
        b.resp.close()
        b.close()
        assert_no_leftovers(build_env, timeout=CANCEL_WITHIN)
        assert "cancelled:3" not in " ".join(build_env.image_refs())


# ---------------------------------------------------------------------------------------------------------
# concurrency

def test_two_builds_at_once(build_env, tmp_path):
        procs = []
        for i in (1, 2):
                ctx = dockerfile_ctx(tmp_path, f"FROM busybox:1\nCOPY data.txt /data.txt\n"
                                               f"RUN sleep 1 && echo run-{i} >> /data.txt\n", f"ctx{i}")
                write(ctx / "data.txt", f"context {i}\n")
                procs.append(subprocess.Popen(build_env.cli_argv("image", "build", ctx, "-t", f"concurrent:{i}"),
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for p in procs:
                out, err = p.communicate(timeout=120)
                assert p.returncode == 0, err
        for i in (1, 2):
                root = tmp_path / f"root{i}"
                build_env.cli("image", "unpack", f"concurrent:{i}", root)
                assert (root / "data.txt").read_text() == f"context {i}\nrun-{i}\n"
        assert_no_leftovers(build_env)


def test_daemon_stop_cancels_running_builds(start_daemon, images, tmp_path):
        # SIGTERM while a build sleeps in RUN: slipwayd cancels it, the client gets the failure, slipwayd
        # exits 0 within the fixture's stop timeout, and a restarted daemon finds nothing left behind.
        d = start_daemon()
        d.cli("image", "import", images / "busybox.oci.tar")
        b = sleeping_build(d, tmp_path, "stopped:1")
        t0 = time.monotonic()
        d.stop()
        assert time.monotonic() - t0 < CANCEL_WITHIN
        final = b.finish()
        assert final and "error" in final
        assert not mounts_under(d.state_dir)
        d.start()
        assert_no_leftovers(d)
        assert "stopped:1" not in " ".join(d.image_refs())
