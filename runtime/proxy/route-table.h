/* Route table snapshots.  A RouteTable is immutable once published; workers hold references to the
 * snapshot that routed each request, so a request is served wholly by one table.  Only the control
 * thread creates and frees tables (a table is freed when its refcount reached zero after retirement). */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proxy-addr.h"
#include "proxy-stats.h"

#define ROUTE_NAME_MAX 64U
#define ROUTE_HOST_MAX 253U
#define ROUTE_PATH_MAX 1024U
#define ROUTE_TARGETS_MAX 64U
#define ROUTE_TABLE_ROUTES_MAX 4096U
#define ROUTE_DRAIN_TIMEOUT_MAX_S 86400U
#define ROUTE_DRAIN_TIMEOUT_DEFAULT_S 30U

typedef enum Balance {
        BALANCE_ROUND_ROBIN,
        BALANCE_LEAST_CONN,
        _BALANCE_MAX,
        _BALANCE_INVALID = -22,
} Balance;

const char *balance_to_string(Balance b);
Balance balance_from_string(const char *s);

struct Route;

typedef struct Target {
        char *address;
        ProxyAddr addr;
        _Atomic int64_t in_flight; /* requests and tunnels routed here by this snapshot */
        _Atomic bool cut;          /* drain timeout passed: workers close what is still open */
        ProxyStats *stats;
        struct Route *route;
} Target;

typedef struct Route {
        char *name;
        char *listen;
        ProxyAddr listen_addr;
        char *host; /* lowercase; "*.suffix" for a wildcard; NULL: any */
        char *path; /* prefix; NULL: any */
        size_t path_len;
        bool strip;
        Balance balance;
        unsigned drain_timeout_s;
        Target *targets;
        size_t n_targets;
        _Atomic unsigned rr;
        unsigned listener_id; /* assigned by the server */
        ProxyStats *stats;
} Route;

typedef struct RouteTable {
        _Atomic long refs;
        uint64_t generation;
        Route *routes;
        size_t n_routes;
        struct RouteTable *retired_next;
} RouteTable;

/* Parses one route object (the routes.json / control protocol shape).  On failure returns -EINVAL
 * and writes one sentence into err. */
int route_from_json(json_t *j, Route *ret, char *err, size_t err_size);
json_t *route_to_json(const Route *r);
void route_done(Route *r);

/* Parses {"routes":[…]} into an unpublished table (no stats attached yet). */
int route_table_from_json(json_t *j, RouteTable **ret, char *err, size_t err_size);
json_t *route_table_to_json(const RouteTable *t);
RouteTable *route_table_new(void);
/* Appends a copy of r (deep), replacing a route with the same name when replace is set. */
int route_table_put(RouteTable *t, const Route *r);
int route_table_remove(RouteTable *t, const char *name);
const Route *route_table_find(const RouteTable *t, const char *name);
RouteTable *route_table_copy(const RouteTable *t);
void route_table_free(RouteTable *t);

static inline void route_table_ref(RouteTable *t) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}
static inline void route_table_unref(RouteTable *t) {
        atomic_fetch_sub_explicit(&t->refs, 1, memory_order_release);
}

/* Longest match for a request on listener_id.  host may be NULL; path is the request target (origin
 * form, may include a query).  Returns NULL when nothing matches. */
const Route *route_table_match(const RouteTable *t, unsigned listener_id, const char *host, size_t host_len,
                               const char *path, size_t path_len);
/* Picks a target (round-robin or least in-flight); skip is a target to avoid (after a failed connect). */
Target *route_pick_target(Route *r, const Target *skip);
/* Rewrites path for a stripping route into buf; returns length. */
size_t route_rewrite_path(const Route *r, const char *path, size_t path_len, char *buf, size_t buf_size);
