"""Dockerfile heredocs (BuildKit's syntax 1.4+, the Dockerfile reference's "Here-Documents") built by a real
daemon: RUN <<EOF runs the body as a script with the stage's shell (a #! body as a file of its own that is
in no layer), RUN cat <<EOF > f and RUN <<EOF CMD give the body to the command's stdin, several heredocs
take their bodies in order, <<- strips tabs, a quoted delimiter turns expansion off; COPY/ADD <<EOF create
files (0644, --chmod and --chown honoured, ARG/ENV expanded unless quoted, named by the delimiter in a
directory, mixed with context sources); an ONBUILD trigger keeps its bodies for the image built on it.
Changing a body rebuilds that step and what follows, nothing before it; an unterminated heredoc is an error
at its line and column.

buildah 1.28 (Debian 12) has no heredocs, so there is no peer build to compare with: the expected contents
below are what the Dockerfile reference and BuildKit's frontend (dockerfile2llb) give."""

import os
import re

from build_util import assert_no_leftovers, build_env, slipway_build, write  # noqa: F401
from conftest import assert_clean_error

RUN_DOCKERFILE = """\
FROM busybox:1
ARG WHO=world
ENV GREETING=hi
RUN <<EOF
echo "script $GREETING $WHO" > /run-script
echo "second line" >> /run-script
EOF
RUN <<-EOT
	echo tabbed > /run-tabbed
		EOT
RUN <<EOT
#!/bin/sh
echo "shebang $0" > /run-shebang
ls /dev/pipes > /run-pipes
EOT
RUN cat <<EOF > /stdin-expanded
line $GREETING
EOF
RUN cat <<'EOF' > /stdin-quoted
line $GREETING
EOF
RUN <<EOT awk '{ print toupper($0) }' > /awk-out
interpreter gets stdin
EOT
RUN cat <<a > /multi-a && cat <<-"b" > /multi-b
A $GREETING
a
	B $GREETING
	b
RUN echo 'not <<EOF' > /quoted-opener
"""


def unpack(daemon, ref, dest):
        daemon.cli("image", "unpack", ref, dest)
        return dest


def ctx_with(tmp_path, dockerfile, name="ctx", **files):
        d = tmp_path / name
        write(d / "Dockerfile", dockerfile)
        for f, text in files.items():
                write(d / f, text)
        return d


def test_run_heredocs(build_env, tmp_path):
        ctx = ctx_with(tmp_path, RUN_DOCKERFILE)
        slipway_build(build_env, ctx, "-t", "heredoc-run:1")
        root = unpack(build_env, "heredoc-run:1", tmp_path / "root")

        # RUN <<EOF alone: the body is the script, run by /bin/sh -c with the stage's ENV and ARGs.
        assert (root / "run-script").read_text() == "script hi world\nsecond line\n"
        # <<-: the tabs of the body and of the closing line are stripped.
        assert (root / "run-tabbed").read_text() == "tabbed\n"
        # #! body: written to /dev/pipes/EOT and executed; that file is in no layer.
        assert (root / "run-shebang").read_text() == "shebang /dev/pipes/EOT\n"
        assert (root / "run-pipes").read_text() == "EOT\n"
        assert not (root / "dev" / "pipes").exists()
        # RUN cat <<EOF > f: the body is the command's stdin; the shell expands it unless quoted.
        assert (root / "stdin-expanded").read_text() == "line hi\n"
        assert (root / "stdin-quoted").read_text() == "line $GREETING\n"
        # RUN <<EOT CMD: the heredoc is CMD's stdin.
        assert (root / "awk-out").read_text() == "INTERPRETER GETS STDIN\n"
        # Several heredocs in one RUN take their bodies in order.
        assert (root / "multi-a").read_text() == "A hi\n"
        assert (root / "multi-b").read_text() == "B $GREETING\n"
        # A quoted << is no heredoc: the next line is an instruction again.
        assert (root / "quoted-opener").read_text() == "not <<EOF\n"
        assert_no_leftovers(build_env)


COPY_DOCKERFILE = """\
FROM busybox:1
ARG WHO=world
ENV PLACE=here
COPY <<EOF /etc/greeting
hello $WHO from ${PLACE} "double" 'single' back\\slash \\$WHO
EOF
COPY <<"EOF" /etc/raw
hello $WHO
EOF
COPY <<a <<b /dir/
A $WHO
a
B
b
COPY --chmod=0755 --chown=1000:1001 <<EOF /usr/local/bin/tool
#!/bin/sh
echo tool ran
EOF
COPY ctx.txt <<mixed /mixed/
from a heredoc
mixed
ADD <<-EOT /added
		tabbed $WHO
	EOT
RUN /usr/local/bin/tool > /tool-out
"""


