/* Route table: validation of routes from JSON, deep copies for building new snapshots, and the
 * longest-match lookup used on every request (host specificity first, then path prefix length). */
#include "route-table.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json-util.h"
#include "macro.h"

static const char *const balance_table[_BALANCE_MAX] = {
        [BALANCE_ROUND_ROBIN] = "round-robin",
        [BALANCE_LEAST_CONN] = "least-conn",
};

const char *balance_to_string(Balance b) {
        return b >= 0 && b < _BALANCE_MAX ? balance_table[b] : NULL;
}

Balance balance_from_string(const char *s) {
        for (int i = 0; i < _BALANCE_MAX; i++)
                if (s && streq(s, balance_table[i]))
                        return (Balance) i;
        return _BALANCE_INVALID;
}

static int err_set(char *err, size_t err_size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > ROUTE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("._-", s[i]))
                        return false;
        return true;
}

static bool host_pattern_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > ROUTE_HOST_MAX)
                return false;
        if (s[0] == '*') {
                if (s[1] != '.' || n < 3)
                        return false;
                s += 2;
        }
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '-' && *s != '.')
                        return false;
        return true;
}

static bool path_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > ROUTE_PATH_MAX || s[0] != '/')
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= 0x20 || *s == 0x7f || *s == '?' || *s == '#')
                        return false;
        return true;
}

void route_done(Route *r) {
        if (!r)
                return;
        free(r->name);
        free(r->listen);
        free(r->host);
        free(r->path);
        for (size_t i = 0; i < r->n_targets; i++)
                free(r->targets[i].address);
        free(r->targets);
        *r = (Route) {};
}

static int route_add_target(Route *r, const char *addr, char *err, size_t err_size) {
        ProxyAddr a;
        Target *t;

        if (r->n_targets >= ROUTE_TARGETS_MAX)
                return err_set(err, err_size, "Route %s has more than %u targets.", r->name,
                               ROUTE_TARGETS_MAX);
        if (proxy_addr_parse(addr, &a) < 0)
                return err_set(
                        err, err_size,
                        "Target \"%s\" of route %s is not a numeric ADDRESS:PORT (e.g. 127.0.0.1:8080).",
                        addr, r->name);
        for (size_t i = 0; i < r->n_targets; i++)
                if (proxy_addr_equal(&r->targets[i].addr, &a))
                        return err_set(err, err_size, "Target %s is listed twice in route %s.", addr,
                                       r->name);
        t = realloc(r->targets, (r->n_targets + 1) * sizeof(Target));
        if (!t)
                return -ENOMEM;
        r->targets = t;
        t = &r->targets[r->n_targets];
        *t = (Target) { .addr = a, .address = strdup(addr) };
        if (!t->address)
                return -ENOMEM;
        r->n_targets++;
        return 0;
}

