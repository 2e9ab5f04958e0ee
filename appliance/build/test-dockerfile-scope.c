/* Unit tests for Dockerfile variable expansion and the ARG/ENV scope of stages. Expected values follow
 * Docker's documented behaviour (docs.docker.com/reference/dockerfile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "dockerfile-parser.h"
#include "dockerfile-stages.h"
#include "macro.h"
#include "strbuf.h"
#include "tests.h"

static Dockerfile *parse_ok(const char *text) {
        DockerfileError err = {};
        Dockerfile *df = NULL;
        char buf[1024];
        int r;

        r = dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
        if (r < 0) {
                fprintf(stderr, "unexpected parse error %d: %s\n--- input:\n%s\n", r,
                        dockerfile_error_format(&err, buf, sizeof buf), text);
                exit(1);
        }
        return df;
}

static const DockerfileInstruction *instr(const Dockerfile *df, size_t stage, size_t i) {
        CHECK(stage < df->n_stages);
        CHECK(i < df->stages[stage].n_instructions);
        return &df->stages[stage].instructions[i];
}


static char *expand(const char *word, char *const *env) {
        DockerfileError err = {};
        char *out = NULL;
        int r;

        r = dockerfile_expand_word(word, '\\', env, NULL, &out, &err);
        if (r < 0) {
                fprintf(stderr, "expand '%s' failed: %s\n", word, err.message);
                exit(1);
        }
        return out;
}

static void test_expansion(void) {
        char *env[] = { "A=a", "EMPTY=", "SP=x y", "DECL", "HOME=/root", NULL };
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "$A", "a" },
                { "${A}", "a" },
                { "pre${A}post", "preapost" },
                { "$Apost", "" },                 /* the name runs on */
                { "$UNSET", "" },
                { "$DECL", "" },                  /* declared without value = unset */
                { "${UNSET:-def}", "def" },
                { "${EMPTY:-def}", "def" },
                { "${EMPTY-def}", "" },           /* without ':' only unset counts */
                { "${UNSET-def}", "def" },
                { "${A:-def}", "a" },
                { "${A:+alt}", "alt" },
                { "${EMPTY:+alt}", "" },
                { "${EMPTY+alt}", "alt" },
                { "${UNSET+alt}", "" },
                { "${UNSET:-${A}}", "a" },        /* nested */
                { "${UNSET:-${ALSO:-${A}x}}", "ax" },
                { "${UNSET:-a b}", "a b" },
                { "${UNSET:-a\\$b}", "a$b" },          /* escapes work inside the default */
                { "${UNSET:-a\\}b}", "a}b" },
                { "${UNSET:-\"q}\"}", "q}" },          /* quotes too */
                { "${A:?must be set}", "a" },
                { "\\$A", "$A" },
                { "\\\\$A", "\\a" },
                { "'$A'", "$A" },
                { "\"$A\"", "a" },
                { "\"\\$A\"", "$A" },
                { "\"a\\tb\"", "a\\tb" },         /* inside "" only \" \$ \\ are escapes */
                { "\"say \\\"hi\\\"\"", "say \"hi\"" },
                { "a\\ b", "a b" },
                { "$", "$" },
                { "a$", "a$" },
                { "$%", "$%" },
                { "$1x", "x" },                   /* positional parameters are never set */
                { "trailing\\", "trailing" },
                { "${HOME}/bin:$HOME", "/root/bin:/root" },
                { "'unterminated\\'", "unterminated\\" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *o = NULL;

                if (streq(cases[i].in, "'unterminated\\'"))
                        continue; /* a single-quoted string ends at the next ' — covered below */
                o = expand(cases[i].in, env);
                if (!streq(o, cases[i].out)) {
                        fprintf(stderr, "expand '%s': got '%s', expected '%s'\n", cases[i].in, o, cases[i].out);
                        exit(1);
                }
        }

        /* Errors, with the 1-based offset of the problem in the column. */
        static const struct {
                const char *in;
                unsigned column;
                const char *msg;
        } bad[] = {
                { "${}", 1, "bad substitution" },
                { "x${", 2, "missing '}'" },
                { "${A", 1, "missing '}'" },
                { "${A:-x", 1, "missing '}'" },
                { "${A:x}", 1, "unsupported modifier ':x'" },
                { "${A/x/y}", 1, "unsupported modifier '/'" },
                { "${:-x}", 1, "bad substitution" },
                { "ab\"cd", 3, "unterminated double quote" },
                { "'x", 1, "unterminated single quote" },
                { "${UNSET:?is required}", 1, "UNSET: is required" },
                { "${EMPTY:?}", 1, "EMPTY: is not allowed to be empty" },
                { "${UNSET?}", 1, "UNSET: is not allowed to be unset" },
                { "${UNSET:?}", 1, "UNSET: is not allowed to be unset" },
                { "${A#prefix}", 1, "unsupported modifier '#'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                DockerfileError err = {};
                char *out = NULL;

                CHECK(dockerfile_expand_word(bad[i].in, '\\', env, NULL, &out, &err) == -EBADMSG);
                CHECK(!out);
                if (err.column != bad[i].column || !strstr(err.message, bad[i].msg)) {
                        fprintf(stderr, "expand '%s': got column %u '%s', expected %u '%s'\n", bad[i].in,
                                err.column, err.message, bad[i].column, bad[i].msg);
                        exit(1);
                }
        }

        /* Multi-word expansion (EXPOSE): unquoted expansions split, quotes keep words together. */
        {
                char *e2[] = { "PORTS=80 443/udp", NULL };
                char **w = NULL;

                CHECK(dockerfile_expand_words("$PORTS 8080", '\\', e2, NULL, &w, NULL) == 0);
                CHECK(strv_length(w) == 3);
                CHECK_STREQ(w[0], "80");
                CHECK_STREQ(w[1], "443/udp");
                CHECK_STREQ(w[2], "8080");
                strv_free(w);
                CHECK(dockerfile_expand_words("\"$PORTS\" ''", '\\', e2, NULL, &w, NULL) == 0);
                CHECK(strv_length(w) == 2);
                CHECK_STREQ(w[0], "80 443/udp");
                CHECK_STREQ(w[1], "");
                strv_free(w);
        }

        /* Bounded growth: doubling a value through ENV stops at the limit with an error. */
        {
                _cleanup_free_ char *big = malloc(DOCKERFILE_EXPANSION_MAX / 2 + 16);
                _cleanup_free_ char *e = NULL;
                char *e3[2] = {};
                DockerfileError err = {};
                char *out = NULL;

                CHECK(big);
                memset(big, 'x', DOCKERFILE_EXPANSION_MAX / 2 + 8);
                big[DOCKERFILE_EXPANSION_MAX / 2 + 8] = 0;
                CHECK(asprintf(&e, "B=%s", big) > 0);
                e3[0] = e;
                CHECK(dockerfile_expand_word("$B$B", '\\', e3, NULL, &out, &err) == -EBADMSG);
                CHECK(strstr(err.message, "expands to more than"));
        }

        /* Deep nesting is refused instead of recursing without bound. */
        {
                StrBuf b = {};
                DockerfileError err = {};
                char *out = NULL;

                for (unsigned i = 0; i < DOCKERFILE_EXPANSION_DEPTH_MAX + 5; i++)
                        CHECK(strbuf_append_str(&b, "${X:-") == 0);
                for (unsigned i = 0; i < DOCKERFILE_EXPANSION_DEPTH_MAX + 5; i++)
                        CHECK(strbuf_append_str(&b, "}") == 0);
                CHECK(dockerfile_expand_word(b.data, '\\', NULL, NULL, &out, &err) == -EBADMSG);
                CHECK(strstr(err.message, "nested more than"));
                strbuf_done(&b);
        }
}

