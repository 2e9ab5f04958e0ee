/* Counters per route and per target, shared by all workers (relaxed atomics).  A ProxyStats object
 * outlives table swaps: a new table reuses the object of the route/target with the same key. */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#define PROXY_LATENCY_BUCKETS 20

typedef struct ProxyStats {
        unsigned refs; /* control thread only */
        char *key;
        struct ProxyStats *next;

        _Atomic uint64_t requests;
        _Atomic uint64_t status[6]; /* [1]..[5] = 1xx..5xx */
        _Atomic uint64_t bytes_in, bytes_out;
        _Atomic int64_t in_flight, tunnels;
        _Atomic uint64_t latency[PROXY_LATENCY_BUCKETS];
} ProxyStats;

void proxy_stats_record(ProxyStats *s, unsigned status, uint64_t bytes_in, uint64_t bytes_out,
                        uint64_t latency_us);
/* Adds the counters as fields of obj. */
int proxy_stats_to_json(const ProxyStats *s, json_t *obj);

/* Registry keyed by name (control thread only). */
ProxyStats *proxy_stats_get(ProxyStats **registry, const char *key);
void proxy_stats_unref(ProxyStats **registry, ProxyStats *s);
