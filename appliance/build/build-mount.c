/* RUN --mount: planning (sources and secrets before the cache lookup), the step's mounts and what the mount
 * points leave in the upper dir. Invariant: a secret's bytes are only ever in memory and in one file on a
 * tmpfs of the step, mounted read-only at its target; they enter no key, path, log line or layer. */
#include "build-mount.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "overlay.h"
#include "process.h"
#include "strbuf.h"
#include "string-util.h"

void build_mkdir_in_root(const char *root, const char *path) {
        _cleanup_close_ int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL;

        if (fd < 0 || !copy)
                return;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int nfd;

                if (streq(c, ".") || streq(c, ".."))
                        return;
                if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
                        return;
                nfd = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0)
                        return;
                safe_close(fd);
                fd = nfd;
        }
}

static void build_mount_done(BuildMount *m) {
        dockerfile_mount_done(&m->spec);
        free(m->target);
        copy_plan_free(m->source);
        free(m->source_path);
}

void build_mounts_teardown(BuildMounts *ms) {
        if (!ms)
                return;
        for (size_t k = 0; k < ms->n; k++) {
                BuildMount *m = &ms->mounts[k];

                cache_mount_lease_done(&m->lease);
                if (m->overlay)
                        (void) overlay_umount(m->overlay);
                free(m->overlay);
                m->overlay = NULL;
                free(m->host_path);
                m->host_path = NULL;
        }
        if (ms->secrets_dir) {
                /* The files go with the tmpfs: nothing of them was ever on a disk. */
                (void) umount2(ms->secrets_dir, MNT_DETACH);
                (void) rmdir(ms->secrets_dir);
                free(ms->secrets_dir);
                ms->secrets_dir = NULL;
        }
        free(ms->bundle);
        ms->bundle = NULL;
}

BuildMounts *build_mounts_free(BuildMounts *ms) {
        if (!ms)
                return NULL;
        build_mounts_teardown(ms);
        for (size_t k = 0; k < ms->n; k++)
                build_mount_done(&ms->mounts[k]);
        free(ms->mounts);
        free(ms);
        return NULL;
}

static const BuildSecret *find_secret(const BuildOptions *o, const char *id) {
        for (size_t k = 0; k < o->n_secrets; k++)
                if (streq(o->secrets[k].id, id))
                        return &o->secrets[k];
        return NULL;
}

/* Resolves the mount's source (default: the root of the context, the stage or the image) like a COPY source
 * and returns the checksum of its content. */
static int plan_source(BuildContext *ctx, const DockerfileInstruction *i, BuildMount *m,
                       BuildMountFromFunc from_fn, void *userdata, char **ret_checksum) {
        DockerfileNameValue from_flag = { .name = (char *) "from", .value = m->spec.from };
        char *argv[] = { m->spec.source && m->spec.source[0] ? m->spec.source : (char *) ".", (char *) "/",
                         NULL };
        DockerfileInstruction fake = {
                .kind = DOCKERFILE_RUN,
                .line = i->line,
                .column = i->column,
                .argv = argv,
                .n_argv = 2,
                .flags = m->spec.from ? &from_flag : NULL,
                .n_flags = m->spec.from ? 1 : 0,
        };
        _cleanup_close_ int fd = -EBADF;
        json_t *from_state = NULL;
        char proc[64], path[PATH_MAX];
        struct stat st;
        ssize_t n;
        int r;

        if (m->spec.from) {
                r = from_fn(userdata, i, m->spec.from, &from_state);
                if (r < 0)
                        return r;
        }
        r = build_copy_prepare(ctx, from_state, &fake, &m->source, ret_checksum);
        if (r < 0)
                return r;
        if (m->source->n_sources != 1)
                return build_error(ctx, -EINVAL, i, "Name one file or directory.",
                                   "RUN --mount source %s matches %zu files.", argv[0],
                                   m->source->n_sources);
        fd = copy_open_in_root(m->source->root_fd, m->source->sources[0].rel, O_PATH, 0);
        if (fd < 0 || fstat(fd, &st) < 0)
                return build_error(ctx, fd < 0 ? fd : -errno, i, NULL,
                                   "Cannot open RUN --mount source %s: %m.", argv[0]);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return build_error(ctx, -EINVAL, i, "Mount a directory or a regular file.",
                                   "RUN --mount source %s is neither a directory nor a file.", argv[0]);
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        n = readlink(proc, path, sizeof path - 1);
        if (n < 0)
                return -errno;
        path[n] = '\0';
        m->source_path = strdup(path);
        if (!m->source_path)
                return -ENOMEM;
        m->source_is_dir = S_ISDIR(st.st_mode);
        return 0;
}

