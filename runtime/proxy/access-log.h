/* The proxy's access log: one JSON object per line per finished request.  Invariant: a line is
 * written whole with one write() or not at all (a line that would exceed ACCESS_LOG_LINE_MAX is
 * dropped), so concurrent workers never interleave partial lines. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "proxy-buffer.h"

#define ACCESS_LOG_LINE_MAX 2048U
#define LOG_TARGET_MAX 512U /* bytes of the request line kept for the log */

typedef struct AccessLogEntry {
        struct timespec time; /* CLOCK_REALTIME */
        const struct sockaddr *peer;
        const char *request;  /* the request line, or NULL */
        const char *route;    /* NULL: no route matched */
        const char *upstream; /* NULL: no target */
        unsigned status;
        uint64_t bytes_in, bytes_out;
        uint64_t latency_us;
} AccessLogEntry;

/* Formats e as one JSON line into o; o->overflow tells whether it fit. */
void access_log_format(const AccessLogEntry *e, Out *o);
/* Writes e to fd as one line.  Returns 0, -ENOBUFS when the line is too long, or -errno. */
int access_log_write(int fd, const AccessLogEntry *e);
