/* Following a release after deploy, promote or rollback asked for it: polls the release until it is live
 * (and, with wait_bake, until its bake window passed or rolled it back) or failed, and prints the outcome.
 * The exit status says whether the release serves well: 0 live (bake passed, off or not waited for), 1 not
 * (failed, rolled back, or failing its bake with nothing to roll back to). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

#define FOLLOW_POLL_MS 250U
#define CLI_FOLLOW_TIMEOUT_MAX_SEC (24UL * 3600UL)
#define FOLLOW_FAILED_LOG_LINES 8U
/* How long past the end of its bake window a release may still say "baking" before we give up: the
 * deployer needs a moment to retire the standby instance and record the outcome. */
#define FOLLOW_BAKE_GRACE_MS 60000U

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000ULL;
}

static const char *release_status(json_t *release) {
        return json_string_value(json_object_get(release, "status")) ?: "";
}

/* The bake state of a release ("baking", "passed", "rolled-back", "interrupted", "off"), or "" when the
 * daemon records none. */
static const char *bake_state(json_t *release) {
        return json_string_value(json_object_get(json_object_get(release, "bake"), "state")) ?: "";
}

static bool release_settled(json_t *release, bool wait_bake) {
        const char *s = release_status(release);

        if (streq(s, "failed") || streq(s, "superseded") || streq(s, "rolled-back"))
                return true;
        if (!streq(s, "live"))
                return false;
        return !wait_bake || !streq(bake_state(release), "baking");
}

static void format_bake_time(json_t *release, char buf[static 32]) {
        json_int_t ms = json_integer_value(json_object_get(json_object_get(release, "bake"), "bake_ms"));

        if (ms % 1000 == 0)
                snprintf(buf, 32, "%lld s", (long long) (ms / 1000));
        else
                snprintf(buf, 32, "%.1f s", (double) ms / 1000.0);
}

static void print_log_tail(json_t *release, json_int_t id) {
        json_t *log = json_object_get(release, "log");
        size_t n = json_array_size(log);

        printf("Deploy log of release %lld (last lines):\n", (long long) id);
        for (size_t i = n > FOLLOW_FAILED_LOG_LINES ? n - FOLLOW_FAILED_LOG_LINES : 0; i < n; i++)
                printf("  %s\n", json_string_value(json_array_get(log, i)));
        fflush(stdout);
}

