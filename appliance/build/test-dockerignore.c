/* Unit tests for .dockerignore matching. Cases are derived from Docker's documented semantics
 * (docs.docker.com/build/concepts/context/#dockerignore-files): Go filepath.Match wildcards on the whole
 * path, "**" over directories, parents excluding children, '!' exceptions with the last match winning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"
#include "macro.h"

#include "tests.h"

typedef struct Case {
        const char *path;
        bool excluded;
} Case;

static DockerIgnore *load(const char *text) {
        DockerIgnore *di = NULL;
        DockerfileError err = {};
        int r;

        r = dockerignore_parse(text, strlen(text), ".dockerignore", &di, &err);
        if (r < 0) {
                fprintf(stderr, "parse failed (%d) at line %u: %s\n", r, err.line, err.message);
                exit(1);
        }
        return di;
}

static void check_cases(const char *patterns, const Case *cases, size_t n, int line) {
        DockerIgnore *di = load(patterns);

        for (size_t i = 0; i < n; i++) {
                bool m = dockerignore_match(di, cases[i].path, false);

                if (m != cases[i].excluded) {
                        fprintf(stderr, "test line %d: patterns\n%s\n'%s' is %s, expected %s\n", line,
                                patterns, cases[i].path, m ? "excluded" : "included",
                                cases[i].excluded ? "excluded" : "included");
                        exit(1);
                }
        }
        dockerignore_free(di);
}
#define CHECK_CASES(p, ...)                                   \
        do {                                                  \
                static const Case _c[] = { __VA_ARGS__ };     \
                check_cases(p, _c, ELEMENTSOF(_c), __LINE__); \
        } while (0)

static void test_docs_example(void) {
        /* The example from Docker's documentation. */
        CHECK_CASES("# comment\n*/temp*\n*/*/temp*\ntemp?\n", { "somedir/temporary.txt", true },
                    { "somedir/temp", true },
                    { "somedir/temp/inner.txt", true }, /* below an excluded directory */
                    { "somedir/subdir/temporary.txt", true }, { "tempa", true }, { "tempb", true },
                    { "temp", false },          /* '?' needs exactly one character */
                    { "temporary.txt", false }, /* the pattern needs one directory level */
                    { "a/b/c/temporary.txt", false }, { "comment", false });
}

static void test_wildcards(void) {
        CHECK_CASES("*.go\n", { "main.go", true }, { "cmd/main.go", false }, /* '*' never crosses '/' */
                    { "main.gox", false });
        CHECK_CASES("**/*.go\n", { "main.go", true }, /* "**" may match no directory at all */
                    { "cmd/main.go", true }, { "a/b/c/x.go", true }, { "main.c", false });
        CHECK_CASES("a/**/b\n", { "a/b", true }, { "a/x/b", true }, { "a/x/y/b", true },
                    { "a/x/y/b/inner", true }, { "ab", false }, { "a/bb", false });
        CHECK_CASES("dist/**\n", { "dist", false }, /* only what is below */
                    { "dist/a", true }, { "dist/a/b", true });
        CHECK_CASES("**\n", { "anything", true }, { "a/b/c", true });
        CHECK_CASES("a?c\n", { "abc", true }, { "a/c", false }, { "ac", false });
        CHECK_CASES("[a-c].txt\n[^x]y\n", { "b.txt", true }, { "d.txt", false }, { "zy", true },
                    { "xy", false });
        CHECK_CASES("\\*.txt\n", { "*.txt", true }, { "a.txt", false });
        CHECK_CASES("file(1).txt\nv1.0+build\n", { "file(1).txt", true }, { "file1.txt", false },
                    { "v1.0+build", true }, { "v1x0+build", false }, { "v1.00build", false });
        CHECK_CASES("[]a]\n", { "]", true }, { "a", true }, { "b", false });
}

static void test_directories_and_cleaning(void) {
        CHECK_CASES("node_modules\nbuild/\n/abs\n./rel/../other//x/\n", { "node_modules", true },
                    { "node_modules/a/b.js", true }, /* a matched directory takes its contents */
                    { "src/node_modules", false },   /* patterns are anchored at the context root */
                    { "build", true },               /* "build/" is cleaned to "build" */
                    { "build/out.o", true }, { "abs/file", true }, /* leading '/' dropped */
                    { "other/x", true }, { "rel/x", false },
                    { "./node_modules/x", true }, /* the path is cleaned too */
                    { "/node_modules", true });
}

