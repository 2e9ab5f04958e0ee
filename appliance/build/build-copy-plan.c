/* COPY/ADD planning: sources are resolved with openat2(RESOLVE_IN_ROOT) inside the context, a stage's or an
 * image's read-only overlay, and their checksum (paths, types, modes, content, link targets — never mtimes)
 * keys the cache. Invariant: no symlink is followed out of a source root. */
#include "build-copy-plan.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "build-image.h"
#include "fs-util.h"
#include "json-util.h"
#include "layer-unpack.h"
#include "overlay.h"
#include "strbuf.h"
#include "string-util.h"
#include "user-db.h"

CopyPlan *copy_plan_free(CopyPlan *p) {
        if (!p)
                return NULL;
        safe_close(p->root_fd);
        if (p->mount)
                (void) overlay_umount(p->mount);
        free(p->mount);
        free(p->root);
        for (size_t i = 0; i < p->n_sources; i++) {
                free(p->sources[i].rel);
                free(p->sources[i].shown);
        }
        free(p->sources);
        free(p);
        return NULL;
}

int copy_open_in_root(int root_fd, const char *rel, int flags, uint64_t extra_resolve) {
        struct open_how how = { .flags = (uint64_t) flags | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve };
        int fd = (int) syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

int copy_reopen(int fd, int flags) {
        char proc[64];
        int r;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        r = open(proc, flags | O_CLOEXEC);
        return r < 0 ? -errno : r;
}

int copy_for_each_child(int dir_fd, const char *parent_rel, CopyChildFunc fn, void *userdata) {
        struct dirent **names = NULL;
        int n, r = 0;

        /* scandirat sorts the names: hashes and copies must not depend on directory order. */
        n = scandirat(dir_fd, ".", &names, NULL, alphasort);
        if (n < 0)
                return -errno;
        for (int k = 0; k < n && r >= 0; k++) {
                const char *nm = names[k]->d_name;
                _cleanup_close_ int cfd = -EBADF;
                _cleanup_free_ char *rel = NULL;
                struct stat cst;

                if (streq(nm, ".") || streq(nm, ".."))
                        continue;
                cfd = openat(dir_fd, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0 || fstat(cfd, &cst) < 0) {
                        r = -errno;
                        continue;
                }
                rel = isempty(parent_rel) ? strdup(nm) : path_join(parent_rel, nm);
                r = rel ? fn(cfd, &cst, nm, rel, userdata) : -ENOMEM;
        }
        for (int k = 0; k < n; k++)
                free(names[k]);
        free(names);
        return r;
}

/* Lexically cleans a source path relative to the root; false when it climbs out. */
static bool clean_rel(const char *p, char **ret) {
        _cleanup_free_ char *copy = strdup(p);
        StrBuf out = {};
        char *save = NULL, *parts[512];
        size_t n = 0;

        if (!copy)
                return false;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        if (n == 0)
                                return false;
                        n--;
                        continue;
                }
                if (n >= ELEMENTSOF(parts))
                        return false;
                parts[n++] = c;
        }
        for (size_t k = 0; k < n; k++) {
                if (k > 0)
                        strbuf_append_char(&out, '/');
                strbuf_append_str(&out, parts[k]);
        }
        if (n == 0)
                strbuf_append_str(&out, ".");
        *ret = strbuf_steal(&out);
        return *ret != NULL;
}

