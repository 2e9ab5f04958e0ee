/* secrets.h: a bounded walk of an unpacked root, each regular file searched for the rules below. */
#include "secrets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

#define SECRETS_DEPTH_MAX 32U

typedef struct Rule {
        const char *name;
        const char *prefix; /* literal start */
        size_t min_tail;    /* at least this many bytes of tail after the prefix ... */
        const char *tail;   /* ... from this set (NULL: the prefix alone) */
} Rule;

static const Rule rules[] = {
        { "private-key", "-----BEGIN RSA PRIVATE KEY-----", 0, NULL },
        { "private-key", "-----BEGIN EC PRIVATE KEY-----", 0, NULL },
        { "private-key", "-----BEGIN DSA PRIVATE KEY-----", 0, NULL },
        { "private-key", "-----BEGIN OPENSSH PRIVATE KEY-----", 0, NULL },
        { "private-key", "-----BEGIN PRIVATE KEY-----", 0, NULL },
        { "aws-access-key-id", "AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" },
        { "github-token", "ghp_", 36, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" },
        { "github-token", "github_pat_", 22,
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_" },
        { "gitlab-token", "glpat-", 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-" },
        { "slack-token", "xoxb-", 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-" },
};

static bool rule_at(const Rule *r, const char *p, const char *end) {
        size_t n = strlen(r->prefix);

        if ((size_t) (end - p) < n + r->min_tail || memcmp(p, r->prefix, n) != 0)
                return false;
        for (size_t i = 0; i < r->min_tail; i++)
                if (!strchr(r->tail, p[n + i]) || p[n + i] == '\0')
                        return false;
        return true;
}

const char *secrets_match(const char *data, size_t size) {
        const char *end = data + size;

        for (const char *p = data; p < end; p++) {
                /* Every rule starts with '-', 'A', 'g', or 'x': skip the rest fast. */
                if (*p != '-' && *p != 'A' && *p != 'g' && *p != 'x')
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                        if (rule_at(&rules[i], p, end))
                                return rules[i].name;
        }
        return NULL;
}

typedef struct Walk {
        json_t *findings;
        size_t n_files;
        char *buf;
} Walk;

static int scan_file(Walk *w, int dfd, const char *name, const char *path) {
        _cleanup_close_ int fd =
                openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        ssize_t n;
        const char *rule;
        char id[4200];

        if (fd < 0)
                return 0;
        n = read(fd, w->buf, SECRETS_FILE_MAX);
        if (n <= 0)
                return 0;
        rule = secrets_match(w->buf, (size_t) n);
        if (!rule || json_array_size(w->findings) >= SECRETS_FINDINGS_MAX)
                return 0;
        snprintf(id, sizeof id, "secret:%s:%s", rule, path);
        return json_array_append_new(w->findings,
                                     json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "kind", "secret", "rule",
                                               rule, "file", path, "severity", "CRITICAL")) < 0
                       ? -ENOMEM
                       : 0;
}

static int walk(Walk *w, int dfd, const char *prefix, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        if (depth > SECRETS_DEPTH_MAX)
                return 0;
        /* A descriptor of its own: a dup() would share (and find at its end) the caller's directory offset. */
        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                char path[4096];
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (++w->n_files > SECRETS_FILES_MAX)
                        return 0;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (snprintf(path, sizeof path, "%s/%s", prefix, de->d_name) >= (int) sizeof path)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (depth == 0 && (streq(de->d_name, "proc") || streq(de->d_name, "sys") ||
                                           streq(de->d_name, "dev")))
                                continue;
                        _cleanup_close_ int sub =
                                openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                continue;
                        r = walk(w, sub, path, depth + 1);
                } else if (S_ISREG(st.st_mode) && st.st_size > 0)
                        r = scan_file(w, dfd, de->d_name, path);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

int secrets_scan_root(int root_fd, json_t **ret) {
        _cleanup_free_ char *buf = malloc(SECRETS_FILE_MAX);
        Walk w = { .findings = json_array(), .buf = buf };
        int r;

        if (!buf || !w.findings) {
                json_decref(w.findings);
                return -ENOMEM;
        }
        r = walk(&w, root_fd, "", 0);
        if (r < 0) {
                json_decref(w.findings);
                return r;
        }
        *ret = w.findings;
        return 0;
}
