/* Unit tests for appliance/source: mirrors of repositories made with the git CLI, fetched over a local
 * path, file:// and git:// (a git daemon on loopback), branch and commit resolution, checkouts with modes,
 * symlinks, sub-directories, submodules and limits, crafted trees that try to escape the workspace, and
 * errors that never show a credential. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "git-checkout.h"
#include "git-mirror.h"
#include "process.h"

static char tmp_dir[] = "/tmp/test-source-XXXXXX";
static pid_t daemon_pid = -1;

static void cleanup_all(void) {
        if (daemon_pid > 0) {
                (void) kill(daemon_pid, SIGTERM);
                (void) waitpid(daemon_pid, NULL, 0);
                daemon_pid = -1;
        }
        if (tmp_dir[strlen(tmp_dir) - 1] != 'X') {
                int r = rm_rf_at(AT_FDCWD, tmp_dir, RM_RF_CHMOD);
                if (r < 0)
                        fprintf(stderr, "warning: cannot remove %s: %s\n", tmp_dir, strerror(-r));
        }
}

#define TEST_ON_FAILURE() cleanup_all()
#include "tests.h"

static char *tpath(const char *fmt, ...) _printf_(1, 2);
static char *tpath(const char *fmt, ...) {
        static char bufs[8][1024];
        static unsigned next;
        char *b = bufs[next++ % ELEMENTSOF(bufs)];
        char rel[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(rel, sizeof rel, fmt, ap);
        va_end(ap);
        (void) snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir, rel);
        return b;
}

/* Runs a shell command in the temp dir; it must succeed. */
static void sh(const char *fmt, ...) _printf_(1, 2);
static void sh(const char *fmt, ...) {
        char cmd[2048];
        va_list ap;
        int r;

        va_start(ap, fmt);
        (void) vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        r = system(cmd);
        if (r != 0)
                TEST_FAIL("command failed (%d): %s", r, cmd);
}

/* The first line a shell command prints. */
static void sh_out(char *out, size_t size, const char *fmt, ...) _printf_(3, 4);
static void sh_out(char *out, size_t size, const char *fmt, ...) {
        char cmd[2048];
        va_list ap;
        FILE *f;

        va_start(ap, fmt);
        (void) vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        f = popen(cmd, "r");
        CHECK(f);
        CHECK(fgets(out, (int) size, f));
        out[strcspn(out, "\n")] = '\0';
        CHECK(pclose(f) == 0);
}

static void write_text(const char *path, const char *text) {
        CHECK_OK(write_file_atomic(path, text, strlen(text), 0644));
}

static char *read_text(const char *path) {
        static char buf[4096];
        _cleanup_free_ char *data = NULL;
        size_t size;

        CHECK_OK(read_full_file(path, &data, &size));
        CHECK(size < sizeof buf);
        memcpy(buf, data, size);
        buf[size] = '\0';
        return buf;
}

static mode_t mode_of(const char *path) {
        struct stat st;

        CHECK(lstat(path, &st) == 0);
        return st.st_mode;
}

static bool exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

static void setup_env(void) {
        CHECK(setenv("GIT_AUTHOR_NAME", "Ada Author", 1) == 0);
        CHECK(setenv("GIT_AUTHOR_EMAIL", "ada@example.org", 1) == 0);
        CHECK(setenv("GIT_AUTHOR_DATE", "1700000000 +0100", 1) == 0);
        CHECK(setenv("GIT_COMMITTER_NAME", "Carl Committer", 1) == 0);
        CHECK(setenv("GIT_COMMITTER_EMAIL", "carl@example.org", 1) == 0);
        CHECK(setenv("GIT_COMMITTER_DATE", "1700000000 +0100", 1) == 0);
        CHECK(setenv("GIT_CONFIG_NOSYSTEM", "1", 1) == 0);
        CHECK(setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1) == 0);
        CHECK(setenv("HOME", tmp_dir, 1) == 0);
}

/* The upstream repository: main with files, an executable, symlinks and a sub-directory; dev beside it. */
static void make_upstream(void) {
        char up[1024];

        (void) snprintf(up, sizeof up, "%s", tpath("up"));
        sh("git -c init.defaultBranch=main init -q %s", up);
        write_text(tpath("up/README"), "hello\n");
        write_text(tpath("up/run.sh"), "#!/bin/sh\necho run\n");
        CHECK(chmod(tpath("up/run.sh"), 0755) == 0);
        CHECK(symlink("README", tpath("up/link")) == 0);
        CHECK_OK(mkdir_p(tpath("up/sub/app/bin"), 0755));
        write_text(tpath("up/sub/app/main.txt"), "app\n");
        write_text(tpath("up/sub/app/bin/tool"), "#!/bin/sh\n");
        CHECK(chmod(tpath("up/sub/app/bin/tool"), 0755) == 0);
        CHECK(symlink("main.txt", tpath("up/sub/app/lnk")) == 0);
        sh("cd %s && git add -A && git commit -q -m 'First commit  ' -m 'Body line.'", up);
        sh("cd %s && git branch dev && git checkout -q dev && echo dev > devfile && git add devfile && "
           "git commit -q -m 'Only on dev' && git checkout -q main",
           up);
}

