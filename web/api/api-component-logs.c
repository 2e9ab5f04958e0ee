/* GET /api/v1/projects/{p}/components/{c}/logs?env=E: the last lines of the live (else newest) instance's
 * stdout and stderr, and with ?follow=1 what it writes next, as JSON lines, until it stops.  The files
 * are the container runtime's (instance_log_path()); text sent is always valid UTF-8, and every secret
 * the instance's release pinned is scrubbed from it ([secret KEY]), also across the pieces a follow sends. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http-response.h"
#include "instance.h"
#include "json-util.h"
#include "scrub.h"
#include "sqlite-util.h"

/* logs: default and maximum lines per stream, and how much of a file's end is read to find them. */
#define API_LOGS_LINES_DEFAULT 100u
#define API_LOGS_LINES_MAX 10000u
#define API_LOGS_TAIL_BYTES_MAX (4u * 1024u * 1024u)
/* logs ?follow=1: poll interval, a heartbeat after this many idle ticks, and the most sent at once. */
#define API_LOGS_FOLLOW_TICK_USEC 250000u
#define API_LOGS_HEARTBEAT_TICKS 8u
#define API_LOGS_FOLLOW_CHUNK (64u * 1024u)
/* Each follower holds one of the server's 8 handler threads: leave most of them to the rest of the API. */
#define API_LOGS_FOLLOWERS_MAX 3u

