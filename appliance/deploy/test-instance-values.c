/* Unit tests for run-time values (instance-values.h): environment merge over the image's Env, value
 * files with owner and mode, the per-instance tmpfs sealed read-only (as root), and the deploy log
 * scrubbed of a release's secrets while they are known. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy-log-db.h"
#include "fs-util.h"
#include "instance-values.h"
#include "scrub.h"
#include "sqlite-util.h"
#include "state.h"
#include "strv.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-instance-values-XXXXXX";

#define V_ENV(k, v) \
        { .key = (k), .data = (const uint8_t *) (v), .size = strlen(v) }
#define V_SECRET(k, v) \
        { .key = (k), .secret = true, .data = (const uint8_t *) (v), .size = strlen(v) }
#define V_FILE(k, p, v, s)                                                    \
        {                                                                     \
                .key = (k), .is_file = true, .file_path = (p), .secret = (s), \
                .data = (const uint8_t *) (v), .size = strlen(v)              \
        }

static void test_env(void) {
        char **env = strv_new("PATH=/bin", "GREETING=from-image", "GREETINGS=other", NULL);
        size_t n = 3;
        InstanceValue v[] = {
                V_ENV("GREETING", "from-value"),
                V_SECRET("API_KEY", "k3y=with=equals"),
                V_FILE("TOKEN", "/etc/token", "not in env", true),
                V_ENV("EMPTY", ""),
        };
        _cleanup_free_ char *err = NULL;

        CHECK(env);
        CHECK_OK(instance_values_env(&env, &n, v, ELEMENTSOF(v), &err));
        /* The value replaces the image's entry of the same name (and only that one), the rest append. */
        CHECK(n == 5 && strv_length(env) == 5);
        CHECK_STREQ(env[0], "PATH=/bin");
        CHECK_STREQ(env[1], "GREETING=from-value");
        CHECK_STREQ(env[2], "GREETINGS=other");
        CHECK_STREQ(env[3], "API_KEY=k3y=with=equals");
        CHECK_STREQ(env[4], "EMPTY=");
        CHECK(!err);

        /* A NUL byte cannot go into an environment string: refused, with the key named. */
        InstanceValue nul = { .key = "BIN", .data = (const uint8_t *) "a\0b", .size = 3 };
        CHECK(instance_values_env(&env, &n, &nul, 1, &err) == -EINVAL);
        CHECK(err && strstr(err, "BIN") && strstr(err, "--file"));
        CHECK(n == 5);
        strv_free(env);
}

static void test_files(void) {
        _cleanup_free_ char *run = path_join(tmpdir, "run"), *err = NULL;
        BundleMount *m = NULL;
        char **paths = NULL;
        size_t n = 0;
        InstanceValue v[] = {
                V_ENV("PLAIN", "x"),
                V_FILE("TOKEN", "/etc/app/token", "s3cret\n", true),
                V_FILE("CONF", "/etc/app/app.conf", "a=1\n", false),
        };
        bool root = geteuid() == 0;
        uid_t uid = root ? 101000 : getuid();
        gid_t gid = root ? 101001 : getgid();

        CHECK(run && mkdir(run, 0700) == 0);
        CHECK_OK(instance_values_write_files(run, v, ELEMENTSOF(v), uid, gid, &m, &paths, &n, &err));
        CHECK(n == 2);
        CHECK_STREQ(m[0].destination, "/etc/app/token");
        CHECK_STREQ(m[0].type, "bind");
        CHECK_STREQ(m[1].destination, "/etc/app/app.conf");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *data = NULL;
                struct stat st;

                CHECK(strncmp(m[i].source, run, strlen(run)) == 0);
                CHECK(lstat(m[i].source, &st) == 0 && S_ISREG(st.st_mode));
                CHECK(st.st_uid == uid && st.st_gid == gid);
                CHECK((st.st_mode & 07777) ==
                      (i == 0 ? INSTANCE_VALUE_FILE_MODE_SECRET : INSTANCE_VALUE_FILE_MODE));
                CHECK_OK(read_full_file(m[i].source, &data, NULL));
                CHECK_STREQ(data, i == 0 ? "s3cret\n" : "a=1\n");
        }
        strv_free_n(paths, n);
        free(m);

        /* No file values: nothing written, no mounts. */
        CHECK_OK(instance_values_write_files(run, v, 1, uid, gid, &m, &paths, &n, &err));
        CHECK(n == 0 && !m && !paths);

        /* A file value without an absolute path is refused. */
        _cleanup_free_ char *run2 = path_join(tmpdir, "run2");
        InstanceValue rel = V_FILE("REL", "etc/x", "y", false);
        CHECK(run2 && mkdir(run2, 0700) == 0);
        CHECK(instance_values_write_files(run2, &rel, 1, uid, gid, &m, &paths, &n, &err) == -EINVAL);
        CHECK(err && strstr(err, "REL"));
}