static void test_mirror_local(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL, *again = NULL, *f = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {}, c2 = {}, cf = {}, cp = {};
        char head[64], head2[64], url[1100];
        SourceError err = {};

        sh_out(head, sizeof head, "git -C %s rev-parse main", tpath("up"));

        CHECK_OK(git_mirror_open(tpath("git"), tpath("up"), NULL, &m, &err));
        CHECK(strstr(git_mirror_path(m), tpath("git/")) == git_mirror_path(m));
        CHECK(strlen(git_mirror_path(m)) == strlen(tpath("git/")) + SOURCE_MIRROR_NAME_HEX + strlen(".git"));
        CHECK(exists(git_mirror_path(m)));
        CHECK(exists(tpath("git/%s/HEAD", git_mirror_path(m) + strlen(tpath("git/")))));

        /* nothing fetched yet */
        CHECK(git_mirror_resolve_branch(m, "main", &c, &err) == -ENOENT);
        CHECK(strstr(err.message, "no branch 'main'"));

        CHECK_OK(git_mirror_fetch(m, "main", &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));
        CHECK_STREQ(c.id, head);
        CHECK(strlen(c.short_id) >= SOURCE_COMMIT_PREFIX_MIN &&
              strncmp(c.short_id, head, strlen(c.short_id)) == 0);
        CHECK_STREQ(c.subject, "First commit");
        CHECK_STREQ(c.author_name, "Ada Author");
        CHECK_STREQ(c.author_email, "ada@example.org");
        CHECK(c.author_time == 1700000000);
        CHECK(c.author_tz_offset == 60);

        /* only the asked branch came */
        CHECK(git_mirror_resolve_branch(m, "dev", &c2, &err) == -ENOENT);
        CHECK(strstr(err.hint, "main"));

        /* the same URL: the same mirror; a file:// URL for the same path: another one */
        CHECK_OK(git_mirror_open(tpath("git"), tpath("up"), NULL, &again, &err));
        CHECK_STREQ(git_mirror_path(again), git_mirror_path(m));
        (void) snprintf(url, sizeof url, "file://%s", tpath("up"));
        CHECK_OK(git_mirror_open(tpath("git"), url, NULL, &f, &err));
        CHECK(!streq(git_mirror_path(f), git_mirror_path(m)));
        CHECK_OK(git_mirror_fetch(f, NULL, &err));
        CHECK_OK(git_mirror_resolve_branch(f, "main", &cf, &err));
        CHECK_STREQ(cf.id, head);
        CHECK_OK(git_mirror_resolve_branch(f, "dev", &c2, &err));
        CHECK_STREQ(c2.subject, "Only on dev");
        source_commit_done(&c2);

        /* unknown branch: named, with the ones that exist */
        CHECK(git_mirror_fetch(m, "nope", &err) == -ENOENT);
        CHECK(strstr(err.message, "'nope'"));
        CHECK(strstr(err.hint, "main") && strstr(err.hint, "dev"));
        CHECK(git_mirror_fetch(m, "a..b", &err) == -EINVAL);
        CHECK(git_mirror_fetch(m, "-x", &err) == -EINVAL);
        CHECK(git_mirror_resolve_branch(m, "", &c2, &err) == -EINVAL);

        /* a new commit upstream: an incremental fetch sees it */
        sh("cd %s && echo more >> README && git commit -q -am 'Second: more text'", tpath("up"));
        sh_out(head2, sizeof head2, "git -C %s rev-parse main", tpath("up"));
        CHECK_OK(git_mirror_fetch(again, "main", &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c2, &err));
        CHECK_STREQ(c2.id, head2);
        CHECK_STREQ(c2.subject, "Second: more text");

        /* commit ids: full, prefix, one only on dev (fetched on demand), unknown, malformed */
        source_commit_done(&cp);
        CHECK_OK(git_mirror_resolve_commit(m, head, &cp, &err));
        CHECK_STREQ(cp.id, head);
        source_commit_done(&cp);
        char prefix[8];
        memcpy(prefix, head, 7);
        prefix[7] = '\0';
        CHECK_OK(git_mirror_resolve_commit(m, prefix, &cp, &err));
        CHECK_STREQ(cp.id, head);
        source_commit_done(&cp);

        char dev[64];
        sh_out(dev, sizeof dev, "git -C %s rev-parse dev", tpath("up"));
        CHECK_OK(git_mirror_resolve_commit(m, dev, &cp, &err));
        CHECK_STREQ(cp.subject, "Only on dev");
        source_commit_done(&cp);

        CHECK(git_mirror_resolve_commit(m, "0123456789abcdef0123456789abcdef01234567", &cp, &err) ==
              -ENOENT);
        CHECK(strstr(err.message, "0123456789abcdef0123456789abcdef01234567"));
        CHECK(git_mirror_resolve_commit(m, "abc123", &cp, &err) == -EINVAL);
        CHECK(git_mirror_resolve_commit(m, "xyz12345", &cp, &err) == -EINVAL);
        CHECK(git_mirror_resolve_commit(m, NULL, &cp, &err) == -EINVAL);

        /* a tree id is not a commit */
        char tree[64];
        sh_out(tree, sizeof tree, "git -C %s rev-parse main^{tree}", tpath("up"));
        CHECK(git_mirror_resolve_commit(m, tree, &cp, &err) == -ENOENT);
        CHECK(strstr(err.message, "not a commit"));
}