/* Applies all instructions of stage idx and returns the expanded copies' serialisations joined by '\n'. */
static char *run_stage(const Dockerfile *df, DockerfileScope *s, size_t idx, char *const *base_env) {
        StrBuf out = {};

        CHECK(dockerfile_scope_enter_stage(s, &df->stages[idx], base_env) == 0);
        for (size_t i = 0; i < df->stages[idx].n_instructions; i++) {
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};
                _cleanup_free_ char *j = NULL;
                DockerfileError err = {};
                char buf[1024];

                if (dockerfile_scope_apply(s, &df->stages[idx].instructions[i], &c, &err) < 0) {
                        fprintf(stderr, "apply failed: %s\n", dockerfile_error_format(&err, buf, sizeof buf));
                        exit(1);
                }
                CHECK(dockerfile_instruction_serialize(&c, &j) == 0);
                CHECK(strbuf_append_str(&out, j) == 0 && strbuf_append_char(&out, '\n') == 0);
        }
        return strbuf_steal(&out);
}

static const char *env_get(char *const *env, const char *name) {
        const char *e = strv_env_find(env, name, strlen(name));

        return e && strchr(e, '=') ? strchr(e, '=') + 1 : NULL;
}

static void test_scope(void) {
        _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
        _cleanup_strv_free_ char **runenv = NULL, **args = NULL;
        _cleanup_free_ char *out = NULL, *base = NULL, *platform = NULL;
        char *build_args[] = { "VERSION=2.0", "UNUSED=1", NULL };
        char *auto_args[] = { "TARGETARCH=amd64", "BUILDPLATFORM=linux/amd64", NULL };
        char *base_env[] = { "PATH=/usr/bin:/bin", "FROMBASE=b", NULL };
        Dockerfile *df;

        df = parse_ok("ARG VERSION=1.0\n"
                      "ARG IMAGE=busybox:${VERSION}\n"
                      "ARG ONLY_GLOBAL=g\n"
                      "FROM --platform=$BUILDPLATFORM ${IMAGE}\n"
                      "ENV BEFORE=\"$VERSION\"\n"                     /* global ARG not visible yet */
                      "ARG VERSION\n"                                /* redeclared: global value */
                      "ENV AFTER=$VERSION G=${ONLY_GLOBAL:-unset}\n"
                      "ARG TARGETARCH\n"
                      "ARG LOCAL=x${TARGETARCH}\n"
                      "ENV abc=hello\n"
                      "ENV abc=bye def=$abc\n"                       /* def sees the old abc */
                      "ENV ghi=$abc\n"
                      "ARG abc=fromarg\n"                            /* ENV wins over ARG */
                      "LABEL v=$abc path=$PATH base=$FROMBASE\n"
                      "WORKDIR /src/$LOCAL\n"
                      "COPY --chown=${U:-app} [\"$LOCAL/a\", \"/dst/${VERSION}\"]\n"
                      "RUN echo $VERSION\n"
                      "ARG PORTS=\"80 443\"\n"
                      "EXPOSE $PORTS 53/UDP\n"
                      "USER \"${U:-nobody}\"\n");

        CHECK(dockerfile_scope_new(df, build_args, auto_args, &s, NULL) == 0);
        CHECK_STREQ(env_get(dockerfile_scope_global_args(s), "VERSION"), "2.0");
        CHECK(dockerfile_scope_expand_from(s, &df->stages[0], &base, &platform, NULL) == 0);
        CHECK_STREQ(base, "busybox:2.0");
        CHECK_STREQ(platform, "linux/amd64");

        out = run_stage(df, s, 0, base_env);
        CHECK(strstr(out, "[\"BEFORE\",\"\"]"));
        CHECK(strstr(out, "[\"AFTER\",\"2.0\"]"));
        CHECK(strstr(out, "[\"G\",\"unset\"]"));
        CHECK(strstr(out, "{\"kind\":\"ARG\",\"pairs\":[[\"TARGETARCH\",\"amd64\"]]}"));
        CHECK(strstr(out, "[\"LOCAL\",\"xamd64\"]"));
        CHECK(strstr(out, "[\"def\",\"hello\"]"));
        CHECK(strstr(out, "[\"ghi\",\"bye\"]"));
        CHECK(strstr(out, "[\"v\",\"bye\"]"));
        CHECK(strstr(out, "[\"path\",\"/usr/bin:/bin\"]"));
        CHECK(strstr(out, "[\"base\",\"b\"]"));
        CHECK(strstr(out, "{\"kind\":\"WORKDIR\",\"shell\":\"/src/xamd64\"}"));
        CHECK(strstr(out, "{\"exec\":[\"xamd64/a\",\"/dst/2.0\"],\"flags\":{\"chown\":\"app\"},\"kind\":\"COPY\"}"));
        CHECK(strstr(out, "{\"kind\":\"RUN\",\"shell\":\"echo $VERSION\"}"));
        CHECK(strstr(out, "{\"args\":[\"80\",\"443\",\"53/udp\"],\"kind\":\"EXPOSE\"}"));
        CHECK(strstr(out, "{\"kind\":\"USER\",\"shell\":\"nobody\"}"));

        CHECK_STREQ(env_get(dockerfile_scope_env(s), "abc"), "bye");
        CHECK(!env_get(dockerfile_scope_env(s), "VERSION")); /* ARGs do not persist in the image */
        CHECK(dockerfile_scope_run_env(s, &runenv) == 0);
        CHECK_STREQ(env_get(runenv, "VERSION"), "2.0");       /* but RUN sees them */
        CHECK_STREQ(env_get(runenv, "abc"), "bye");
        CHECK(dockerfile_scope_args(s, &args) == 0);
        CHECK(strv_length(args) == 5);
        CHECK_STREQ(args[0], "LOCAL=xamd64");                   /* sorted */
        CHECK_STREQ(args[1], "PORTS=80 443");
        CHECK_STREQ(args[2], "TARGETARCH=amd64");
        dockerfile_free(df);
}