static bool has_glob(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

static int add_source(CopyPlan *p, const char *rel, const char *shown) {
        CopySource *n;

        if (p->n_sources >= COPY_SOURCES_MAX)
                return -E2BIG;
        n = realloc(p->sources, (p->n_sources + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->sources = n;
        n[p->n_sources] = (CopySource) { .rel = strdup(rel), .shown = strdup(shown) };
        if (!n[p->n_sources].rel || !n[p->n_sources].shown) {
                free(n[p->n_sources].rel);
                free(n[p->n_sources].shown);
                return -ENOMEM;
        }
        p->n_sources++;
        return 0;
}

const char *copy_kind_name(const DockerfileInstruction *i) {
        return i->kind == DOCKERFILE_ADD ? "ADD" : i->kind == DOCKERFILE_RUN ? "RUN --mount" : "COPY";
}

int copy_read_link(int fd, char **ret) {
        /* On the heap: the walks that read links recurse per directory level and run on server threads. */
        _cleanup_free_ char *target = malloc(PATH_MAX);
        ssize_t n;

        if (!target)
                return -ENOMEM;
        n = readlinkat(fd, "", target, PATH_MAX - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        *ret = TAKE_PTR(target);
        return 0;
}

typedef struct HashWalk {
        Sha256 *h;
        bool owners;
        unsigned depth;
} HashWalk;

static int hash_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata);

/* Hashes one entry (and, for a directory, its tree in name order). fd is O_PATH, not following. */
static int hash_entry(Sha256 *h, int fd, const struct stat *st, const char *path, bool owners,
                      unsigned depth) {
        char hdr[128];
        int r;

        if (depth > COPY_DEPTH_MAX)
                return -ELOOP;
        sha256_update(h, path, strlen(path) + 1);
        snprintf(hdr, sizeof hdr, "%o %u %u %lld", (unsigned) st->st_mode,
                 owners ? (unsigned) st->st_uid : 0, owners ? (unsigned) st->st_gid : 0,
                 S_ISREG(st->st_mode) ? (long long) st->st_size : 0LL);
        sha256_update(h, hdr, strlen(hdr) + 1);
        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int rfd = copy_reopen(fd, O_RDONLY);
                char d[DIGEST_STRING_MAX];

                if (rfd < 0)
                        return rfd;
                r = sha256_fd(rfd, d, NULL);
                if (r < 0)
                        return r;
                sha256_update(h, d, strlen(d));
        } else if (S_ISLNK(st->st_mode)) {
                _cleanup_free_ char *target = NULL;

                r = copy_read_link(fd, &target);
                if (r < 0)
                        return r;
                sha256_update(h, target, strlen(target));
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                snprintf(hdr, sizeof hdr, "%u:%u", major(st->st_rdev), minor(st->st_rdev));
                sha256_update(h, hdr, strlen(hdr));
        } else if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int dfd = copy_reopen(fd, O_RDONLY | O_DIRECTORY);
                HashWalk w = { .h = h, .owners = owners, .depth = depth + 1 };

                if (dfd < 0)
                        return dfd;
                r = copy_for_each_child(dfd, path, hash_child, &w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int hash_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata) {
        HashWalk *w = userdata;

        return hash_entry(w->h, fd, st, rel, w->owners, w->depth);
}

static int mount_state_ro(BuildContext *ctx, json_t *state, char **ret) {
        _cleanup_free_ char *dir = NULL, *root = NULL;
        int r;

        r = build_tmp_dir(ctx, "from", &dir);
        if (r < 0)
                return r;
        root = path_join(dir, "root");
        if (!root)
                return -ENOMEM;
        r = build_state_mount(ctx, state, NULL, NULL, root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(root);
        return 0;
}

int build_copy_prepare(BuildContext *ctx, json_t *from_state, const DockerfileInstruction *i, CopyPlan **ret,
                       char **ret_checksum) {
        _cleanup_(copy_plan_freep) CopyPlan *p = calloc(1, sizeof *p);
        const char *from = NULL;
        char sum[DIGEST_STRING_MAX];
        Sha256 h;
        int r;

        if (!p)
                return -ENOMEM;
        p->root_fd = -EBADF;
        if (i->n_argv < 2)
                return build_error(ctx, -EBADMSG, i, NULL, "%s needs at least one source and a destination.",
                                   copy_kind_name(i));
        (void) dockerfile_instruction_get_flag(i, "from", &from);
        if (from_state) {
                r = mount_state_ro(ctx, from_state, &p->mount);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot mount stage %s: %s.", from,
                                           strerror(-r));
                p->keep_owners = true;
        } else if (from) {
                _cleanup_json_ json_t *st = NULL;
                ImageRecord rec = {};
                OciError oe = {};

                r = image_catalog_lookup(ctx->builder->catalog, from, &rec, &oe);
                if (r < 0)
                        return build_error(ctx, -ENOENT, i,
                                           "Import it first with 'slipway image import', or name an "
                                           "earlier stage.",
                                           "--from=%s names neither a stage nor an image in "
                                           "the store.",
                                           from);
                r = build_state_from_image(ctx, rec.digest, &st);
                image_record_done(&rec);
                if (r >= 0)
                        r = mount_state_ro(ctx, st, &p->mount);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot mount image %s: %s.", from,
                                           strerror(-r));
                p->keep_owners = true;
        }
        p->root = strdup(p->mount ?: ctx->opts->context_dir);
        if (!p->root)
                return -ENOMEM;
        p->root_fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->root_fd < 0)
                return build_error(ctx, -errno, i, NULL, "Cannot open the source root: %m.");

        for (size_t k = 0; k + 1 < i->n_argv; k++) {
                const char *src = i->argv[k];
                _cleanup_free_ char *rel = NULL;

                if (!clean_rel(src, &rel))
                        return build_error(ctx, -EINVAL, i, "Put the file into the build context.",
                                           "%s source %s is outside the build context.", copy_kind_name(i),
                                           src);
                if (has_glob(rel)) {
                        _cleanup_free_ char *pattern = path_join(p->root, rel);
                        glob_t g = {};
                        size_t before = p->n_sources;

                        if (!pattern)
                                return -ENOMEM;
                        r = glob(pattern, GLOB_NOESCAPE, NULL, &g);
                        if (r == 0)
                                for (size_t m = 0; m < g.gl_pathc; m++) {
                                        const char *match = g.gl_pathv[m] + strlen(p->root);
                                        _cleanup_free_ char *mrel = NULL;

                                        while (*match == '/')
                                                match++;
                                        if (!clean_rel(match, &mrel))
                                                continue;
                                        r = add_source(p, mrel, mrel);
                                        if (r < 0)
                                                break;
                                }
                        globfree(&g);
                        if (r < 0 && r != GLOB_NOMATCH)
                                return r == -E2BIG ? build_error(ctx, r, i, NULL,
                                                                 "%s matches more than %u files.",
                                                                 copy_kind_name(i), COPY_SOURCES_MAX)
                                                   : r;
                        if (p->n_sources == before)
                                return build_error(ctx, -ENOENT, i, "Check the pattern and .dockerignore.",
                                                   "%s source %s matches no file in the %s.",
                                                   copy_kind_name(i), src,
                                                   p->mount ? "source stage" : "build context");
                        continue;
                }
                r = add_source(p, rel, src);
                if (r < 0)
                        return r;
        }

        sha256_init(&h);
        for (size_t k = 0; k < p->n_sources; k++) {
                _cleanup_close_ int fd = copy_open_in_root(p->root_fd, p->sources[k].rel, O_PATH, 0);
                struct stat st;

                if (fd < 0)
                        return build_error(ctx, fd == -ENOENT ? -ENOENT : fd, i,
                                           "Check the path and .dockerignore.",
                                           "%s source %s does not exist in the %s.", copy_kind_name(i),
                                           p->sources[k].shown, p->mount ? "source stage" : "build context");
                if (fstat(fd, &st) < 0)
                        return -errno;
                r = hash_entry(&h, fd, &st, p->sources[k].rel, p->keep_owners, 0);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot read %s source %s: %s.",
                                           copy_kind_name(i), p->sources[k].shown, strerror(-r));
        }
        sha256_final(&h, sum);
        *ret_checksum = strdup(sum);
        if (!*ret_checksum)
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}
