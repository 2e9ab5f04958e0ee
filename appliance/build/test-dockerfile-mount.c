/* Unit tests for RUN --mount specs: every option of every type with BuildKit's defaults (the Dockerfile
 * reference, "RUN --mount"), csv quoting, every error with its Dockerfile position, ARG/ENV expansion of the
 * values and the cache-key serialisation of several mounts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-mount.h"
#include "dockerfile-parser.h"
#include "dockerfile-scope.h"
#include "dockerfile-serialize.h"
#include "macro.h"
#include "strv.h"
#include "test-dockerfile-util.h"
#include "tests.h"

static DockerfileMount parse_mount(const char *spec) {
        DockerfileMount m = {};
        char err[512] = "";
        int r = dockerfile_mount_parse(spec, 0, &m, err, sizeof err);

        if (r < 0) {
                fprintf(stderr, "'%s': %s\n", spec, err);
                CHECK(r >= 0);
        }
        return m;
}

static void test_types_and_defaults(void) {
        DockerfileMount m;

        m = parse_mount("target=/src");
        CHECK(m.type == DOCKERFILE_MOUNT_BIND && m.readonly && !m.from && !m.source);
        CHECK_STREQ(m.target, "/src");
        dockerfile_mount_done(&m);

        m = parse_mount("type=bind,src=sub,dst=/x,from=builder,rw");
        CHECK(m.type == DOCKERFILE_MOUNT_BIND && !m.readonly);
        CHECK_STREQ(m.source, "sub");
        CHECK_STREQ(m.from, "builder");
        CHECK_STREQ(m.target, "/x");
        dockerfile_mount_done(&m);

        m = parse_mount("type=bind,source=a,destination=/y,readwrite=true");
        CHECK(!m.readonly);
        dockerfile_mount_done(&m);
        m = parse_mount("type=bind,source=a,target=/y,rw=false");
        CHECK(m.readonly);
        dockerfile_mount_done(&m);

        m = parse_mount("type=cache,target=/root/.cache");
        CHECK(m.type == DOCKERFILE_MOUNT_CACHE && !m.readonly && m.sharing == DOCKERFILE_MOUNT_SHARED);
        CHECK_STREQ(m.id, "/root/.cache"); /* id defaults to the target */
        CHECK(m.has_mode && m.mode == 0755 && !m.has_uid && !m.has_gid);
        dockerfile_mount_done(&m);

        m = parse_mount("TYPE=Cache,id=apt,target=/var/cache/apt,sharing=LOCKED,mode=0700,uid=1000,gid=100,"
                        "from=base,source=/seed,ro");
        CHECK(m.type == DOCKERFILE_MOUNT_CACHE && m.sharing == DOCKERFILE_MOUNT_LOCKED && m.readonly);
        CHECK_STREQ(m.id, "apt");
        CHECK(m.mode == 0700 && m.uid == 1000 && m.gid == 100 && m.has_uid && m.has_gid);
        CHECK_STREQ(m.from, "base");
        CHECK_STREQ(m.source, "/seed");
        dockerfile_mount_done(&m);

        m = parse_mount("type=cache,target=/c,sharing=private,readonly=false");
        CHECK(m.sharing == DOCKERFILE_MOUNT_PRIVATE && !m.readonly);
        dockerfile_mount_done(&m);

        m = parse_mount("type=tmpfs,target=/scratch");
        CHECK(m.type == DOCKERFILE_MOUNT_TMPFS && m.size == 0 && !m.readonly);
        dockerfile_mount_done(&m);
        m = parse_mount("type=tmpfs,target=/scratch,size=64m");
        CHECK(m.size == 64ULL << 20);
        dockerfile_mount_done(&m);
        m = parse_mount("type=tmpfs,target=/scratch,size=1.5GiB");
        CHECK(m.size == 3ULL << 29);
        dockerfile_mount_done(&m);
        m = parse_mount("type=tmpfs,target=/scratch,size=4096");
        CHECK(m.size == 4096);
        dockerfile_mount_done(&m);
        m = parse_mount("type=tmpfs,target=/scratch,size=10 kb");
        CHECK(m.size == 10240);
        dockerfile_mount_done(&m);

        /* Secrets: the target defaults to /run/secrets/<id>, the id to the target's base name. */
        m = parse_mount("type=secret,id=npmrc");
        CHECK(m.type == DOCKERFILE_MOUNT_SECRET && !m.required && m.mode == 0400);
        CHECK_STREQ(m.target, "/run/secrets/npmrc");
        dockerfile_mount_done(&m);
        m = parse_mount("type=secret,target=/root/.npmrc,required,mode=0440,uid=1,gid=2");
        CHECK_STREQ(m.id, ".npmrc");
        CHECK(m.required && m.mode == 0440 && m.uid == 1 && m.gid == 2);
        dockerfile_mount_done(&m);
        m = parse_mount("type=secret,id=tok,dst=/t/,required=false");
        CHECK(!m.required);
        CHECK_STREQ(m.id, "tok");
        dockerfile_mount_done(&m);
        m = parse_mount("type=secret,dst=/t/tok/");
        CHECK_STREQ(m.id, "tok");
        dockerfile_mount_done(&m);
        m = parse_mount("required=1,type=secret,id=x"); /* type may come after the options that need it */
        CHECK(m.required);
        dockerfile_mount_done(&m);

        CHECK(dockerfile_mount_type_from_string("TMPFS") == DOCKERFILE_MOUNT_TMPFS);
        CHECK(dockerfile_mount_type_from_string("volume") == _DOCKERFILE_MOUNT_TYPE_INVALID);
        CHECK_STREQ(dockerfile_mount_sharing_to_string(DOCKERFILE_MOUNT_LOCKED), "locked");
}

