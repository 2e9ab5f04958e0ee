/* Control thread of slipway-proxy: owns listeners, the route table and its persistence, answers the
 * control socket, and tracks draining.  Invariant: a table is persisted before it is published, and a
 * command's reply is sent only after every worker routes with the new table (and, with wait_drained,
 * after the old targets finished or were cut). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "proxy-server.h"

#define CONTROL_IO_TIMEOUT_S 5
#define CONTROL_TICK_ACTIVE_MS 5
#define CONTROL_TICK_IDLE_MS 500

typedef struct ListenerRec {
        ProxyAddr addr;
        char *name;
        unsigned id;
        bool used;
        struct ListenerRec *next;
} ListenerRec;

typedef struct Watched {
        Target *target;
        uint64_t deadline_ms;
        bool cut_done;
} Watched;

typedef struct DrainWait {
        int client_fd; /* -EBADF: nobody waits for the reply */
        bool wait_drained;
        uint64_t generation;
        bool acked;
        Watched *targets;
        size_t n_targets;
        RouteTable **tables; /* referenced while we watch their targets */
        size_t n_tables;
        int64_t start_count, cut;
        struct DrainWait *next;
} DrainWait;

typedef struct Control {
        Server *s;
        int epoll_fd, listen_fd, signal_fd;
        char *sock_path, *routes_path;
        ListenerRec *listeners;
        unsigned next_listener_id;
        ProxyStats *stats;
        RouteTable *retired;
        DrainWait *waits;
} Control;

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int open_listener(const ProxyAddr *a, int *ret) {
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
                return -errno;
        if (a->sa.ss_family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *) &a->sa, a->len) < 0 || listen(fd, PROXY_LISTEN_BACKLOG) < 0)
                return -errno;
        *ret = TAKE_FD(fd);
        return 0;
}

/* ---- tables ---- */

static void table_detach_stats(Control *ctl, RouteTable *t) {
        for (size_t i = 0; i < t->n_routes; i++) {
                Route *r = &t->routes[i];
                proxy_stats_unref(&ctl->stats, r->stats);
                r->stats = NULL;
                for (size_t k = 0; k < r->n_targets; k++) {
                        proxy_stats_unref(&ctl->stats, r->targets[k].stats);
                        r->targets[k].stats = NULL;
                }
        }
}

static int table_attach_stats(Control *ctl, RouteTable *t) {
        for (size_t i = 0; i < t->n_routes; i++) {
                Route *r = &t->routes[i];
                r->stats = proxy_stats_get(&ctl->stats, r->name);
                if (!r->stats)
                        return -ENOMEM;
                for (size_t k = 0; k < r->n_targets; k++) {
                        _cleanup_free_ char *key = NULL;
                        if (asprintf(&key, "%s\n%s", r->name, r->targets[k].address) < 0)
                                return -ENOMEM;
                        r->targets[k].stats = proxy_stats_get(&ctl->stats, key);
                        if (!r->targets[k].stats)
                                return -ENOMEM;
                        r->targets[k].route = r;
                }
        }
        return 0;
}

static void control_reap(Control *ctl) {
        for (RouteTable **p = &ctl->retired; *p;) {
                RouteTable *t = *p;
                if (atomic_load(&t->refs) <= 0) {
                        *p = t->retired_next;
                        table_detach_stats(ctl, t);
                        route_table_free(t);
                } else
                        p = &t->retired_next;
        }
}

static bool route_has_target(const Route *r, const ProxyAddr *a) {
        if (!r)
                return false;
        for (size_t k = 0; k < r->n_targets; k++)
                if (proxy_addr_equal(&r->targets[k].addr, a))
                        return true;
        return false;
}

static int wait_add_table(DrainWait *w, RouteTable *t) {
        RouteTable **n;
        for (size_t i = 0; i < w->n_tables; i++)
                if (w->tables[i] == t)
                        return 0;
        n = realloc(w->tables, (w->n_tables + 1) * sizeof(RouteTable *));
        if (!n)
                return -ENOMEM;
        w->tables = n;
        route_table_ref(t);
        w->tables[w->n_tables++] = t;
        return 0;
}

/* Collects, from a live table t, the targets that the new table no longer sends a route's requests
 * to. */
