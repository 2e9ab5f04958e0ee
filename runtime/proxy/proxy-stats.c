/* Per-route/per-target statistics with a fixed latency histogram; percentiles are reported as the
 * upper bound of the bucket they fall in (never optimistic). */
#include "proxy-stats.h"

#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Upper bounds in microseconds; the last bucket is open-ended. */
static const uint64_t bucket_us[PROXY_LATENCY_BUCKETS] = {
        100,    200,    500,     1000,    2000,    5000,     10000,    20000,    50000,     100000,
        200000, 500000, 1000000, 2000000, 5000000, 10000000, 30000000, 60000000, 300000000, UINT64_MAX,
};

void proxy_stats_record(ProxyStats *s, unsigned status, uint64_t bytes_in, uint64_t bytes_out,
                        uint64_t latency_us) {
        unsigned b = 0;

        if (!s)
                return;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        if (status >= 100 && status < 600)
                atomic_fetch_add_explicit(&s->status[status / 100], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bytes_in, bytes_in, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bytes_out, bytes_out, memory_order_relaxed);
        if (status == 101)
                return; /* a tunnel's lifetime is not a response latency */
        while (b < PROXY_LATENCY_BUCKETS - 1 && latency_us > bucket_us[b])
                b++;
        atomic_fetch_add_explicit(&s->latency[b], 1, memory_order_relaxed);
}

static double percentile_ms(const uint64_t counts[static PROXY_LATENCY_BUCKETS], uint64_t total, double p) {
        uint64_t want, acc = 0;

        if (total == 0)
                return 0;
        want = (uint64_t) (p * (double) total + 0.999999);
        if (want == 0)
                want = 1;
        for (unsigned b = 0; b < PROXY_LATENCY_BUCKETS; b++) {
                acc += counts[b];
                if (acc >= want)
                        return b == PROXY_LATENCY_BUCKETS - 1 ? (double) bucket_us[b - 1] / 1000.0
                                                              : (double) bucket_us[b] / 1000.0;
        }
        return 0;
}

int proxy_stats_to_json(const ProxyStats *s, json_t *obj) {
        uint64_t counts[PROXY_LATENCY_BUCKETS], total = 0;
        json_t *st, *lat, *hist;
        char name[8];

        st = json_object();
        lat = json_object();
        hist = json_array();
        if (!st || !lat || !hist) {
                json_decref(st);
                json_decref(lat);
                json_decref(hist);
                return -ENOMEM;
        }
        for (unsigned k = 1; k <= 5; k++) {
                snprintf(name, sizeof(name), "%ux", k);
                strcat(name, "x");
                json_object_set_new(st, name, json_integer((json_int_t) atomic_load(&s->status[k])));
        }
        for (unsigned b = 0; b < PROXY_LATENCY_BUCKETS; b++) {
                counts[b] = atomic_load(&s->latency[b]);
                total += counts[b];
                json_array_append_new(hist, json_integer((json_int_t) counts[b]));
        }
        json_object_set_new(lat, "p50", json_real(percentile_ms(counts, total, 0.50)));
        json_object_set_new(lat, "p90", json_real(percentile_ms(counts, total, 0.90)));
        json_object_set_new(lat, "p99", json_real(percentile_ms(counts, total, 0.99)));
        json_object_set_new(lat, "histogram", hist);

        json_object_set_new(obj, "requests", json_integer((json_int_t) atomic_load(&s->requests)));
        json_object_set_new(obj, "status", st);
        json_object_set_new(obj, "bytes_in", json_integer((json_int_t) atomic_load(&s->bytes_in)));
        json_object_set_new(obj, "bytes_out", json_integer((json_int_t) atomic_load(&s->bytes_out)));
        json_object_set_new(obj, "in_flight", json_integer((json_int_t) atomic_load(&s->in_flight)));
        json_object_set_new(obj, "tunnels", json_integer((json_int_t) atomic_load(&s->tunnels)));
        json_object_set_new(obj, "latency_ms", lat);
        return 0;
}

ProxyStats *proxy_stats_get(ProxyStats **registry, const char *key) {
        ProxyStats *s;

        for (s = *registry; s; s = s->next)
                if (streq(s->key, key)) {
                        s->refs++;
                        return s;
                }
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->key = strdup(key);
        if (!s->key) {
                free(s);
                return NULL;
        }
        s->refs = 1;
        s->next = *registry;
        *registry = s;
        return s;
}

void proxy_stats_unref(ProxyStats **registry, ProxyStats *s) {
        if (!s || --s->refs > 0)
                return;
        for (ProxyStats **p = registry; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        free(s->key);
        free(s);
}
