/* RUN: overlay mount of the stage's cached layers + a fresh upper, an OCI bundle for systemd-nspawn with an
 * empty network namespace, output streamed line by line into the build log, cancel and timeout honoured.
 * Invariant: whatever happens, the container is gone and the overlay unmounted before this returns. */
#include "build-run.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-image.h"
#include "bundle.h"
#include "cgroup-limits.h"
#include "container-init.h"
#include "container-run.h"
#include "fs-util.h"
#include "nspawn.h"
#include "overlay.h"
#include "scrub.h"
#include "strbuf.h"
#include "string-util.h"
#include "user-db.h"

#define RUN_TAIL_LINES 5U
#define RUN_GROUPS_MAX 64U
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Mount points systemd-nspawn creates in the root when they are missing; an empty one left in the upper dir
 * is nspawn's, not the step's, and must not become part of the layer. */
static const char *const nspawn_mount_points[] = { "dev", "proc", "sys", "run", "var", "root", "tmp" };

static int build_argv(json_t *state, const DockerfileInstruction *i, char ***ret) {
        _cleanup_strv_free_ char **argv = calloc(1, sizeof(char *));
        json_t *shell = json_object_get(state, "shell"), *v;
        size_t k;
        int r;

        if (!argv)
                return -ENOMEM;
        if (i->json_form) {
                for (size_t j = 0; j < i->n_argv; j++)
                        if ((r = strv_extend(&argv, i->argv[j])) < 0)
                                return r;
        } else {
                if (json_array_size(shell) > 0) {
                        json_array_foreach(shell, k, v)
                                if ((r = strv_extend(&argv, json_string_value(v) ?: "")) < 0)
                                        return r;
                } else if ((r = strv_extend(&argv, "/bin/sh")) < 0 || (r = strv_extend(&argv, "-c")) < 0)
                        return r;
                if ((r = strv_extend(&argv, i->shell ?: "")) < 0)
                        return r;
        }
        if (!argv[0])
                return -EINVAL;
        *ret = TAKE_PTR(argv);
        return 0;
}

typedef struct LineSplitter LineSplitter;
typedef struct RunOutput {
        BuildContext *ctx;
        LineSplitter *ls;
        ScrubStream scrub; /* the build's secrets out of the output before it is split into lines */
} RunOutput;

struct LineSplitter {
        char buf[BUILD_LOG_LINE_MAX];
        size_t len;
        char tail[RUN_TAIL_LINES][160];
        unsigned n_tail;
};

/* systemd-nspawn's own complaint when /run is not a tmpfs; it concerns nspawn's scratch dir, not the step. */
#define NSPAWN_NOISE "Attempted to remove disk file system under \"/run/systemd/nspawn/propagate/"

static void line_emit(BuildContext *ctx, LineSplitter *ls) {
        ls->buf[ls->len] = '\0';
        if (startswith(ls->buf, NSPAWN_NOISE)) {
                ls->len = 0;
                return;
        }
        builder_log(&ctx->log, "%s", ls->buf);
        char *t = ls->tail[ls->n_tail % RUN_TAIL_LINES];
        size_t n = MIN(ls->len, sizeof ls->tail[0] - 1);
        memcpy(t, ls->buf, n);
        t[n] = '\0';
        ls->n_tail++;
        ls->len = 0;
}

static void line_feed(BuildContext *ctx, LineSplitter *ls, const char *data, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        line_emit(ctx, ls);
                        continue;
                }
                ls->buf[ls->len++] = data[i];
                if (ls->len >= sizeof ls->buf - 1)
                        line_emit(ctx, ls);
        }
}

static void run_output_feed(RunOutput *o, const char *data, size_t size, bool last) {
        _cleanup_free_ char *clean = NULL;
        size_t n = 0;

        if (!o->scrub.scrubber) {
                line_feed(o->ctx, o->ls, data, size);
                return;
        }
        /* Without memory to scrub, the output is dropped rather than shown unscrubbed. */
        if (scrub_stream_feed(&o->scrub, data, size, last, &clean, &n) >= 0)
                line_feed(o->ctx, o->ls, clean, n);
}