int route_from_json(json_t *j, Route *ret, char *err, size_t err_size) {
        _cleanup_(route_done) Route r = {};
        const char *name, *listen, *host, *path, *balance;
        json_t *targets, *v;
        int64_t drain = ROUTE_DRAIN_TIMEOUT_DEFAULT_S;
        size_t i;
        int k;

        if (!json_is_object(j))
                return err_set(err, err_size, "A route must be a JSON object.");
        if (json_get_string(j, "name", &name) < 0 || !name_valid(name))
                return err_set(
                        err, err_size,
                        "Route name is missing or invalid: use 1-%u letters, digits, '.', '_' or '-'.",
                        ROUTE_NAME_MAX);
        r.name = strdup(name);
        if (!r.name)
                return -ENOMEM;
        if (json_get_string(j, "listen", &listen) < 0 || proxy_addr_parse(listen, &r.listen_addr) < 0)
                return err_set(
                        err, err_size,
                        "Route %s: listen address is missing or not a numeric ADDRESS:PORT (e.g. 127.0.0.1:8080).",
                        name);
        r.listen = strdup(listen);
        if (json_get_string_opt(j, "host", &host) < 0 || (host && !host_pattern_valid(host)))
                return err_set(
                        err, err_size,
                        "Route %s: host must be a host name or \"*.suffix\" (letters, digits, '-', '.').",
                        name);
        if (host) {
                r.host = strdup(host);
                for (char *c = r.host; c && *c; c++)
                        *c = (char) tolower((unsigned char) *c);
        }
        if (json_get_string_opt(j, "path", &path) < 0 || (path && !path_valid(path)))
                return err_set(err, err_size,
                               "Route %s: path must start with '/' and contain no spaces, '?' or '#'.",
                               name);
        if (path && !streq(path, "/")) {
                r.path = strdup(path);
                r.path_len = strlen(path);
        }
        v = json_object_get(j, "strip");
        if (v && !json_is_boolean(v))
                return err_set(err, err_size, "Route %s: strip must be true or false.", name);
        r.strip = v && json_is_true(v);
        if (r.strip && !r.path)
                return err_set(err, err_size, "Route %s: strip needs a path prefix other than \"/\".", name);
        if (json_get_string_opt(j, "balance", &balance) < 0)
                return err_set(err, err_size, "Route %s: balance must be a string.", name);
        r.balance = balance ? balance_from_string(balance) : BALANCE_ROUND_ROBIN;
        if (r.balance < 0)
                return err_set(err, err_size, "Route %s: balance must be round-robin or least-conn.", name);
        k = json_get_int(j, "drain_timeout", &drain);
        if ((k < 0 && k != -ENOENT) || drain < 0 || drain > ROUTE_DRAIN_TIMEOUT_MAX_S)
                return err_set(err, err_size, "Route %s: drain_timeout must be 0..%u seconds.", name,
                               ROUTE_DRAIN_TIMEOUT_MAX_S);
        r.drain_timeout_s = (unsigned) drain;
        k = json_get_array(j, "targets", &targets);
        if (k == -EBADMSG)
                return err_set(err, err_size, "Route %s: targets must be an array of \"ADDRESS:PORT\".",
                               name);
        if (k >= 0)
                json_array_foreach(targets, i, v) {
                        if (!json_is_string(v))
                                return err_set(err, err_size, "Route %s: targets must be strings.", name);
                        k = route_add_target(&r, json_string_value(v), err, err_size);
                        if (k < 0)
                                return k;
                }
        if (!r.listen || (host && !r.host) || (path && r.path_len && !r.path))
                return -ENOMEM;
        *ret = r;
        r = (Route) {};
        return 0;
}

json_t *route_to_json(const Route *r) {
        _cleanup_json_ json_t *j = json_object(), *t = json_array();

        if (!j || !t)
                return NULL;
        json_object_set_new(j, "name", json_string(r->name));
        json_object_set_new(j, "listen", json_string(r->listen));
        if (r->host)
                json_object_set_new(j, "host", json_string(r->host));
        json_object_set_new(j, "path", json_string(r->path ? r->path : "/"));
        json_object_set_new(j, "strip", json_boolean(r->strip));
        json_object_set_new(j, "balance", json_string(balance_to_string(r->balance)));
        json_object_set_new(j, "drain_timeout", json_integer(r->drain_timeout_s));
        for (size_t i = 0; i < r->n_targets; i++)
                json_array_append_new(t, json_string(r->targets[i].address));
        json_object_set_new(j, "targets", TAKE_PTR(t));
        return TAKE_PTR(j);
}

static int route_copy(const Route *src, Route *ret) {
        _cleanup_(route_done) Route r = {};
        char err[8];

        r.name = strdup(src->name);
        r.listen = strdup(src->listen);
        r.listen_addr = src->listen_addr;
        r.host = src->host ? strdup(src->host) : NULL;
        r.path = src->path ? strdup(src->path) : NULL;
        r.path_len = src->path_len;
        r.strip = src->strip;
        r.balance = src->balance;
        r.drain_timeout_s = src->drain_timeout_s;
        if (!r.name || !r.listen || (src->host && !r.host) || (src->path && !r.path))
                return -ENOMEM;
        for (size_t i = 0; i < src->n_targets; i++)
                if (route_add_target(&r, src->targets[i].address, err, sizeof(err)) < 0)
                        return -ENOMEM;
        *ret = r;
        r = (Route) {};
        return 0;
}

