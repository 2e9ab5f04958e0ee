/* Unit tests for the Dockerfile parser and stage planning (expansion and scope: test-dockerfile-scope.c).
 * Expected values follow Docker's documented behaviour (docs.docker.com/reference/dockerfile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "dockerfile-heredoc.h"
#include "dockerfile-parser.h"
#include "dockerfile-stages.h"
#include "macro.h"
#include "strbuf.h"
#include "string-util.h"

#include "test-dockerfile-util.h"
#include "tests.h"

static char *mfree_str(char *s) {
        free(s);
        return NULL;
}

static const DockerfileInstruction *instr(const Dockerfile *df, size_t stage, size_t i) {
        CHECK(stage < df->n_stages);
        CHECK(i < df->stages[stage].n_instructions);
        return &df->stages[stage].instructions[i];
}

/* Pair k of in is key=value (value NULL: an ARG without default). */
static void check_pair(const DockerfileInstruction *in, size_t k, const char *key, const char *value) {
        CHECK(k < in->n_pairs);
        CHECK_STREQ(in->pairs[k].name, key);
        CHECK_STREQ(in->pairs[k].value, value);
}

static void test_comments_and_continuations(void) {
        Dockerfile *df;
        const DockerfileInstruction *in;

        df = parse_ok("# a comment\n"
                      "FROM busybox\n"
                      "  # indented comment\n"
                      "RUN echo a \\\n"
                      "  # comment inside the continuation is dropped\n"
                      "\n"
                      "    && echo b\n"
                      "run echo \\   \n"
                      "c\n"
                      "RUN echo '#not a comment'\n");
        CHECK(df->n_stages == 1);
        CHECK(df->stages[0].n_instructions == 3);
        CHECK_STREQ(df->stages[0].base, "busybox");
        in = instr(df, 0, 0);
        CHECK(in->kind == DOCKERFILE_RUN && !in->json_form);
        CHECK_STREQ(in->shell, "echo a     && echo b");
        CHECK(in->line == 4 && in->end_line == 7 && in->column == 1);
        /* An empty continuation line is accepted (with a warning, as Docker warns). */
        CHECK(df->n_warnings == 1 && df->warnings[0].line == 4);
        in = instr(df, 0, 1);
        CHECK_STREQ(in->shell, "echo c");
        CHECK(in->line == 8);
        CHECK_STREQ(instr(df, 0, 2)->shell, "echo '#not a comment'");
        dockerfile_free(df);

        /* The logical line is trimmed as a whole, wherever its blanks came from. */
        df = parse_ok("FROM busybox\nRUN echo hi   \t\nRUN \\\n   echo\n\\\n   CMD x  \n");
        CHECK(df->stages[0].n_instructions == 3);
        CHECK_STREQ(instr(df, 0, 0)->shell, "echo hi");
        CHECK_STREQ(instr(df, 0, 1)->shell, "echo");
        CHECK(instr(df, 0, 2)->kind == DOCKERFILE_CMD && instr(df, 0, 2)->line == 6 &&
              instr(df, 0, 2)->column == 4);
        CHECK_STREQ(instr(df, 0, 2)->shell, "x");
        dockerfile_free(df);

        /* CRLF line endings and a BOM. */
        df = parse_ok("\xEF\xBB\xBF"
                      "FROM busybox\r\nRUN a \\\r\n b\r\n");
        CHECK_STREQ(instr(df, 0, 0)->shell, "a  b");
        dockerfile_free(df);
}

static void test_directives(void) {
        Dockerfile *df;

        df = parse_ok("# syntax=docker/dockerfile:1\n"
                      "# ESCAPE = `\n"
                      "FROM mcr.microsoft.com/windows\n"
                      "COPY testfile.txt c:\\\n"
                      "RUN dir c:\\ `\n"
                      "    /b\n"
                      "ENV P=a`$b\n");
        CHECK(df->escape == '`');
        CHECK_STREQ(df->syntax, "docker/dockerfile:1");
        /* With the backtick escape, a trailing backslash is an ordinary character. */
        CHECK(instr(df, 0, 0)->n_argv == 2);
        CHECK_STREQ(instr(df, 0, 0)->argv[1], "c:\\");
        CHECK_STREQ(instr(df, 0, 1)->shell, "dir c:\\     /b");
        {
                _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
                DockerfileInstruction c = {};

                CHECK(dockerfile_scope_new(df, NULL, NULL, &s, NULL) == 0);
                CHECK(dockerfile_scope_enter_stage(s, &df->stages[0], NULL) == 0);
                CHECK(dockerfile_scope_apply(s, instr(df, 0, 2), &c, NULL) == 0);
                CHECK_STREQ(c.pairs[0].value, "a$b");
                dockerfile_instruction_done(&c);
        }
        dockerfile_free(df);

        /* Directives only count before anything else: after a blank line it is a comment. */
        df = parse_ok("\n# escape=`\nFROM busybox\nRUN a \\\nb\n");
        CHECK(df->escape == '\\');
        CHECK_STREQ(instr(df, 0, 0)->shell, "a b");
        dockerfile_free(df);
        df = parse_ok("# just a comment\n# escape=`\nFROM busybox\n");
        CHECK(df->escape == '\\');
        dockerfile_free(df);
        df = parse_ok("FROM busybox\n# escape=`\nRUN a \\\nb\n");
        CHECK(df->escape == '\\');
        dockerfile_free(df);
}