static void on_output(const char *data, size_t size, void *userdata) {
        run_output_feed(userdata, data, size, false);
}

/* One RUN step's scratch space: its temp dir with the overlay (root/ = the stage's layers + upper/), the
 * OCI bundle, the machine name and the cgroup made for the memory cap. run_step_done() removes all of it. */
typedef struct RunStep {
        BuildContext *ctx;
        const DockerfileInstruction *i;
        char *init; /* slipway-init on the host */
        char *dir;
        char *root;
        char *upper;
        char *work;
        char *bundle;
        bool mounted;
        char *machine;
        const char *cgroup; /* the machine's own cgroup when it carries the memory cap, else NULL */
        LineSplitter *ls;
        BuildMounts *mounts; /* borrowed; its step mounts are ours */
} RunStep;

static void run_step_done(RunStep *st) {
        if (st->cgroup)
                (void) cgroup_limits_remove(st->cgroup); /* container_run() waited for everything in it */
        if (st->mounted)
                (void) overlay_umount(st->root);
        build_mounts_teardown(st->mounts);
        free(st->ls);
        if (st->dir)
                (void) rm_rf(st->dir);
        free(st->machine);
        free(st->bundle);
        free(st->work);
        free(st->upper);
        free(st->root);
        free(st->dir);
        free(st->init);
}

/* Makes the temp dir with root/, upper/, work/ and bundle/ and mounts the stage's layers at root/. */
static int run_step_prepare(RunStep *st, json_t *state) {
        BuildContext *ctx = st->ctx;
        int r;

        r = build_tmp_dir(ctx, "run", &st->dir);
        if (r < 0)
                return build_error(ctx, r, st->i, NULL, "Cannot create the RUN step's temp dir: %s.",
                                   strerror(-r));
        st->root = path_join(st->dir, "root");
        st->upper = path_join(st->dir, "upper");
        st->work = path_join(st->dir, "work");
        st->bundle = path_join(st->dir, "bundle");
        st->ls = calloc(1, sizeof *st->ls);
        if (!st->root || !st->upper || !st->work || !st->bundle || !st->ls)
                return -ENOMEM;
        if (mkdir(st->upper, 0755) < 0 || mkdir(st->work, 0700) < 0 || mkdir(st->bundle, 0700) < 0 ||
            mkdir(st->root, 0755) < 0)
                return build_error(ctx, -errno, st->i, NULL, "Cannot prepare the RUN step: %m.");
        r = build_state_mount(ctx, state, st->upper, st->work, st->root);
        if (r < 0)
                return build_error(ctx, r, st->i, NULL, "Cannot mount the stage's layers: %s.",
                                   strerror(-r));
        st->mounted = true;
        return 0;
}

/* USER as the image's /etc/passwd and /etc/group have it: its ids, and for a user given without a group
 * its supplementary groups (into groups, at most RUN_GROUPS_MAX; *ret_n_groups < 0 when they cannot be read). */
static int run_step_user(RunStep *st, int root_fd, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                         gid_t groups[static RUN_GROUPS_MAX], int *ret_n_groups) {
        const char *missing = NULL;
        uid_t uid;
        gid_t gid;
        int r, n = 0;

        r = user_db_resolve(root_fd, user, &uid, &gid, &missing);
        if (r == -ENOENT)
                return build_error(st->ctx, -EINVAL, st->i,
                                   "Create it in an earlier RUN step or use a numeric id.",
                                   "The %s in USER %s does not exist in the image's /etc/%s.", missing, user,
                                   streq(missing, "user") ? "passwd" : "group");
        if (r < 0)
                return r;
        if (!strchr(user, ':')) {
                _cleanup_free_ char *name = strdup(user);

                if (!name)
                        return -ENOMEM;
                n = user_db_supplementary(root_fd, name, gid, groups, RUN_GROUPS_MAX);
        }
        *ret_uid = uid;
        *ret_gid = gid;
        *ret_n_groups = n;
        return 0;
}

