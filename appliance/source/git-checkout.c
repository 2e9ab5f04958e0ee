/* Writes a commit's tree into a build workspace by walking it and writing blobs ourselves, without
 * libgit2's checkout machinery: nothing of git (index, .git, config) is left behind, and each entry is
 * created relative to its parent's fd with O_NOFOLLOW/O_EXCL, so a write can never pass through a symlink. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "git-checkout.h"
#include "path-util.h"
#include "string-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(git_commit *, git_commit_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_tree *, git_tree_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_tree_entry *, git_tree_entry_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_blob *, git_blob_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_odb *, git_odb_free);

typedef struct Checkout {
        GitMirror *mirror;
        git_repository *repo;
        git_odb *odb;
        const char *commit_id;
        struct timespec times[2];
        uint64_t max_files, max_bytes;
        SourceCheckoutResult res;
        SourceError *err;
} Checkout;

static int entry_name_check(Checkout *c, const char *prefix, const char *name) {
        if (!*name || strchr(name, '/') || streq(name, ".") || streq(name, "..") ||
            strcasecmp(name, ".git") == 0)
                return source_error_set(
                        c->err, -EBADMSG,
                        "Commit %s has a tree entry named '%.*s' %s%s%s, which Slipway refuses.",
                        c->commit_id, 100, name, *prefix ? "in '" : "at its top", prefix,
                        *prefix ? "'" : "");
        return 0;
}

static int count_entry(Checkout *c, uint64_t bytes) {
        char size[32];

        if (c->res.n_files + c->res.n_dirs + 1 > c->max_files) {
                int r = source_error_set(c->err, -EFBIG,
                                         "Commit %s has more than %llu files and directories.", c->commit_id,
                                         (unsigned long long) c->max_files);
                source_error_hint(c->err,
                                  "Use --dir to build from a smaller sub-directory of the repository.");
                return r;
        }
        if (bytes > c->max_bytes - c->res.n_bytes) {
                int r = source_error_set(c->err, -EFBIG, "Commit %s holds more than %s of files.",
                                         c->commit_id, format_bytes(size, sizeof size, c->max_bytes));
                source_error_hint(c->err,
                                  "Use --dir to build from a smaller sub-directory of the repository.");
                return r;
        }
        c->res.n_bytes += bytes;
        return 0;
}

static int write_failed(Checkout *c, int r, const char *prefix, const char *name) {
        if (r == -EEXIST || r == -ELOOP || r == -ENOTDIR)
                return source_error_set(c->err, -EBADMSG, "Commit %s names '%s%s%s' twice in one tree.",
                                        c->commit_id, prefix, *prefix ? "/" : "", name);
        return source_error_set(c->err, r, "Cannot write '%s%s%s' of commit %s into the workspace: %s.",
                                prefix, *prefix ? "/" : "", name, c->commit_id, strerror(-r));
}

static int blob_size(Checkout *c, const git_oid *oid, size_t *ret) {
        git_object_t type;
        size_t size = 0;
        int e;

        e = git_odb_read_header(&size, &type, c->odb, oid);
        if (e < 0 || type != GIT_OBJECT_BLOB)
                return source_error_set(c->err, e < 0 ? git_to_errno(e) : -EBADMSG,
                                        "The mirror of %s lacks a file of commit %s: %s.",
                                        git_mirror_url_shown(c->mirror), c->commit_id,
                                        git_last_error_message());
        *ret = size;
        return 0;
}

static int load_blob(Checkout *c, const git_oid *oid, git_blob **ret) {
        int e = git_blob_lookup(ret, c->repo, oid);

        if (e < 0)
                return source_error_set(
                        c->err, git_to_errno(e), "The mirror of %s lacks a file of commit %s: %s.",
                        git_mirror_url_shown(c->mirror), c->commit_id, git_last_error_message());
        return 0;
}

static int write_file(Checkout *c, int dir_fd, const char *prefix, const char *name, const git_oid *oid,
                      mode_t mode) {
        _cleanup_(git_blob_freep) git_blob *blob = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        int r;

        r = blob_size(c, oid, &size);
        if (r < 0)
                return r;
        r = count_entry(c, size);
        if (r < 0)
                return r;
        r = load_blob(c, oid, &blob);
        if (r < 0)
                return r;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return write_failed(c, -errno, prefix, name);
        r = loop_write(fd, git_blob_rawcontent(blob), (size_t) git_blob_rawsize(blob));
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && futimens(fd, c->times) < 0)
                r = -errno;
        if (r < 0)
                return write_failed(c, r, prefix, name);
        c->res.n_files++;
        return 0;
}

static int write_symlink(Checkout *c, int dir_fd, const char *prefix, const char *name, const git_oid *oid) {
        _cleanup_(git_blob_freep) git_blob *blob = NULL;
        _cleanup_free_ char *target = NULL;
        size_t size = 0;
        int r;

        r = blob_size(c, oid, &size);
        if (r < 0)
                return r;
        if (size == 0 || size >= PATH_MAX)
                return source_error_set(c->err, -EBADMSG,
                                        "Commit %s has a symlink '%s%s%s' with a bad target.", c->commit_id,
                                        prefix, *prefix ? "/" : "", name);
        r = count_entry(c, size);
        if (r < 0)
                return r;
        r = load_blob(c, oid, &blob);
        if (r < 0)
                return r;
        target = strndup(git_blob_rawcontent(blob), size);
        if (!target)
                return -ENOMEM;
        if (strlen(target) != size)
                return source_error_set(c->err, -EBADMSG,
                                        "Commit %s has a symlink '%s%s%s' with a bad target.", c->commit_id,
                                        prefix, *prefix ? "/" : "", name);

        if (symlinkat(target, dir_fd, name) < 0)
                return write_failed(c, -errno, prefix, name);
        if (utimensat(dir_fd, name, c->times, AT_SYMLINK_NOFOLLOW) < 0)
                return write_failed(c, -errno, prefix, name);
        c->res.n_files++;
        return 0;
}

/* Creates dir_fd/name (which must not exist) and opens it without following a symlink. */
static int make_dir(Checkout *c, int dir_fd, const char *prefix, const char *name) {
        int fd;

        if (mkdirat(dir_fd, name, 0755) < 0)
                return write_failed(c, -errno, prefix, name);
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return write_failed(c, -errno, prefix, name);
        if (fchmod(fd, 0755) < 0) {
                int r = -errno;
                safe_close(fd);
                return write_failed(c, r, prefix, name);
        }
        return fd;
}