static void test_exec_and_shell_forms(void) {
        const DockerfileInstruction *in;
        _cleanup_dockerfile_free_ Dockerfile *df =
                parse_ok("FROM busybox\n"
                         "RUN [\"/bin/echo\", \"hello world\"]\n"
                         "RUN echo \"$HOME\"\n"
                         "CMD [\"sh\", \"-c\", \"echo $X\"]\n"
                         "CMD echo hi\n"
                         "ENTRYPOINT [\"/entry\"]\n"
                         "ENTRYPOINT exec top -b\n"
                         "CMD [ \"unterminated\"\n"
                         "CMD []\n"
                         "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"
                         "RUN --network=none [\"true\"]\n"
                         "RUN --network=default true\n");
        in = instr(df, 0, 0);
        CHECK(in->kind == DOCKERFILE_RUN && in->json_form && in->n_argv == 2);
        CHECK_STREQ(in->argv[1], "hello world");
        in = instr(df, 0, 1);
        CHECK(!in->json_form);
        CHECK_STREQ(in->shell, "echo \"$HOME\""); /* RUN is never expanded by the builder */
        in = instr(df, 0, 2);
        CHECK(in->kind == DOCKERFILE_CMD && in->json_form && in->n_argv == 3);
        CHECK_STREQ(in->argv[2], "echo $X");
        CHECK_STREQ(instr(df, 0, 3)->shell, "echo hi");
        CHECK(instr(df, 0, 4)->kind == DOCKERFILE_ENTRYPOINT && instr(df, 0, 4)->json_form);
        CHECK_STREQ(instr(df, 0, 5)->shell, "exec top -b");
        /* Not valid JSON: shell form, as Docker does, plus a warning at its line. */
        in = instr(df, 0, 6);
        CHECK(!in->json_form);
        CHECK_STREQ(in->shell, "[ \"unterminated\"");
        CHECK(df->n_warnings == 1 && df->warnings[0].line == 8 && df->warnings[0].column == 5);
        in = instr(df, 0, 7);
        CHECK(in->json_form && in->n_argv == 0);
        in = instr(df, 0, 8);
        CHECK(in->kind == DOCKERFILE_SHELL && in->n_argv == 4);
        CHECK_STREQ(in->argv[2], "pipefail");
        in = instr(df, 0, 9);
        CHECK(in->json_form && in->n_flags == 1);
        CHECK_STREQ(in->flags[0].name, "network");
        CHECK_STREQ(in->flags[0].value, "none");

        /* A shift in arithmetic is no heredoc. */
        dockerfile_free(parse_ok("FROM busybox\nRUN echo $((1<<2)) <<<x\n"));
}

static void test_env_label_arg_forms(void) {
        const DockerfileInstruction *in;
        _cleanup_dockerfile_free_ Dockerfile *df =
                parse_ok("FROM busybox\n"
                         "ENV A 1 2  3\n"
                         "ENV B=1 C=\"two words\" D=three\\ words E='x y'\n"
                         "env F=\n"
                         "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0 description=\"multi \\\n"
                         "line\"\n"
                         "LABEL legacy value here\n"
                         "ARG X\n"
                         "ARG Y=1 Z\n"
                         "MAINTAINER Jane <jane@example.com>\n");
        in = instr(df, 0, 0);
        CHECK(in->kind == DOCKERFILE_ENV && in->n_pairs == 1);
        check_pair(in, 0, "A", "1 2  3");
        in = instr(df, 0, 1);
        CHECK(in->n_pairs == 4);
        check_pair(in, 1, "C", "\"two words\""); /* raw; quotes go at expansion */
        check_pair(in, 2, "D", "three\\ words");
        check_pair(in, 3, "E", "'x y'");
        check_pair(instr(df, 0, 2), 0, "F", "");
        in = instr(df, 0, 3);
        CHECK(in->kind == DOCKERFILE_LABEL && in->n_pairs == 3);
        check_pair(in, 0, "\"com.example.vendor\"", "\"ACME Inc\"");
        check_pair(in, 2, "description", "\"multi line\"");
        in = instr(df, 0, 4);
        CHECK(in->n_pairs == 1);
        check_pair(in, 0, "legacy", "value here");
        in = instr(df, 0, 5);
        CHECK(in->kind == DOCKERFILE_ARG && in->n_pairs == 1);
        check_pair(in, 0, "X", NULL);
        in = instr(df, 0, 6);
        CHECK(in->n_pairs == 2);
        check_pair(in, 0, "Y", "1");
        check_pair(in, 1, "Z", NULL);
        in = instr(df, 0, 7);
        CHECK(in->kind == DOCKERFILE_MAINTAINER);
        CHECK_STREQ(in->shell, "Jane <jane@example.com>");
}

static void test_copy_add_volume_expose(void) {
        const DockerfileInstruction *in;
        const char *v;
        _cleanup_dockerfile_free_ Dockerfile *df =
                parse_ok("FROM busybox AS build\n"
                         "FROM busybox\n"
                         "COPY --from=build --chown=app:app --chmod=0755 /out/a /out/b /dst/\n"
                         "COPY [\"with space.txt\", \"/dst dir/\"]\n"
                         "COPY --link . /app\n"
                         "ADD --chown=1000 archive.tar.gz /opt/\n"
                         "VOLUME /data /cache\n"
                         "VOLUME [\"/var/log\"]\n"
                         "EXPOSE 80 443/tcp 53/udp 8000-8010/tcp\n"
                         "WORKDIR /app\n"
                         "USER app:staff\n"
                         "STOPSIGNAL SIGINT\n");
        CHECK(df->n_stages == 2);
        CHECK_STREQ(df->stages[0].name, "build");
        in = instr(df, 1, 0);
        CHECK(in->kind == DOCKERFILE_COPY && in->n_flags == 3 && in->n_argv == 3);
        CHECK(dockerfile_instruction_get_flag(in, "from", &v) == 0);
        CHECK_STREQ(v, "build");
        CHECK(dockerfile_instruction_get_flag(in, "chmod", &v) == 0);
        CHECK_STREQ(v, "0755");
        CHECK_STREQ(in->argv[2], "/dst/");
        in = instr(df, 1, 1);
        CHECK(in->json_form && in->n_argv == 2);
        CHECK_STREQ(in->argv[0], "with space.txt");
        in = instr(df, 1, 2);
        CHECK(dockerfile_instruction_get_flag(in, "link", &v) == 0 && !v);
        in = instr(df, 1, 3);
        CHECK(in->kind == DOCKERFILE_ADD && in->n_argv == 2);
        in = instr(df, 1, 4);
        CHECK(in->kind == DOCKERFILE_VOLUME && in->n_argv == 2 && !in->json_form);
        in = instr(df, 1, 5);
        CHECK(in->json_form && in->n_argv == 1);
        in = instr(df, 1, 6);
        CHECK(in->kind == DOCKERFILE_EXPOSE && in->n_argv == 4);
        CHECK_STREQ(in->argv[3], "8000-8010/tcp");
        CHECK_STREQ(instr(df, 1, 7)->shell, "/app");
        CHECK_STREQ(instr(df, 1, 8)->shell, "app:staff");
        CHECK_STREQ(instr(df, 1, 9)->shell, "SIGINT");
}