def test_copy_add_heredocs(build_env, tmp_path):
        ctx = ctx_with(tmp_path, COPY_DOCKERFILE, **{"ctx.txt": "from the context\n"})
        slipway_build(build_env, ctx, "-t", "heredoc-copy:1")
        root = unpack(build_env, "heredoc-copy:1", tmp_path / "root")

        # ARG and ENV expand in the body; quotes are text; a backslash escapes the next character.
        assert (root / "etc/greeting").read_text() == 'hello world from here "double" \'single\' backslash $WHO\n'
        assert os.stat(root / "etc/greeting").st_mode & 0o7777 == 0o644
        assert os.stat(root / "etc/greeting").st_uid == 0
        # A quoted delimiter: no expansion.
        assert (root / "etc/raw").read_text() == "hello $WHO\n"
        # Into a directory: files named by their delimiters.
        assert (root / "dir/a").read_text() == "A world\n" and (root / "dir/b").read_text() == "B\n"
        # --chmod and --chown apply to heredoc files.
        st = os.stat(root / "usr/local/bin/tool")
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 1000, 1001)
        assert (root / "tool-out").read_text() == "tool ran\n"
        # Context sources and heredocs in one COPY.
        assert (root / "mixed/ctx.txt").read_text() == "from the context\n"
        assert (root / "mixed/mixed").read_text() == "from a heredoc\n"
        # ADD <<-: tabs stripped, then expanded.
        assert (root / "added").read_text() == "tabbed world\n"

        # A build arg changes the expanded body.
        slipway_build(build_env, ctx, "-t", "heredoc-copy:2", "--build-arg", "WHO=you")
        root2 = unpack(build_env, "heredoc-copy:2", tmp_path / "root2")
        assert (root2 / "etc/greeting").read_text().startswith("hello you from here ")
        assert (root2 / "etc/raw").read_text() == "hello $WHO\n"
        assert_no_leftovers(build_env)


CACHE_DOCKERFILE = """\
FROM busybox:1
RUN <<EOF
echo first > /first
EOF
COPY <<EOF /second
{second}
EOF
RUN <<EOF
echo {third} > /third
EOF
"""


def test_changing_a_body_rebuilds_from_that_step(build_env, tmp_path):
        ctx = ctx_with(tmp_path, CACHE_DOCKERFILE.format(second="two", third="three"))
        first = slipway_build(build_env, ctx, "-t", "heredoc-cache:1")
        assert first["cached_steps"] == 0
        again = slipway_build(build_env, ctx, "-t", "heredoc-cache:1")
        assert again["cached_steps"] == again["steps"] == 3 and again["digest"] == first["digest"]

        # Only the COPY's body changes: the RUN before it is cached, the COPY and the RUN after are not.
        write(ctx / "Dockerfile", CACHE_DOCKERFILE.format(second="TWO", third="three"))
        changed = slipway_build(build_env, ctx, "-t", "heredoc-cache:2")
        assert changed["cached_steps"] == 1, changed
        # Only the last RUN's body changes: two steps cached.
        write(ctx / "Dockerfile", CACHE_DOCKERFILE.format(second="TWO", third="THREE"))
        last = slipway_build(build_env, ctx, "-t", "heredoc-cache:3")
        assert last["cached_steps"] == 2, last
        root = unpack(build_env, "heredoc-cache:3", tmp_path / "root")
        assert (root / "second").read_text() == "TWO\n" and (root / "third").read_text() == "THREE\n"


def test_unterminated_heredoc_names_line_and_column(build_env, tmp_path):
        ctx = ctx_with(tmp_path, "FROM busybox:1\nRUN true\nCOPY  <<EOF /x\nbody\nEOF.\n")
        before = build_env.image_refs()
        p = slipway_build(build_env, ctx, "-t", "bad:1", check=False, json_out=False)
        err = assert_clean_error(p, "never closed")
        assert re.search(r"^Error: Dockerfile:3:7: The heredoc <<EOF opened here is never closed: end it "
                         r"with a line EOF\.", err, re.M), err
        assert build_env.image_refs() == before
        assert_no_leftovers(build_env)


def test_heredoc_script_failure_names_the_step(build_env, tmp_path):
        ctx = ctx_with(tmp_path, "FROM busybox:1\nRUN <<EOF\necho before\nexit 3\nEOF\nRUN true\n")
        p = slipway_build(build_env, ctx, "-t", "bad:2", check=False, json_out=False)
        err = assert_clean_error(p, "status 3")
        assert re.search(r"^Error: Dockerfile:2:1: ", err, re.M), err


def test_onbuild_trigger_keeps_its_heredoc(build_env, tmp_path):
        base = ctx_with(tmp_path, "FROM busybox:1\nONBUILD RUN cat <<EOF > /from-trigger\ntriggered\nEOF\n"
                        "ONBUILD COPY <<EOF /copied-by-trigger\ncopied\nEOF\n", name="base")
        slipway_build(build_env, base, "-t", "heredoc-onbuild:1")
        child = ctx_with(tmp_path, "FROM heredoc-onbuild:1\nRUN cat /from-trigger /copied-by-trigger > /both\n",
                         name="child")
        slipway_build(build_env, child, "-t", "heredoc-onbuild-child:1")
        root = unpack(build_env, "heredoc-onbuild-child:1", tmp_path / "root")
        assert (root / "both").read_text() == "triggered\ncopied\n"
