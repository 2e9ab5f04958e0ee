/* The builder's entry points: reading and planning the Dockerfile, the stage loop, cache lookups and the
 * dispatch of each instruction, the final image and its tag.
 * Invariant: see builder.h — no mounts, containers or temp dirs survive builder_run(); the store stays
 * read-locked for the whole build so gc cannot sweep blobs that are written but not yet named. */
#include "builder.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "build-cache.h"
#include "build-config.h"
#include "build-copy.h"
#include "build-image.h"
#include "build-job.h"
#include "build-mount.h"
#include "build-run.h"
#include "dockerfile-stages.h"
#include "fs-util.h"
#include "json-util.h"
#include "overlay.h"
#include "strbuf.h"
#include "string-util.h"
#include "temp-claim.h"

static char *const auto_args[] = {
        (char *) "TARGETPLATFORM=linux/amd64",
        (char *) "TARGETOS=linux",
        (char *) "TARGETARCH=amd64",
        (char *) "TARGETVARIANT=",
        (char *) "BUILDPLATFORM=linux/amd64",
        (char *) "BUILDOS=linux",
        (char *) "BUILDARCH=amd64",
        (char *) "BUILDVARIANT=",
        NULL,
};

uint64_t now_usec_monotonic(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

void builder_log(BuildLog *log, const char *fmt, ...) {
        char buf[BUILD_LOG_LINE_MAX + 2];
        va_list ap;
        int n;

        if (!log || log->fd < 0)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf, BUILD_LOG_LINE_MAX + 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > BUILD_LOG_LINE_MAX)
                n = BUILD_LOG_LINE_MAX;
        buf[n++] = '\n';
        if (scrubber_count(log->scrub) > 0) {
                _cleanup_free_ char *clean = NULL;
                size_t m = 0;

                /* Without memory to scrub, the line is dropped rather than written unscrubbed. */
                if (scrubber_text(log->scrub, buf, (size_t) n, &clean, &m) < 0)
                        return;
                pthread_mutex_lock(&log->lock);
                (void) loop_write(log->fd, clean, m);
                pthread_mutex_unlock(&log->lock);
                return;
        }
        pthread_mutex_lock(&log->lock);
        (void) loop_write(log->fd, buf, (size_t) n); /* a client that went away must not fail the build */
        pthread_mutex_unlock(&log->lock);
}

int build_error(BuildContext *ctx, int r, const DockerfileInstruction *i, const char *hint, const char *fmt,
                ...) {
        BuildError *e = ctx->err;
        va_list ap;

        if (!e)
                return r;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        snprintf(e->hint, sizeof e->hint, "%s", strempty(hint));
        if (i && ctx->df) {
                snprintf(e->file, sizeof e->file, "%s", strempty(ctx->df->filename));
                e->line = i->line;
                e->column = i->column;
        }
        return r;
}

static int build_error_df(BuildContext *ctx, int r, const DockerfileError *de) {
        BuildError *e = ctx->err;

        if (!e)
                return r;
        snprintf(e->message, sizeof e->message, "%s", de->message);
        snprintf(e->file, sizeof e->file, "%s", de->file);
        e->line = de->line;
        e->column = de->column;
        e->hint[0] = '\0';
        return r;
}

int build_check_stop(BuildContext *ctx, const DockerfileInstruction *i) {
        if (atomic_load(&ctx->job->cancelled))
                return build_error(ctx, -ECANCELED, i, NULL, "The build was cancelled.");
        if (now_usec_monotonic() >= ctx->deadline)
                return build_error(
                        ctx, -ETIME, i, "Raise the build timeout or make the build faster.",
                        "The build took longer than its time limit of %llu s.",
                        (unsigned long long) ((ctx->opts->timeout_usec ?: BUILD_TIMEOUT_DEFAULT_USEC) /
                                              1000000ULL));
        return 0;
}