/* COPY --parents, repeatable --exclude, symbolic --chmod; repeated flags keep their order in the cache key. */
static void test_copy_flags(void) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        const DockerfileInstruction *in;
        const char *v;
        _cleanup_dockerfile_free_ Dockerfile *df =
                parse_ok("FROM busybox\n"
                         "COPY --parents --exclude=*.md --exclude=tmp/** --chmod=u=rwX,go=rX ./x/./y/ /p/\n"
                         "ADD --exclude=*.log --link=false logs.tar /l/\n"
                         "COPY --exclude=tmp/** --exclude=*.md --parents x /p/\n");

        in = instr(df, 0, 0);
        CHECK(in->n_flags == 4 && dockerfile_instruction_get_flag(in, "parents", &v) == 0 && !v);
        CHECK_STREQ(in->flags[1].name, "exclude");
        CHECK_STREQ(in->flags[1].value, "*.md");
        CHECK_STREQ(in->flags[2].value, "tmp/**");
        CHECK(dockerfile_instruction_get_flag(in, "chmod", &v) == 0);
        CHECK_STREQ(v, "u=rwX,go=rX");
        in = instr(df, 0, 1);
        CHECK(in->kind == DOCKERFILE_ADD && dockerfile_instruction_get_flag(in, "exclude", &v) == 0);
        CHECK_STREQ(v, "*.log");
        CHECK(dockerfile_instruction_serialize(instr(df, 0, 0), &a) == 0);
        CHECK(strstr(a, "\"exclude\":[\"*.md\",\"tmp/**\"]"));
        CHECK(dockerfile_instruction_serialize(instr(df, 0, 2), &b) == 0);
        CHECK(strstr(b, "\"exclude\":[\"tmp/**\",\"*.md\"]")); /* order kept: '!' patterns depend on it */
}

static void test_healthcheck_onbuild(void) {
        const DockerfileInstruction *in;
        _cleanup_dockerfile_free_ Dockerfile *df =
                parse_ok("FROM busybox\n"
                         "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --retries=3 \\\n"
                         "  CMD curl -f http://localhost/ || exit 1\n"
                         "HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n"
                         "HEALTHCHECK NONE\n"
                         "ONBUILD RUN make /app\n"
                         "onbuild copy --chown=a . /src\n");
        in = instr(df, 0, 0);
        CHECK(in->kind == DOCKERFILE_HEALTHCHECK && !in->healthcheck.none);
        CHECK(in->healthcheck.interval_ns == 300000000000ULL);
        CHECK(in->healthcheck.timeout_ns == 3000000000ULL);
        CHECK(in->healthcheck.start_period_ns == 90000000000ULL);
        CHECK(in->healthcheck.retries == 3);
        CHECK(!in->json_form);
        CHECK_STREQ(in->shell, "curl -f http://localhost/ || exit 1");
        in = instr(df, 0, 1);
        CHECK(in->json_form && in->n_argv == 2 && in->healthcheck.retries == -1);
        CHECK(instr(df, 0, 2)->healthcheck.none);
        in = instr(df, 0, 3);
        CHECK(in->kind == DOCKERFILE_ONBUILD && in->onbuild && in->onbuild->kind == DOCKERFILE_RUN);
        CHECK_STREQ(in->trigger, "RUN make /app");
        CHECK_STREQ(in->onbuild->shell, "make /app");
        in = instr(df, 0, 4);
        CHECK(in->onbuild->kind == DOCKERFILE_COPY && in->onbuild->n_flags == 1);


        {
                DockerfileInstruction *t = NULL;
                DockerfileError err = {};

                CHECK(dockerfile_parse_trigger("COPY . /app", '\\', "base image", &t, &err) == 0);
                CHECK(t->kind == DOCKERFILE_COPY && t->n_argv == 2);
                dockerfile_instruction_free(t);
                CHECK(dockerfile_parse_trigger("MAINTAINER x", '\\', "base image", &t, &err) == -EBADMSG);
                CHECK(strstr(err.message, "MAINTAINER isn't allowed"));
        }
}

static void test_size_limit_and_from(void) {
        Dockerfile *df;


        {
                static char big[DOCKERFILE_SIZE_MAX + 2];
                DockerfileError err = {};

                memset(big, '#', sizeof big - 1);
                CHECK(dockerfile_parse(big, sizeof big - 1, "Dockerfile", &df, &err) == -EFBIG);
                CHECK(strstr(err.message, "more than the limit"));
        }

        df = parse_ok("FROM --platform=$BUILDPLATFORM golang:1.21 As Builder\nfrom scratch\n");
        CHECK(df->n_stages == 2);
        CHECK_STREQ(df->stages[0].name, "builder");
        CHECK_STREQ(df->stages[0].platform, "$BUILDPLATFORM");
        CHECK_STREQ(df->stages[0].base, "golang:1.21");
        CHECK(df->stages[1].index == 1 && !df->stages[1].name);
        dockerfile_free(df);
}

/* ---- expansion ---- */

