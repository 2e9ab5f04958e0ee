/* JSON access log lines (access-log.h).  Invariant: every string from the request is escaped, so a
 * line is valid JSON whatever bytes a client sent. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access-log.h"
#include "proxy-addr.h"

static void json_escape_into(Out *o, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                char esc[8];
                if (ch == '"' || ch == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) ch;
                        out_put(o, esc, 2);
                } else if (ch < 0x20 || ch >= 0x7f) {
                        snprintf(esc, sizeof(esc), "\\u%04x", ch);
                        out_put(o, esc, 6);
                } else
                        out_put(o, (const char *) &ch, 1);
        }
}

void access_log_format(const AccessLogEntry *e, Out *o) {
        char ip[PROXY_ADDR_STRING_MAX], num[256], ts[64];
        struct tm tm;

        gmtime_r(&e->time.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        proxy_addr_ip_string(e->peer, ip);
        out_str(o, "{\"time\":\"");
        out_str(o, ts);
        snprintf(num, sizeof(num), ".%03ldZ\",\"client\":\"", e->time.tv_nsec / 1000000);
        out_str(o, num);
        out_str(o, ip);
        out_str(o, "\",\"request\":\"");
        if (e->request)
                json_escape_into(o, e->request, strlen(e->request));
        out_str(o, "\",\"route\":");
        if (e->route) {
                out_str(o, "\"");
                json_escape_into(o, e->route, strlen(e->route));
                out_str(o, "\"");
        } else
                out_str(o, "null");
        out_str(o, ",\"upstream\":");
        if (e->upstream) {
                out_str(o, "\"");
                out_str(o, e->upstream);
                out_str(o, "\"");
        } else
                out_str(o, "null");
        snprintf(num, sizeof(num),
                 ",\"status\":%u,\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"duration_ms\":%.3f}\n",
                 e->status, e->bytes_in, e->bytes_out, (double) e->latency_us / 1000.0);
        out_str(o, num);
}

int access_log_write(int fd, const AccessLogEntry *e) {
        char line[ACCESS_LOG_LINE_MAX];
        Out o = { .p = line, .cap = sizeof(line) - 1 };

        access_log_format(e, &o);
        if (o.overflow)
                return -ENOBUFS;
        if (write(fd, line, o.len) < 0)
                return -errno;
        return 0;
}
