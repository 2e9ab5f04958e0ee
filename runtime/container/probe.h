/* Health probes from the host to an instance address: TCP connect, or HTTP/1.1 GET judged by its
 * status line alone (200–399 healthy).  Non-blocking state machine for an event loop, plus a
 * blocking wrapper.  Invariant: a probe never blocks and never reads more than PROBE_RESPONSE_MAX. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define PROBE_PATH_MAX 1024U
/* Bytes read while looking for the end of the status line; more means "not HTTP". */
#define PROBE_RESPONSE_MAX 1024U
#define PROBE_MESSAGE_MAX 160U
#define PROBE_TIMEOUT_MAX_MS (10U * 60U * 1000U)

typedef enum ProbeType {
        PROBE_TCP,
        PROBE_HTTP,
        _PROBE_TYPE_MAX,
        _PROBE_TYPE_INVALID = -EINVAL,
} ProbeType;

typedef struct ProbeSpec {
        ProbeType type;
        const char *address; /* numeric IPv4 or IPv6 */
        uint16_t port;
        const char *path;    /* HTTP: "/healthz"; must start with '/', no spaces or control characters */
        const char *host;    /* HTTP Host header; NULL: address:port */
        unsigned timeout_ms; /* whole probe, connect included; 1..PROBE_TIMEOUT_MAX_MS */
} ProbeSpec;

typedef struct ProbeResult {
        bool healthy;
        int http_status; /* HTTP status when a status line was read, else 0 */
        int error;       /* positive errno when the probe failed before a verdict (ECONNREFUSED, ETIMEDOUT,
                          * EBADMSG for a response that is not HTTP), else 0 */
        char message[PROBE_MESSAGE_MAX]; /* "HTTP 503 from 10.213.0.5:8080/healthz", "connection refused" */
} ProbeResult;

typedef struct Probe Probe;

/* Validates the spec and copies what it needs; -EINVAL with a bad address, path or timeout. */
int probe_new(const ProbeSpec *spec, Probe **ret);
Probe *probe_free(Probe *p);
static inline void probe_freep(Probe **p) {
        if (*p)
                probe_free(*p);
}
#define _cleanup_probe_ _cleanup_(probe_freep)

/* Opens the socket and starts connecting.  Returns 1 when the probe already finished (e.g. refused
 * at once), 0 when the caller must wait for probe_fd()/probe_events() or the deadline. */
int probe_start(Probe *p);
int probe_fd(const Probe *p);
uint32_t probe_events(const Probe *p);        /* EPOLLIN / EPOLLOUT (same values as POLLIN / POLLOUT) */
uint64_t probe_deadline_usec(const Probe *p); /* CLOCK_MONOTONIC */
/* Advances on readiness (revents may be 0 when the deadline timer fired).  Returns 1 when done,
 * 0 to keep waiting (fd and events may have changed).  Never blocks. */
int probe_step(Probe *p, uint32_t revents);
/* Valid once done. */
const ProbeResult *probe_result(const Probe *p);

/* Runs a probe to completion, waiting with poll(). */
int probe_run(const ProbeSpec *spec, ProbeResult *ret);

const char *probe_type_to_string(ProbeType t);
ProbeType probe_type_from_string(const char *s);