static void test_csv(void) {
        _cleanup_strv_free_ char **f = NULL;
        _cleanup_free_ char *joined = NULL;
        DockerfileMount m;
        char err[256];

        CHECK_OK(dockerfile_mount_split("type=bind,\"source=a,b\",\"target=/q\"\"x\"", &f, err, sizeof err));
        CHECK(strv_length(f) == 3);
        CHECK_STREQ(f[1], "source=a,b");
        CHECK_STREQ(f[2], "target=/q\"x");
        CHECK_OK(dockerfile_mount_join(f, &joined));
        CHECK_STREQ(joined, "type=bind,\"source=a,b\",\"target=/q\"\"x\"");

        m = parse_mount("type=bind,\"source=a,b\",target=/x");
        CHECK_STREQ(m.source, "a,b");
        dockerfile_mount_done(&m);

        CHECK(dockerfile_mount_split("type=bind,\"source=a", &f, err, sizeof err) == -EBADMSG);
        CHECK(strstr(err, "no closing"));
        CHECK(dockerfile_mount_split("\"type=bind\"x", &f, err, sizeof err) == -EBADMSG);
        CHECK(strstr(err, "text follows a quoted option"));
        CHECK(dockerfile_mount_split("type=b\"ind", &f, err, sizeof err) == -EBADMSG);
        CHECK(strstr(err, "may only start an option"));
}