static int wait_collect(DrainWait *w, RouteTable *t, const RouteTable *new, uint64_t now) {
        for (size_t i = 0; i < t->n_routes; i++) {
                Route *r = &t->routes[i];
                const Route *nr = route_table_find(new, r->name);
                unsigned timeout = nr ? nr->drain_timeout_s : r->drain_timeout_s;
                for (size_t k = 0; k < r->n_targets; k++) {
                        Watched *n;
                        if (route_has_target(nr, &r->targets[k].addr))
                                continue;
                        n = realloc(w->targets, (w->n_targets + 1) * sizeof(Watched));
                        if (!n)
                                return -ENOMEM;
                        w->targets = n;
                        w->targets[w->n_targets++] = (Watched) {
                                .target = &r->targets[k],
                                .deadline_ms = now + (uint64_t) timeout * 1000,
                        };
                        if (wait_add_table(w, t) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static void drain_wait_free(DrainWait *w) {
        safe_close(w->client_fd);
        for (size_t i = 0; i < w->n_tables; i++)
                route_table_unref(w->tables[i]);
        free(w->tables);
        free(w->targets);
        free(w);
}

static void send_reply(int fd, json_t *reply) {
        _cleanup_free_ char *s = NULL;

        if (fd < 0 || !reply)
                return;
        s = json_dumps(reply, JSON_COMPACT);
        if (!s)
                return;
        (void) loop_write(fd, s, strlen(s));
        (void) loop_write(fd, "\n", 1);
}

static void send_error(int fd, const char *msg) {
        _cleanup_json_ json_t *j = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
        send_reply(fd, j);
}

/* Publishes new (unpublished, with no stats) as the current table.  Consumes new.  On success the
 * reply is sent later by control_tick (the DrainWait owns client_fd). */
static int control_apply(Control *ctl, RouteTable *new, int *client_fd, bool wait_drained, char *err,
                         size_t err_size) {
        Server *s = ctl->s;
        ListenerRec *created = NULL;
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ json_t *j = NULL;
        RouteTable *old;
        DrainWait *w;
        uint64_t now = mono_ms();
        int r;

        /* 1. listeners: open what is new (all or nothing) */
        for (ListenerRec *l = ctl->listeners; l; l = l->next)
                l->used = false;
        for (size_t i = 0; i < new->n_routes; i++) {
                Route *rt = &new->routes[i];
                ListenerRec *l;
                for (l = ctl->listeners; l; l = l->next)
                        if (proxy_addr_equal(&l->addr, &rt->listen_addr))
                                break;
                if (!l)
                        for (l = created; l; l = l->next)
                                if (proxy_addr_equal(&l->addr, &rt->listen_addr))
                                        break;
                if (!l) {
                        int probe = -EBADF;
                        /* probe that we can bind before handing sockets to workers */
                        r = open_listener(&rt->listen_addr, &probe);
                        if (r < 0) {
                                snprintf(err, err_size, "Cannot listen on %s for route %s: %s.", rt->listen,
                                         rt->name, strerror(-r));
                                goto fail;
                        }
                        safe_close(probe);
                        l = calloc(1, sizeof(ListenerRec));
                        if (!l || !(l->name = strdup(rt->listen))) {
                                free(l);
                                r = -ENOMEM;
                                snprintf(err, err_size, "Out of memory.");
                                goto fail;
                        }
                        l->addr = rt->listen_addr;
                        l->id = ++ctl->next_listener_id;
                        l->next = created;
                        created = l;
                }
                l->used = true;
                rt->listener_id = l->id;
        }

        /* 2. persist before publishing, so a crash never serves a table the file does not hold */
        j = route_table_to_json(new);
        data = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!data) {
                r = -ENOMEM;
                snprintf(err, err_size, "Out of memory.");
                goto fail;
        }
        r = write_file_atomic(ctl->routes_path, data, strlen(data), 0600);
        if (r < 0) {
                snprintf(err, err_size, "Cannot write %s: %s.", ctl->routes_path, strerror(-r));
                goto fail;
        }

        /* 3. publish */
        r = table_attach_stats(ctl, new);
        if (r < 0) {
                snprintf(err, err_size, "Out of memory.");
                table_detach_stats(ctl, new);
                goto fail;
        }
        new->generation = atomic_load(&s->generation) + 1;
        pthread_mutex_lock(&s->table_lock);
        old = s->table;
        s->table = new;
        atomic_store_explicit(&s->generation, new->generation, memory_order_release);
        pthread_mutex_unlock(&s->table_lock);

        /* 4. listeners to workers */
        while (created) {
                ListenerRec *l = created;
                created = l->next;
                for (unsigned i = 0; i < s->n_workers; i++) {
                        int fd = -EBADF;
                        if (open_listener(&l->addr, &fd) < 0) {
                                log_warning("Worker %u could not get a listener on %s.", i, l->name);
                                continue;
                        }
                        worker_post(&s->workers[i], (WorkerCmd) { .type = WORKER_CMD_ADD_LISTENER,
                                                                  .fd = fd,
                                                                  .listener_id = l->id });
                }
                l->next = ctl->listeners;
                ctl->listeners = l;
        }
        for (ListenerRec **p = &ctl->listeners; *p;) {
                ListenerRec *l = *p;
                if (l->used) {
                        p = &l->next;
                        continue;
                }
                *p = l->next;
                for (unsigned i = 0; i < s->n_workers; i++)
                        worker_post(&s->workers[i],
                                    (WorkerCmd) { .type = WORKER_CMD_DEL_LISTENER, .listener_id = l->id });
                free(l->name);
                free(l);
        }
        for (unsigned i = 0; i < s->n_workers; i++)
                worker_wake(&s->workers[i]);

        /* 5. what must drain: targets of live tables the new table no longer uses for that route */
        w = calloc(1, sizeof(DrainWait));
        if (w) {
                w->client_fd = TAKE_FD(*client_fd);
                w->wait_drained = wait_drained;
                w->generation = new->generation;
                if (old)
                        (void) wait_collect(w, old, new, now);
                for (RouteTable *t = ctl->retired; t; t = t->retired_next)
                        (void) wait_collect(w, t, new, now);
                w->next = ctl->waits;
                ctl->waits = w;
        }
        if (old) {
                old->retired_next = ctl->retired;
                ctl->retired = old;
                route_table_unref(old);
        }
        return 0;

fail:
        while (created) {
                ListenerRec *l = created;
                created = l->next;
                free(l->name);
                free(l);
        }
        route_table_free(new);
        return r;
}

static bool workers_acked(Control *ctl, uint64_t gen) {
        for (unsigned i = 0; i < ctl->s->n_workers; i++)
                if (atomic_load(&ctl->s->workers[i].seen_generation) < gen &&
                    !atomic_load(&ctl->s->workers[i].finished))
                        return false;
        return true;
}

static void control_tick(Control *ctl) {
        uint64_t now = mono_ms();

        for (DrainWait **p = &ctl->waits; *p;) {
                DrainWait *w = *p;
                int64_t open = 0;
                bool cut_any = false;

                if (!w->acked) {
                        if (!workers_acked(ctl, w->generation)) {
                                p = &w->next;
                                continue;
                        }
                        w->acked = true;
                        for (size_t i = 0; i < w->n_targets; i++)
                                w->start_count += atomic_load(&w->targets[i].target->in_flight);
                        if (!w->wait_drained && w->client_fd >= 0) {
                                _cleanup_json_ json_t *j = json_pack("{s:b,s:I}", "ok", 1, "generation",
                                                                     (json_int_t) w->generation);
                                send_reply(w->client_fd, j);
                                w->client_fd = safe_close(w->client_fd);
                        }
                }
                for (size_t i = 0; i < w->n_targets; i++) {
                        Watched *t = &w->targets[i];
                        int64_t n = atomic_load(&t->target->in_flight);
                        if (n > 0 && now >= t->deadline_ms && !t->cut_done) {
                                /* the drain timeout is over: workers close what is still open */
                                atomic_store(&t->target->cut, true);
                                t->cut_done = true;
                                w->cut += n;
                                cut_any = true;
                        }
                        open += n;
                }
                if (cut_any)
                        for (unsigned i = 0; i < ctl->s->n_workers; i++)
                                worker_wake(&ctl->s->workers[i]);
                if (open > 0) {
                        p = &w->next;
                        continue;
                }
                if (w->client_fd >= 0) {
                        int64_t finished = w->start_count - w->cut;
                        _cleanup_json_ json_t *j = json_pack(
                                "{s:b,s:I,s:{s:I,s:I,s:I}}", "ok", 1, "generation",
                                (json_int_t) w->generation, "drain", "in_flight",
                                (json_int_t) w->start_count, "finished",
                                (json_int_t) (finished < 0 ? 0 : finished), "cut", (json_int_t) w->cut);
                        send_reply(w->client_fd, j);
                }
                *p = w->next;
                drain_wait_free(w);
        }
        control_reap(ctl);
}

/* ---- commands ---- */

static json_t *stats_json(Control *ctl) {
        Server *s = ctl->s;
        json_t *routes = json_array();
        RouteTable *t;

        pthread_mutex_lock(&s->table_lock);
        t = s->table;
        route_table_ref(t);
        pthread_mutex_unlock(&s->table_lock);
        for (size_t i = 0; routes && i < t->n_routes; i++) {
                Route *r = &t->routes[i];
                json_t *jr = route_to_json(r), *targets = json_array();
                if (!jr || !targets) {
                        json_decref(jr);
                        json_decref(targets);
                        continue;
                }
                (void) proxy_stats_to_json(r->stats, jr);
                for (size_t k = 0; k < r->n_targets; k++) {
                        json_t *jt = json_pack("{s:s}", "address", r->targets[k].address);
                        if (!jt)
                                continue;
                        (void) proxy_stats_to_json(r->targets[k].stats, jt);
                        json_array_append_new(targets, jt);
                }
                json_object_set_new(jr, "targets", targets);
                json_array_append_new(routes, jr);
        }
        route_table_unref(t);
        return json_pack("{s:b,s:o}", "ok", 1, "routes", routes);
}

static void control_command(Control *ctl, int *fd, json_t *req) {
        const char *cmd = NULL;
        char err[512] = "";
        int r;

        if (json_get_string(req, "cmd", &cmd) < 0) {
                send_error(*fd, "The request has no \"cmd\" string.");
                return;
        }
        if (streq(cmd, "route-list")) {
                json_t *routes;
                _cleanup_json_ json_t *reply = NULL;
                pthread_mutex_lock(&ctl->s->table_lock);
                routes = route_table_to_json(ctl->s->table);
                pthread_mutex_unlock(&ctl->s->table_lock);
                reply = json_pack("{s:b,s:o*}", "ok", 1, "routes",
                                  json_incref(json_object_get(routes, "routes")));
                json_decref(routes);
                send_reply(*fd, reply);
                return;
        }
        if (streq(cmd, "stats")) {
                _cleanup_json_ json_t *reply = stats_json(ctl);
                send_reply(*fd, reply);
                return;
        }
        if (streq(cmd, "route-set") || streq(cmd, "route-rm") || streq(cmd, "replace-all")) {
                RouteTable *new = NULL;
                bool wait = json_is_true(json_object_get(req, "wait_drained"));

                if (streq(cmd, "replace-all")) {
                        r = route_table_from_json(req, &new, err, sizeof(err));
                        if (r < 0) {
                                send_error(*fd, r == -EINVAL ? err : "Out of memory.");
                                return;
                        }
                } else {
                        pthread_mutex_lock(&ctl->s->table_lock);
                        new = route_table_copy(ctl->s->table);
                        pthread_mutex_unlock(&ctl->s->table_lock);
                        if (!new) {
                                send_error(*fd, "Out of memory.");
                                return;
                        }
                        if (streq(cmd, "route-set")) {
                                _cleanup_(route_done) Route rt = {};
                                r = route_from_json(json_object_get(req, "route"), &rt, err, sizeof(err));
                                if (r >= 0)
                                        r = route_table_put(new, &rt);
                        } else {
                                const char *name = NULL;
                                if (json_get_string(req, "name", &name) < 0)
                                        r = -EINVAL;
                                else if ((r = route_table_remove(new, name)) < 0)
                                        snprintf(
                                                err, sizeof(err),
                                                "There is no route named \"%s\"; see \"slipway-proxy route list\".",
                                                name);
                        }
                        if (r < 0) {
                                route_table_free(new);
                                send_error(*fd, err[0] ? err : "Out of memory.");
                                return;
                        }
                }
                r = control_apply(ctl, new, fd, wait, err, sizeof(err));
                if (r < 0)
                        send_error(*fd, err);
                return;
        }
        snprintf(err, sizeof(err), "Unknown command \"%s\".", cmd);
        send_error(*fd, err);
}

static void control_accept(Control *ctl) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct timeval tv = { .tv_sec = CONTROL_IO_TIMEOUT_S };
        _cleanup_json_ json_t *req = NULL;
        json_error_t jerr;
        size_t len = 0;

        fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        buf = malloc(PROXY_CONTROL_REQUEST_MAX + 1);
        if (!buf)
                return;
        /* one JSON object terminated by a newline */
        while (len < PROXY_CONTROL_REQUEST_MAX) {
                ssize_t n = read(fd, buf + len, PROXY_CONTROL_REQUEST_MAX - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(buf + len - (size_t) n, '\n', (size_t) n))
                        break;
        }
        if (len >= PROXY_CONTROL_REQUEST_MAX) {
                send_error(fd, "The control request is too large.");
                return;
        }
        if (json_parse_buffer(buf, len, &req, &jerr) < 0 || !json_is_object(req)) {
                send_error(fd, "The control request is not a JSON object.");
                return;
        }
        control_command(ctl, &fd, req);
}

static int control_open_socket(Control *ctl) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(ctl->sock_path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "State directory path is too long for a socket: %s",
                                       ctl->sock_path);
        strcpy(sa.sun_path, ctl->sock_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                return log_error_errno(-EADDRINUSE, "Another slipway-proxy is already running for %s.",
                                       ctl->s->cfg.state_dir);
        safe_close(fd);
        (void) unlink(ctl->sock_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        {
                mode_t old = umask(0077);
                int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
                umask(old);
                if (r < 0)
                        return log_error_errno(-errno, "Cannot bind %s: %m", ctl->sock_path);
        }
        (void) chmod(ctl->sock_path, 0600);
        if (listen(fd, 64) < 0)
                return -errno;
        ctl->listen_fd = TAKE_FD(fd);
        return 0;
}

static int control_restore(Control *ctl) {
        _cleanup_json_ json_t *j = NULL;
        json_error_t jerr;
        RouteTable *t = NULL;
        char err[512];
        int fd = -EBADF, r;

        r = json_parse_file_at(AT_FDCWD, ctl->routes_path, PROXY_CONTROL_REQUEST_MAX, &j, &jerr);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Cannot read the route table %s (line %d: %s); fix or remove it.",
                                       ctl->routes_path, jerr.line, jerr.text);
        r = route_table_from_json(j, &t, err, sizeof(err));
        if (r < 0)
                return log_error_errno(r, "Invalid route table %s: %s", ctl->routes_path, err);
        r = control_apply(ctl, t, &fd, false, err, sizeof(err));
        if (r < 0)
                return log_error_errno(r, "Cannot restore the route table: %s", err);
        log_info("Restored %zu route(s) from %s.", t->n_routes, ctl->routes_path);
        return 0;
}

int proxy_serve(const ProxyConfig *cfg) {
        _cleanup_free_ char *proxy_dir = NULL;
        Control ctl = { .listen_fd = -EBADF, .signal_fd = -EBADF, .epoll_fd = -EBADF };
        Server *s;
        sigset_t mask;
        struct epoll_event ev;
        ProxyFdBudget budget;
        unsigned n;
        int r;

        s = calloc(1, sizeof(Server));
        if (!s)
                return log_oom();
        s->cfg = *cfg;
        s->access_log_fd = -EBADF;
        ctl.s = s;
        n = cfg->n_workers;
        if (n == 0) {
                long k = sysconf(_SC_NPROCESSORS_ONLN);
                n = k > 0 ? (unsigned) k : 1;
        }
        n = MIN(n, PROXY_WORKERS_MAX);
        s->n_workers = n;

        /* every connection costs descriptors: take all we may, and size the connection limit to them */
        r = proxy_raise_nofile(&s->nofile);
        if (r < 0)
                return log_error_errno(r, "Cannot read the open-files limit: %m");
        budget = proxy_fd_budget(s->nofile, n);
        s->pool_idle_max = budget.pool_idle_max;
        if (cfg->max_conns == 0)
                s->cfg.max_conns = budget.max_conns;
        else if (cfg->max_conns > budget.max_conns) {
                log_warning("--max-connections %u does not fit the open-files limit %" PRIu64 " with %u "
                            "worker(s) (each connection needs a descriptor for its upstream too); using %u "
                            "per worker. Raise the hard limit (LimitNOFILE=) to allow more.",
                            cfg->max_conns, s->nofile, n, budget.max_conns);
                s->cfg.max_conns = budget.max_conns;
        }

        proxy_dir = path_join(cfg->state_dir, "proxy");
        ctl.routes_path = path_join(proxy_dir, "routes.json");
        ctl.sock_path = path_join(cfg->state_dir, "proxy.sock");
        if (!proxy_dir || !ctl.routes_path || !ctl.sock_path)
                return log_oom();
        r = mkdir_p(proxy_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", proxy_dir);

        if (cfg->access_log) {
                if (streq(cfg->access_log, "-"))
                        s->access_log_fd = STDOUT_FILENO;
                else {
                        s->access_log_fd =
                                open(cfg->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
                        if (s->access_log_fd < 0)
                                return log_error_errno(-errno, "Cannot open access log %s: %m",
                                                       cfg->access_log);
                }
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        ctl.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (ctl.signal_fd < 0)
                return log_error_errno(-errno, "signalfd failed: %m");

        r = control_open_socket(&ctl);
        if (r < 0)
                return r;

        pthread_mutex_init(&s->table_lock, NULL);
        s->table = route_table_new();
        if (!s->table)
                return log_oom();
        s->workers = calloc(n, sizeof(Worker));
        if (!s->workers)
                return log_oom();
        for (unsigned i = 0; i < n; i++) {
                s->workers[i].server = s;
                s->workers[i].index = i;
                s->workers[i].epoll_fd = s->workers[i].event_fd = -EBADF;
                r = worker_start(&s->workers[i]);
                if (r < 0)
                        return log_error_errno(r, "Cannot start worker %u: %m", i);
        }

        r = control_restore(&ctl);
        if (r < 0)
                goto finish;

        ctl.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = ctl.listen_fd };
        (void) epoll_ctl(ctl.epoll_fd, EPOLL_CTL_ADD, ctl.listen_fd, &ev);
        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = ctl.signal_fd };
        (void) epoll_ctl(ctl.epoll_fd, EPOLL_CTL_ADD, ctl.signal_fd, &ev);

        (void) sd_notify(0, "READY=1");
        log_info("slipway-proxy serving with %u worker(s) of up to %u connections each (open-files limit "
                 "%" PRIu64 "), control socket %s.",
                 n, s->cfg.max_conns, s->nofile, ctl.sock_path);

        for (;;) {
                struct epoll_event evs[8];
                int k = epoll_wait(ctl.epoll_fd, evs, 8,
                                   ctl.waits || ctl.retired ? CONTROL_TICK_ACTIVE_MS : CONTROL_TICK_IDLE_MS);
                bool stop = false;
                for (int i = 0; i < k; i++) {
                        if (evs[i].data.fd == ctl.listen_fd)
                                control_accept(&ctl);
                        else if (evs[i].data.fd == ctl.signal_fd) {
                                struct signalfd_siginfo si;
                                if (read(ctl.signal_fd, &si, sizeof(si)) == sizeof(si))
                                        stop = true;
                        }
                }
                control_tick(&ctl);
                proxy_limits_report(&s->limits, s->cfg.max_conns, s->nofile, mono_ms());
                if (stop)
                        break;
        }

        (void) sd_notify(0, "STOPPING=1");
        log_info("Stopping: finishing in-flight requests (up to %u ms).", cfg->shutdown_timeout_ms);
        r = 0;
finish:
        safe_close(ctl.listen_fd);
        (void) unlink(ctl.sock_path);
        for (unsigned i = 0; i < n; i++)
                if (s->workers[i].event_fd >= 0)
                        worker_post(&s->workers[i], (WorkerCmd) { .type = WORKER_CMD_SHUTDOWN });
        for (unsigned i = 0; i < n; i++)
                if (s->workers[i].thread)
                        pthread_join(s->workers[i].thread, NULL);
        while (ctl.waits) {
                DrainWait *w = ctl.waits;
                ctl.waits = w->next;
                drain_wait_free(w);
        }
        /* every worker has stopped: nothing references the tables any more */
        if (s->table) {
                s->table->retired_next = ctl.retired;
                ctl.retired = s->table;
                route_table_unref(s->table);
                s->table = NULL;
        }
        control_reap(&ctl);
        while (ctl.listeners) {
                ListenerRec *l = ctl.listeners;
                ctl.listeners = l->next;
                free(l->name);
                free(l);
        }
        for (unsigned i = 0; s->workers && i < n; i++) {
                Worker *w = &s->workers[i];
                for (size_t k = 0; k < w->n_cmds; k++)
                        if (w->cmds[k].type == WORKER_CMD_ADD_LISTENER)
                                safe_close(w->cmds[k].fd);
                free(w->cmds);
                free(w->state);
                safe_close(w->epoll_fd);
                safe_close(w->event_fd);
        }
        free(s->workers);
        if (s->access_log_fd > STDERR_FILENO)
                safe_close(s->access_log_fd);
        free(s);
        safe_close(ctl.signal_fd);
        safe_close(ctl.epoll_fd);
        free(ctl.sock_path);
        free(ctl.routes_path);
        return r;
}