static void test_bad_urls(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        SourceError err = {};
        SourceAuth auth = { .http_token = "t0k-xyz" }, empty = { .http_token = "" },
                   key = { .ssh_private_key = "-----BEGIN OPENSSH PRIVATE KEY-----" };

        CHECK(git_mirror_open(tpath("git"), "relative/dir", NULL, &m, &err) == -EINVAL);
        CHECK(*err.message && *err.hint);
        CHECK(git_mirror_open(tpath("git"), "ext::sh -c id", NULL, &m, &err) == -EINVAL);
        /* ssh remotes open (nothing is fetched yet); a deploy key goes to nothing but an ssh remote. */
        CHECK(git_mirror_open(tpath("git"), "ssh://git@127.0.0.1/x.git", &key, &m, &err) >= 0);
        m = git_mirror_free(m);
        CHECK(git_mirror_open(tpath("git"), "git@127.0.0.1:x.git", NULL, &m, &err) >= 0);
        m = git_mirror_free(m);
        CHECK(git_mirror_open(tpath("git"), "https://127.0.0.1/x.git", &key, &m, &err) == -EINVAL);
        CHECK(strstr(err.message, "ssh://") && !strstr(err.message, "PRIVATE"));
        CHECK(git_mirror_open(tpath("git"), "git://127.0.0.1/x.git", &auth, &m, &err) == -EINVAL);
        CHECK(strstr(err.message, "http:// or https://") && !strstr(err.message, "t0k-xyz"));
        CHECK(git_mirror_open(tpath("git"), tpath("up"), &auth, &m, &err) == -EINVAL);
        CHECK(git_mirror_open(tpath("git"), "https://127.0.0.1/x.git", &empty, &m, &err) == -EINVAL);
        CHECK(!m);
}

static char race_dir[1100]; /* set before the threads start: tpath() is not thread-safe */

static void *open_thread(void *userdata) {
        GitMirror *m = NULL;
        SourceError err = {};

        if (git_mirror_open(race_dir, (const char *) userdata, NULL, &m, &err) < 0) {
                fprintf(stderr, "open failed: %s\n", err.message);
                return NULL;
        }
        return m;
}

/* Openers racing to create one mirror all get it, and no temporary directory is left. */
static void test_open_race(void) {
        char url[1100];
        pthread_t t[6];
        GitMirror *m[ELEMENTSOF(t)];
        SourceError err = {};

        (void) snprintf(url, sizeof url, "file://%s", tpath("up"));
        (void) snprintf(race_dir, sizeof race_dir, "%s", tpath("git-race"));
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                CHECK(pthread_create(&t[i], NULL, open_thread, url) == 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                CHECK(pthread_join(t[i], (void **) &m[i]) == 0);
                CHECK(m[i]);
                CHECK_STREQ(git_mirror_path(m[i]), git_mirror_path(m[0]));
        }
        CHECK_OK(git_mirror_fetch(m[0], "main", &err));
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                git_mirror_free(m[i]);
        sh("test $(ls -A %s | wc -l) -eq 1", tpath("git-race"));
}

/* A local repository owned by someone else (the quickstart's, fetched by the root daemon) is fetched. */
static void test_other_owner(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {};
        SourceError err = {};

        if (geteuid() != 0) {
                fprintf(stderr, "skipping the other-owner fetch: not root\n");
                return;
        }
        sh("cp -a %s %s && chown -R 65534:65534 %s", tpath("up"), tpath("up-nobody"), tpath("up-nobody"));
        CHECK_OK(git_mirror_open(tpath("git"), tpath("up-nobody"), NULL, &m, &err));
        if (git_mirror_fetch(m, "main", &err) < 0)
                TEST_FAIL("fetch of another user's repository failed: %s (%s)", err.message, err.hint);
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));
}