/* Where the per-step memory cap goes. systemd-nspawn can only apply linux.resources where it manages a
 * unified cgroup tree itself; on a hybrid host without systemd as PID 1 it would fail the step, so there the
 * cap goes into a cgroup of our own (named after the machine, st->cgroup) that nspawn starts in; without one
 * either, it is skipped (said once). Returns true when the bundle carries the cap. */
static bool run_step_memory_cap(RunStep *st) {
        BuildContext *ctx = st->ctx;
        bool in_bundle = ctx->opts->memory_max > 0 && !nspawn_needs_unified_env();

        if (ctx->opts->memory_max > 0 && !in_bundle && !nspawn_cgroup_resources_supported()) {
                CgroupLimits limits = { .memory_max = ctx->opts->memory_max };
                unsigned applied = 0;

                if (cgroup_limits_create(st->machine, &limits, &applied) >= 0 &&
                    (applied & CGROUP_LIMIT_MEMORY))
                        st->cgroup = st->machine;
                else
                        (void) cgroup_limits_remove(st->machine);
        }
        if (ctx->opts->memory_max > 0 && !in_bundle && !st->cgroup && !ctx->memory_cap_warned) {
                builder_log(&ctx->log,
                            "note: the per-step memory cap is not applied: this host's cgroup layout "
                            "does not let systemd-nspawn or slipway set it");
                ctx->memory_cap_warned = true;
        }
        return in_bundle;
}

/* The error for a command that exited with status (> 0) or was killed (< 0), with its last output lines as
 * the hint and the memory cap named when the kernel killed it for that. */
static int run_step_failed(RunStep *st, int status) {
        BuildContext *ctx = st->ctx;
        LineSplitter *ls = st->ls;
        unsigned first = ls->n_tail > RUN_TAIL_LINES ? ls->n_tail - RUN_TAIL_LINES : 0;
        _cleanup_free_ char *hint = NULL;
        StrBuf tail = {};
        uint64_t oom = 0;

        for (unsigned k = first; k < ls->n_tail; k++) {
                strbuf_append_str(&tail, k == first ? "Its last output: " : " | ");
                strbuf_append_str(&tail, ls->tail[k % RUN_TAIL_LINES]);
        }
        hint = strbuf_steal(&tail);
        if (st->cgroup && cgroup_limits_oom_kills(st->cgroup, &oom) >= 0 && oom > 0)
                return build_error(
                        ctx, -EPROTO, st->i, isempty(hint) ? "Make the step use less memory." : hint,
                        "RUN used more than the per-step memory cap of %" PRIu64 " MiB and was killed.",
                        ctx->opts->memory_max >> 20);
        if (status > 0)
                return build_error(ctx, -EPROTO, st->i,
                                   isempty(hint) ? "Fix the command and build again." : hint,
                                   "RUN exited with status %d.", status);
        return build_error(ctx, -EPROTO, st->i, NULL, "RUN was killed (systemd-nspawn reported %s).",
                           strerror(-status));
}

