/* slipwayd's side of slipway-proxy: starting it (detached, so it outlives slipwayd) and pushing the
 * routes of a component's live instance.  Invariant: route names are derived from (environment id,
 * component id, endpoint), so re-applying a route replaces it in place and never duplicates it. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define PROXY_START_TIMEOUT_MS 5000U
#define PROXY_DRAIN_TIMEOUT_SEC 30

/* > 0 when a proxy answers on state_dir/proxy.sock, 0 when none does. */
int proxy_sync_running(const char *state_dir);

/* The slipway-proxy to run: explicit (may be NULL), else ../../runtime/proxy/slipway-proxy relative to
 * self_exe (the build tree), else "slipway-proxy" from PATH. */
int proxy_sync_find_binary(const char *explicit_bin, const char *self_exe, char **ret);

/* Starts `BIN serve --state-dir DIR` in its own session unless one already answers, and waits until it
 * answers (at most PROXY_START_TIMEOUT_MS).  Returns 1 when started, 0 when one was running. */
int proxy_sync_ensure_running(const char *state_dir, const char *proxy_bin);

typedef struct ProxyRouteSpec {
        const char *name;
        const char *listen; /* "ADDR:PORT" */
        const char *host;   /* NULL: any */
        const char *path;   /* NULL: any */
        bool strip;
        const char *target; /* "ADDR:PORT" */
} ProxyRouteSpec;

/* route-set; with wait_drained it returns once requests on the replaced targets finished (or hit the
 * drain timeout).  ret_error (may be NULL) gets the proxy's message on failure. */
int proxy_sync_route_set(const char *state_dir, const ProxyRouteSpec *spec, bool wait_drained,
                         char **ret_error);
/* route-rm; 0 also when the route did not exist. */
int proxy_sync_route_remove(const char *state_dir, const char *name, bool wait_drained);

struct DeployTarget;
/* The component's routes, pointed at an instance address: per endpoint port the in-environment route
 * SERVICE_ADDR:PORT → ADDR:PORT, and for the public endpoint the ingress route 0.0.0.0:INGRESS_PORT path
 * /<project>/<component> (stripped) → ADDR:PORT plus, when the environment has a domain, the host route
 * <component>.<domain> on the same listener (whole path); without a domain that host route is removed.
 * With wait, returns once the replaced targets drained. */
int proxy_sync_routes_apply(const char *state_dir, const struct DeployTarget *t, struct in_addr address,
                            bool wait, char **ret_error);

/* Removes the routes of t's component in t's environment that proxy_sync_routes_apply(t, address) does not set:
 * those of endpoints an earlier release had and t has not (they would point at an instance that is being
 * stopped).  ret_removed (may be NULL) gets how many went. */
int proxy_sync_routes_prune(const char *state_dir, const struct DeployTarget *t, struct in_addr address,
                            unsigned *ret_removed);

/* The proxy's route table (the "routes" array of route-list; the caller unrefs it). */
int proxy_sync_route_list(const char *state_dir, json_t **ret_routes);
/* How many of the routes proxy_sync_routes_apply() would set for (t, address) are absent from routes (a
 * route-list array) or differ there (listen, host, path, strip, target); ret_first_missing (may be NULL)
 * gets the first one's name, NULL when none. */
int proxy_sync_routes_check(json_t *routes, const struct DeployTarget *t, struct in_addr address,
                            char **ret_first_missing);

/* What slipway-proxy counted for one instance (its "stats" command): requests answered and how many of them
 * with a 5xx status (the proxy's own 502/503/504 included), summed over the targets at address of the
 * routes proxy_sync_routes_apply() sets for (t, address).  Counters only grow while the routes keep that
 * target; a caller wanting "since X" subtracts a sample taken at X. */
typedef struct ProxyTargetCounts {
        uint64_t requests, status_5xx;
} ProxyTargetCounts;

int proxy_sync_target_counts(const char *state_dir, const struct DeployTarget *t, struct in_addr address,
                             ProxyTargetCounts *ret);