static void test_stages(void) {
        _cleanup_(dockerfile_build_plan_freep) DockerfileBuildPlan *plan = NULL;
        DockerfileError err = {};
        char *args[] = { "BASE=alpine", NULL };
        Dockerfile *df;
        size_t idx;
        ssize_t ref;

        df = parse_ok("ARG BASE=busybox\n"
                      "FROM $BASE AS deps\n" /* 0 */
                      "RUN true\n"
                      "FROM busybox AS unused\n" /* 1 */
                      "FROM deps AS build\n"     /* 2: FROM an earlier stage */
                      "FROM busybox AS assets\n" /* 3 */
                      "FROM scratch AS final\n"  /* 4 */
                      "ARG FROMSTAGE=build\n"
                      "COPY --from=$FROMSTAGE /out /out\n"
                      "COPY --from=3 /a /a\n"
                      "COPY --from=docker.io/library/nginx:1 /etc/nginx /etc/nginx\n");
        CHECK(dockerfile_find_stage(df, "BUILD", &idx) == 0 && idx == 2);
        CHECK(dockerfile_find_stage(df, "4", &idx) == 0 && idx == 4);
        CHECK(dockerfile_find_stage(df, "5", &idx) == -ENOENT);
        CHECK(dockerfile_find_stage(df, "nope", &idx) == -ENOENT);

        CHECK(dockerfile_plan(df, NULL, args, NULL, &plan, &err) == 0);
        CHECK(plan->n_stages == 4);
        CHECK(plan->stages[0].index == 0 && plan->stages[0].base_stage == -1);
        CHECK_STREQ(plan->stages[0].base_image, "alpine");
        CHECK(plan->stages[1].index == 2 && plan->stages[1].base_stage == 0 && !plan->stages[1].base_image);
        CHECK(plan->stages[2].index == 3);
        CHECK(plan->stages[3].index == 4);
        CHECK_STREQ(plan->stages[3].base_image, "scratch");
        plan = dockerfile_build_plan_free(plan);

        CHECK(dockerfile_plan(df, "build", NULL, NULL, &plan, &err) == 0);
        CHECK(plan->n_stages == 2 && plan->stages[0].index == 0 && plan->stages[1].index == 2);
        CHECK_STREQ(plan->stages[0].base_image, "busybox");
        plan = dockerfile_build_plan_free(plan);

        CHECK(dockerfile_plan(df, "missing", NULL, NULL, &plan, &err) == -ENOENT);
        CHECK(strstr(err.message, "target stage 'missing' not found; the stages are: deps, unused, build"));

        CHECK(dockerfile_stage_reference(df, 4, "nginx", 1, 1, &ref, &err) == 0 && ref == -1);
        CHECK(dockerfile_stage_reference(df, 2, "assets", 9, 1, &ref, &err) == -EBADMSG);
        CHECK(strstr(err.message, "stage 'assets' is used before it is defined (at line 6)"));
        CHECK(err.line == 9);
        CHECK(dockerfile_stage_reference(df, 2, "2", 9, 1, &ref, &err) == -EBADMSG);

        {
                _cleanup_strv_free_ char **unused = NULL;
                char *given[] = { "BASE=x", "FROMSTAGE=y", "NOPE=1", "NOPE=2", "ALSO", NULL };

                CHECK(dockerfile_unused_build_args(df, given, &unused) == 0);
                CHECK(strv_length(unused) == 2);
                CHECK_STREQ(unused[0], "NOPE");
                CHECK_STREQ(unused[1], "ALSO");
        }
        dockerfile_free(df);

        /* A stage used before it is defined, through COPY --from. */
        df = parse_ok("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n");
        CHECK(dockerfile_plan(df, "a", NULL, NULL, &plan, &err) == -EBADMSG);
        CHECK(err.line == 2 && strstr(err.message, "stage 'b' is used before it is defined"));
        dockerfile_free(df);

        /* FROM naming a later stage. */
        df = parse_ok("FROM later AS first\nFROM busybox AS later\n");
        CHECK(dockerfile_plan(df, "first", NULL, NULL, &plan, &err) == -EBADMSG);
        CHECK(err.line == 1 && strstr(err.message, "used before it is defined"));
        dockerfile_free(df);
}

static void test_serialize(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        Dockerfile *d1, *d2;

        /* Spelling (case, spacing, continuations, flag order) does not change the key; meaning does. */
        d1 = parse_ok("FROM x\nCOPY --chown=a --from=b  src   dst\n");
        d2 = parse_ok("FROM x\ncopy --from=b \\\n  --chown=a src dst\n");
        CHECK(dockerfile_instruction_serialize(instr(d1, 0, 0), &a) == 0);
        CHECK(dockerfile_instruction_serialize(instr(d2, 0, 0), &b) == 0);
        CHECK_STREQ(a, b);
        CHECK_STREQ(
                a,
                "{\"args\":[\"src\",\"dst\"],\"flags\":{\"chown\":\"a\",\"from\":\"b\"},\"kind\":\"COPY\"}");
        dockerfile_free(d2);
        d2 = parse_ok("FROM x\nCOPY [\"src\", \"dst\"]\n");
        CHECK(dockerfile_instruction_serialize(instr(d2, 0, 0), &c) == 0);
        CHECK(!streq(a, c));
        dockerfile_free(d1);
        dockerfile_free(d2);
}

static void test_instruction_names(void) {
        CHECK(dockerfile_instruction_from_string("healthcheck") == DOCKERFILE_HEALTHCHECK);
        CHECK(dockerfile_instruction_from_string("Run") == DOCKERFILE_RUN);
        CHECK(dockerfile_instruction_from_string("RUNN") == _DOCKERFILE_INSTRUCTION_INVALID);
        for (int k = 0; k < _DOCKERFILE_INSTRUCTION_MAX; k++)
                CHECK(dockerfile_instruction_from_string(dockerfile_instruction_to_string(k)) == k);
        CHECK(!dockerfile_instruction_to_string(_DOCKERFILE_INSTRUCTION_MAX));
        CHECK(dockerfile_source_is_remote("HTTPS://x"));
        CHECK(!dockerfile_source_is_remote("./https/x"));
}

