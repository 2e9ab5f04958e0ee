/* Readiness of a new instance: probes from the host until it passes, exits or the deploy timeout, each
 * attempt in the deploy log; and the tail of its output that explains a failure.  Invariant: a verdict is
 * only "ready" after success_threshold healthy probes in a row (or, without a probe, still running after
 * the grace period). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deployer-internal.h"
#include "fs-util.h"
#include "model.h"
#include "probe.h"

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

char *deployer_log_tail(const char *dir) {
        static const char *const files[] = { INSTANCE_STDERR_LOG, INSTANCE_STDOUT_LOG };

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_free_ char *path = path_join(dir, files[f]);
                _cleanup_close_ int fd = -EBADF;
                char buf[2048];
                ssize_t n;
                off_t size;

                if (!path)
                        return NULL;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                size = lseek(fd, 0, SEEK_END);
                if (size <= 0)
                        continue;
                if (lseek(fd, size > (off_t) sizeof buf - 1 ? size - (off_t) sizeof buf + 1 : 0, SEEK_SET) <
                    0)
                        continue;
                n = loop_read(fd, buf, sizeof buf - 1);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                        buf[--n] = 0;
                /* Keep the last DEPLOY_LOG_TAIL_LINES lines. */
                char *start = buf;
                unsigned lines = 0;
                for (char *p = buf + n; p > buf; p--)
                        if (p[-1] == '\n' && ++lines >= DEPLOY_LOG_TAIL_LINES) {
                                start = p;
                                break;
                        }
                for (char *p = start; *p; p++)
                        if (*p == '\n')
                                *p = '|';
                        else if ((unsigned char) *p < ' ')
                                *p = ' ';
                return strdup(start);
        }
        return NULL;
}

int deployer_wait_ready(Deployer *d, sqlite3 *db, const DeployTarget *t, Instance *inst, const char *dir,
                        struct in_addr address, char **reason) {
        const DeployHealth *h = &t->readiness;
        uint64_t deadline = deployer_mono_msec() + (uint64_t) t->deploy_timeout_sec * 1000ULL,
                 start = deployer_mono_msec();
        char addr[INET_ADDRSTRLEN], last[PROBE_MESSAGE_MAX + 64] = "no probe ran";
        unsigned ok = 0, attempt = 0, answered_bad = 0, startup_interval = DEPLOY_PROBE_STARTUP_FIRST_MS;
        uint16_t port =
                h->port ?: (t->n_ports > 0 ? t->ports[t->public_index >= 0 ? t->public_index : 0] : 0);
        bool probing = h->enabled && port > 0;

        inet_ntop(AF_INET, &address, addr, sizeof addr);
        if (h->initial_delay_ms)
                sleep_ms(h->initial_delay_ms);
        for (;;) {
                InstanceState state;
                int status = -1;

                if (instance_status(inst, &state, &status) >= 0 && state != INSTANCE_RUNNING) {
                        _cleanup_free_ char *tail = deployer_log_tail(dir);
                        if (state == INSTANCE_EXITED)
                                deployer_set_reason(
                                        reason, "The instance exited with status %d before it was ready%s%s",
                                        status, tail ? "; its last output: " : ".", tail ?: "");
                        else
                                deployer_set_reason(reason, "The instance stopped before it was ready%s%s",
                                                    tail ? "; its last output: " : ".", tail ?: "");
                        return -ECHILD;
                }
                if (deployer_stopping(d)) {
                        *reason = strdup("slipwayd was stopped during the deploy; deploy again.");
                        return -ECANCELED;
                }
                if (!probing) {
                        if (deployer_mono_msec() - start >= h->grace_ms) {
                                model_deploy_log_appendf(db, t->release_id,
                                                         "readiness: no probe; still running after %u ms",
                                                         h->grace_ms);
                                return 0;
                        }
                        sleep_ms(100);
                        continue;
                }
                if (deployer_mono_msec() >= deadline) {
                        deployer_set_reason(
                                reason,
                                "The readiness check did not pass within the deploy timeout of %u s "
                                "(last result: %s).",
                                t->deploy_timeout_sec, last);
                        return -ETIMEDOUT;
                }
                ProbeSpec ps = {
                        .type = h->type,
                        .address = addr,
                        .port = port,
                        .path = h->type == PROBE_HTTP ? h->path : NULL,
                        .timeout_ms = h->timeout_ms,
                };
                ProbeResult pr = {};
                uint64_t t0 = deployer_mono_msec();
                int r = probe_run(&ps, &pr);
                attempt++;
                if (r < 0)
                        snprintf(pr.message, sizeof pr.message, "probe error: %s", strerror(-r));
                snprintf(last, sizeof last, "%s", pr.message);
                model_deploy_log_appendf(db, t->release_id, "readiness %s probe #%u to %s:%u%s: %s",
                                         probe_type_to_string(h->type), attempt, addr, port,
                                         h->type == PROBE_HTTP ? h->path : "",
                                         r >= 0 && pr.healthy ? "healthy" : pr.message);
                if (r >= 0 && pr.healthy) {
                        if (++ok >= h->success_threshold)
                                return 0;
                        answered_bad = 0;
                } else {
                        ok = 0;
                        /* Not listening yet is normal while it starts; answering "unhealthy"
                         * failure_threshold times in a row is a verdict, no need to wait for the deploy
                         * timeout. */
                        if (r >= 0 && pr.http_status > 0 && ++answered_bad >= h->failure_threshold) {
                                deployer_set_reason(
                                        reason,
                                        "The readiness check failed %u times in a row (last result: %s).",
                                        answered_bad, pr.message);
                                return -EIO;
                        }
                        if (!(r >= 0 && pr.http_status > 0))
                                answered_bad = 0;
                }
                /* While it is not listening yet (refused), look again soon — 10 ms, doubling up to
                 * DEPLOY_PROBE_STARTUP_INTERVAL_MS: a refused connect on our own bridge costs microseconds
                 * and a deploy waits on this. */
                uint64_t spent = deployer_mono_msec() - t0, interval = h->interval_ms;
                if (r >= 0 && !pr.healthy && pr.error == ECONNREFUSED) {
                        interval = MIN(interval, (uint64_t) startup_interval);
                        startup_interval = MIN(startup_interval * 2, DEPLOY_PROBE_STARTUP_INTERVAL_MS);
                }
                if (spent < interval)
                        sleep_ms((unsigned) MIN(interval - spent, deadline > deployer_mono_msec()
                                                                          ? deadline - deployer_mono_msec()
                                                                          : 0));
        }
}