int build_mounts_prepare(BuildContext *ctx, const DockerfileInstruction *i, BuildMountFromFunc from_fn,
                         void *userdata, BuildMounts **ret, char **ret_key) {
        _cleanup_(build_mounts_freep) BuildMounts *ms = NULL;
        _cleanup_(strbuf_done) StrBuf key = {};
        size_t n = 0;
        int r;

        for (size_t k = 0; k < i->n_flags; k++)
                n += streq(i->flags[k].name, "mount");
        *ret = NULL;
        *ret_key = NULL;
        if (n == 0)
                return 0;
        ms = calloc(1, sizeof *ms);
        if (!ms || !(ms->mounts = calloc(n, sizeof *ms->mounts)))
                return -ENOMEM;

        for (size_t k = 0; k < i->n_flags; k++) {
                _cleanup_free_ char *checksum = NULL;
                char msg[DOCKERFILE_ERROR_MESSAGE_MAX];
                BuildMount *m;

                if (!streq(i->flags[k].name, "mount"))
                        continue;
                m = &ms->mounts[ms->n++];
                m->lease.lock_fd = -EBADF;
                r = dockerfile_mount_parse(strempty(i->flags[k].value), 0, &m->spec, msg, sizeof msg);
                if (r == -EBADMSG)
                        return build_error(ctx, r, i, NULL, "%s", msg);
                if (r < 0)
                        return r;
                strbuf_append_str(&key, "mount ");
                strbuf_append_str(&key, dockerfile_mount_type_to_string(m->spec.type));
                switch (m->spec.type) {
                case DOCKERFILE_MOUNT_BIND:
                case DOCKERFILE_MOUNT_CACHE:
                        if (m->spec.type == DOCKERFILE_MOUNT_CACHE && !m->spec.from && !m->spec.source)
                                break;
                        r = plan_source(ctx, i, m, from_fn, userdata, &checksum);
                        if (r < 0)
                                return r;
                        /* A cache only starts from its source: the source is not the step's input. */
                        if (m->spec.type == DOCKERFILE_MOUNT_BIND) {
                                strbuf_append_str(&key, " source=");
                                strbuf_append_str(&key, checksum);
                        }
                        break;
                case DOCKERFILE_MOUNT_SECRET:
                        m->secret = find_secret(ctx->opts, m->spec.id);
                        if (!m->secret && m->spec.required)
                                return build_error(
                                        ctx, -ENOENT, i, NULL,
                                        "The build secret '%s' (line %u) is not set: pass --secret "
                                        "id=%s,src=FILE to image build, or set it with `slipway "
                                        "config set PROJECT/COMP --build %s=VALUE --secret`.",
                                        m->spec.id, i->line, m->spec.id, m->spec.id);
                        /* The id and whether it is there; never the value. */
                        strbuf_append_str(&key, m->secret ? " present" : " absent");
                        break;
                default:
                        break;
                }
                strbuf_append_char(&key, '\n');
        }
        if (!key.data)
                return -ENOMEM;
        *ret_key = strbuf_steal(&key);
        *ret = TAKE_PTR(ms);
        return 0;
}

/* path made absolute below cwd and normalised lexically ("a/../b" is "/b"); NULL when out of memory. */
static char *target_path(const char *cwd, const char *path) {
        _cleanup_free_ char *full = NULL;
        _cleanup_(strbuf_done) StrBuf out = {};
        char *save = NULL;
        size_t *ends = NULL, n = 0;

        if (path[0] == '/')
                full = strdup(path);
        else if (asprintf(&full, "%s/%s", cwd ?: "/", path) < 0)
                full = NULL;
        if (!full)
                return NULL;
        ends = calloc(strlen(full) + 1, sizeof *ends);
        if (!ends)
                return NULL;
        for (char *c = strtok_r(full, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        if (n > 0) {
                                out.len = n > 1 ? ends[n - 2] : 0;
                                out.data[out.len] = '\0';
                                n--;
                        }
                        continue;
                }
                if (strbuf_append_char(&out, '/') < 0 || strbuf_append_str(&out, c) < 0) {
                        free(ends);
                        return NULL;
                }
                ends[n++] = out.len;
        }
        free(ends);
        if (!out.data || out.len == 0)
                return strdup("/");
        return strbuf_steal(&out);
}

static int copy_file(const char *src, const char *dst) {
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC), out = -EBADF;
        struct stat st;
        char buf[65536];
        ssize_t n;

        if (in < 0 || fstat(in, &st) < 0)
                return -errno;
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
        if (out < 0)
                return -errno;
        while ((n = read_retry(in, buf, sizeof buf)) > 0)
                if (loop_write(out, buf, (size_t) n) < 0)
                        return -EIO;
        if (n < 0 || fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 07777) < 0)
                return -errno;
        return 0;
}