static const DockerfileHeredoc *heredoc(const DockerfileInstruction *in, size_t k) {
        CHECK(k < in->n_heredocs);
        return &in->heredocs[k];
}

static char *run_command(const DockerfileInstruction *in, char **ret_script) {
        char *command = NULL;

        CHECK(dockerfile_run_command(in, &command, ret_script) == 0);
        return command;
}

/* BuildKit's heredocs (Dockerfile reference, "Here-Documents"): the opener words, bodies, line numbers. */
static void test_heredoc_parsing(void) {
        const DockerfileInstruction *in;
        _cleanup_free_ char *name = NULL;
        bool expand = false, chomp = false;
        Dockerfile *df;

        /* Which words open one. */
        CHECK(dockerfile_heredoc_parse_word("<<EOF", &name, &expand, &chomp) == 1);
        CHECK(streq(name, "EOF") && expand && !chomp);
        name = mfree_str(name);
        CHECK(dockerfile_heredoc_parse_word("<<-'E O'", &name, &expand, &chomp) == 1);
        CHECK(streq(name, "E O") && !expand && chomp);
        name = mfree_str(name);
        CHECK(dockerfile_heredoc_parse_word("2<<E\"O\"F", &name, &expand, NULL) == 1);
        CHECK(streq(name, "EOF") && !expand); /* any quote turns expansion off */
        name = mfree_str(name);
        CHECK(dockerfile_heredoc_parse_word("<< EOF", &name, NULL, NULL) ==
              1); /* BuildKit's lexer joins them */
        CHECK(streq(name, "EOF"));
        CHECK(dockerfile_heredoc_parse_word("<<<EOF", NULL, NULL, NULL) == 0); /* a here-string */
        CHECK(dockerfile_heredoc_parse_word("<<", NULL, NULL, NULL) == 0);
        CHECK(dockerfile_heredoc_parse_word("<<-", NULL, NULL, NULL) == 0);
        CHECK(dockerfile_heredoc_parse_word("a<<EOF", NULL, NULL, NULL) == 0);
        CHECK(dockerfile_heredoc_parse_word("\"<<EOF\"", NULL, NULL, NULL) == 0);
        CHECK(dockerfile_heredoc_parse_word("<<'EOF", NULL, NULL, NULL) == 0);

        /* RUN <<EOF: the body is the lines up to EOF, which are no instructions; line numbers run on. */
        df = parse_ok("FROM busybox\n"
                      "RUN <<EOF\n"
                      "echo one\n"
                      "# not a comment\n"
                      "RUN not an instruction\n"
                      "EOF\n"
                      "RUN after\n");
        CHECK(df->stages[0].n_instructions == 2);
        in = instr(df, 0, 0);
        CHECK(in->line == 2 && in->end_line == 6 && in->n_heredocs == 1);
        CHECK_STREQ(in->shell, "<<EOF");
        CHECK_STREQ(heredoc(in, 0)->name, "EOF");
        CHECK_STREQ(heredoc(in, 0)->content, "echo one\n# not a comment\nRUN not an instruction\n");
        CHECK(heredoc(in, 0)->line == 2 && heredoc(in, 0)->column == 5 && heredoc(in, 0)->body_line == 3);
        CHECK(instr(df, 0, 1)->line == 7);
        CHECK_STREQ(instr(df, 0, 1)->shell, "after");
        dockerfile_free(df);

        /* <<-: tabs before the closing line are allowed and leave the body as written (the shell or COPY
         * strips them); "EOF " with a blank is not the closing line; CRLF line ends are. */
        df = parse_ok("FROM busybox\n"
                      "RUN <<-EOT\n"
                      "\techo\ttab\n"
                      "EOT \n"
                      "\t\tEOT\n"
                      "RUN <<EOF\r\n"
                      "crlf\r\n"
                      "EOF\r\n"
                      "CMD x\n");
        in = instr(df, 0, 0);
        CHECK(heredoc(in, 0)->chomp);
        CHECK_STREQ(heredoc(in, 0)->content, "\techo\ttab\nEOT \n");
        CHECK(in->end_line == 5);
        CHECK_STREQ(heredoc(instr(df, 0, 1), 0)->content, "crlf\r\n");
        CHECK(instr(df, 0, 2)->kind == DOCKERFILE_CMD && instr(df, 0, 2)->line == 9);
        dockerfile_free(df);

        /* Not heredocs: inside quotes, a here-string, after other text, the exec form, other instructions. */
        df = parse_ok("FROM busybox\n"
                      "RUN echo \"<<EOF\" '<<EOF' \\<<EOF x<<EOF <<<EOF\n"
                      "RUN [\"cat\", \"<<EOF\"]\n"
                      "ENV A=<<EOF\n"
                      "LABEL EOF=1\n");
        CHECK(df->stages[0].n_instructions == 4);
        for (size_t k = 0; k < 4; k++)
                CHECK(instr(df, 0, k)->n_heredocs == 0);
        dockerfile_free(df);

        /* Several heredocs take their bodies in order; a continuation before them is fine; quoted ones
         * don't expand. */
        df = parse_ok("FROM busybox\n"
                      "RUN cat <<a >/a \\\n"
                      "  && cat <<'b' >/b\n"
                      "A $x\n"
                      "a\n"
                      "B $x\n"
                      "b\n"
                      "USER 1\n");
        in = instr(df, 0, 0);
        CHECK(in->n_heredocs == 2 && in->end_line == 7);
        CHECK(streq(heredoc(in, 0)->name, "a") && heredoc(in, 0)->expand);
        CHECK(streq(heredoc(in, 1)->name, "b") && !heredoc(in, 1)->expand);
        CHECK(heredoc(in, 1)->line == 3 && heredoc(in, 1)->column == 10);
        CHECK_STREQ(heredoc(in, 1)->content, "B $x\n");
        CHECK(instr(df, 0, 1)->line == 8);
        dockerfile_free(df);

        /* The closing line may be the last one without a line end. */
        df = parse_ok("FROM busybox\nRUN <<EOF\nx\nEOF");
        CHECK_STREQ(heredoc(instr(df, 0, 0), 0)->content, "x\n");
        dockerfile_free(df);
}