static void test_unreachable(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL, *l = NULL;
        _cleanup_free_ char *config = NULL;
        SourceError err = {};
        size_t size;

        CHECK_OK(git_mirror_open(tpath("git"), "http://user:secret@127.0.0.1:1/x.git", NULL, &m, &err));
        CHECK_STREQ(git_mirror_url_shown(m), "http://127.0.0.1:1/x.git");
        CHECK(git_mirror_fetch(m, "main", &err) == -EHOSTUNREACH);
        fprintf(stderr, "unreachable: %s (%s)\n", err.message, err.hint);
        CHECK(strstr(err.message, "http://127.0.0.1:1/x.git"));
        CHECK(!strstr(err.message, "secret") && !strstr(err.hint, "secret"));
        CHECK(!strstr(err.message, "user:"));

        /* the credential is not on disk either */
        CHECK_OK(read_full_file(tpath("git/%s/config", git_mirror_path(m) + strlen(tpath("git/"))), &config,
                                &size));
        CHECK(!strstr(config, "secret"));
        CHECK(strstr(config, "http://127.0.0.1:1/x.git"));

        /* a path with no repository */
        CHECK_OK(git_mirror_open(tpath("git"), tpath("nothing-here"), NULL, &l, &err));
        CHECK(git_mirror_fetch(l, NULL, &err) == -EHOSTUNREACH);
        CHECK(strstr(err.message, "nothing-here"));
}

static void checkout(GitMirror *m, const char *id, const char *sub, const char *ws,
                     SourceCheckoutResult *res) {
        SourceError err = {};
        int r;

        CHECK_OK(mkdir_p(ws, 0755));
        r = git_checkout_commit(m, id, sub, ws, NULL, res, &err);
        if (r < 0)
                TEST_FAIL("checkout failed: %s (%s)", err.message, err.hint);
}

static void test_checkout(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {};
        SourceCheckoutResult res;
        SourceError err = {};
        char target[64];

        CHECK_OK(git_mirror_open(tpath("git"), tpath("up"), NULL, &m, &err));
        CHECK_OK(git_mirror_fetch(m, "main", &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));

        /* the whole tree */
        checkout(m, c.id, NULL, tpath("ws1"), &res);
        CHECK_STREQ(read_text(tpath("ws1/README")), "hello\nmore\n");
        CHECK((mode_of(tpath("ws1/README")) & 07777) == 0644);
        CHECK((mode_of(tpath("ws1/run.sh")) & 07777) == 0755);
        CHECK(S_ISLNK(mode_of(tpath("ws1/link"))));
        CHECK(readlink(tpath("ws1/link"), target, sizeof target) == 6 && memcmp(target, "README", 6) == 0);
        CHECK(S_ISDIR(mode_of(tpath("ws1/sub/app/bin"))));
        CHECK(!exists(tpath("ws1/.git")));
        CHECK(!exists(tpath("ws1/devfile")));
        CHECK(res.n_files == 6 && res.n_dirs == 3 && res.n_submodules_skipped == 0);
        CHECK(res.n_bytes > 0);
        struct stat st;
        CHECK(stat(tpath("ws1/README"), &st) == 0 && st.st_mtime == 1700000000);

        /* a sub-directory becomes the root */
        checkout(m, c.id, "./sub/app/", tpath("ws2"), &res);
        CHECK_STREQ(read_text(tpath("ws2/main.txt")), "app\n");
        CHECK((mode_of(tpath("ws2/bin/tool")) & 07777) == 0755);
        CHECK(S_ISLNK(mode_of(tpath("ws2/lnk"))));
        CHECK(!exists(tpath("ws2/README")) && !exists(tpath("ws2/sub")) && !exists(tpath("ws2/.git")));
        CHECK(res.n_files == 3 && res.n_dirs == 1);

        /* refusals */
        CHECK_OK(mkdir_p(tpath("ws3"), 0755));
        CHECK(git_checkout_commit(m, c.id, "nope", tpath("ws3"), NULL, &res, &err) == -ENOENT);
        CHECK(strstr(err.message, "no directory 'nope'"));
        CHECK(strstr(err.hint, "sub"));
        CHECK(git_checkout_commit(m, c.id, "../etc", tpath("ws3"), NULL, &res, &err) == -EINVAL);
        CHECK(git_checkout_commit(m, c.id, "/etc", tpath("ws3"), NULL, &res, &err) == -EINVAL);
        CHECK(git_checkout_commit(m, c.id, "README", tpath("ws3"), NULL, &res, &err) == -ENOTDIR);
        CHECK(git_checkout_commit(m, c.id, NULL, tpath("ws1"), NULL, &res, &err) == -ENOTEMPTY);
        CHECK(git_checkout_commit(m, "abc", NULL, tpath("ws3"), NULL, &res, &err) == -EINVAL);
        CHECK(git_checkout_commit(m, "0123456789abcdef0123456789abcdef01234567", NULL, tpath("ws3"), NULL,
                                  &res, &err) == -ENOENT);
        CHECK(git_checkout_commit(m, c.id, NULL, tpath("no-such-ws"), NULL, &res, &err) == -ENOENT);
        CHECK(dir_is_empty_at(AT_FDCWD, tpath("ws3")) == 1);

        /* limits */
        SourceCheckoutLimits few = { .max_files = 4 }, small = { .max_bytes = 8 };
        CHECK(git_checkout_commit(m, c.id, NULL, tpath("ws3"), &few, &res, &err) == -EFBIG);
        CHECK(strstr(err.message, "more than 4 files"));
        CHECK_OK(rm_rf(tpath("ws3")));
        CHECK_OK(mkdir_p(tpath("ws3"), 0755));
        CHECK(git_checkout_commit(m, c.id, NULL, tpath("ws3"), &small, &res, &err) == -EFBIG);
        CHECK(strstr(err.message, "more than"));
}