static void test_run_dir(void) {
        _cleanup_free_ char *path = NULL, *run = NULL, *name = NULL, *file = NULL;
        struct stat st;
        int fd;

        CHECK(instance_run_dir_path("slipway-0a1b", &path) == 0);
        CHECK_STREQ(path, INSTANCE_RUN_ROOT "/slipway-0a1b");
        CHECK(instance_run_dir_path("", &path) == -EINVAL);
        CHECK(instance_run_dir_path("../etc", &path) == -EINVAL);
        CHECK(instance_run_dir_path("a/b", &path) == -EINVAL);
        CHECK(instance_run_dir_path(NULL, &path) == -EINVAL);
        CHECK(instance_run_dir_remove("../etc") == -EINVAL);

        if (geteuid() != 0) {
                fprintf(stderr, "not root: the tmpfs mount is not tested\n");
                return;
        }
        CHECK(asprintf(&name, "slipway-unit-%d", (int) getpid()) > 0);
        CHECK_OK(instance_run_dir_mount(name, &run));
        CHECK(stat(run, &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_uid == 0);
        file = path_join(run, "f");
        CHECK(file);
        CHECK_OK(write_file_atomic(file, "v", 1, 0600));
        /* A second mount replaces the first (a rerun of prepare): the file is gone. */
        free(run);
        run = NULL;
        CHECK_OK(instance_run_dir_mount(name, &run));
        CHECK(access(file, F_OK) < 0 && errno == ENOENT);
        CHECK_OK(write_file_atomic(file, "v", 1, 0600));
        CHECK_OK(instance_run_dir_seal(run));
        /* Sealed: nobody writes, root included. */
        fd = open(file, O_WRONLY | O_CLOEXEC);
        CHECK(fd < 0 && errno == EROFS);
        CHECK(chmod(file, 0644) < 0 && errno == EROFS);
        CHECK_OK(instance_run_dir_remove(name));
        CHECK(access(run, F_OK) < 0 && errno == ENOENT);
        /* Gone already: no error. */
        CHECK_OK(instance_run_dir_remove(name));
}

static void test_deploy_log_scrub(void) {
        _cleanup_free_ char *p = path_join(tmpdir, "log.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(scrubber_freep) Scrubber *s = NULL;
        ModelLogLine *l = NULL;
        size_t n = 0;

        CHECK(p);
        CHECK(state_open(p, &db) == 0);
        /* Lines of releases that need not exist here. */
        CHECK_OK(sqlite_exec(db, "PRAGMA foreign_keys = OFF;"));
        CHECK_OK(scrubber_new(&s));
        CHECK(scrubber_add(s, "DB_PASSWORD", "hunter22", 8) == 1);

        CHECK_OK(model_deploy_log_scrub_push(7, s));
        CHECK_OK(model_deploy_log_append(db, 7, "tail: login with hunter22 failed"));
        CHECK_OK(model_deploy_log_appendf(db, 7, "reason: %s", "hunter22hunter22"));
        CHECK_OK(model_deploy_log_append(db, 8, "another release: hunter22"));
        model_deploy_log_scrub_pop(7, s);
        CHECK_OK(model_deploy_log_append(db, 7, "after: hunter22"));

        CHECK_OK(model_deploy_log_list(db, 7, &l, &n));
        CHECK(n == 3);
        CHECK_STREQ(l[0].line, "tail: login with [secret DB_PASSWORD] failed");
        CHECK_STREQ(l[1].line, "reason: [secret DB_PASSWORD][secret DB_PASSWORD]");
        CHECK_STREQ(l[2].line, "after: hunter22"); /* no longer known */
        model_log_lines_free(l, n);
        CHECK_OK(model_deploy_log_list(db, 8, &l, &n));
        CHECK(n == 1);
        CHECK_STREQ(l[0].line, "another release: hunter22"); /* another release's secrets are its own */
        model_log_lines_free(l, n);

        /* An empty scrubber registers nothing; a pop of what was never pushed is harmless. */
        _cleanup_(scrubber_freep) Scrubber *none = NULL;
        CHECK_OK(scrubber_new(&none));
        CHECK_OK(model_deploy_log_scrub_push(9, none));
        model_deploy_log_scrub_pop(9, none);
        model_deploy_log_scrub_pop(10, s);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_env();
        test_files();
        test_run_dir();
        test_deploy_log_scrub();
        (void) rm_rf(tmpdir);
        return 0;
}
