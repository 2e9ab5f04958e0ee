/* Unit tests for the state directory: first-start files and modes, idempotent re-init, the lock
 * naming its holder, tmp cleanup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-util.h"
#include "state-dir.h"

#include "tests.h"

static void check_file(const char *dir, const char *name, mode_t mode, off_t size) {
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;

        CHECK(p && stat(p, &st) == 0);
        CHECK((st.st_mode & 07777) == mode);
        if (size >= 0)
                CHECK(st.st_size == size);
}

int main(void) {
        char base[] = "/tmp/test-state-dir-XXXXXX";
        _cleanup_free_ char *dir = NULL, *abs = NULL, *token = NULL, *token2 = NULL, *key1 = NULL,
                            *key2 = NULL, *kp = NULL, *junk = NULL;
        size_t n;
        bool init;
        int fd = -1, status;
        pid_t holder = 0, child;

        CHECK(mkdtemp(base));
        dir = path_join(base, "state");
        CHECK(state_dir_prepare(dir, &abs) == 0);
        CHECK(streq(abs, dir));
        check_file(dir, ".", 0700, -1);

        CHECK(state_dir_init(dir, &init) == 0 && init);
        check_file(dir, "master.key", 0600, 32);
        check_file(dir, "admin.token", 0600, 65);
        check_file(dir, "tmp", 0700, -1);
        check_file(dir, "oci", 0700, -1);
        check_file(dir, "layers", 0700, -1);
        CHECK(state_dir_read_token(dir, &token) == 0 && strlen(token) == 64);
        kp = path_join(dir, "master.key");
        CHECK(read_full_file(kp, &key1, &n) == 0 && n == 32);

        /* Second start: nothing is regenerated. */
        CHECK(state_dir_init(dir, &init) == 0 && !init);
        CHECK(state_dir_read_token(dir, &token2) == 0 && streq(token, token2));
        CHECK(read_full_file(kp, &key2, &n) == 0 && n == 32 && memcmp(key1, key2, 32) == 0);

        /* The lock: we hold it, a child process is told our pid. */
        CHECK(state_dir_lock(dir, &fd, &holder) == 0 && fd >= 0);
        child = fork();
        CHECK(child >= 0);
        if (child == 0) {
                int cfd = -1;
                pid_t h = 0;
                int r = state_dir_lock(dir, &cfd, &h);
                _exit(r == -EBUSY && h == getppid() ? 0 : 1);
        }
        CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(fd);

        /* Leftover uploads go on start. */
        junk = path_join(dir, "tmp/upload-abc");
        CHECK(write_file_atomic(junk, "x", 1, 0600) == 0);
        CHECK(state_dir_clean_tmp(dir) == 0);
        CHECK(access(junk, F_OK) < 0 && errno == ENOENT);

        CHECK(state_dir_write_api_url(dir, "http://127.0.0.1:1") == 0);
        check_file(dir, "api.url", 0600, 19);

        CHECK(rm_rf(base) == 0);
        printf("test-state-dir: OK\n");
        return 0;
}