/* Specs dockerfile_mount_parse() refuses, and a piece of the sentence that says why. */
static const struct {
        const char *spec, *needle;
} bad_specs[] = {
        { "type=volume,target=/x", "unknown type 'volume'; expected bind, cache, tmpfs or secret" },
        { "type=ssh", "type=ssh is not supported" },
        { "type=cache,target=/x,bogus=1", "unknown option 'bogus' for type=cache; it takes target, source, "
                                          "from, id, sharing, mode, uid, gid, ro, rw" },
        { "type=tmpfs,target=/x,id=a", "type=tmpfs takes no 'id' option; it takes target, size" },
        { "type=bind,target=/x,mode=0755", "type=bind takes no 'mode' option" },
        { "type=bind,target=/x,uid=1", "type=bind takes no 'uid' option" },
        { "type=tmpfs,target=/x,gid=1", "type=tmpfs takes no 'gid' option" },
        { "type=bind,target=/x,sharing=locked", "type=bind takes no 'sharing' option" },
        { "type=bind,target=/x,required", "type=bind takes no 'required' option" },
        { "type=cache,target=/x,size=1m", "type=cache takes no 'size' option" },
        { "type=secret,id=a,from=x", "type=secret takes no 'from' option" },
        { "type=secret,id=a,source=x", "type=secret takes no 'source' option" },
        { "type=secret,id=a,rw", "type=secret takes no 'rw' option" },
        { "type=tmpfs,target=/x,ro", "type=tmpfs takes no 'ro' option" },
        { "type=cache", "type=cache needs a target" },
        { "type=bind,source=a", "type=bind needs a target" },
        { "type=tmpfs", "type=tmpfs needs a target" },
        { "type=secret", "type=secret needs an id or a target" },
        { "type=secret,required=maybe,id=a", "invalid required=maybe; expected true or false" },
        { "type=bind,target=/x,rw=yes", "invalid rw=yes" },
        { "type=cache,target=/x,ro=2", "invalid ro=2" },
        { "type=cache,target=/x,sharing=exclusive", "invalid sharing=exclusive; expected shared, private or "
                                                    "locked" },
        { "type=cache,target=/x,mode=755x", "invalid mode=755x; expected an octal mode" },
        { "type=cache,target=/x,mode=0789", "invalid mode=0789" },
        { "type=cache,target=/x,mode=17777", "invalid mode=17777" },
        { "type=cache,target=/x,uid=-1", "invalid uid=-1; expected a numeric id" },
        { "type=cache,target=/x,gid=4294967296", "invalid gid=4294967296" },
        { "type=tmpfs,target=/x,size=big", "invalid size=big; expected bytes or a size such as 64m" },
        { "type=tmpfs,target=/x,size=1q", "invalid size=1q" },
        { "type=tmpfs,target=/x,size=", "invalid size=" },
        { "type=cache,target=", "target is empty" },
        { "type=bind,target=/x,from=", "from is empty" },
        { "type=cache,target=/x,id", "option 'id' needs a value (id=VALUE)" },
        { "type=cache,target", "option 'target' needs a value" },
        { "type=cache,,target=/x", "an option is empty" },
        { "type=cache,target=/x,", "an option is empty" },
        { "=x,target=/x", "an option is empty" },
        { "type=cache,target=/x,a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,l=12,m=13,n=14,o=15,p=16,q=17,"
          "r=18,s=19,t=20,u=21,v=22,w=23,x=24,y=25,z=26,aa=27,bb=28,cc=29,dd=30,ee=31",
          "more than 32 options" },
};

static void test_bad_specs(void) {
        for (size_t k = 0; k < ELEMENTSOF(bad_specs); k++) {
                char err[512] = "";
                int r = dockerfile_mount_parse(bad_specs[k].spec, 0, NULL, err, sizeof err);

                if (r != -EBADMSG || !strstr(err, bad_specs[k].needle)) {
                        fprintf(stderr, "spec '%s': r=%d err='%s', expected '%s'\n", bad_specs[k].spec, r,
                                err, bad_specs[k].needle);
                        CHECK(false);
                }
        }
        /* Too long. */
        {
                _cleanup_free_ char *s = malloc(DOCKERFILE_MOUNT_SPEC_MAX + 32);
                char err[256];

                CHECK(s);
                strcpy(s, "type=cache,target=/");
                memset(s + strlen(s), 'a', DOCKERFILE_MOUNT_SPEC_MAX);
                s[DOCKERFILE_MOUNT_SPEC_MAX + 20] = 0;
                CHECK(dockerfile_mount_parse(s, 0, NULL, err, sizeof err) == -EBADMSG);
                CHECK(strstr(err, "longer than"));
        }
}