static void test_submodule(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {};
        SourceCheckoutResult res;
        SourceError err = {};
        char head[64];

        sh_out(head, sizeof head, "git -C %s rev-parse main", tpath("up"));
        sh("git -c init.defaultBranch=main init -q %s && cd %s && echo x > f && "
           "git update-index --add --cacheinfo 160000,%s,vendor/lib && git add f && git commit -q -m 'With a submodule'",
           tpath("withsub"), tpath("withsub"), head);
        CHECK_OK(git_mirror_open(tpath("git"), tpath("withsub"), NULL, &m, &err));
        CHECK_OK(git_mirror_fetch(m, "main", &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));
        checkout(m, c.id, NULL, tpath("ws-sub"), &res);
        CHECK(res.n_submodules_skipped == 1);
        CHECK_STREQ(res.first_submodule, "vendor/lib");
        CHECK(S_ISDIR(mode_of(tpath("ws-sub/vendor/lib"))));
        CHECK(dir_is_empty_at(AT_FDCWD, tpath("ws-sub/vendor/lib")) == 1);
        CHECK(exists(tpath("ws-sub/f")));
}

/* A raw tree object with entries as given (mode, name, id), written without any validation. */
typedef struct RawEntry {
        const char *mode;
        const char *name;
        const git_oid *id;
} RawEntry;

static void raw_tree(git_repository *repo, const RawEntry *entries, size_t n, git_oid *ret) {
        char buf[4096];
        size_t len = 0;
        git_odb *odb;

        for (size_t i = 0; i < n; i++) {
                int k = snprintf(buf + len, sizeof buf - len, "%s %s", entries[i].mode, entries[i].name);
                CHECK(k > 0 && len + (size_t) k + 1 + GIT_OID_RAWSZ < sizeof buf);
                len += (size_t) k + 1; /* with the NUL */
                memcpy(buf + len, entries[i].id->id, GIT_OID_RAWSZ);
                len += GIT_OID_RAWSZ;
        }
        CHECK(git_repository_odb(&odb, repo) == 0);
        CHECK(git_odb_write(ret, odb, buf, len, GIT_OBJECT_TREE) == 0);
        git_odb_free(odb);
}

static void raw_commit(git_repository *repo, const git_oid *tree, char ret[static 41]) {
        char buf[512];
        git_oid id;
        git_odb *odb;
        int n;

        n = snprintf(
                buf, sizeof buf,
                "tree %s\nauthor E <e@x> 1700000000 +0000\ncommitter E <e@x> 1700000000 +0000\n\nevil\n",
                git_oid_tostr_s(tree));
        CHECK(git_repository_odb(&odb, repo) == 0);
        CHECK(git_odb_write(&id, odb, buf, (size_t) n, GIT_OBJECT_COMMIT) == 0);
        git_odb_free(odb);
        git_oid_tostr(ret, 41, &id);
}

static void expect_refused(GitMirror *m, const RawEntry *entries, size_t n, const char *ws) {
        SourceCheckoutResult res;
        SourceError err = {};
        char commit[41];
        git_oid tree;

        raw_tree(git_mirror_repository(m), entries, n, &tree);
        raw_commit(git_mirror_repository(m), &tree, commit);
        CHECK_OK(mkdir_p(ws, 0755));
        CHECK(git_checkout_commit(m, commit, NULL, ws, NULL, &res, &err) == -EBADMSG);
        fprintf(stderr, "refused: %s\n", err.message);
        CHECK(!exists(tpath("outside/pwned")));
        CHECK(!exists(tpath("pwned")));
}