static int write_tree(Checkout *c, const git_tree *tree, int dir_fd, const char *prefix, unsigned depth) {
        size_t n = git_tree_entrycount(tree);
        int r;

        for (size_t i = 0; i < n; i++) {
                const git_tree_entry *e = git_tree_entry_byindex(tree, i);
                const char *name = git_tree_entry_name(e);
                const git_oid *oid = git_tree_entry_id(e);

                r = entry_name_check(c, prefix, name);
                if (r < 0)
                        return r;

                switch (git_tree_entry_filemode(e)) {
                case GIT_FILEMODE_TREE: {
                        _cleanup_(git_tree_freep) git_tree *sub = NULL;
                        _cleanup_free_ char *path = NULL;
                        _cleanup_close_ int fd = -EBADF;
                        int g;

                        if (depth + 1 > SOURCE_CHECKOUT_DEPTH_MAX)
                                return source_error_set(c->err, -EFBIG,
                                                        "Commit %s nests directories more than %u deep.",
                                                        c->commit_id, SOURCE_CHECKOUT_DEPTH_MAX);
                        r = count_entry(c, 0);
                        if (r < 0)
                                return r;
                        g = git_tree_lookup(&sub, c->repo, oid);
                        if (g < 0)
                                return source_error_set(
                                        c->err, git_to_errno(g),
                                        "The mirror of %s lacks a directory of commit %s: %s.",
                                        git_mirror_url_shown(c->mirror), c->commit_id,
                                        git_last_error_message());
                        fd = make_dir(c, dir_fd, prefix, name);
                        if (fd < 0)
                                return fd;
                        c->res.n_dirs++;
                        if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", name) < 0)
                                return -ENOMEM;
                        r = write_tree(c, sub, fd, path, depth + 1);
                        if (r < 0)
                                return r;
                        if (futimens(fd, c->times) < 0)
                                return write_failed(c, -errno, prefix, name);
                        break;
                }
                case GIT_FILEMODE_BLOB:
                        r = write_file(c, dir_fd, prefix, name, oid, 0644);
                        if (r < 0)
                                return r;
                        break;
                case GIT_FILEMODE_BLOB_EXECUTABLE:
                        r = write_file(c, dir_fd, prefix, name, oid, 0755);
                        if (r < 0)
                                return r;
                        break;
                case GIT_FILEMODE_LINK:
                        r = write_symlink(c, dir_fd, prefix, name, oid);
                        if (r < 0)
                                return r;
                        break;
                case GIT_FILEMODE_COMMIT: {
                        /* a submodule: its commit is in another repository; git leaves an empty directory */
                        int fd;

                        r = count_entry(c, 0);
                        if (r < 0)
                                return r;
                        fd = make_dir(c, dir_fd, prefix, name);
                        if (fd < 0)
                                return fd;
                        safe_close(fd);
                        c->res.n_dirs++;
                        if (c->res.n_submodules_skipped++ == 0)
                                (void) snprintf(c->res.first_submodule, sizeof c->res.first_submodule,
                                                "%s%s%s", prefix, *prefix ? "/" : "", name);
                        break;
                }
                default:
                        return source_error_set(c->err, -EBADMSG,
                                                "Commit %s has an entry '%s%s%s' of unknown type %o.",
                                                c->commit_id, prefix, *prefix ? "/" : "", name,
                                                (unsigned) git_tree_entry_filemode(e));
                }
        }
        return 0;
}