RouteTable *route_table_new(void) {
        RouteTable *t = calloc(1, sizeof(RouteTable));
        if (t)
                atomic_init(&t->refs, 1);
        return t;
}

void route_table_free(RouteTable *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_routes; i++)
                route_done(&t->routes[i]);
        free(t->routes);
        free(t);
}

static void route_table_freep(RouteTable **t) {
        route_table_free(*t);
}

const Route *route_table_find(const RouteTable *t, const char *name) {
        for (size_t i = 0; i < t->n_routes; i++)
                if (streq(t->routes[i].name, name))
                        return &t->routes[i];
        return NULL;
}

int route_table_put(RouteTable *t, const Route *r) {
        Route copy, *n;
        int k;

        k = route_copy(r, &copy);
        if (k < 0)
                return k;
        for (size_t i = 0; i < t->n_routes; i++)
                if (streq(t->routes[i].name, r->name)) {
                        route_done(&t->routes[i]);
                        t->routes[i] = copy;
                        return 0;
                }
        if (t->n_routes >= ROUTE_TABLE_ROUTES_MAX) {
                route_done(&copy);
                return -E2BIG;
        }
        n = realloc(t->routes, (t->n_routes + 1) * sizeof(Route));
        if (!n) {
                route_done(&copy);
                return -ENOMEM;
        }
        t->routes = n;
        t->routes[t->n_routes++] = copy;
        return 0;
}

int route_table_remove(RouteTable *t, const char *name) {
        for (size_t i = 0; i < t->n_routes; i++)
                if (streq(t->routes[i].name, name)) {
                        route_done(&t->routes[i]);
                        memmove(&t->routes[i], &t->routes[i + 1], (t->n_routes - i - 1) * sizeof(Route));
                        t->n_routes--;
                        return 0;
                }
        return -ENOENT;
}

RouteTable *route_table_copy(const RouteTable *src) {
        _cleanup_(route_table_freep) RouteTable *t = route_table_new();

        if (!t)
                return NULL;
        for (size_t i = 0; i < src->n_routes; i++)
                if (route_table_put(t, &src->routes[i]) < 0)
                        return NULL;
        return TAKE_PTR(t);
}