static void check_parse_error(const char *text, unsigned line, unsigned column, const char *needle) {
        DockerfileError err = {};
        Dockerfile *df = NULL;
        char buf[1024];

        CHECK(dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err) == -EBADMSG);
        dockerfile_error_format(&err, buf, sizeof buf);
        if (err.line != line || (column > 0 && err.column != column) || !strstr(err.message, needle)) {
                fprintf(stderr, "input:\n%s\ngot: %s\nexpected %u:%u %s\n", text, buf, line, column, needle);
                CHECK(false);
        }
}

static void test_dockerfile_positions(void) {
        Dockerfile *df;
        const DockerfileInstruction *i;
        size_t n = 0;

        /* The error points at the flag (its line and column), past other flags and continuations. */
        check_parse_error(
                "FROM busybox\nRUN --mount=type=cache,target=/a --mount=type=cache,tagret=/b make\n", 2, 34,
                "unknown option 'tagret' for type=cache");
        check_parse_error("FROM busybox\nRUN --network=none \\\n  --mount=type=secret make\n", 3, 3,
                          "type=secret needs an id or a target");
        check_parse_error("FROM busybox\nRUN --mount make\n", 2, 5, "flag '--mount' requires a value");
        check_parse_error("FROM busybox\nRUN --mount= make\n", 2, 5, "requires a value");
        check_parse_error("FROM busybox\nRUN --mount=type=cache,target=${X make\n", 2, 0, "missing '}'");
        check_parse_error("FROM busybox\nCOPY --mount=type=bind,target=/x a b\n", 2, 6,
                          "unknown flag '--mount'");

        /* Repeatable; values with variables wait for the expansion. */
        df = parse_ok("FROM busybox\nRUN --mount=type=cache,target=/a --mount=type=$T,target=$D,mode=$X "
                      "--mount=type=secret,id=s make\n");
        i = &df->stages[0].instructions[0];
        for (size_t k = 0; k < i->n_flags; k++)
                n += streq(i->flags[k].name, "mount");
        CHECK(n == 3);
        dockerfile_free(df);

        {
                _cleanup_free_ char *text = malloc(64 * (DOCKERFILE_MOUNTS_MAX + 2));
                const char *line2, *flag;
                char *p;

                CHECK(text);
                p = text + sprintf(text, "FROM busybox\nRUN");
                for (unsigned k = 0; k <= DOCKERFILE_MOUNTS_MAX; k++)
                        p += sprintf(p, " --mount=type=tmpfs,target=/t%u", k);
                strcpy(p, " true\n");
                line2 = strchr(text, '\n') + 1;
                flag = line2;
                for (unsigned k = 0; k <= DOCKERFILE_MOUNTS_MAX; k++)
                        flag = strstr(flag + 1, "--mount");
                check_parse_error(text, 2, (unsigned) (flag - line2) + 1, "more than 32 --mount flags");
        }
}

/* Expanded mounts of the first RUN of stage 0 (ARG/ENV before it applied), NULL-terminated, or NULL with
 * *ret_err set when the expansion refuses it. */
static char **expanded_mounts(const char *text, char *const *build_args, DockerfileError *ret_err) {
        _cleanup_dockerfile_free_ Dockerfile *df = parse_ok(text);
        _cleanup_(dockerfile_scope_freep) DockerfileScope *s = NULL;
        DockerfileError err = {};
        char **out = strv_new_empty();

        CHECK(out);
        CHECK_OK(dockerfile_scope_new(df, build_args, NULL, &s, &err));
        CHECK_OK(dockerfile_scope_enter_stage(s, &df->stages[0], NULL));
        for (size_t n = 0; n < df->stages[0].n_instructions; n++) {
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};
                const DockerfileInstruction *i = &df->stages[0].instructions[n];
                int r = dockerfile_scope_apply(s, i, &c, &err);

                if (r < 0) {
                        *ret_err = err;
                        strv_free(out);
                        return NULL;
                }
                if (i->kind != DOCKERFILE_RUN)
                        continue;
                for (size_t k = 0; k < c.n_flags; k++)
                        if (streq(c.flags[k].name, "mount"))
                                CHECK_OK(strv_extend(&out, c.flags[k].value));
                return out;
        }
        CHECK(false);
        return NULL;
}