/* A rw bind: what the step writes goes to a throwaway overlay over the source (a file: a copy). */
static int setup_rw_bind(BuildContext *ctx, BuildMount *m, const DockerfileInstruction *i,
                         const char *step_dir, size_t k) {
        _cleanup_free_ char *dir = NULL, *upper = NULL, *work = NULL, *merged = NULL;
        char name[32];
        int r;

        snprintf(name, sizeof name, "mount-%zu", k);
        dir = path_join(step_dir, name);
        if (!dir || mkdir(dir, 0700) < 0)
                return dir ? -errno : -ENOMEM;
        if (!m->source_is_dir) {
                m->host_path = path_join(dir, "file");
                if (!m->host_path)
                        return -ENOMEM;
                r = copy_file(m->source_path, m->host_path);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot copy the RUN --mount source: %s.",
                                           strerror(-r));
                return 0;
        }
        upper = path_join(dir, "upper");
        work = path_join(dir, "work");
        merged = path_join(dir, "merged");
        if (!upper || !work || !merged)
                return -ENOMEM;
        if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(merged, 0755) < 0)
                return -errno;
        r = overlay_mount((const char *const[]) { m->source_path }, 1, upper, work, merged, NULL);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot mount the RUN --mount source read-write: %s.",
                                   strerror(-r));
        m->overlay = strdup(merged);
        m->host_path = TAKE_PTR(merged);
        return m->overlay ? 0 : -ENOMEM;
}

static void cache_wait_log(const DockerfileMount *m, void *userdata) {
        BuildContext *ctx = userdata;

        builder_log(&ctx->log, "waiting for cache mount %s (sharing=locked): another build step is using it",
                    m->id);
}

static int setup_cache(BuildContext *ctx, BuildMount *m, const DockerfileInstruction *i) {
        bool created = false;
        int r;

        r = cache_mount_acquire(ctx->builder->state_dir, &m->spec, ctx->job->cancel_fd, ctx->deadline,
                                cache_wait_log, ctx, &m->lease, &created);
        if (r == -ECANCELED || r == -ETIME)
                return build_check_stop(ctx, i) ?: r;
        if (r == -EBUSY)
                return build_error(ctx, r, i,
                                   "Use sharing=shared or sharing=locked, or run fewer builds at once.",
                                   "Every one of the %u private copies of cache mount %s is in use.",
                                   CACHE_MOUNT_PRIVATE_MAX, m->spec.id);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot prepare cache mount %s: %s.", m->spec.id,
                                   strerror(-r));
        if (created && m->source_path) {
                _cleanup_free_ char *from = NULL;
                char *argv[] = { (char *) "cp", (char *) "-a", NULL, m->lease.path, NULL };
                SpawnOptions so = SPAWN_OPTIONS_INIT;

                if (m->source_is_dir ? asprintf(&from, "%s/.", m->source_path) < 0
                                     : !(from = strdup(m->source_path)))
                        return -ENOMEM;
                argv[2] = from;
                r = run_process(argv, &so);
                if (r != 0)
                        return build_error(ctx, r < 0 ? r : -EIO, i, NULL,
                                           "Cannot fill cache mount %s from its source.", m->spec.id);
        }
        m->host_path = strdup(m->lease.path);
        return m->host_path ? 0 : -ENOMEM;
}

/* The secret's file on the step's tmpfs (made on first use), owned and moded as the mount says. */
static int setup_secret(BuildContext *ctx, BuildMounts *ms, BuildMount *m, const DockerfileInstruction *i,
                        const char *step_dir, size_t k) {
        _cleanup_close_ int fd = -EBADF;
        char name[32], opts[64];
        int r;

        if (!ms->secrets_dir) {
                _cleanup_free_ char *dir = path_join(step_dir, "secrets");

                if (!dir)
                        return -ENOMEM;
                if (mkdir(dir, 0700) < 0)
                        return -errno;
                snprintf(opts, sizeof opts, "mode=0700,size=%u", BUILD_SECRET_TMPFS_SIZE);
                if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
                        r = -errno;
                        (void) rmdir(dir);
                        return build_error(ctx, r, i, NULL, "Cannot mount the tmpfs for build secrets: %s.",
                                           strerror(-r));
                }
                ms->secrets_dir = TAKE_PTR(dir);
        }
        snprintf(name, sizeof name, "%zu", k);
        m->host_path = path_join(ms->secrets_dir, name);
        if (!m->host_path)
                return -ENOMEM;
        fd = open(m->host_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, m->secret->data, m->secret->size);
        /* The owner first, then the mode: a chown may clear bits of it. */
        if (r >= 0 && fchown(fd, m->spec.has_uid ? m->spec.uid : 0, m->spec.has_gid ? m->spec.gid : 0) < 0)
                r = -errno;
        if (r >= 0 && fchmod(fd, m->spec.mode) < 0)
                r = -errno;
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot provide build secret %s: %s.", m->spec.id,
                                   strerror(-r));
        return 0;
}