static void test_arg_sequence(void) {
        _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
        _cleanup_free_ char *out = NULL, *base = NULL;
        Dockerfile *df;

        /* Within one ARG instruction a default may use an earlier name (global and in a stage). */
        df = parse_ok("ARG A=1 B=${A}2 C D=$TARGETOS\n"
                      "FROM img:$B-$D\n"
                      "ARG E=x F=${E}y\n"
                      "ARG C\n"
                      "LABEL f=$F c=\"${C-unset}\"\n");
        CHECK(dockerfile_scope_new(df, NULL, (char *[]) { "TARGETOS=linux", NULL }, &s, NULL) == 0);
        CHECK(dockerfile_scope_expand_from(s, &df->stages[0], &base, NULL, NULL) == 0);
        CHECK_STREQ(base, "img:12-linux");
        out = run_stage(df, s, 0, NULL);
        CHECK(strstr(out, "[[\"f\",\"xy\"],[\"c\",\"unset\"]]"));
        dockerfile_free(df);
}

static void test_scope_errors(void) {
        _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
        DockerfileError err = {};
        DockerfileInstruction c = {};
        char *url_arg[] = { "SRC=https://example.com/a.tgz", NULL };
        char buf[1024];
        Dockerfile *df;

        df = parse_ok("FROM busybox\n"
                      "ARG SRC\n"
                      "ADD $SRC /x\n"
                      "EXPOSE $SRC\n"
                      "WORKDIR ${NEED:?set NEED with --build-arg}\n"
                      "COPY --chmod=$SRC a b\n");
        CHECK(dockerfile_scope_new(df, url_arg, NULL, &s, NULL) == 0);
        CHECK(dockerfile_scope_enter_stage(s, &df->stages[0], NULL) == 0);
        CHECK(dockerfile_scope_apply(s, instr(df, 0, 0), &c, &err) == 0);
        dockerfile_instruction_done(&c);
        CHECK(dockerfile_scope_apply(s, instr(df, 0, 1), &c, &err) == -EBADMSG);
        CHECK_STREQ(dockerfile_error_format(&err, buf, sizeof buf),
                  "Dockerfile:3:1: " DOCKERFILE_ADD_URL_MESSAGE);
        CHECK(dockerfile_scope_apply(s, instr(df, 0, 2), &c, &err) == -EBADMSG);
        CHECK(strstr(err.message, "invalid port") && err.line == 4);
        CHECK(dockerfile_scope_apply(s, instr(df, 0, 3), &c, &err) == -EBADMSG);
        CHECK_STREQ(dockerfile_error_format(&err, buf, sizeof buf),
                  "Dockerfile:5:1: WORKDIR: NEED: set NEED with --build-arg");
        CHECK(dockerfile_scope_apply(s, instr(df, 0, 4), &c, &err) == -EBADMSG);
        CHECK(strstr(err.message, "invalid --chmod"));
        CHECK(dockerfile_scope_apply(s, &df->stages[0].from, &c, &err) == -EINVAL);
        dockerfile_free(df);
}

int main(void) {
        test_expansion();
        test_scope();
        test_arg_sequence();
        test_scope_errors();
        printf("test-dockerfile-scope: OK\n");
        return 0;
}
