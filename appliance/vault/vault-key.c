/* Loading the master key file.  The file is checked before it is read (regular file, mode 0600 or
 * stricter) and its bytes never leave locked memory except through the stack buffer wiped here. */
#include "vault-key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

int vault_master_key_path(const char *state_dir, char **ret) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        char *p;

        if (creds && *creds) {
                _cleanup_free_ char *c = path_join(creds, VAULT_CREDENTIAL_NAME);
                if (!c)
                        return -ENOMEM;
                if (access(c, F_OK) == 0) {
                        *ret = TAKE_PTR(c);
                        return 0;
                }
        }
        p = path_join(state_dir, VAULT_MASTER_KEY_FILE);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* 32 raw bytes, or 64 hex digits with an optional trailing newline, into key. */
static int parse_key(const uint8_t *buf, size_t n, uint8_t *key) {
        if (n == VAULT_MASTER_KEY_SIZE) {
                memcpy(key, buf, VAULT_MASTER_KEY_SIZE);
                return 0;
        }
        if (n == 2 * VAULT_MASTER_KEY_SIZE + 1 && buf[n - 1] == '\n')
                n--;
        if (n != 2 * VAULT_MASTER_KEY_SIZE)
                return -EBADMSG;
        for (size_t i = 0; i < VAULT_MASTER_KEY_SIZE; i++) {
                int hi = unhex_digit((char) buf[2 * i]), lo = unhex_digit((char) buf[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                key[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

static int fail(char **ret_error, int r, const char *fmt, const char *path) {
        if (ret_error && asprintf(ret_error, fmt, path) < 0)
                *ret_error = NULL;
        return r;
}

int vault_master_key_load(const char *path, uint8_t **ret_key, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t buf[VAULT_KEY_FILE_MAX + 1];
        uint8_t *key;
        struct stat st;
        ssize_t n;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return fail(ret_error, -ENOENT,
                                    "The master key %s is missing: restore the master.key this state "
                                    "directory was created with, or point $CREDENTIALS_DIRECTORY at a "
                                    "directory holding it as " VAULT_CREDENTIAL_NAME ".",
                                    path);
                r = -errno;
                return fail(ret_error, r, "The master key %s cannot be read: check its owner and mode.",
                            path);
        }
        if (fstat(fd, &st) < 0)
                return fail(ret_error, -errno, "The master key %s cannot be read: check its owner and mode.",
                            path);
        if (!S_ISREG(st.st_mode))
                return fail(ret_error, -EBADMSG,
                            "The master key %s is not a regular file: restore the file.", path);
        if (st.st_mode & (S_IRWXG | S_IRWXO))
                return fail(ret_error, -EPERM,
                            "The master key %s may be read by group or others: run chmod 600 on it.", path);

        n = loop_read(fd, buf, sizeof buf);
        if (n < 0)
                return fail(ret_error, (int) n, "The master key %s cannot be read: check the disk.", path);

        key = sodium_malloc(VAULT_MASTER_KEY_SIZE);
        if (!key) {
                sodium_memzero(buf, sizeof buf);
                return -ENOMEM;
        }
        r = parse_key(buf, (size_t) n, key);
        sodium_memzero(buf, sizeof buf);
        if (r < 0) {
                sodium_free(key);
                return fail(ret_error, r,
                            "The master key %s holds neither 32 raw bytes nor 64 hex digits: restore the "
                            "master.key this state directory was created with.",
                            path);
        }
        (void) sodium_mprotect_readonly(key);
        *ret_key = key;
        return 0;
}