static void test_crafted_trees(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        SourceError err = {};
        git_oid blob, link_out, inner;
        git_odb *odb;

        CHECK_OK(mkdir_p(tpath("outside"), 0755));
        CHECK_OK(git_mirror_open(tpath("git"), tpath("crafted"), NULL, &m, &err));
        CHECK(git_repository_odb(&odb, git_mirror_repository(m)) == 0);
        CHECK(git_odb_write(&blob, odb, "pwned\n", 6, GIT_OBJECT_BLOB) == 0);
        CHECK(git_odb_write(&link_out, odb, tpath("outside"), strlen(tpath("outside")), GIT_OBJECT_BLOB) ==
              0);
        git_odb_free(odb);

        RawEntry one_file[] = { { "100644", "pwned", &blob } };
        raw_tree(git_mirror_repository(m), one_file, 1, &inner);

        RawEntry dotdot[] = { { "40000", "..", &inner } };
        expect_refused(m, dotdot, 1, tpath("ws-c1/deeper"));
        RawEntry dotgit[] = { { "40000", ".git", &inner } };
        expect_refused(m, dotgit, 1, tpath("ws-c2"));
        RawEntry dotgit_upper[] = { { "100644", ".GIT", &blob } };
        expect_refused(m, dotgit_upper, 1, tpath("ws-c3"));
        RawEntry slash[] = { { "100644", "../pwned", &blob } };
        expect_refused(m, slash, 1, tpath("ws-c4"));
        /* a symlink to outside, then a directory of the same name: the write must not pass through it */
        RawEntry through[] = { { "120000", "esc", &link_out }, { "40000", "esc", &inner } };
        expect_refused(m, through, 2, tpath("ws-c5"));
        /* ... and a file of the same name */
        RawEntry over[] = { { "120000", "pwned", &link_out }, { "100644", "pwned", &blob } };
        expect_refused(m, over, 2, tpath("ws-c6"));
        CHECK(dir_is_empty_at(AT_FDCWD, tpath("outside")) == 1);
}

static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd, port;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK(bind(fd, (struct sockaddr *) &a, sizeof a) == 0);
        CHECK(getsockname(fd, (struct sockaddr *) &a, &len) == 0);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static bool port_answers(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        CHECK(fd >= 0);
        ok = connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
        close(fd);
        return ok;
}

/* An HTTP server that asks for credentials: refused access, said without the URL's password. */
static void test_auth_refused(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        char url[256], port_arg[16];
        SourceError err = {};
        pid_t pid;
        int port;

        if (system("python3 -c '' 2>/dev/null") != 0) {
                fprintf(stderr, "skipping the HTTP auth part: python3 is not installed\n");
                return;
        }
        port = free_port();
        (void) snprintf(port_arg, sizeof port_arg, "%d", port);
        char *argv[] = { "python3", "-c",
                         "import http.server, sys\n"
                         "class H(http.server.BaseHTTPRequestHandler):\n"
                         "    def do_GET(self):\n"
                         "        self.send_response(401)\n"
                         "        self.send_header('WWW-Authenticate', 'Basic realm=\"git\"')\n"
                         "        self.send_header('Content-Length', '0')\n"
                         "        self.end_headers()\n"
                         "    def log_message(self, *a): pass\n"
                         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
                         port_arg, NULL };
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        pid = spawn_process(argv, &opts);
        CHECK(pid > 0);
        daemon_pid = pid;
        for (unsigned i = 0; !port_answers(port); i++) {
                CHECK(i < 200); /* 10 s */
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }

        (void) snprintf(url, sizeof url, "http://user:secret@127.0.0.1:%d/x.git", port);
        CHECK_OK(git_mirror_open(tpath("git"), url, NULL, &m, &err));
        CHECK(git_mirror_fetch(m, "main", &err) == -EACCES);
        fprintf(stderr, "auth: %s (%s)\n", err.message, err.hint);
        CHECK(strstr(err.message, "refused access"));
        CHECK(!strstr(err.message, "secret") && !strstr(err.hint, "secret") &&
              !strstr(err.message, "user:"));

        (void) kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
        daemon_pid = -1;
}

#define TEST_TOKEN "s3cr3t-T0ken-4-test"

/* git's own http-backend behind Python's CGI server on loopback, which asks for "x-access-token:TEST_TOKEN"
 * (or "ci-bot:…") as HTTP basic auth: the token is sent with the URL's user or x-access-token, a wrong
 * one or none is refused, and the token is never stored. */
