/* A client connection and its state machine: read a request head, route it with the worker's table
 * snapshot, stream the body to a pooled or new upstream connection, stream the response back, then
 * keep-alive, pipeline, linger-close or tunnel after a 101.
 * Invariants: a request keeps a reference to the table and target that routed it until it ends; a
 * closed Conn stays allocated (in the worker's graveyard) until the current event batch is done. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy-event.h"
#include "proxy-flow.h"
#include "proxy-worker.h"
#include "route-table.h"
#include "upstream-pool.h"

#define LINGER_TIMEOUT_MS 2000U
#define PROCESS_ROUNDS_MAX 64 /* per event, for fairness; the rest continues in the next loop turn */

typedef enum Phase {
        PHASE_IDLE,   /* waiting for a request head */
        PHASE_ACTIVE, /* request routed, response under way */
        PHASE_TUNNEL, /* after 101: bytes both ways */
        PHASE_LINGER, /* final bytes sent, write side shut, draining the client before close */
} Phase;

typedef enum RespState {
        RESP_HEAD,
        RESP_BODY,
        RESP_DONE,
} RespState;

struct Conn {
        EvSrc ev;
        int fd;
        Conn *next, *prev;
        unsigned listener_id;
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } peer;        /* compact: idle connections should cost little */
        char *peer_ip; /* formatted once, on the first request */
        bool readable, writable, rdhup, eof, close_after, dead, shut_wr, client_error, pending;
        Conn *pending_next;
        Phase phase;
        RespState resp_state;
        Flow req, resp;
        Upstream *up;
        RouteTable *table;
        Route *route;
        Target *target;
        unsigned attempts;
        bool req_head_method, req_upgrade, req_expect, req_close, req_http10, upstream_close, resp_final,
                tunnel_counted,
                target_idle; /* the target's in_flight (what least-conn counts) was given back early */
        unsigned status;
        unsigned requests;
        uint64_t t_start_ns;
        uint64_t phase_since_ms, up_activity_ms;
        uint64_t bytes_in, bytes_out;
        char *log_req;
};

/* Takes an accepted socket into the worker: registers it with epoll and links it.  On failure the
 * caller still owns fd.  Returns 0 or -errno. */
int conn_new(WorkerState *ws, int fd, const struct sockaddr *peer, socklen_t peer_len, unsigned listener_id,
             Conn **ret);
/* Runs the connection's state machine until nothing more can happen without a new event. */
void conn_process(WorkerState *ws, Conn *c);
void conn_close(WorkerState *ws, Conn *c);
/* At the connection limit: closes the connection that waited longest for a request head (half-sent or
 * idle keep-alive), if it waited at least min_age_ms; a half-sent head gets a static 408 first.
 * Returns whether one was closed. */
bool conn_evict_waiting(WorkerState *ws, uint64_t min_age_ms);
/* Abandon the connection after a failure mid-response: the client sees a truncated message. */
void conn_abort(WorkerState *ws, Conn *c);
/* Replaces whatever would go to the client with a short error response and closes after it. Only
 * valid before any byte of a final response was sent. */
void conn_error(WorkerState *ws, Conn *c, unsigned status, const char *detail);