/* What RUN hands to the shell (BuildKit's dockerfile2llb dispatchRun). */
static void test_heredoc_run_command(void) {
        char *cmd, *script = NULL;
        Dockerfile *df;

        df = parse_ok("FROM busybox\n"
                      "RUN <<EOF\n"
                      "echo a\n"
                      "EOF\n"
                      "RUN <<-EOF\n"
                      "\t\techo b\n"
                      "\tEOF\n"
                      "RUN <<EOT\n"
                      "#!/usr/bin/env python3\n"
                      "print(1)\n"
                      "EOT\n"
                      "RUN <<EOT python3\n"
                      "print(2)\n"
                      "EOT\n"
                      "RUN cat <<a <<-\"b\" > /x\n"
                      "A\n"
                      "a\n"
                      "\tB\n"
                      "\tb\n"
                      "RUN echo plain\n");
        /* One heredoc alone: its body is the script, tabs stripped for <<-. */
        cmd = run_command(instr(df, 0, 0), &script);
        CHECK_STREQ(cmd, "echo a\n");
        CHECK(!script);
        free(cmd);
        cmd = run_command(instr(df, 0, 1), &script);
        CHECK_STREQ(cmd, "echo b\n");
        free(cmd);
        /* With #! it becomes a file that is executed. */
        cmd = run_command(instr(df, 0, 2), &script);
        CHECK_STREQ(cmd, "/dev/pipes/EOT");
        CHECK_STREQ(script, "#!/usr/bin/env python3\nprint(1)\n");
        free(cmd);
        free(script);
        /* Anything else: the command, then each body and its closing line, for the shell to read. */
        cmd = run_command(instr(df, 0, 3), &script);
        CHECK_STREQ(cmd, "<<EOT python3\nprint(2)\nEOT");
        CHECK(!script);
        free(cmd);
        cmd = run_command(instr(df, 0, 4), &script);
        CHECK_STREQ(cmd, "cat <<a <<-\"b\" > /x\nA\na\n\tB\nb");
        free(cmd);
        cmd = run_command(instr(df, 0, 5), &script);
        CHECK_STREQ(cmd, "echo plain");
        free(cmd);
        dockerfile_free(df);
}

/* COPY/ADD <<EOF: the heredoc sources leave argv for in->heredocs, context sources stay. */
static void test_heredoc_copy(void) {
        _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
        const DockerfileInstruction *in;
        Dockerfile *df;

        df = parse_ok("FROM busybox\n"
                      "ARG WHO=world\n"
                      "COPY <<EOF /hello\n"
                      "hello $WHO \"q\" 'q' a\\b \\$WHO\n"
                      "EOF\n"
                      "COPY --chmod=0755 ctx.txt <<a <<\"b\" /dir/\n"
                      "A $WHO\n"
                      "a\n"
                      "B $WHO\n"
                      "b\n"
                      "ADD <<-EOT /t\n"
                      "\t\tindented $WHO\n"
                      "\tEOT\n");
        in = instr(df, 0, 1);
        CHECK(in->n_argv == 1 && in->n_heredocs == 1);
        CHECK_STREQ(in->argv[0], "/hello");
        CHECK(heredoc(in, 0)->line == 3 && heredoc(in, 0)->column == 6);
        in = instr(df, 0, 2);
        CHECK(in->n_argv == 2 && in->n_heredocs == 2);
        CHECK_STREQ(in->argv[0], "ctx.txt");
        CHECK_STREQ(in->argv[1], "/dir/");
        CHECK(streq(heredoc(in, 0)->name, "a") && streq(heredoc(in, 1)->name, "b"));
        in = instr(df, 0, 3);
        CHECK(in->kind == DOCKERFILE_ADD && in->line == 11);
        CHECK_STREQ(heredoc(in, 0)->content, "indented $WHO\n"); /* tabs stripped before expansion */

        /* Expansion: ARG/ENV in unquoted bodies, quotes are text, '\\' escapes. */
        CHECK(dockerfile_scope_new(df, NULL, NULL, &s, NULL) == 0);
        CHECK(dockerfile_scope_enter_stage(s, &df->stages[0], NULL) == 0);
        for (size_t k = 0; k < 4; k++) {
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};
                DockerfileError err = {};

                CHECK(dockerfile_scope_apply(s, instr(df, 0, k), &c, &err) == 0);
                if (k == 1)
                        CHECK_STREQ(c.heredocs[0].content, "hello world \"q\" 'q' ab $WHO\n");
                if (k == 2) {
                        CHECK_STREQ(c.heredocs[0].content, "A world\n");
                        CHECK_STREQ(c.heredocs[1].content, "B $WHO\n");
                        CHECK_STREQ(c.argv[0], "ctx.txt");
                }
                if (k == 3)
                        CHECK_STREQ(c.heredocs[0].content, "indented world\n");
        }
        dockerfile_free(df);
}