/* Invalid UTF-8 would make the JSON string fail: each byte of a bad sequence becomes '?'. */
static void utf8_sanitize(char *s) {
        unsigned char *p = (unsigned char *) s;

        while (*p) {
                size_t n = *p < 0x80             ? 1
                           : (*p & 0xe0) == 0xc0 ? 2
                           : (*p & 0xf0) == 0xe0 ? 3
                           : (*p & 0xf8) == 0xf0 ? 4
                                                 : 0;
                bool ok = n > 0 && !(n == 2 && *p < 0xc2) && !(n == 4 && *p > 0xf4);
                for (size_t i = 1; ok && i < n; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
                        ok = false;
                if (ok && n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
                        ok = false;
                if (!ok) {
                        *p++ = '?';
                        continue;
                }
                p += n;
        }
}

/* Opens the instance's log l for reading: an fd, or -ENOENT while it does not exist. */
static int open_log(const char *dir, InstanceLog l) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = instance_log_path(dir, l, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

/* The secrets of the release whose instance the logs show, as a scrubber (none known: empty).  A value
 * that does not open leaves the logs unshown: *ret_error says why. */
static int logs_scrubber(ApiContext *ctx, sqlite3 *db, int64_t release_id, Scrubber **ret,
                         char **ret_error) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;
        VaultValue *v = NULL;
        size_t n = 0;
        int r;

        r = scrubber_new(&s);
        if (r < 0)
                return r;
        if (ctx->vault) {
                r = vault_release_values(ctx->vault, db, release_id, &v, &n, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                if (v[i].secret)
                        r = scrubber_add(s, v[i].key, v[i].data, v[i].size);
        vault_values_free(v, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* The last `lines` lines of the instance's log l (at most API_LOGS_TAIL_BYTES_MAX from its end), scrubbed;
 * "" when absent.  *ret_end: the file size read up to (where a follow continues). */
static int tail_log(const char *dir, InstanceLog l, unsigned lines, const Scrubber *scrub, char **ret,
                    uint64_t *ret_end) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        off_t start;
        size_t size;
        ssize_t k;

        fd = open_log(dir, l);
        if (fd == -ENOENT) {
                *ret = strdup("");
                *ret_end = 0;
                return *ret ? 0 : -ENOMEM;
        }
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        start = st.st_size > (off_t) API_LOGS_TAIL_BYTES_MAX ? st.st_size - (off_t) API_LOGS_TAIL_BYTES_MAX
                                                             : 0;
        size = (size_t) (st.st_size - start);
        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, size, start);
        if (k < 0)
                return -errno;
        buf[k] = 0;
        /* Walk back over `lines` newlines (a final newline ends the last line, it does not start one). */
        size_t end = (size_t) k, pos = end;
        if (pos > 0 && buf[pos - 1] == '\n')
                pos--;
        unsigned seen = 0;
        while (pos > 0) {
                if (buf[pos - 1] == '\n' && ++seen == lines)
                        break;
                pos--;
        }
        if (lines == 0)
                pos = end;
        /* Scrubbed before sanitizing: a '?' for a bad byte must not break a secret's match. */
        char *out = NULL;
        int r = scrubber_text(scrub, buf + pos, end - pos, &out, NULL);
        explicit_bzero(buf, (size_t) k);
        if (r < 0)
                return r;
        utf8_sanitize(out);
        *ret = out;
        *ret_end = (uint64_t) start + (uint64_t) k;
        return 0;
}

static bool logs_stopping;
static unsigned logs_followers;

bool api_logs_stopping(void) {
        return __atomic_load_n(&logs_stopping, __ATOMIC_ACQUIRE);
}

void api_logs_stop(void) {
        __atomic_store_n(&logs_stopping, true, __ATOMIC_RELEASE);
        /* Let each follower send its end line while the server still writes (a few poll intervals). */
        for (unsigned i = 0; i < 20 && __atomic_load_n(&logs_followers, __ATOMIC_ACQUIRE) > 0; i++)
                (void) usleep(API_LOGS_FOLLOW_TICK_USEC / 2);
}

static int send_json_line(struct mg_connection *conn, json_t *j) {
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        _cleanup_free_ char *line = NULL;

        if (!s || asprintf(&line, "%s\n", s) < 0)
                return -ENOMEM;
        return http_stream_write(conn, line, strlen(line));
}

/* New bytes of the instance's log l after *offset (from 0 again when the file shrank: copy-truncate rotation), up to the
 * last complete line unless API_LOGS_FOLLOW_CHUNK bytes are pending, through the stream's scrubber (which
 * may hold back the start of a secret until the next piece).  NULL *ret when nothing is new to send. */
static int read_new(const char *dir, InstanceLog l, uint64_t *offset, ScrubStream *scrub, char **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        ssize_t k;

        *ret = NULL;
        fd = open_log(dir, l);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size < *offset)
                *offset = 0;
        if ((uint64_t) st.st_size == *offset)
                return 0;
        size_t want = MIN((uint64_t) st.st_size - *offset, (uint64_t) API_LOGS_FOLLOW_CHUNK);
        buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, want, (off_t) *offset);
        if (k <= 0)
                return k < 0 ? -errno : 0;
        size_t n = (size_t) k;
        if (n < API_LOGS_FOLLOW_CHUNK) {
                while (n > 0 && buf[n - 1] != '\n')
                        n--;
                if (n == 0)
                        return 0; /* a line still being written */
        }
        buf[n] = 0;
        *offset += n;
        _cleanup_free_ char *out = NULL;
        size_t out_n = 0;
        int r = scrub_stream_feed(scrub, buf, n, false, &out, &out_n);
        explicit_bzero(buf, n);
        if (r < 0)
                return r;
        if (out_n == 0)
                return 0; /* all held back: the start of a secret, perhaps */
        utf8_sanitize(out);
        *ret = TAKE_PTR(out);
        return 0;
}

/* Streams what the instance writes as JSON lines {"stream","text"} until the client goes, the instance
 * stops (then {"end":true,"state"}) or slipwayd stops.  An empty line every few seconds notices a
 * client that went away. */
static int follow_logs(HttpRequest *req, sqlite3 *db, const ModelInstance *inst, const Scrubber *scrub,
                       uint64_t off_out, uint64_t off_err) {
        uint64_t offsets[_INSTANCE_LOG_MAX] = {
                [INSTANCE_LOG_STDOUT] = off_out, [INSTANCE_LOG_STDERR] = off_err
        };
        ScrubStream streams[_INSTANCE_LOG_MAX] = { [INSTANCE_LOG_STDOUT] = SCRUB_STREAM_INIT(scrub),
                                                   [INSTANCE_LOG_STDERR] = SCRUB_STREAM_INIT(scrub) };
        unsigned idle = 0;
        int status = 200;

        for (unsigned tick = 0;; tick++) {
                bool sent = false, done = false;
                _cleanup_free_ char *state = NULL;

                if (__atomic_load_n(&logs_stopping, __ATOMIC_ACQUIRE)) {
                        _cleanup_json_ json_t *j =
                                json_pack("{s:b,s:s}", "end", true, "state", "slipwayd stopping");
                        (void) send_json_line(req->conn, j);
                        break;
                }
                /* Once a second: has the instance stopped?  Its last lines are sent before the end. */
                if (tick % 4 == 0) {
                        ModelInstance now = {};
                        if (model_instance_get(db, inst->id, &now) < 0)
                                done = true;
                        else if (streq(now.state, MODEL_INSTANCE_STOPPED) ||
                                 streq(now.state, MODEL_INSTANCE_FAILED)) {
                                done = true;
                                state = TAKE_PTR(now.state);
                        }
                        model_instance_done(&now);
                }
                for (InstanceLog l = 0; l < _INSTANCE_LOG_MAX; l++) {
                        _cleanup_free_ char *text = NULL;
                        _cleanup_json_ json_t *j = NULL;

                        if (read_new(inst->dir, l, &offsets[l], &streams[l], &text) < 0)
                                continue;
                        /* At the end, what a stream held back (no secret after all) goes out too. */
                        if (done && streams[l].n_held > 0) {
                                _cleanup_free_ char *rest = NULL, *both = NULL;
                                if (scrub_stream_feed(&streams[l], NULL, 0, true, &rest, NULL) >= 0) {
                                        utf8_sanitize(rest);
                                        if (asprintf(&both, "%s%s", strempty(text), rest) >= 0) {
                                                free(text);
                                                text = TAKE_PTR(both);
                                        }
                                }
                        }
                        if (!text)
                                continue;
                        j = json_pack("{s:s,s:s}", "stream", instance_log_to_string(l), "text", text);
                        if (send_json_line(req->conn, j) < 0)
                                goto finish;
                        sent = true;
                }
                if (done) {
                        _cleanup_json_ json_t *j =
                                json_pack("{s:b,s:s}", "end", true, "state", state ?: "gone");
                        (void) send_json_line(req->conn, j);
                        break;
                }
                idle = sent ? 0 : idle + 1;
                if (idle >= API_LOGS_HEARTBEAT_TICKS) {
                        if (http_stream_write(req->conn, "\n", 1) < 0)
                                goto finish;
                        idle = 0;
                }
                (void) usleep(API_LOGS_FOLLOW_TICK_USEC);
        }
        (void) http_stream_end(req->conn);
finish:
        for (InstanceLog l = 0; l < _INSTANCE_LOG_MAX; l++)
                scrub_stream_done(&streams[l]);
        return status;
}

int api_component_logs(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_instance_done) ModelInstance inst = {};
        _cleanup_(scrubber_freep) Scrubber *scrub = NULL;
        _cleanup_free_ char *out = NULL, *err = NULL, *scrub_error = NULL;
        _cleanup_json_ json_t *j = NULL;
        char env[128], lines_s[16], msg[256];
        unsigned lines = API_LOGS_LINES_DEFAULT;
        uint64_t end_out = 0, end_err = 0;
        bool live = true, follow = api_query_flag(req, "follow");
        int r;

        if ((r = api_need_env(req, env, sizeof env)) < 0)
                return req->status;
        r = http_request_query(req, "lines", lines_s, sizeof lines_s);
        if (r >= 0 || r == -E2BIG) {
                /* Too long for the buffer is out of range too, never the default. */
                char *end = NULL;
                unsigned long v = r >= 0 ? strtoul(lines_s, &end, 10) : ULONG_MAX;
                if (r < 0 || !lines_s[0] || *end || lines_s[0] == '-' || v > API_LOGS_LINES_MAX) {
                        snprintf(msg, sizeof msg, "?lines must be a whole number from 0 to %u.",
                                 API_LOGS_LINES_MAX);
                        return http_reply_error(req->conn, 400, msg, "For example --lines 200.");
                }
                lines = (unsigned) v;
        }
        if ((r = api_scope_component(req, env, &s)) < 0)
                return req->status;
        r = model_instance_get_live(s.db, s.component.id, s.environment.id, &inst);
        if (r == -ENOENT) {
                /* No live release: the newest instance of any release (a failed deploy keeps its instance
                 * for exactly this). */
                live = false;
                r = model_instance_get_newest(s.db, s.component.id, s.environment.id, &inst);
        }
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Component '%s/%s' has no instance in '%s'.", s.project.name,
                         s.component.name, s.environment.name);
                return http_reply_error(req->conn, 404, msg,
                                        "Deploy it first: 'slipway deploy PROJECT/COMPONENT ENV "
                                        "--image REF'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot find the instance");
        r = logs_scrubber(req->userdata, s.db, inst.release_id, &scrub, &scrub_error);
        if (r < 0 && scrub_error)
                /* Unscrubbed they could show a secret: not shown at all. */
                return http_reply_error(
                        req->conn, 500, scrub_error,
                        "The logs are shown only with the release's secrets known; check the "
                        "vault's master key, or deploy again with values that open.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot learn the secrets to scrub from the logs");
        r = tail_log(inst.dir, INSTANCE_LOG_STDOUT, lines, scrub, &out, &end_out);
        if (r >= 0)
                r = tail_log(inst.dir, INSTANCE_LOG_STDERR, lines, scrub, &err, &end_err);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the instance's logs");
        if (follow) {
                _cleanup_json_ json_t *head =
                        json_pack("{s:I,s:I,s:s,s:b}", "instance", (json_int_t) inst.id, "release",
                                  (json_int_t) inst.release_id, "state", inst.state, "live", live);
                _cleanup_json_ json_t *jo = json_pack("{s:s,s:s}", "stream", "stdout", "text", out);
                _cleanup_json_ json_t *je = json_pack("{s:s,s:s}", "stream", "stderr", "text", err);

                if (__atomic_add_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL) > API_LOGS_FOLLOWERS_MAX) {
                        __atomic_sub_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL);
                        return http_reply_error(req->conn, 503, "Too many 'logs --follow' streams are open.",
                                                "Close one, or run 'slipway logs' without --follow.");
                }
                r = http_stream_begin(req->conn, 200, "application/x-ndjson", NULL);
                if (r >= 0 && send_json_line(req->conn, head) >= 0 &&
                    (!out[0] || send_json_line(req->conn, jo) >= 0) &&
                    (!err[0] || send_json_line(req->conn, je) >= 0))
                        (void) follow_logs(req, s.db, &inst, scrub, end_out, end_err);
                __atomic_sub_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL);
                return 200;
        }
        j = json_pack("{s:I,s:I,s:s,s:b,s:s,s:s}", "instance", (json_int_t) inst.id, "release",
                      (json_int_t) inst.release_id, "state", inst.state, "live", live, "stdout", out,
                      "stderr", err);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot send the logs");
        return http_reply_json(req->conn, 200, j);
}