int build_mounts_setup(BuildContext *ctx, BuildMounts *ms, const DockerfileInstruction *i, const char *root,
                       const char *step_dir, const char *cwd, const BundleMount **ret_bundle,
                       size_t *ret_n) {
        _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        size_t nb = 0;
        int r;

        if (root_fd < 0)
                return -errno;
        ms->bundle = calloc(ms->n + 1, sizeof *ms->bundle);
        if (!ms->bundle)
                return -ENOMEM;
        for (size_t k = 0; k < ms->n; k++) {
                BuildMount *m = &ms->mounts[k];
                struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
                _cleanup_free_ char *parent = NULL;
                _cleanup_close_ int tfd = -EBADF;
                BundleMount *b = &ms->bundle[nb];

                free(m->target);
                m->target = target_path(cwd, m->spec.target);
                if (!m->target)
                        return -ENOMEM;
                if (streq(m->target, "/"))
                        return build_error(ctx, -EINVAL, i,
                                           "Mount at a directory below /, e.g. target=/mnt.",
                                           "RUN --mount cannot mount over the root directory.");
                tfd = (int) syscall(SYS_openat2, root_fd, m->target, &how, sizeof how);
                m->target_existed = tfd >= 0;
                /* The parents are made now, 0755 and owned by root, and stay in the layer (as buildah leaves
                 * them); the target itself is the container's mount point. */
                parent = strndup(m->target, (size_t) (strrchr(m->target, '/') - m->target));
                if (!parent)
                        return -ENOMEM;
                build_mkdir_in_root(root, parent);

                switch (m->spec.type) {
                case DOCKERFILE_MOUNT_BIND:
                        if (m->spec.readonly)
                                m->host_path = strdup(m->source_path);
                        else if ((r = setup_rw_bind(ctx, m, i, step_dir, k)) < 0)
                                return r;
                        if (!m->host_path)
                                return -ENOMEM;
                        *b = (BundleMount) { .destination = m->target,
                                             .type = "bind",
                                             .source = m->host_path,
                                             .readonly = m->spec.readonly };
                        break;
                case DOCKERFILE_MOUNT_CACHE:
                        r = setup_cache(ctx, m, i);
                        if (r < 0)
                                return r;
                        *b = (BundleMount) { .destination = m->target,
                                             .type = "bind",
                                             .source = m->host_path,
                                             .readonly = m->spec.readonly };
                        break;
                case DOCKERFILE_MOUNT_TMPFS:
                        if (m->spec.size > 0)
                                snprintf(m->options_buf, sizeof m->options_buf, "size=%" PRIu64,
                                         m->spec.size);
                        m->options[0] = "mode=1777";
                        m->options[1] = m->spec.size > 0 ? m->options_buf : NULL;
                        *b = (BundleMount) { .destination = m->target,
                                             .type = "tmpfs",
                                             .source = "tmpfs",
                                             .options = m->options };
                        break;
                case DOCKERFILE_MOUNT_SECRET:
                        if (!m->secret)
                                continue; /* not required and not given: nothing is mounted */
                        r = setup_secret(ctx, ms, m, i, step_dir, k);
                        if (r < 0)
                                return r;
                        *b = (BundleMount) { .destination = m->target,
                                             .type = "bind",
                                             .source = m->host_path,
                                             .readonly = true };
                        break;
                default:
                        return -EINVAL;
                }
                nb++;
        }
        *ret_bundle = ms->bundle;
        *ret_n = nb;
        return 0;
}

void build_mounts_clean_upper(BuildMounts *ms, const char *upper) {
        _cleanup_close_ int ufd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (!ms || ufd < 0)
                return;
        /* Innermost first: a target below another one goes before its parent. */
        for (size_t k = ms->n; k > 0; k--) {
                BuildMount *m = &ms->mounts[k - 1];
                struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
                _cleanup_free_ char *parent = NULL;
                _cleanup_close_ int pfd = -EBADF;
                const char *name;
                struct stat st;

                if (m->target_existed || !m->target)
                        continue;
                name = strrchr(m->target, '/') + 1;
                parent = strndup(m->target, (size_t) (name - m->target));
                if (!parent)
                        continue;
                pfd = (int) syscall(SYS_openat2, ufd, parent, &how, sizeof how);
                if (pfd < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        (void) unlinkat(pfd, name, AT_REMOVEDIR); /* only if empty */
                else if (S_ISREG(st.st_mode) && st.st_size == 0)
                        (void) unlinkat(pfd, name, 0);
        }
}