static void test_exceptions(void) {
        CHECK_CASES("*.md\n!README.md\n", { "CHANGES.md", true }, { "README.md", false });
        /* Last match wins: README-secret.md is excluded again after the exception. */
        CHECK_CASES("*.md\n!README*.md\nREADME-secret.md\n", { "CHANGES.md", true }, { "README.md", false },
                    { "README-ops.md", false }, { "README-secret.md", true });
        /* …and an exception placed last re-includes everything it matches. */
        CHECK_CASES("*.md\nREADME-secret.md\n!README*.md\n", { "README-secret.md", false },
                    { "CHANGES.md", true });
        CHECK_CASES("docs\n!docs/keep.md\n", { "docs/other.md", true }, { "docs/keep.md", false });
        CHECK_CASES("  *.log  \n! keep.log\n", { "a.log", true }, { "keep.log", false });
}

static void test_comments_and_dockerfile(void) {
        /* Only '#' in column 1 starts a comment; " #x" is a pattern. */
        CHECK_CASES("#x\n #y\n\n   \n", { "#x", false }, { "#y", true });
        /* The matcher does not special-case Dockerfile/.dockerignore: matching them keeps them out of
         * COPY, the builder still reads them. */
        CHECK_CASES("Dockerfile\n.dockerignore\n", { "Dockerfile", true }, { ".dockerignore", true },
                    { "sub/Dockerfile", false });
        CHECK_CASES("\xEF\xBB\xBFsecret\n", { "secret", true });
        CHECK_CASES("x\r\n", { "x", true });
        CHECK_CASES("", { "anything", false });
}

static void test_descend(void) {
        DockerIgnore *di;

        di = load("docs\n!docs/keep.md\nvendor\ncache\n!*/keep\n");
        CHECK(dockerignore_should_descend(di, "src"));  /* not excluded */
        CHECK(dockerignore_should_descend(di, "docs")); /* an exception lives below */
        CHECK(!dockerignore_should_descend(di, "vendor"));
        CHECK(!dockerignore_should_descend(di, "cache")); /* wildcards do not re-open (Docker's rule) */
        dockerignore_free(di);

        di = load("*\n!src\n");
        CHECK(dockerignore_should_descend(di, "src"));
        CHECK(!dockerignore_should_descend(di, "other"));
        CHECK(!dockerignore_match(di, "src/main.c", false));
        CHECK(dockerignore_match(di, "other/main.c", false));
        CHECK(dockerignore_n_patterns(di) == 2);
        dockerignore_free(di);
}

static void test_errors(void) {
        DockerIgnore *di = NULL;
        DockerfileError err = {};

        CHECK(dockerignore_parse("a\n!\n", 4, NULL, &di, &err) == -EBADMSG);
        CHECK(err.line == 2 && strstr(err.message, "illegal exclusion pattern"));
        CHECK(streq(err.file, ".dockerignore"));
        CHECK(dockerignore_parse("a\n\nfoo[bar\n", 10, NULL, &di, &err) == -EBADMSG);
        CHECK(err.line == 3 && strstr(err.message, "'[' character class is not terminated"));
        CHECK(!di);
}

static void test_clean(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "." },
                { ".", "." },
                { "a/", "a" },
                { "a//b", "a/b" },
                { "./a", "a" },
                { "a/./b", "a/b" },
                { "a/../b", "b" },
                { "../a", "../a" },
                { "a/../..", ".." },
                { "/..", "/" },
                { "/a/../b", "/b" },
                { "//a", "/a" },
                { "a/b/../../c", "c" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *c = dockerignore_clean_path(cases[i].in);

                if (!streq(c, cases[i].out)) {
                        fprintf(stderr, "clean('%s') = '%s', expected '%s'\n", cases[i].in, c, cases[i].out);
                        exit(1);
                }
        }
}

int main(void) {
        test_clean();
        test_docs_example();
        test_wildcards();
        test_directories_and_cleaning();
        test_exceptions();
        test_comments_and_dockerfile();
        test_descend();
        test_errors();
        printf("test-dockerignore: OK\n");
        return 0;
}