static void test_expansion(void) {
        char *args[] = { "CACHE=/root/.cache", "KIND=cache", NULL };
        DockerfileError err = {};
        DockerfileMount m;
        char **l;

        l = expanded_mounts("FROM busybox\nARG CACHE\nARG KIND\nENV ID=pip SEC=tok\n"
                            "RUN --mount=type=$KIND,target=${CACHE},id=$ID,sharing=locked "
                            "--mount=type=secret,id=$SEC make\n",
                            args, &err);
        CHECK(l && strv_length(l) == 2);
        CHECK_STREQ(l[0], "type=cache,target=/root/.cache,id=pip,sharing=locked");
        CHECK_STREQ(l[1], "type=secret,id=tok");
        m = parse_mount(l[0]);
        CHECK(m.type == DOCKERFILE_MOUNT_CACHE);
        CHECK_STREQ(m.id, "pip");
        dockerfile_mount_done(&m);
        strv_free(l);

        /* A value expanding to a comma stays one value. */
        l = expanded_mounts("FROM busybox\nENV S=a,b\nRUN --mount=type=bind,source=$S,target=/x true\n",
                            NULL, &err);
        CHECK(l);
        CHECK_STREQ(l[0], "type=bind,\"source=a,b\",target=/x");
        strv_free(l);

        /* Errors only the expanded value shows point at the instruction. */
        l = expanded_mounts("FROM busybox\nENV T=volume\nRUN --mount=type=$T,target=/x true\n", NULL, &err);
        CHECK(!l && err.line == 3 && strstr(err.message, "unknown type 'volume'"));
        l = expanded_mounts("FROM busybox\nARG M=999\nRUN --mount=type=cache,target=/x,mode=$M true\n", NULL,
                            &err);
        CHECK(!l && err.line == 3 && strstr(err.message, "invalid mode=999"));
        l = expanded_mounts("FROM busybox\nRUN --mount=type=cache,target=$UNSET true\n", NULL, &err);
        CHECK(!l && err.line == 2 && strstr(err.message, "target is empty"));
}

static void test_serialize(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        Dockerfile *d1 =
                parse_ok("FROM busybox\nRUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/b x\n");
        Dockerfile *d2 = parse_ok(
                "FROM busybox\nRUN --mount=type=cache,target=/a  --mount=type=tmpfs,target=/b  x\n");
        Dockerfile *d3 = parse_ok("FROM busybox\nRUN --mount=type=cache,target=/a x\n");

        CHECK_OK(dockerfile_instruction_serialize(&d1->stages[0].instructions[0], &a));
        CHECK_OK(dockerfile_instruction_serialize(&d2->stages[0].instructions[0], &b));
        CHECK_OK(dockerfile_instruction_serialize(&d3->stages[0].instructions[0], &c));
        CHECK_STREQ(a, b);
        CHECK(!streq(a, c)); /* the second mount is in the key, not overwritten by it */
        CHECK(strstr(a, "type=tmpfs,target=/b") && strstr(a, "type=cache,target=/a"));
        dockerfile_free(d1);
        dockerfile_free(d2);
        dockerfile_free(d3);
}

int main(void) {
        test_types_and_defaults();
        test_csv();
        test_bad_specs();
        test_dockerfile_positions();
        test_expansion();
        test_serialize();
        return 0;
}