int build_run_step(BuildContext *ctx, json_t *state, DockerfileScope *scope, const DockerfileInstruction *i,
                   BuildMounts *mounts, char ret_layer[static DIGEST_STRING_MAX]) {
        _cleanup_(run_step_done) RunStep st = { .ctx = ctx, .i = i, .mounts = mounts };
        const BundleMount *extra = NULL;
        size_t n_extra = 0;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        json_t *config = json_object_get(state, "config");
        const char *cwd = json_string_value(json_object_get(config, "WorkingDir"));
        const char *user = json_string_value(json_object_get(config, "User"));
        gid_t groups[RUN_GROUPS_MAX];
        bool existed[ELEMENTSOF(nspawn_mount_points)];
        bool cap;
        uid_t uid = 0;
        gid_t gid = 0;
        int n_groups = 0, r;

        /* A RUN step never runs without slipway-init (see container-init.h). */
        r = container_init_find(&st.init);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot run the RUN step: %s.",
                                   container_init_missing_hint());
        r = run_step_prepare(&st, state);
        if (r < 0)
                return r;

        if (isempty(cwd))
                cwd = "/";
        build_mkdir_in_root(st.root, cwd);
        root_fd = open(st.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return -errno;
        for (size_t k = 0; k < ELEMENTSOF(nspawn_mount_points); k++) {
                struct stat st_mp;
                existed[k] = fstatat(root_fd, nspawn_mount_points[k], &st_mp, AT_SYMLINK_NOFOLLOW) == 0;
        }
        if (!isempty(user)) {
                r = run_step_user(&st, root_fd, user, &uid, &gid, groups, &n_groups);
                if (r < 0)
                        return r;
        }

        r = build_argv(state, i, &argv);
        if (r < 0)
                return r;
        r = dockerfile_scope_run_env(scope, &env);
        if (r < 0)
                return r;
        if (!strv_env_find(env, "PATH", 4) && (r = strv_extend(&env, DEFAULT_PATH)) < 0)
                return r;

        if (asprintf(&st.machine, "slipway-build-%d-%u-%u", (int) getpid(), ctx->id, ctx->tmp_counter) < 0) {
                st.machine = NULL;
                return -ENOMEM;
        }
        if (mounts) {
                r = build_mounts_setup(ctx, mounts, i, st.root, st.dir, cwd, &extra, &n_extra);
                if (r < 0)
                        return r;
        }
        cap = run_step_memory_cap(&st);
        BundleSpec spec = {
                .rootfs = st.root,
                .args = argv,
                .init = st.init,
                .env = env,
                .cwd = cwd,
                .uid = uid,
                .gid = gid,
                .additional_gids = groups,
                .n_additional_gids = n_groups > 0 ? (size_t) n_groups : 0,
                .hostname = "slipway-build",
                .netns_path = NULL, /* a new, empty network namespace */
                .memory_max = cap ? ctx->opts->memory_max : 0,
                .cgroup_resources = cap,
                .mounts = extra,
                .n_mounts = n_extra,
        };
        r = bundle_write(st.bundle, &spec);
        if (r < 0)
                return r;

        NspawnRun nr = { .bundle_dir = st.bundle,
                         .machine_name = st.machine,
                         .kill_signal = "SIGKILL",
                         .keep_tmp = true,
                         .cgroup = st.cgroup };
        RunOutput ro = { .ctx = ctx, .ls = st.ls, .scrub = SCRUB_STREAM_INIT(ctx->log.scrub) };
        r = container_run(&nr, ctx->job->cancel_fd, ctx->deadline, on_output, &ro);
        run_output_feed(&ro, "", 0, true);
        scrub_stream_done(&ro.scrub);
        if (st.ls->len > 0)
                line_emit(ctx, st.ls);
        if (r < 0 && r != -ECANCELED && r != -ETIME && r != -EPROTO)
                return build_error(ctx, r, i, NULL, "Cannot run systemd-nspawn: %s.", strerror(-r));
        if (r == -ECANCELED || r == -ETIME)
                return build_check_stop(ctx, i);
        if (r != 0)
                return run_step_failed(&st, r);

        r = overlay_umount(st.root);
        st.mounted = false;
        if (r < 0)
                return r;
        build_mounts_clean_upper(mounts, st.upper);
        {
                _cleanup_close_ int ufd = open(st.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (size_t k = 0; ufd >= 0 && k < ELEMENTSOF(nspawn_mount_points); k++)
                        if (!existed[k])
                                (void) unlinkat(ufd, nspawn_mount_points[k],
                                                AT_REMOVEDIR); /* only if empty */
        }
        r = build_state_commit_layer(ctx, state, st.upper, true, ret_layer);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot store the RUN step's layer: %s.", strerror(-r));
        return r;
}
