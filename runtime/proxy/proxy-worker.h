/* A worker thread's private state, shared by its epoll loop (proxy-worker.c) and the connections it
 * runs (proxy-conn.c); worker_start/worker_post/worker_wake are declared in proxy-server.h.
 * Invariant: only the worker's own thread touches a WorkerState after worker_start(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http-parser.h"
#include "proxy-buffer.h"
#include "proxy-event.h"
#include "proxy-server.h"
#include "upstream-pool.h"

typedef struct WListener {
        EvSrc ev;
        unsigned id;
        int fd;
        bool paused;       /* out of descriptors: not polled until paused_until_ms */
        unsigned pause_ms; /* the current back-off; 0 after an accept succeeded */
        uint64_t paused_until_ms;
        struct WListener *next;
} WListener;

typedef struct WorkerState {
        Worker *w;
        Server *s;
        EvSrc wake_ev;
        WListener *listeners;
        Conn *conns, *conns_tail; /* most recently started request first */
        unsigned n_conns;
        int spare_fd; /* given up to accept-and-refuse one client when out of descriptors */
        Conn *graveyard_conns;
        Conn *pending; /* connections that hit PROCESS_ROUNDS_MAX with work left */
        UpstreamPool pool;
        BufCache bufs;
        RouteTable *table;
        uint64_t gen;
        bool shutting_down;
        uint64_t shutdown_deadline_ms;
        uint64_t now_ms, last_tick_ms;
        HttpHead head; /* scratch for the head being parsed; heads do not outlive one call */
} WorkerState;

static inline uint64_t proxy_now_ms_coarse(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static inline uint64_t proxy_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}