int build_tmp_dir(BuildContext *ctx, const char *prefix, char **ret) {
        char *p;

        if (asprintf(&p, "%s/%s-%u", ctx->tmp_dir, prefix, ++ctx->tmp_counter) < 0)
                return -ENOMEM;
        if (mkdir(p, 0700) < 0) {
                int r = -errno;
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

void build_result_done(BuildResult *r) {
        if (!r)
                return;
        free(r->ref);
        r->ref = NULL;
}

int builder_new(const char *state_dir, ImageCatalog *catalog, Builder **ret) {
        _cleanup_free_ Builder *b = calloc(1, sizeof *b);
        _cleanup_free_ char *shim = NULL;
        int r;

        if (!b || !state_dir || !catalog)
                return b ? -EINVAL : -ENOMEM;
        b->state_dir = strdup(state_dir);
        b->builds_dir = path_join(state_dir, "builds");
        shim = b->builds_dir ? path_join(b->builds_dir, "shim") : NULL;
        if (!b->state_dir || !b->builds_dir || !shim) {
                free(b->state_dir);
                free(b->builds_dir);
                return -ENOMEM;
        }
        r = mkdir_p(b->builds_dir, 0700);
        if (r >= 0 && mkdir(b->builds_dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r >= 0)
                r = overlay_shim_ensure(shim);
        if (r < 0) {
                free(b->state_dir);
                free(b->builds_dir);
                return r;
        }
        b->catalog = catalog;
        *ret = TAKE_PTR(b);
        return 0;
}

Builder *builder_free(Builder *b) {
        if (!b)
                return NULL;
        free(b->state_dir);
        free(b->builds_dir);
        free(b);
        return NULL;
}

int build_job_new(BuildJob **ret) {
        BuildJob *j = calloc(1, sizeof *j);

        if (!j)
                return -ENOMEM;
        j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (j->cancel_fd < 0) {
                int r = -errno;
                free(j);
                return r;
        }
        atomic_init(&j->cancelled, false);
        *ret = j;
        return 0;
}

BuildJob *build_job_free(BuildJob *job) {
        if (!job)
                return NULL;
        safe_close(job->cancel_fd);
        free(job);
        return NULL;
}

int build_job_cancel(BuildJob *job) {
        uint64_t one = 1;

        if (!job)
                return -EINVAL;
        atomic_store(&job->cancelled, true);
        if (write(job->cancel_fd, &one, sizeof one) < 0 && errno != EAGAIN)
                return -errno;
        return 0;
}

/* Lazily unmounts whatever is still mounted below dir (a crashed build's overlays). */
static void umount_below(const char *dir) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        size_t len = strlen(dir);

        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                char mp[4096];

                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                if (strncmp(mp, dir, len) == 0 && mp[len] == '/')
                        (void) umount2(mp, MNT_DETACH);
        }
}

/* Before a sweep removes a dead build's dir: what it left mounted below it goes first, so the removal never
 * walks into a mounted layer. */
static void umount_temp_hook(int dir_fd, const char *name, void *userdata) {
        _cleanup_free_ char *p = path_join(userdata, name);

        if (p)
                umount_below(p);
}

int builder_sweep_temp(const char *state_dir, bool dry_run, TempSweepStats *stats) {
        _cleanup_free_ char *builds = path_join(state_dir, "builds");

        if (!builds)
                return -ENOMEM;
        /* "tmp-<id>": a build request's context (the API), "tmp-<pid>-<n>": a build's workspace; both are
         * claimed by the thread using them, so only dead ones are unclaimed. */
        return temp_sweep(builds, "tmp-", dry_run ? TEMP_SWEEP_DRY_RUN : 0, umount_temp_hook, builds, stats);
}

/* Reads the Dockerfile inside the context (symlinks resolved inside it, never out). */
static int read_dockerfile(BuildContext *ctx, const char *name, char **ret, size_t *ret_size) {
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int root = -EBADF, fd = -EBADF;
        char proc[64];
        int r;

        root = open(ctx->opts->context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return build_error(ctx, -errno, NULL, "Check the path.",
                                   "The build context %s cannot be opened: %m.", ctx->opts->context_dir);
        fd = (int) syscall(SYS_openat2, root, name, &how, sizeof how);
        if (fd < 0)
                return build_error(ctx, -errno, NULL,
                                   "Put a Dockerfile into the context or name it with --file.",
                                   "There is no %s in the build context.", name);
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        r = read_full_file_at(AT_FDCWD, proc, DOCKERFILE_SIZE_MAX, ret, ret_size);
        if (r == -EFBIG)
                return build_error(ctx, -EFBIG, NULL, "Split it or remove generated content.",
                                   "%s is larger than %u bytes.", name, DOCKERFILE_SIZE_MAX);
        if (r < 0)
                return build_error(ctx, r, NULL, NULL, "Cannot read %s: %s.", name, strerror(-r));
        return 0;
}

static int source_date_epoch(char *const *args, int64_t *ret) {
        *ret = -1;
        for (size_t i = 0; args && args[i]; i++)
                if (startswith(args[i], "SOURCE_DATE_EPOCH=")) {
                        const char *v = args[i] + strlen("SOURCE_DATE_EPOCH=");
                        char *end;
                        long long n;

                        errno = 0;
                        n = strtoll(v, &end, 10);
                        if (errno || end == v || *end || n < 0)
                                return -EINVAL;
                        *ret = n;
                }
        return 0;
}

typedef struct StageRun {
        json_t *state;               /* after the stage's last instruction */
        char key[DIGEST_STRING_MAX]; /* cache key of the stage's last instruction */
} StageRun;

typedef struct BuildRun {
        BuildContext *ctx;
        DockerfileScope *scope;
        StageRun *stages; /* by index in the Dockerfile */
        BuildResult *result;
} BuildRun;

/* The state of the stage from names (NULL for an image). */
static int stage_state(BuildRun *br, size_t current, const DockerfileInstruction *i, const char *from,
                       json_t **ret) {
        ssize_t idx;
        DockerfileError de = {};
        int r;

        *ret = NULL;
        r = dockerfile_stage_reference(br->ctx->df, current, from, i->line, i->column, &idx, &de);
        if (r < 0)
                return build_error_df(br->ctx, r, &de);
        if (idx >= 0) {
                if (!br->stages[idx].state)
                        return build_error(br->ctx, -EINVAL, i, NULL, "Stage %s was not built.", from);
                *ret = br->stages[idx].state;
        }
        return 0;
}

/* The state of --from (a stage; NULL for an image or the context). */
static int copy_from_stage(BuildRun *br, size_t current, const DockerfileInstruction *i, json_t **ret) {
        const char *from = NULL;

        *ret = NULL;
        if (dockerfile_instruction_get_flag(i, "from", &from) < 0 || !from)
                return 0;
        return stage_state(br, current, i, from, ret);
}

typedef struct MountFrom {
        BuildRun *br;
        size_t stage_index;
} MountFrom;

static int mount_from_stage(void *userdata, const DockerfileInstruction *i, const char *from, json_t **ret) {
        MountFrom *mf = userdata;
        return stage_state(mf->br, mf->stage_index, i, from, ret);
}

static const char *created_by_for(const DockerfileInstruction *i, char **buf) {
        StrBuf b = {};

        if (i->kind == DOCKERFILE_RUN) {
                if (i->json_form)
                        for (size_t k = 0; k < i->n_argv; k++) {
                                if (k > 0)
                                        strbuf_append_char(&b, ' ');
                                strbuf_append_str(&b, i->argv[k]);
                        }
                else {
                        strbuf_append_str(&b, "/bin/sh -c ");
                        strbuf_append_str(&b, strempty(i->shell));
                }
        } else {
                strbuf_append_str(&b, "/bin/sh -c #(nop) ");
                strbuf_append_str(&b, strempty(i->original));
        }
        *buf = strbuf_steal(&b);
        return *buf ?: "";
}

/* One instruction: cache lookup, else execution; *state and key advance. */
static int run_instruction(BuildRun *br, size_t stage_index, json_t **state,
                           char key[static DIGEST_STRING_MAX], const DockerfileInstruction *i) {
        BuildContext *ctx = br->ctx;
        _cleanup_free_ char *ser = NULL, *checksum = NULL, *extra = NULL, *created_by = NULL;
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_(copy_plan_freep) CopyPlan *plan = NULL;
        _cleanup_(build_mounts_freep) BuildMounts *mounts = NULL;
        _cleanup_free_ char *mounts_key = NULL;
        _cleanup_json_ json_t *next = NULL;
        char new_key[DIGEST_STRING_MAX], layer[DIGEST_STRING_MAX] = "";
        bool adds_layer = false;
        int r;

        r = dockerfile_instruction_serialize(i, &ser);
        if (r < 0)
                return r;
        r = dockerfile_scope_args(br->scope, &args);
        if (r < 0)
                return r;
        if (i->kind == DOCKERFILE_COPY || i->kind == DOCKERFILE_ADD) {
                json_t *from_state = NULL;

                r = copy_from_stage(br, stage_index, i, &from_state);
                if (r < 0)
                        return r;
                r = build_copy_prepare(ctx, from_state, i, &plan, &checksum);
                if (r < 0)
                        return r;
        }
        if (i->kind == DOCKERFILE_RUN) {
                MountFrom mf = { .br = br, .stage_index = stage_index };

                r = build_mounts_prepare(ctx, i, mount_from_stage, &mf, &mounts, &mounts_key);
                if (r < 0)
                        return r;
        }
        if (asprintf(&extra, "sde=%lld\nsources=%s%s%s", (long long) ctx->source_date_epoch,
                     strempty(checksum), mounts_key ? "\nmounts=" : "", strempty(mounts_key)) < 0)
                return -ENOMEM;
        build_cache_key(key, ser, args, extra, new_key);

        br->result->steps++;
        if (!ctx->opts->no_cache && build_cache_get(ctx->builder, new_key, &next) >= 0) {
                builder_log(&ctx->log, "--> cached");
                br->result->cached_steps++;
                goto done;
        }

        next = json_deep_copy(*state);
        if (!next)
                return -ENOMEM;
        switch (i->kind) {
        case DOCKERFILE_RUN:
                r = build_run_step(ctx, next, br->scope, i, mounts, layer);
                adds_layer = true;
                break;
        case DOCKERFILE_COPY:
        case DOCKERFILE_ADD:
                r = build_copy_execute(ctx, next, plan, i, layer);
                adds_layer = true;
                break;
        case DOCKERFILE_WORKDIR:
                r = build_config_apply(ctx, next, br->scope, i);
                if (r >= 0)
                        r = build_workdir_ensure(ctx, next, i, layer);
                adds_layer = r > 0;
                break;
        default:
                r = build_config_apply(ctx, next, br->scope, i);
                break;
        }
        if (r < 0)
                return r;
        if (i->kind != DOCKERFILE_ARG) {
                r = build_state_add_history(ctx, next, created_by_for(i, &created_by), !adds_layer);
                if (r < 0)
                        return r;
        }
        if (adds_layer)
                builder_log(&ctx->log, "--> %s", layer);
        r = build_cache_put(ctx->builder, new_key, next, adds_layer ? layer : NULL);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot record the step in the build cache: %s.",
                                   strerror(-r));
done:
        json_decref(*state);
        *state = TAKE_PTR(next);
        strcpy(key, new_key);
        return 0;
}

static int run_stage(BuildRun *br, const DockerfileStagePlan *sp) {
        BuildContext *ctx = br->ctx;
        const DockerfileStage *st = &ctx->df->stages[sp->index];
        _cleanup_json_ json_t *state = NULL, *onbuild = NULL;
        _cleanup_strv_free_ char **env = NULL;
        char key[DIGEST_STRING_MAX];
        json_t *v;
        size_t k;
        int r;

        builder_log(&ctx->log, "STEP %u/%u: %s", ++ctx->step, ctx->n_steps, st->from.original);
        if (sp->platform && !streq(sp->platform, "linux/amd64") && !streq(sp->platform, "linux/x86_64"))
                return build_error(ctx, -EINVAL, &st->from, "Drop --platform or use linux/amd64.",
                                   "Slipway builds linux/amd64 images only, not %s.", sp->platform);
        if (sp->base_stage >= 0) {
                state = json_deep_copy(br->stages[sp->base_stage].state);
                if (!state)
                        return -ENOMEM;
                strcpy(key, br->stages[sp->base_stage].key);
        } else if (streq(sp->base_image, "scratch")) {
                r = build_state_new_scratch(&state);
                if (r < 0)
                        return r;
                sha256_digest_string("scratch", strlen("scratch"), key);
        } else {
                ImageRecord rec = {};
                OciError oe = {};
                char hint[256];

                r = image_catalog_lookup(ctx->builder->catalog, sp->base_image, &rec, &oe);
                if (r == -ENOENT || r == -EINVAL) {
                        snprintf(hint, sizeof hint,
                                 "Import it first, e.g. 'slipway image import --name %.100s FILE.tar' "
                                 "(Slipway never pulls from a registry).",
                                 sp->base_image);
                        return build_error(ctx, -ENOENT, &st->from, hint,
                                           "The base image %s is not in the image store.", sp->base_image);
                }
                if (r < 0)
                        return build_error(ctx, r, &st->from, NULL, "Cannot look up %s: %s", sp->base_image,
                                           oe.message);
                strcpy(key, rec.digest);
                r = build_state_from_image(ctx, rec.digest, &state);
                image_record_done(&rec);
                if (r < 0)
                        return build_error(ctx, r, &st->from, NULL, "Cannot read the base image %s: %s.",
                                           sp->base_image, strerror(-r));
                onbuild = json_incref(json_object_get(json_object_get(state, "config"), "OnBuild"));
                json_object_del(json_object_get(state, "config"), "OnBuild");
        }
        json_object_del(state, "cmdSet");

        json_array_foreach(json_object_get(json_object_get(state, "config"), "Env"), k, v)
                if (json_is_string(v) && (r = strv_extend(&env, json_string_value(v))) < 0)
                        return r;
        r = dockerfile_scope_enter_stage(br->scope, st, env);
        if (r < 0)
                return r;

        /* ONBUILD triggers of the base image run first, as if they stood right after FROM. */
        json_array_foreach(onbuild, k, v) {
                _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *trig = NULL;
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction x = {};
                DockerfileError de = {};

                if (!json_is_string(v))
                        continue;
                r = dockerfile_parse_trigger(json_string_value(v), ctx->df->escape, ctx->df->filename, &trig,
                                             &de);
                if (r < 0)
                        return build_error(ctx, r, &st->from, NULL,
                                           "The base image's ONBUILD %s is invalid: %s",
                                           json_string_value(v), de.message);
                trig->line = st->from.line;
                trig->column = st->from.column;
                r = dockerfile_scope_apply(br->scope, trig, &x, &de);
                if (r < 0)
                        return build_error_df(ctx, r, &de);
                builder_log(&ctx->log, "STEP %u/%u: (ONBUILD) %s", ctx->step, ctx->n_steps,
                            json_string_value(v));
                r = run_instruction(br, sp->index, &state, key, &x);
                if (r < 0)
                        return r;
        }

        for (size_t n = 0; n < st->n_instructions; n++) {
                const DockerfileInstruction *i = &st->instructions[n];
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction x = {};
                DockerfileError de = {};

                r = build_check_stop(ctx, i);
                if (r < 0)
                        return r;
                builder_log(&ctx->log, "STEP %u/%u: %s", ++ctx->step, ctx->n_steps, i->original);
                r = dockerfile_scope_apply(br->scope, i, &x, &de);
                if (r < 0)
                        return r == -EBADMSG ? build_error_df(ctx, r, &de) : r;
                r = run_instruction(br, sp->index, &state, key, &x);
                if (r < 0)
                        return r;
        }
        br->stages[sp->index].state = TAKE_PTR(state);
        strcpy(br->stages[sp->index].key, key);
        return 0;
}

static void format_created(BuildContext *ctx) {
        time_t t = ctx->source_date_epoch >= 0 ? (time_t) ctx->source_date_epoch : time(NULL);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(ctx->created, sizeof ctx->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int build_all(BuildContext *ctx, BuildResult *result) {
        const BuildOptions *o = ctx->opts;
        _cleanup_free_ char *data = NULL;
        _cleanup_dockerfile_free_ Dockerfile *df = NULL;
        _cleanup_dockerfile_scope_free_ DockerfileScope *scope = NULL;
        _cleanup_free_ char *tag = NULL;
        DockerfileBuildPlan *plan = NULL;
        DockerfileError de = {};
        BuildRun br = { .ctx = ctx, .result = result };
        const char *name = o->dockerfile ?: "Dockerfile";
        size_t size;
        int r;

        if (o->tag) {
                OciError oe = {};

                r = image_catalog_normalize_name(o->tag, &tag, &oe);
                if (r < 0)
                        return build_error(ctx, r, NULL, oe.hint, "%s", oe.message);
        }
        r = read_dockerfile(ctx, name, &data, &size);
        if (r < 0)
                return r;
        r = dockerfile_parse(data, size, name, &df, &de);
        if (r < 0)
                return r == -ENOMEM ? r : build_error_df(ctx, -EBADMSG, &de);
        ctx->df = df;
        for (size_t w = 0; w < df->n_warnings; w++) {
                char buf[1024];
                builder_log(&ctx->log, "warning: %s",
                            dockerfile_error_format(&df->warnings[w], buf, sizeof buf));
        }
        r = dockerfile_plan(df, o->target, o->build_args, auto_args, &plan, &de);
        if (r < 0)
                return r == -ENOMEM ? r : build_error_df(ctx, r == -ENOENT ? -ENOENT : -EBADMSG, &de);
        r = dockerfile_scope_new(df, o->build_args, auto_args, &scope, &de);
        if (r < 0)
                goto out;
        br.scope = scope;
        br.stages = calloc(df->n_stages, sizeof *br.stages);
        if (!br.stages) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t s = 0; s < plan->n_stages; s++)
                ctx->n_steps += 1 + (unsigned) df->stages[plan->stages[s].index].n_instructions;

        for (size_t s = 0; s < plan->n_stages; s++) {
                r = build_check_stop(ctx, &df->stages[plan->stages[s].index].from);
                if (r < 0)
                        goto out;
                r = run_stage(&br, &plan->stages[s]);
                if (r < 0)
                        goto out;
        }
        {
                json_t *final = br.stages[plan->stages[plan->n_stages - 1].index].state;

                json_object_del(final, "cmdSet");
                r = build_config_add_labels(final, o->labels);
                if (r >= 0)
                        r = build_state_write_image(ctx, final, result->digest);
                if (r < 0) {
                        r = build_error(ctx, r, NULL, NULL, "Cannot write the image: %s.", strerror(-r));
                        goto out;
                }
        }
        r = build_check_stop(ctx, NULL);
        if (r < 0)
                goto out;
        if (tag) {
                OciError oe = {};

                r = image_catalog_add(ctx->builder->catalog, result->digest, tag, &oe);
                if (r < 0) {
                        r = build_error(ctx, r, NULL, oe.hint, "Cannot tag the image as %s: %s", tag,
                                        oe.message);
                        goto out;
                }
                result->ref = TAKE_PTR(tag);
        }
        builder_log(&ctx->log, "--> %s%s%s", result->digest, result->ref ? " " : "", strempty(result->ref));
        r = 0;
out:
        if (r == -EBADMSG && de.message[0] && ctx->err && !ctx->err->message[0])
                build_error_df(ctx, r, &de);
        if (br.stages)
                for (size_t s = 0; s < df->n_stages; s++)
                        json_decref(br.stages[s].state);
        free(br.stages);
        dockerfile_build_plan_free(plan);
        ctx->df = NULL;
        return r;
}

/* The build secrets within their limits: at most BUILD_SECRETS_MAX, each id given once and each value at most
 * BUILD_SECRET_SIZE_MAX bytes. */
static int check_secrets(BuildContext *ctx, const BuildOptions *opts) {
        if (opts->n_secrets > 0 && !opts->secrets)
                return -EINVAL;
        if (opts->n_secrets > BUILD_SECRETS_MAX)
                return build_error(ctx, -E2BIG, NULL, "Pass only the secrets the Dockerfile mounts.",
                                   "More than %u build secrets.", BUILD_SECRETS_MAX);
        for (size_t k = 0; k < opts->n_secrets; k++) {
                const BuildSecret *sk = &opts->secrets[k];

                if (isempty(sk->id) || strlen(sk->id) > DOCKERFILE_MOUNT_ID_MAX)
                        return build_error(ctx, -EINVAL, NULL, "Give each secret an id of 1 to 255 bytes.",
                                           "A build secret has no id or a too long one.");
                if (sk->size > BUILD_SECRET_SIZE_MAX)
                        return build_error(ctx, -EFBIG, NULL,
                                           "Keep build secrets small (a token, a key file).",
                                           "The build secret '%.64s' is larger than %u KiB.", sk->id,
                                           BUILD_SECRET_SIZE_MAX >> 10);
                if (sk->size > 0 && !sk->data)
                        return -EINVAL;
                for (size_t j = 0; j < k; j++)
                        if (streq(opts->secrets[j].id, sk->id))
                                return build_error(ctx, -EINVAL, NULL, "Pass each secret id once.",
                                                   "The build secret '%.64s' is given twice.", sk->id);
        }
        return 0;
}

int builder_run(Builder *b, const BuildOptions *opts, BuildJob **ret_job, BuildResult *ret,
                BuildError *err) {
        BuildError dummy = {};
        _cleanup_(build_job_freep) BuildJob *own = NULL;
        BuildContext ctx = {
                .builder = b,
                .opts = opts,
                .log = { .fd = opts ? opts->log_fd : -1 },
                .err = err ?: &dummy,
        };
        _cleanup_(scrubber_freep) Scrubber *scrub = NULL;
        BuildResult result = {};
        size_t n_args = 0;
        int r, claim_fd = -EBADF;

        *ctx.err = (BuildError) {};
        if (!b || !opts || !opts->context_dir || !ret)
                return -EINVAL;
        while (opts->build_args && opts->build_args[n_args])
                n_args++;
        if (n_args > BUILD_ARGS_MAX)
                return build_error(&ctx, -E2BIG, NULL, NULL, "More than %u build args.", BUILD_ARGS_MAX);
        r = check_secrets(&ctx, opts);
        if (r < 0)
                return r;
        if (source_date_epoch(opts->build_args, &ctx.source_date_epoch) < 0)
                return build_error(&ctx, -EINVAL, NULL, "Give seconds since 1970, e.g. SOURCE_DATE_EPOCH=0.",
                                   "The SOURCE_DATE_EPOCH build arg is not a number of seconds.");
        format_created(&ctx);
        ctx.deadline = now_usec_monotonic() + (opts->timeout_usec ?: BUILD_TIMEOUT_DEFAULT_USEC);

        if (opts->job)
                ctx.job = opts->job;
        else {
                r = build_job_new(&own);
                if (r < 0)
                        return r;
                ctx.job = own;
        }
        if (ret_job)
                *ret_job = ctx.job;
        if (atomic_load(&ctx.job->cancelled))
                return build_error(&ctx, -ECANCELED, NULL, NULL, "The build was cancelled.");
        if (opts->n_secrets > 0) {
                /* Every secret's value becomes "[secret ID]" wherever the build log would show it. */
                r = scrubber_new(&scrub);
                for (size_t k = 0; r >= 0 && k < opts->n_secrets; k++)
                        r = scrubber_add(scrub, opts->secrets[k].id, opts->secrets[k].data,
                                         opts->secrets[k].size);
                if (r < 0)
                        return build_error(&ctx, r, NULL, NULL, "Cannot prepare the build secrets: %s.",
                                           strerror(-r));
                ctx.log.scrub = scrub;
        }
        pthread_mutex_init(&ctx.log.lock, NULL);
        ctx.id = atomic_fetch_add(&b->next_id, 1);
        if (asprintf(&ctx.tmp_dir, "%s/tmp-%d-%u", b->builds_dir, (int) getpid(), ctx.id) < 0 ||
            !(ctx.shim_dir = path_join(b->builds_dir, "shim"))) {
                r = -ENOMEM;
                goto out;
        }
        /* Claimed until removed below: gc and the next start remove only a killed build's dir. */
        claim_fd = temp_mkdir_claimed(ctx.tmp_dir, 0700);
        if (claim_fd < 0) {
                r = build_error(&ctx, claim_fd, NULL, "Retry the build.",
                                "Cannot create the build's temp dir: %s.", strerror(-claim_fd));
                if (claim_fd == -EEXIST)
                        free(TAKE_PTR(ctx.tmp_dir)); /* not ours */
                goto out;
        }

        image_catalog_read_lock(b->catalog);
        r = build_all(&ctx, &result);
        image_catalog_read_unlock(b->catalog);

        if (r < 0 && !ctx.err->message[0])
                build_error(&ctx, r, NULL, NULL, "The build failed: %s.", strerror(-r));
out:
        if (ctx.tmp_dir && claim_fd >= 0) {
                umount_below(ctx.tmp_dir);
                (void) rm_rf(ctx.tmp_dir);
        }
        claim_fd = safe_close(claim_fd);
        free(ctx.tmp_dir);
        free(ctx.shim_dir);
        if (r < 0 && ctx.err->message[0]) {
                if (ctx.err->line > 0)
                        builder_log(&ctx.log, "error: %s:%u:%u: %s%s%s", ctx.err->file, ctx.err->line,
                                    ctx.err->column, ctx.err->message, ctx.err->hint[0] ? " " : "",
                                    ctx.err->hint);
                else
                        builder_log(&ctx.log, "error: %s%s%s", ctx.err->message, ctx.err->hint[0] ? " " : "",
                                    ctx.err->hint);
        }
        pthread_mutex_destroy(&ctx.log.lock);
        if (r < 0) {
                build_result_done(&result);
                return r;
        }
        *ret = result;
        return 0;
}