static void test_http_token(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL, *wrong = NULL, *none = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {}, c2 = {};
        char url[256], url_user[256], port_arg[16], dir[1100], head[64], cmd[1200];
        SourceAuth auth = { .http_token = TEST_TOKEN }, bad = { .http_token = "wr0ng-t0ken-99" };
        SourceError err = {};
        int port, r;

        if (access("/usr/lib/git-core/git-http-backend", X_OK) < 0) {
                fprintf(stderr, "skipping the HTTP token part: git-http-backend is not installed\n");
                return;
        }
        if (system("/usr/bin/python3 -c 'from http.server import CGIHTTPRequestHandler' 2>/dev/null") != 0) {
                fprintf(stderr, "skipping the HTTP token part: python3 has no CGI server\n");
                return;
        }

        (void) snprintf(dir, sizeof dir, "%s", tpath("http"));
        CHECK_OK(mkdir_p(tpath("http/cgi-bin"), 0755));
        sh("git clone -q --bare %s %s/repo.git", tpath("up"), dir);
        sh("printf '#!/bin/sh\\nexport GIT_PROJECT_ROOT=%s GIT_HTTP_EXPORT_ALL=1\\n"
           "exec /usr/lib/git-core/git-http-backend\\n' > %s/cgi-bin/git && chmod 755 %s/cgi-bin/git",
           dir, dir, dir);

        port = free_port();
        (void) snprintf(port_arg, sizeof port_arg, "%d", port);
        /* the auth check is in Python: its CGI handler passes no Authorization header and no Status: line;
         * no fork, so the script runs as root (a forked CGI child becomes nobody) and gets the POST body */
        char *argv[] = { "/usr/bin/python3",
                         "-c",
                         "import base64, http.server, os, sys\n"
                         "want = ['Basic ' + base64.b64encode(u.encode()).decode() for u in sys.argv[2:4]]\n"
                         "os.chdir(sys.argv[4])\n"
                         "class H(http.server.CGIHTTPRequestHandler):\n"
                         "    have_fork = False\n"
                         "    def authorized(self):\n"
                         "        if self.headers.get('Authorization') in want:\n"
                         "            return True\n"
                         "        self.send_response(401)\n"
                         "        self.send_header('WWW-Authenticate', 'Basic realm=\"git\"')\n"
                         "        self.send_header('Content-Length', '0')\n"
                         "        self.end_headers()\n"
                         "        return False\n"
                         "    def do_GET(self):\n"
                         "        if self.path.startswith('/redir/'):\n"
                         "            self.send_response(302)\n"
                         "            self.send_header('Location', 'http://localhost:%d/cgi-bin/git/%s' %\n"
                         "                             (self.server.server_port, self.path[7:]))\n"
                         "            self.send_header('Content-Length', '0')\n"
                         "            self.end_headers()\n"
                         "        elif self.authorized(): super().do_GET()\n"
                         "    def do_POST(self):\n"
                         "        if self.authorized(): super().do_POST()\n"
                         "    def log_message(self, *a): pass\n"
                         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
                         port_arg,
                         "x-access-token:" TEST_TOKEN,
                         "ci-bot:" TEST_TOKEN,
                         dir,
                         NULL };
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        daemon_pid = spawn_process(argv, &opts);
        CHECK(daemon_pid > 0);
        for (unsigned i = 0; !port_answers(port); i++) {
                CHECK(i < 200); /* 10 s */
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        (void) snprintf(url, sizeof url, "http://127.0.0.1:%d/cgi-bin/git/repo.git", port);

        /* the right token: a fetch, then an incremental one that sees a new commit */
        CHECK_OK(git_mirror_open(tpath("git"), url, &auth, &m, &err));
        if (git_mirror_fetch(m, "main", &err) < 0)
                TEST_FAIL("fetch with a token failed: %s (%s)", err.message, err.hint);
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));
        sh_out(head, sizeof head, "git -C %s rev-parse main", tpath("up"));
        CHECK_STREQ(c.id, head);
        sh("cd %s && echo over-http >> README && git commit -q -am 'Over HTTP with a token' && "
           "git push -q %s/repo.git main",
           tpath("up"), dir);
        CHECK_OK(git_mirror_fetch(m, NULL, &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c2, &err));
        CHECK_STREQ(c2.subject, "Over HTTP with a token");
        CHECK(!streq(c2.id, c.id));

        /* a wrong token: refused once, said without either token */
        CHECK_OK(git_mirror_open(tpath("git"), url, &bad, &wrong, &err));
        r = git_mirror_fetch(wrong, "main", &err);
        fprintf(stderr, "wrong token: %s (%s)\n", err.message, err.hint);
        CHECK(r == -EACCES);
        CHECK(strstr(err.message, "refused the token: check it and set it again."));
        CHECK(strstr(err.message, url));
        CHECK(!strstr(err.message, "wr0ng") && !strstr(err.hint, "wr0ng"));
        CHECK(!strstr(err.message, TEST_TOKEN) && !strstr(err.hint, TEST_TOKEN));

        /* no token: asked for credentials */
        CHECK_OK(git_mirror_open(tpath("git"), url, NULL, &none, &err));
        CHECK(git_mirror_fetch(none, "main", &err) == -EACCES);
        CHECK(strstr(err.message, "refused access"));
        CHECK(!strstr(err.message, TEST_TOKEN) && !strstr(err.hint, TEST_TOKEN));

        /* the URL's user name is sent with the token instead of x-access-token */
        git_mirror_free(TAKE_PTR(none));
        (void) snprintf(url_user, sizeof url_user, "http://ci-bot@127.0.0.1:%d/cgi-bin/git/repo.git", port);
        CHECK_OK(git_mirror_open(tpath("git"), url_user, &auth, &none, &err));
        CHECK_OK(git_mirror_fetch(none, "main", &err));
        git_mirror_free(TAKE_PTR(none));
        (void) snprintf(url_user, sizeof url_user, "http://other@127.0.0.1:%d/cgi-bin/git/repo.git", port);
        CHECK_OK(git_mirror_open(tpath("git"), url_user, &auth, &none, &err));
        CHECK(git_mirror_fetch(none, "main", &err) == -EACCES);
        CHECK(strstr(err.message, "refused the token") && !strstr(err.message, "other@"));

        /* a redirect to another host name (of the same server here) gets no token */
        git_mirror_free(TAKE_PTR(none));
        (void) snprintf(url_user, sizeof url_user, "http://127.0.0.1:%d/redir/repo.git", port);
        CHECK_OK(git_mirror_open(tpath("git"), url_user, &auth, &none, &err));
        r = git_mirror_fetch(none, "main", &err);
        fprintf(stderr, "redirected: %s (%s)\n", err.message, err.hint);
        CHECK(r == -EACCES);
        CHECK(strstr(err.message, "refused access") && !strstr(err.message, TEST_TOKEN));

        /* the token is in no file of any mirror (config, refs, logs, packs) */
        (void) snprintf(cmd, sizeof cmd, "grep -r -a -q -F '%s' %s", TEST_TOKEN, tpath("git"));
        CHECK(WEXITSTATUS(system(cmd)) == 1);
        (void) snprintf(cmd, sizeof cmd, "grep -r -a -q -F wr0ng-t0ken %s", tpath("git"));
        CHECK(WEXITSTATUS(system(cmd)) == 1);

        (void) kill(daemon_pid, SIGTERM);
        (void) waitpid(daemon_pid, NULL, 0);
        daemon_pid = -1;
        fprintf(stderr, "http:// token fetches checked against git-http-backend on port %d\n", port);
}