/* The hint for a missing --dir: the top-level directories at that commit. */
static void hint_top_dirs(SourceError *err, const git_tree *root) {
        char list[200] = "";
        size_t n = git_tree_entrycount(root), listed = 0;

        for (size_t i = 0; i < n && listed < 8; i++) {
                const git_tree_entry *e = git_tree_entry_byindex(root, i);
                const char *name = git_tree_entry_name(e);

                if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
                        continue;
                if (strlen(list) + strlen(name) + 3 >= sizeof list)
                        break;
                if (*list)
                        strcat(list, ", ");
                strcat(list, name);
                listed++;
        }
        if (listed == 0)
                source_error_hint(err, "The repository has no directories at that commit.");
        else
                source_error_hint(err, "Directories at its top: %s.", list);
}

int git_checkout_commit(GitMirror *m, const char *commit_id, const char *subdir, const char *workspace,
                        const SourceCheckoutLimits *limits, SourceCheckoutResult *ret, SourceError *err) {
        _cleanup_(git_commit_freep) git_commit *commit = NULL;
        _cleanup_(git_tree_freep) git_tree *root = NULL, *sub = NULL;
        _cleanup_(git_odb_freep) git_odb *odb = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        const git_tree *tree;
        git_oid oid;
        int r, e;

        assert(m);
        assert(workspace);
        assert(ret);

        Checkout c = {
                .mirror = m,
                .repo = git_mirror_repository(m),
                .commit_id = commit_id,
                .max_files = limits && limits->max_files ? limits->max_files : SOURCE_CHECKOUT_FILES_MAX,
                .max_bytes = limits && limits->max_bytes ? limits->max_bytes : SOURCE_CHECKOUT_BYTES_MAX,
                .err = err,
        };

        if (!commit_id || strlen(commit_id) != GIT_OID_HEXSZ || git_oid_fromstr(&oid, commit_id) < 0)
                return source_error_set(err, -EINVAL, "'%.*s' is not a full commit id.", 64,
                                        commit_id ?: "");

        if (subdir && *subdir) {
                r = path_normalize_relative(subdir, SOURCE_SUBDIR_MAX, &dir);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = source_error_set(err, -EINVAL,
                                             "'%.*s' is not a directory inside the repository.", 200,
                                             subdir);
                        source_error_hint(err, "Give a relative path without '..', such as services/api.");
                        return r;
                }
        }

        fd = open(workspace, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return source_error_set(err, -errno, "Cannot open the build workspace %s: %m.", workspace);
        r = dir_is_empty_at(fd, ".");
        if (r < 0)
                return source_error_set(err, r, "Cannot read the build workspace %s: %s.", workspace,
                                        strerror(-r));
        if (r == 0)
                return source_error_set(err, -ENOTEMPTY, "The build workspace %s is not empty.", workspace);

        e = git_commit_lookup(&commit, c.repo, &oid);
        if (e < 0) {
                r = git_to_errno(e);
                return source_error_set(err, r, "The mirror of %s has no commit %s%s%s.",
                                        git_mirror_url_shown(m), commit_id, r == -ENOENT ? "" : ": ",
                                        r == -ENOENT ? "" : git_last_error_message());
        }
        e = git_commit_tree(&root, commit);
        if (e >= 0)
                e = git_repository_odb(&odb, c.repo);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Cannot read the tree of commit %s: %s.",
                                        commit_id, git_last_error_message());
        c.odb = odb;
        c.times[0] = c.times[1] = (struct timespec) { .tv_sec = (time_t) git_commit_time(commit) };

        tree = root;
        if (dir && *dir) {
                _cleanup_(git_tree_entry_freep) git_tree_entry *entry = NULL;

                e = git_tree_entry_bypath(&entry, root, dir);
                if (e == GIT_ENOTFOUND) {
                        r = source_error_set(err, -ENOENT, "Commit %.12s of %s has no directory '%s'.",
                                             commit_id, git_mirror_url_shown(m), dir);
                        hint_top_dirs(err, root);
                        return r;
                }
                if (e < 0)
                        return source_error_set(err, git_to_errno(e),
                                                "Cannot look up '%s' in commit %s: %s.", dir, commit_id,
                                                git_last_error_message());
                if (git_tree_entry_type(entry) != GIT_OBJECT_TREE)
                        return source_error_set(err, -ENOTDIR,
                                                "'%s' at commit %.12s of %s is not a directory.", dir,
                                                commit_id, git_mirror_url_shown(m));
                e = git_tree_lookup(&sub, c.repo, git_tree_entry_id(entry));
                if (e < 0)
                        return source_error_set(err, git_to_errno(e), "Cannot read '%s' of commit %s: %s.",
                                                dir, commit_id, git_last_error_message());
                tree = sub;
        }

        r = write_tree(&c, tree, fd, "", 0);
        if (r < 0)
                return r;

        *ret = c.res;
        return 0;
}