int cli_release_follow(CliContext *c, const char *project, const char *component, const char *env,
                       int64_t release_id, unsigned long timeout_sec, bool wait_bake) {
        _cleanup_free_ char *enc_p = NULL, *enc_c = NULL, *path = NULL;
        _cleanup_json_ json_t *reply = NULL;
        bool announced_bake = false;
        char bake_time[32];

        enc_p = http_url_encode(project);
        enc_c = http_url_encode(component);
        if (!enc_p || !enc_c ||
            asprintf(&path, "/api/v1/projects/%s/components/%s/releases/%lld", enc_p, enc_c,
                     (long long) release_id) < 0)
                return log_oom_cli();

        uint64_t deadline = mono_ms() + (uint64_t) timeout_sec * 1000ULL;
        for (;;) {
                struct timespec ts = { .tv_nsec = FOLLOW_POLL_MS * 1000000L };

                json_decref(reply);
                reply = NULL;
                if (cli_api_json(c, "GET", path, NULL, &reply) < 0) {
                        if (announced_bake && !c->json)
                                putchar('\n');
                        return 1;
                }
                if (release_settled(reply, wait_bake))
                        break;
                if (streq(release_status(reply), "live") && !announced_bake) {
                        /* Live and baking: the wait now lasts as long as the bake window. */
                        json_int_t ms = json_integer_value(
                                json_object_get(json_object_get(reply, "bake"), "bake_ms"));
                        uint64_t bake_end = mono_ms() + (uint64_t) MAX(ms, 0) + FOLLOW_BAKE_GRACE_MS;

                        deadline = MAX(deadline, bake_end);
                        announced_bake = true;
                        if (!c->json) {
                                format_bake_time(reply, bake_time);
                                printf("Release %lld of %s/%s is live in %s; baking for %s …",
                                       (long long) release_id, project, component, env, bake_time);
                                fflush(stdout);
                        }
                }
                if (mono_ms() >= deadline) {
                        if (announced_bake && !c->json)
                                putchar('\n');
                        return cli_error(
                                "Run the same command with --no-wait, or look at 'slipway releases'.",
                                "Release %lld is still %s after %lu s", (long long) release_id,
                                streq(release_status(reply), "live") ? "baking" : release_status(reply),
                                timeout_sec);
                }
                nanosleep(&ts, NULL);
        }

        const char *status = release_status(reply), *bake = bake_state(reply);
        /* A bake that saw the release fail with nothing to roll back to leaves it live, but not well. */
        bool bake_failed = wait_bake && streq(bake, "failed");
        bool ok = !streq(status, "failed") && !streq(status, "rolled-back") && !bake_failed;
        if (c->json) {
                cli_print_json(reply);
                return ok ? 0 : 1;
        }
        if (announced_bake) {
                /* Finish the "baking for …" line. */
                if (ok && !streq(bake, "interrupted"))
                        printf(" passed.\n");
                else if (streq(bake, "interrupted"))
                        printf(" interrupted (slipwayd restarted); the release stays live.\n");
                else
                        printf(" failed.\n");
                fflush(stdout);
        } else if (ok && streq(status, "live") && streq(bake, "baking")) {
                format_bake_time(reply, bake_time);
                printf("Release %lld of %s/%s is live in %s; its bake window of %s continues (see 'slipway "
                       "releases %s/%s %s').\n",
                       (long long) release_id, project, component, env, bake_time, project, component, env);
        } else if (ok)
                printf("Release %lld of %s/%s is live in %s.\n", (long long) release_id, project, component,
                       env);
        if (ok)
                return 0;

        const char *reason = json_string_value(json_object_get(reply, "reason")) ?: "no reason recorded.";
        if (bake_failed) {
                fprintf(stderr,
                        "Error: release %lld of %s/%s in %s failed its bake window and stays live: %s\n",
                        (long long) release_id, project, component, env,
                        json_string_value(json_object_get(json_object_get(reply, "bake"), "reason"))
                                ?: reason);
                print_log_tail(reply, release_id);
                fprintf(stderr, "Hint: deploy a working release, or see 'slipway logs %s/%s %s'.\n", project,
                        component, env);
                return 1;
        }
        if (streq(status, "rolled-back")) {
                fprintf(stderr, "Error: release %lld of %s/%s in %s was rolled back: %s\n",
                        (long long) release_id, project, component, env, reason);
                print_log_tail(reply, release_id);
                fprintf(stderr,
                        "Hint: the previous release serves again; see the deploy log above and 'slipway logs "
                        "%s/%s %s'.\n",
                        project, component, env);
                return 1;
        }
        fprintf(stderr, "Error: release %lld of %s/%s to %s failed: %s\n", (long long) release_id, project,
                component, env, reason);
        print_log_tail(reply, release_id);
        fprintf(stderr,
                "Hint: the previous release (if any) still serves; see the deploy log above and "
                "'slipway logs %s/%s %s'.\n",
                project, component, env);
        return 1;
}

int cli_follow_timeout_parse(const char *full, const char *arg, unsigned long *ret) {
        unsigned long timeout;
        char *end = NULL;

        errno = 0;
        timeout = strtoul(arg, &end, 10);
        if (errno || !end || *end || timeout == 0 || timeout > CLI_FOLLOW_TIMEOUT_MAX_SEC)
                return cli_usage_errno(full, "--timeout takes seconds (1..%lu), not '%s'",
                                       CLI_FOLLOW_TIMEOUT_MAX_SEC, arg);
        *ret = timeout;
        return 0;
}