/* The cache key holds the bodies; ONBUILD keeps them in its trigger and parses them back. */
static void test_heredoc_key_and_onbuild(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *trig = NULL;
        DockerfileError err = {};
        Dockerfile *d1, *d2;

        d1 = parse_ok("FROM x\nRUN <<EOF\necho 1\nEOF\nCOPY <<EOF /f\n1\nEOF\n");
        d2 = parse_ok("FROM x\nRUN <<EOF\necho 2\nEOF\nCOPY <<EOF /f\n1\nEOF\n");
        CHECK(dockerfile_instruction_serialize(instr(d1, 0, 0), &a) == 0);
        CHECK(dockerfile_instruction_serialize(instr(d2, 0, 0), &b) == 0);
        CHECK(!streq(a, b));
        CHECK(strstr(a, "echo 1"));
        free(a);
        free(b);
        CHECK(dockerfile_instruction_serialize(instr(d1, 0, 1), &a) == 0);
        CHECK(dockerfile_instruction_serialize(instr(d2, 0, 1), &b) == 0);
        CHECK_STREQ(a, b);
        dockerfile_free(d1);
        dockerfile_free(d2);

        d1 = parse_ok("FROM x\nONBUILD RUN cat <<EOF > /f\nline\nEOF\nUSER 2\n");
        CHECK(instr(d1, 0, 0)->end_line == 4 && instr(d1, 0, 1)->line == 5);
        CHECK_STREQ(instr(d1, 0, 0)->trigger, "RUN cat <<EOF > /f\nline\nEOF");
        CHECK(instr(d1, 0, 0)->onbuild->n_heredocs == 1);
        CHECK(dockerfile_parse_trigger(instr(d1, 0, 0)->trigger, '\\', "Dockerfile", &trig, &err) == 0);
        CHECK(trig->kind == DOCKERFILE_RUN && trig->n_heredocs == 1);
        CHECK_STREQ(trig->heredocs[0].content, "line\n");
        free(a);
        a = NULL;
        CHECK(dockerfile_run_command(trig, &c, &a) == 0);
        CHECK_STREQ(c, "cat <<EOF > /f\nline\nEOF");
        dockerfile_free(d1);
}

/* Inputs the parser refuses: the formatted error starts with "Dockerfile:line:column: " and contains needle.
 * Line 0 is an error about the whole file ("Dockerfile: "); column 0 leaves the column open. */
static const struct {
        const char *text;
        unsigned line;
        unsigned column;
        const char *needle;
} bad_inputs[] = {
        /* A continuation ending the file is an error pointing at the continued line. */
        { "FROM busybox\nRUN echo \\\n", 2, 1, "ends right after a line continuation" },
        { "FROM busybox\nRUN echo \\\n# a comment\n", 3, 1, "ends right after a line continuation" },
        /* Parser directives. */
        { "# escape=x\nFROM busybox\n", 1, 1, "invalid escape character 'x'" },
        { "# escape=`\n# escape=\\\nFROM busybox\n", 2, 1, "only one escape parser directive" },
        /* Exec and shell forms, RUN's flags, heredocs. */
        { "FROM busybox\nCMD [\"a\", 1]\n", 2, 5, "arrays must be comprised of strings only" },
        { "FROM busybox\nSHELL /bin/bash -c\n", 2, 7, "SHELL requires the arguments in JSON form" },
        { "FROM busybox\nSHELL []\n", 2, 7, "SHELL requires at least one argument" },
        { "FROM busybox\nRUN --mount=type=cache,tar=/x make\n", 2, 5,
          "unknown option 'tar' for type=cache" },
        { "FROM busybox\nRUN --network=host make\n", 2, 0, "RUN --network=host is not supported" },
        { "FROM busybox\nRUN --bogus make\n", 2, 5, "unknown flag '--bogus'; expected --network" },
        { "FROM busybox\nRUN\n", 2, 0, "RUN requires at least one argument" },
        /* Heredocs: the error points at the << that is never closed, or into the body. */
        { "FROM busybox\nRUN cat <<EOF\nhello\nEOF \n", 2, 9,
          "The heredoc <<EOF opened here is never closed: end it with a line EOF." },
        { "FROM busybox\nCOPY <<-\"EOT\" /x\n", 2, 6, "<<-\"EOT\" opened here is never closed" },
        { "FROM busybox\nRUN cat <<a \\\n  <<b\nA\na\nB\n", 3, 3, "heredoc <<b opened here" },
        { "FROM busybox\nCOPY x <<EOF\nbody\nEOF\n", 2, 8, "a heredoc can't be the destination" },
        { "FROM busybox\nCOPY <<a/b /x/\n1\na/b\n", 2, 6, "the heredoc name 'a/b' can't be a file name" },
        { "FROM busybox\nADD <<EOF /x\nok\nbad ${}\nEOF\n", 4, 5, "ADD: heredoc EOF: bad substitution" },
        /* ENV, LABEL, ARG and the syntax of what is expanded later. */
        { "FROM busybox\nENV A=1 B\n", 2, 9, "can't find '=' in 'B'" },
        { "FROM busybox\nENV A\n", 2, 5, "missing value" },
        { "FROM busybox\nENV\n", 2, 0, "ENV requires at least one argument" },
        { "FROM busybox\nENV A=\"open\n", 2, 7, "unterminated double quote" },
        { "FROM busybox\nLABEL a='open b=c\n", 2, 9, "unterminated single quote" },
        { "FROM busybox\nENV =x\n", 2, 5, "name before '=' must not be empty" },
        { "FROM busybox\nARG\n", 2, 0, "ARG requires at least one argument" },
        { "FROM busybox\nENV A=${B\n", 2, 7, "missing '}'" },
        { "FROM busybox\nWORKDIR /a/${}\n", 2, 12, "bad substitution" },
        { "FROM busybox\nUSER ${U:x}\n", 2, 6, "unsupported modifier ':x'" },
        /* Continuation: the column is found on the physical line the problem is on. */
        { "FROM busybox\nENV A=1 \\\n    B=\"x\n", 3, 7, "unterminated double quote" },
        /* COPY, ADD, VOLUME, EXPOSE, WORKDIR and flags. */
        { "FROM busybox\nADD [\"git@github.com:a/b.git\", \"/src\"]\n", 2, 0, "ADD from a URL" },
        { "FROM busybox\nADD --checksum=sha256:abc x /x\n", 2, 5, "ADD from a URL" },
        { "FROM busybox\nCOPY [\"${A\", \"/d\"]\n", 2, 6, "COPY: bad substitution" },
        { "FROM busybox\nCOPY onlyone\n", 2, 6, "COPY requires at least two arguments" },
        { "FROM busybox\nCOPY --chmod=u+y a b\n", 2, 6, "COPY: invalid --chmod=u+y (a permission must be" },
        { "FROM busybox\nADD --link --chmod=75x a b\n", 2, 12, "expected an octal mode such as 0755 or a" },
        { "FROM busybox\nCOPY --from a b\n", 2, 6, "flag '--from' requires a value" },
        { "FROM busybox\nCOPY --from=a --from=b x y\n", 2, 15, "given twice" },
        { "FROM busybox\nADD --parents a b\n", 2, 5, "ADD has no --parents flag; use COPY --parents" },
        { "FROM busybox\nCOPY --parents=maybe a b\n", 2, 6, "expects true or false" },
        { "FROM busybox\nCOPY --exclude a b\n", 2, 6, "flag '--exclude' requires a value" },
        { "FROM busybox\nEXPOSE 80/http\n", 2, 8, "invalid port '80/http'" },
        { "FROM busybox\nEXPOSE 0\n", 2, 8, "invalid port '0'" },
        { "FROM busybox\nVOLUME [\"\"]\n", 2, 0, "can not be an empty string" },
        { "FROM busybox\nWORKDIR\n", 2, 0, "WORKDIR requires exactly one argument" },
        { "FROM busybox\nENV --x=1 a=b\n", 2, 5, "ENV takes no flags" },
        /* HEALTHCHECK and ONBUILD. */
        { "FROM busybox\nHEALTHCHECK --interval=5x CMD true\n", 2, 0, "invalid --interval=5x" },
        { "FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n", 2, 0, "can not be negative" },
        { "FROM busybox\nHEALTHCHECK --timeout=1us CMD true\n", 2, 0, "minimum of 1ms" },
        { "FROM busybox\nHEALTHCHECK --interval=1s NONE\n", 2, 0, "HEALTHCHECK NONE takes no" },
        { "FROM busybox\nHEALTHCHECK RUN true\n", 2, 13, "unknown type 'RUN'" },
        { "FROM busybox\nHEALTHCHECK CMD\n", 2, 0, "missing command" },
        { "FROM busybox\nONBUILD ONBUILD RUN x\n", 2, 9, "ONBUILD isn't allowed as an ONBUILD trigger" },
        { "FROM busybox\nONBUILD FROM x\n", 2, 9, "FROM isn't allowed" },
        { "FROM busybox\nONBUILD RUNN x\n", 2, 9, "unknown instruction 'RUNN'" },
        /* Structure: unknown instructions, FROM and stage names, UTF-8. */
        { "FROM busybox\n  frobnicate x\n", 2, 3, "unknown instruction 'frobnicate'; expected" },
        { "", 0, 0, "no FROM instruction" },
        { "# only comments\nARG A=1\n", 0, 0, "no FROM instruction" },
        { "ARG A\nRUN true\nFROM busybox\n", 2, 1, "RUN before the first FROM; only ARG" },
        { "FROM\n", 1, 0, "FROM requires either one argument" },
        { "FROM a b\n", 1, 8, "FROM requires either one argument" },
        { "FROM a AS 1x\n", 1, 11, "invalid stage name '1x'" },
        { "FROM a AS x\nFROM b AS X\n", 2, 1, "duplicate stage name 'x'" },
        { "FROM --platform linux/amd64 a\n", 1, 6, "requires a value" },
        { "FROM a\nRUN \xff\n", 2, 5, "not valid UTF-8" },
};

