/* COPY/ADD planning: sources are resolved with openat2(RESOLVE_IN_ROOT) inside the context, a stage's or an
 * image's read-only overlay (globs, --parents with its "/./" pivot and "**", --exclude), and their checksum
 * (paths, types, modes, content, link targets — never mtimes; excluded entries left out) keys the cache.
 * Invariant: no symlink is followed out of a source root. */
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
#include <strings.h>
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
        safe_close(p->docs_fd);
        if (p->mount)
                (void) overlay_umount(p->mount);
        free(p->mount);
        free(p->root);
        for (size_t i = 0; i < p->n_sources; i++) {
                free(p->sources[i].rel);
                free(p->sources[i].shown);
                free(p->sources[i].keep);
        }
        dockerignore_free(p->exclude);
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

static int add_source(CopyPlan *p, const char *rel, const char *shown, const char *keep) {
        CopySource *n;

        if (p->n_sources >= COPY_SOURCES_MAX)
                return -E2BIG;
        n = realloc(p->sources, (p->n_sources + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->sources = n;
        n[p->n_sources] = (CopySource) { .rel = strdup(rel), .shown = strdup(shown), .keep = NULL };
        if (keep)
                n[p->n_sources].keep = strdup(keep);
        if (!n[p->n_sources].rel || !n[p->n_sources].shown || (keep && !n[p->n_sources].keep)) {
                free(n[p->n_sources].rel);
                free(n[p->n_sources].shown);
                free(n[p->n_sources].keep);
                return -ENOMEM;
        }
        p->n_sources++;
        return 0;
}

bool copy_plan_excluded(const CopyPlan *p, const char *src_rel, bool is_dir) {
        if (!p || !p->exclude || isempty(src_rel) || !dockerignore_match(p->exclude, src_rel, is_dir))
                return false;
        return !(is_dir && dockerignore_should_descend(p->exclude, src_rel));
}

size_t copy_prefix_skip(const char *prefix) {
        return isempty(prefix) ? 0 : strlen(prefix) + 1;
}

bool copy_flag_true(const DockerfileInstruction *i, const char *name) {
        const char *v = NULL;

        return dockerfile_instruction_get_flag(i, name, &v) >= 0 && (!v || strcasecmp(v, "false") != 0);
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
        const CopyPlan *plan; /* for --exclude */
        size_t skip;          /* copy_prefix_skip() of the source's path */
} HashWalk;

static int hash_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata);

/* Hashes one entry (and, for a directory, its tree in name order, less what --exclude leaves out). fd is
 * O_PATH, not following. */
static int hash_entry(const HashWalk *w, int fd, const struct stat *st, const char *path) {
        Sha256 *h = w->h;
        char hdr[128];
        int r;

        if (w->depth > COPY_DEPTH_MAX)
                return -ELOOP;
        sha256_update(h, path, strlen(path) + 1);
        snprintf(hdr, sizeof hdr, "%o %u %u %lld", (unsigned) st->st_mode,
                 w->owners ? (unsigned) st->st_uid : 0, w->owners ? (unsigned) st->st_gid : 0,
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
                HashWalk sub = *w;

                if (dfd < 0)
                        return dfd;
                sub.depth++;
                r = copy_for_each_child(dfd, path, hash_child, &sub);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int hash_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata) {
        HashWalk *w = userdata;

        if (copy_plan_excluded(w->plan, rel + w->skip, S_ISDIR(st->st_mode)))
                return 0;
        return hash_entry(w, fd, st, rel);
}

/* The leading components of a cleaned glob path that hold no glob character ("" when the first one does). */
static char *glob_fixed_dir(const char *rel) {
        const char *g = strpbrk(rel, "*?["), *slash;

        if (!g)
                return strdup(rel);
        for (slash = g; slash > rel && *slash != '/'; slash--)
                ;
        return strndup(rel, (size_t) (slash - rel));
}

typedef struct GlobWalk {
        CopyPlan *p;
        DockerIgnore *pattern;
        unsigned depth, max_depth;
        const char *pivot; /* --parents: the cleaned part before "/./", or NULL */
        size_t fixed_skip; /* copy_prefix_skip() of the glob's fixed directory */
        size_t n_excluded;
} GlobWalk;

/* The --parents tail of rel: below the pivot, or all of it ("" for the root). NULL when rel is not below the
 * pivot (a ".." after "/./"). */
static const char *kept_tail(const char *rel, const char *pivot) {
        if (!pivot || streq(pivot, "."))
                return streq(rel, ".") ? "" : rel;
        if (streq(rel, pivot))
                return "";
        if (startswith(rel, pivot) && rel[strlen(pivot)] == '/')
                return rel + strlen(pivot) + 1;
        return NULL;
}

static int glob_add_match(GlobWalk *w, const char *rel) {
        const char *keep = w->p->parents ? kept_tail(rel, w->pivot) : NULL;

        /* A match itself is checked against --exclude relative to the glob's fixed directory
         * (COPY --exclude=*.txt hom* /d/ leaves out home.txt). */
        if (w->p->exclude && dockerignore_match(w->p->exclude, rel + w->fixed_skip, false)) {
                w->n_excluded++;
                return 0;
        }
        if (w->p->parents && !keep)
                return 0;
        return add_source(w->p, rel, rel, keep);
}

static int glob_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata) {
        GlobWalk *w = userdata;
        int r;

        if (dockerignore_match(w->pattern, rel, S_ISDIR(st->st_mode)))
                return glob_add_match(w, rel);
        if (S_ISDIR(st->st_mode) && w->depth + 1 < w->max_depth) {
                _cleanup_close_ int dfd = copy_reopen(fd, O_RDONLY | O_DIRECTORY);

                if (dfd < 0)
                        return dfd;
                w->depth++;
                r = copy_for_each_child(dfd, rel, glob_child, w);
                w->depth--;
                return r;
        }
        return 0;
}

/* --parents globs, which may hold "**": the tree below the fixed directory walked in name order, each entry
 * matched with the .dockerignore matcher (a match is a source; a matched directory is not entered). */
static int glob_walk(GlobWalk *w, const char *rel, const char *fixed) {
        _cleanup_close_ int pfd = -EBADF, dfd = -EBADF;
        DockerfileError derr = {};
        unsigned components = 1;
        int r;

        r = dockerignore_parse(rel, strlen(rel), "COPY source", &w->pattern, &derr);
        if (r < 0)
                return r;
        for (const char *c = rel + w->fixed_skip; *c; c++)
                components += *c == '/';
        w->max_depth = strstr(rel, "**") ? COPY_DEPTH_MAX : components;
        pfd = copy_open_in_root(w->p->root_fd, isempty(fixed) ? "." : fixed, O_PATH | O_DIRECTORY, 0);
        if (pfd < 0)
                return pfd == -ENOENT || pfd == -ENOTDIR ? 0 : pfd;
        dfd = copy_reopen(pfd, O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
                return dfd;
        return copy_for_each_child(dfd, fixed, glob_child, w);
}

static int glob_libc(GlobWalk *w, const char *rel) {
        _cleanup_free_ char *pattern = path_join(w->p->root, rel);
        glob_t g = {};
        int r;

        if (!pattern)
                return -ENOMEM;
        r = glob(pattern, GLOB_NOESCAPE, NULL, &g);
        if (r == 0)
                for (size_t m = 0; m < g.gl_pathc; m++) {
                        const char *match = g.gl_pathv[m] + strlen(w->p->root);
                        _cleanup_free_ char *mrel = NULL;

                        while (*match == '/')
                                match++;
                        if (!clean_rel(match, &mrel))
                                continue;
                        r = glob_add_match(w, mrel);
                        if (r < 0)
                                break;
                }
        else
                r = 0;
        globfree(&g);
        return r;
}

/* --exclude=PATTERN… as one .dockerignore pattern list. */
static int load_excludes(BuildContext *ctx, CopyPlan *p, const DockerfileInstruction *i) {
        _cleanup_(strbuf_done) StrBuf text = {};
        DockerfileError derr = {};
        int r;

        for (size_t k = 0; k < i->n_flags; k++) {
                if (!streq(i->flags[k].name, "exclude") || isempty(i->flags[k].value))
                        continue;
                if (strchr(i->flags[k].value, '\n'))
                        return build_error(ctx, -EINVAL, i, NULL, "--exclude=%s holds a line break.",
                                           i->flags[k].value);
                r = strbuf_append_str(&text, i->flags[k].value);
                if (r >= 0)
                        r = strbuf_append_char(&text, '\n');
                if (r < 0)
                        return r;
        }
        if (!text.data)
                return 0;
        r = dockerignore_parse(text.data, text.len, "--exclude", &p->exclude, &derr);
        if (r < 0)
                return build_error(ctx, r, i, "Write the patterns as in .dockerignore.",
                                   "%s has a bad --exclude pattern: %s.", copy_kind_name(i), derr.message);
        return 0;
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

/* COPY <<EOF: each heredoc source becomes a file named by its delimiter (0644, as BuildKit makes it) in a
 * directory of the step's own, copied after the context sources. */
static int add_heredoc_sources(BuildContext *ctx, CopyPlan *p, const DockerfileInstruction *i) {
        _cleanup_free_ char *dir = NULL;
        int r;

        if (i->n_heredocs == 0)
                return 0;
        r = build_tmp_dir(ctx, "heredoc", &dir);
        if (r < 0)
                return r;
        p->docs_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->docs_fd < 0)
                return -errno;
        for (size_t k = 0; k < i->n_heredocs; k++) {
                const DockerfileHeredoc *d = &i->heredocs[k];
                _cleanup_close_ int fd = -EBADF;
                _cleanup_free_ char *shown = NULL;
                struct timespec ts[2] = {};

                if (ctx->source_date_epoch >= 0)
                        ts[0].tv_sec = ts[1].tv_sec = (time_t) ctx->source_date_epoch;
                else
                        ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW;
                /* A later heredoc of the same name replaces the file, as a later source would. */
                if (unlinkat(p->docs_fd, d->name, 0) < 0 && errno != ENOENT)
                        return -errno;
                fd = openat(p->docs_fd, d->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0)
                        return build_error(ctx, -errno, i, NULL, "Cannot create the heredoc file %s: %m.",
                                           d->name);
                r = loop_write(fd, d->content, strlen(d->content));
                if (r >= 0 && (fchmod(fd, 0644) < 0 || futimens(fd, ts) < 0))
                        r = -errno;
                if (r < 0)
                        return r;
                if (asprintf(&shown, "<<%s", d->name) < 0)
                        return -ENOMEM;
                r = add_source(p, d->name, shown, NULL);
                if (r < 0)
                        return r == -E2BIG ? build_error(ctx, r, i, NULL, "%s has more than %u sources.",
                                                         copy_kind_name(i), COPY_SOURCES_MAX)
                                           : r;
                p->sources[p->n_sources - 1].doc = true;
        }
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
        p->root_fd = p->docs_fd = -EBADF;
        if (i->n_argv + i->n_heredocs < 2)
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

        p->parents = copy_flag_true(i, "parents");
        p->link = copy_flag_true(i, "link");
        r = load_excludes(ctx, p, i);
        if (r < 0)
                return r;

        for (size_t k = 0; k + 1 < i->n_argv; k++) {
                const char *src = i->argv[k], *dot = p->parents ? strstr(src, "/./") : NULL;
                _cleanup_free_ char *rel = NULL, *pivot = NULL, *fixed = NULL;

                if (!clean_rel(src, &rel))
                        return build_error(ctx, -EINVAL, i, "Put the file into the build context.",
                                           "%s source %s is outside the build context.", copy_kind_name(i),
                                           src);
                if (dot) {
                        _cleanup_free_ char *head = strndup(src, (size_t) (dot - src));

                        if (!head)
                                return -ENOMEM;
                        if (!clean_rel(head, &pivot))
                                return build_error(ctx, -EINVAL, i, NULL,
                                                   "%s source %s is outside the build context.",
                                                   copy_kind_name(i), src);
                        if (has_glob(pivot))
                                return build_error(ctx, -EINVAL, i, "Move the wildcard after the \"/./\".",
                                                   "The part of %s before \"/./\" holds a wildcard.", src);
                }
                if (has_glob(rel)) {
                        GlobWalk w = { .p = p, .pivot = pivot };
                        size_t before = p->n_sources;

                        fixed = glob_fixed_dir(rel);
                        if (!fixed)
                                return -ENOMEM;
                        w.fixed_skip = copy_prefix_skip(fixed);
                        r = p->parents && rel[0] != '!' && rel[0] != '#' ? glob_walk(&w, rel, fixed)
                                                                         : glob_libc(&w, rel);
                        dockerignore_free(w.pattern);
                        if (r == -E2BIG)
                                return build_error(ctx, r, i, NULL, "%s matches more than %u files.",
                                                   copy_kind_name(i), COPY_SOURCES_MAX);
                        if (r < 0)
                                return build_error(ctx, r, i, NULL, "Cannot match %s source %s: %s.",
                                                   copy_kind_name(i), src, strerror(-r));
                        if (p->n_sources == before && w.n_excluded == 0)
                                return build_error(ctx, -ENOENT, i, "Check the pattern and .dockerignore.",
                                                   "%s source %s matches no file in the %s.",
                                                   copy_kind_name(i), src,
                                                   p->mount ? "source stage" : "build context");
                        continue;
                }
                if (p->parents && !kept_tail(rel, pivot))
                        return build_error(ctx, -EINVAL, i, "Name a path below the \"/./\".",
                                           "%s source %s leaves the directory before its \"/./\".",
                                           copy_kind_name(i), src);
                r = add_source(p, rel, src, p->parents ? kept_tail(rel, pivot) : NULL);
                if (r < 0)
                        return r;
        }

        r = add_heredoc_sources(ctx, p, i);
        if (r < 0)
                return r;

        sha256_init(&h);
        for (size_t k = 0; k < p->n_sources; k++) {
                _cleanup_close_ int fd =
                        copy_open_in_root(copy_source_root(p, k), p->sources[k].rel, O_PATH, 0);
                struct stat st;

                if (fd < 0)
                        return build_error(ctx, fd == -ENOENT ? -ENOENT : fd, i,
                                           "Check the path and .dockerignore.",
                                           "%s source %s does not exist in the %s.", copy_kind_name(i),
                                           p->sources[k].shown, p->mount ? "source stage" : "build context");
                if (fstat(fd, &st) < 0)
                        return -errno;
                r = hash_entry(&(HashWalk) { .h = &h,
                                             .owners = p->keep_owners,
                                             .plan = p,
                                             .skip = copy_prefix_skip(p->sources[k].rel) },
                               fd, &st, p->sources[k].rel);
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