static void test_git_daemon(void) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {}, c2 = {};
        char exec_path[512], head[64], url[256], base[1100], port_arg[32];
        SourceError err = {};
        int port;

        sh_out(exec_path, sizeof exec_path, "git --exec-path");
        if (!exists(exec_path) || access(strcat(exec_path, "/git-daemon"), X_OK) < 0) {
                fprintf(stderr, "skipping the git:// part: git daemon is not installed (%s)\n", exec_path);
                return;
        }

        port = free_port();
        (void) snprintf(base, sizeof base, "--base-path=%s", tmp_dir);
        (void) snprintf(port_arg, sizeof port_arg, "--port=%d", port);
        char *argv[] = { "git",    "daemon", "--reuseaddr", base, "--export-all", "--listen=127.0.0.1",
                         port_arg, tmp_dir,  NULL };
        _cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        opts.stderr_fd = null_fd; /* it complains about each readiness probe */
        daemon_pid = spawn_process(argv, &opts);
        CHECK(daemon_pid > 0);
        for (unsigned i = 0; !port_answers(port); i++) {
                CHECK(i < 200); /* 10 s */
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }

        (void) snprintf(url, sizeof url, "git://127.0.0.1:%d/up", port);
        CHECK_OK(git_mirror_open(tpath("git"), url, NULL, &m, &err));
        if (git_mirror_fetch(m, "main", &err) < 0)
                TEST_FAIL("git:// fetch failed: %s (%s)", err.message, err.hint);
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c, &err));
        sh_out(head, sizeof head, "git -C %s rev-parse main", tpath("up"));
        CHECK_STREQ(c.id, head);

        sh("cd %s && echo third >> README && git commit -q -am 'Third over git://'", tpath("up"));
        CHECK_OK(git_mirror_fetch(m, "main", &err));
        CHECK_OK(git_mirror_resolve_branch(m, "main", &c2, &err));
        CHECK_STREQ(c2.subject, "Third over git://");
        CHECK(!streq(c2.id, c.id));

        CHECK(git_mirror_fetch(m, "nope", &err) == -ENOENT);
        CHECK(strstr(err.hint, "main"));

        (void) kill(daemon_pid, SIGTERM);
        (void) waitpid(daemon_pid, NULL, 0);
        daemon_pid = -1;
        fprintf(stderr, "git:// fetches checked against git daemon on port %d\n", port);
}

int main(void) {
        if (system("git --version >/dev/null 2>&1") != 0)
                TEST_SKIP("the git command is not installed");
        CHECK(mkdtemp(tmp_dir));
        setup_env();
        make_upstream();

        test_bad_urls();
        test_mirror_local();
        test_unreachable();
        test_other_owner();
        test_open_race();
        test_checkout();
        test_submodule();
        test_crafted_trees();
        test_auth_refused();
        test_http_token();
        test_git_daemon();

        cleanup_all();
        return 0;
}