int route_table_from_json(json_t *j, RouteTable **ret, char *err, size_t err_size) {
        _cleanup_(route_table_freep) RouteTable *t = NULL;
        json_t *routes, *v;
        size_t i;
        int k;

        if (json_get_array(j, "routes", &routes) < 0)
                return err_set(err, err_size, "The route table must be an object with a \"routes\" array.");
        if (json_array_size(routes) > ROUTE_TABLE_ROUTES_MAX)
                return err_set(err, err_size, "The route table has more than %u routes.",
                               ROUTE_TABLE_ROUTES_MAX);
        t = route_table_new();
        if (!t)
                return -ENOMEM;
        json_array_foreach(routes, i, v) {
                _cleanup_(route_done) Route r = {};
                k = route_from_json(v, &r, err, err_size);
                if (k < 0)
                        return k;
                if (route_table_find(t, r.name))
                        return err_set(err, err_size, "Route %s appears twice in the table.", r.name);
                k = route_table_put(t, &r);
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

json_t *route_table_to_json(const RouteTable *t) {
        _cleanup_json_ json_t *j = json_object(), *a = json_array();

        if (!j || !a)
                return NULL;
        for (size_t i = 0; i < t->n_routes; i++)
                json_array_append_new(a, route_to_json(&t->routes[i]));
        json_object_set_new(j, "routes", TAKE_PTR(a));
        return TAKE_PTR(j);
}

/* 0: no match; otherwise larger is more specific. */
static unsigned host_score(const Route *r, const char *host, size_t host_len) {
        size_t n;

        if (!r->host)
                return 1;
        if (!host)
                return 0;
        if (r->host[0] == '*') {
                n = strlen(r->host) - 1; /* ".suffix" */
                if (host_len > n && strncasecmp(host + host_len - n, r->host + 1, n) == 0)
                        return 2 + (unsigned) n;
                return 0;
        }
        n = strlen(r->host);
        if (n == host_len && strncasecmp(host, r->host, n) == 0)
                return 4096 + (unsigned) n;
        return 0;
}

static bool path_matches(const Route *r, const char *path, size_t path_len) {
        const char *p = r->path;
        size_t n = r->path_len;
        char next;

        if (!p)
                return true;
        if (path_len < n || memcmp(path, p, n) != 0)
                return false;
        if (p[n - 1] == '/' || path_len == n)
                return true;
        next = path[n];
        return next == '/' || next == '?';
}

const Route *route_table_match(const RouteTable *t, unsigned listener_id, const char *host, size_t host_len,
                               const char *path, size_t path_len) {
        const Route *best = NULL;
        unsigned best_h = 0;
        size_t best_p = 0;

        /* Compare hosts without the port. */
        if (host) {
                if (host_len > 0 && host[0] == '[') {
                        const char *rb = memchr(host, ']', host_len);
                        if (rb)
                                host_len = (size_t) (rb - host + 1);
                } else {
                        const char *colon = memchr(host, ':', host_len);
                        if (colon)
                                host_len = (size_t) (colon - host);
                }
                if (host_len > 0 && host[host_len - 1] == '.')
                        host_len--;
        }
        for (size_t i = 0; i < t->n_routes; i++) {
                const Route *r = &t->routes[i];
                unsigned h;

                if (r->listener_id != listener_id)
                        continue;
                h = host_score(r, host, host_len);
                if (h == 0 || !path_matches(r, path, path_len))
                        continue;
                if (!best || h > best_h || (h == best_h && r->path_len > best_p)) {
                        best = r;
                        best_h = h;
                        best_p = r->path_len;
                }
        }
        return best;
}

Target *route_pick_target(Route *r, const Target *skip) {
        Target *best = NULL;

        if (r->n_targets == 0)
                return NULL;
        if (r->balance == BALANCE_LEAST_CONN) {
                int64_t best_n = INT64_MAX;
                unsigned start = atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed);
                for (size_t k = 0; k < r->n_targets; k++) {
                        Target *t = &r->targets[(start + k) % r->n_targets];
                        /* Counted in the target's stats, which outlive table swaps: a request still running
                         * through the table before this one counts too. */
                        int64_t n = atomic_load_explicit(t->stats ? &t->stats->in_flight : &t->in_flight,
                                                         memory_order_relaxed);
                        if (t == skip && r->n_targets > 1)
                                continue;
                        if (n < best_n) {
                                best = t;
                                best_n = n;
                        }
                }
                return best;
        }
        for (size_t k = 0; k < r->n_targets; k++) {
                unsigned i = atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed);
                best = &r->targets[i % r->n_targets];
                if (best != skip || r->n_targets == 1)
                        break;
        }
        return best;
}

size_t route_rewrite_path(const Route *r, const char *path, size_t path_len, char *buf, size_t buf_size) {
        size_t n = r->path_len, out = 0;

        if (r->path && r->path[n - 1] == '/')
                n--; /* keep the slash: "/api/" strips to "/x" */
        if (!r->strip || !r->path || path_len < n) {
                n = MIN(path_len, buf_size);
                memcpy(buf, path, n);
                return n;
        }
        path += n;
        path_len -= n;
        if (path_len == 0 || path[0] != '/')
                buf[out++] = '/';
        n = MIN(path_len, buf_size - out);
        memcpy(buf + out, path, n);
        return out + n;
}