/* Parses text, which must fail, and returns the error. */
static DockerfileError parse_error(const char *text) {
        DockerfileError err = {};
        Dockerfile *df = NULL;

        if (dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err) >= 0)
                TEST_FAIL("parse unexpectedly succeeded:\n%s", text);
        return err;
}

static void test_bad_inputs(void) {
        DockerfileError err;

        for (size_t k = 0; k < ELEMENTSOF(bad_inputs); k++) {
                unsigned line = bad_inputs[k].line, column = bad_inputs[k].column;
                char buf[1024], prefix[64];

                if (line == 0)
                        snprintf(prefix, sizeof prefix, "Dockerfile: ");
                else if (column == 0)
                        snprintf(prefix, sizeof prefix, "Dockerfile:%u:", line);
                else
                        snprintf(prefix, sizeof prefix, "Dockerfile:%u:%u: ", line, column);
                err = parse_error(bad_inputs[k].text);
                dockerfile_error_format(&err, buf, sizeof buf);
                if (!startswith(buf, prefix) || !strstr(buf, bad_inputs[k].needle))
                        TEST_FAIL("got error '%s', expected prefix '%s' and '%s'\n--- input:\n%s", buf,
                                  prefix, bad_inputs[k].needle, bad_inputs[k].text);
        }

        /* Two messages in full, as a person reads them. */
        err = parse_error("FROM busybox\nADD https://example.com/x.tar.gz /x\n");
        CHECK(err.line == 2 && err.column == 5);
        CHECK_STREQ(err.message,
                    "ADD from a URL is not supported: Slipway builds without network access; download "
                    "the file into the build context and ADD it from there.");
        err = parse_error("FROM busybox\nRUN true\n\n\n\n\nRUNN make\n");
        CHECK(err.line == 7 && err.column == 1);
        CHECK(startswith(err.message,
                         "unknown instruction 'RUNN' (did you mean RUN?); expected one of ADD, ARG, CMD, "
                         "COPY, "));
}

int main(void) {
        test_instruction_names();
        test_comments_and_continuations();
        test_directives();
        test_exec_and_shell_forms();
        test_env_label_arg_forms();
        test_copy_add_volume_expose();
        test_copy_flags();
        test_healthcheck_onbuild();
        test_size_limit_and_from();
        test_bad_inputs();
        test_stages();
        test_serialize();
        test_heredoc_parsing();
        test_heredoc_run_command();
        test_heredoc_copy();
        test_heredoc_key_and_onbuild();
        printf("test-dockerfile-parser: OK\n");
        return 0;
}
