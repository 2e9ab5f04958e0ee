/* The slipway-proxy server: N worker threads (epoll, SO_REUSEPORT listeners, no thread per connection)
 * and a control thread that owns the route table, listeners and persistence.  Workers only read the
 * published table; every table change goes through the control thread. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proxy-limits.h"
#include "route-table.h"

#define PROXY_WORKERS_MAX 256U
#define PROXY_CONTROL_REQUEST_MAX (4U * 1024U * 1024U)
#define PROXY_LISTEN_BACKLOG 4096

typedef struct ProxyConfig {
        const char *state_dir;
        unsigned n_workers;           /* 0: one per CPU */
        const char *access_log;       /* NULL: off; "-": stdout */
        unsigned max_conns;           /* per worker; 0: what fits in the open-files limit */
        unsigned header_timeout_ms;   /* client must finish a head within this → 408 */
        unsigned upstream_timeout_ms; /* upstream silent this long → 504 / close */
        unsigned idle_timeout_ms;     /* keep-alive idle client connections */
        unsigned shutdown_timeout_ms; /* SIGTERM: in-flight requests get this long */
} ProxyConfig;

#define PROXY_CONFIG_DEFAULTS                                                                       \
        {                                                                                           \
                .header_timeout_ms = 30000, .upstream_timeout_ms = 60000, .idle_timeout_ms = 75000, \
                .shutdown_timeout_ms = 30000,                                                       \
        }

typedef enum WorkerCmdType {
        WORKER_CMD_ADD_LISTENER,
        WORKER_CMD_DEL_LISTENER,
        WORKER_CMD_SHUTDOWN,
} WorkerCmdType;

typedef struct WorkerCmd {
        WorkerCmdType type;
        int fd;
        unsigned listener_id;
} WorkerCmd;

typedef struct Server Server;
typedef struct Worker Worker;

struct Worker {
        Server *server;
        unsigned index;
        pthread_t thread;
        int epoll_fd;
        int event_fd;

        pthread_mutex_t cmd_lock;
        WorkerCmd *cmds;
        size_t n_cmds, cmd_cap;

        _Atomic uint64_t seen_generation;
        _Atomic bool finished;
        void *state; /* worker-private (proxy-worker.c) */
};

struct Server {
        ProxyConfig cfg;
        Worker *workers;
        unsigned n_workers;
        int access_log_fd;
        uint64_t nofile;        /* the open-files limit in force */
        unsigned pool_idle_max; /* per worker */
        ProxyLimitCounters limits;

        pthread_mutex_t table_lock;
        RouteTable *table; /* current; the server holds one reference */
        _Atomic uint64_t generation;
};

/* proxy-worker.c */
int worker_start(Worker *w);
void worker_post(Worker *w, WorkerCmd cmd);
void worker_wake(Worker *w);

/* Entry point: runs until SIGTERM/SIGINT; returns 0 or -errno. */
int proxy_serve(const ProxyConfig *cfg);
