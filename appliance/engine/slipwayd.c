/* slipwayd: parses arguments, takes the state directory, opens the database and the OCI store,
 * serves the API on civetweb threads and runs the engine loop on the main thread until SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "api-hooks.h"
#include "api.h"
#include "builder.h"
#include "component-spec.h"
#include "deployer.h"
#include "disk-space.h"
#include "duration.h"
#include "engine.h"
#include "env-network.h"
#include "fs-util.h"
#include "host-share.h"
#include "http-server.h"
#include "image-catalog.h"
#include "layer-unpack.h"
#include "log.h"
#include "oci-store.h"
#include "pipeline-poll.h"
#include "pipeline.h"
#include "proxy-sync.h"
#include "reconcile.h"
#include "registry.h"
#include "sqlite-util.h"
#include "state-dir.h"
#include "state.h"
#include "user-account-db.h"
#include "vault-db.h"
#include "vault.h"

#define DEFAULT_STATE_DIR "/var/lib/slipway"
#define DEFAULT_API "127.0.0.1:7070"
#define BUILD_STOP_TIMEOUT_USEC (10ULL * 1000000ULL) /* for cancelled builds to end at SIGTERM */
#define SESSION_DURATION_MAX_SEC (366 * 24 * 3600)   /* --session-idle-timeout, --session-lifetime */

static const char *arg_state_dir = DEFAULT_STATE_DIR;
static const char *arg_api = DEFAULT_API;
static const char *arg_proxy_bin = NULL;
static unsigned arg_ingress_base_port = MODEL_INGRESS_BASE_PORT_DEFAULT;
static unsigned arg_reconcile_interval = RECONCILE_INTERVAL_DEFAULT_SEC;
static uint32_t arg_bake_default_ms = DEPLOY_BAKE_DEFAULT_MS;
static uint64_t arg_build_timeout_usec = PIPELINE_TIMEOUT_DEFAULT_SEC * 1000000ULL;
static unsigned arg_build_concurrency = PIPELINE_CONCURRENCY_DEFAULT;
static const char *arg_git_local_root = NULL;
static int64_t arg_registry_upload_ttl_sec = 3600;
static bool arg_registry_anonymous_pull = false;
static int64_t arg_session_idle_sec = HTTP_SESSION_IDLE_SEC;
static int64_t arg_session_lifetime_sec = HTTP_SESSION_LIFETIME_SEC;

static void help(void) {
        printf("Usage: slipwayd [OPTIONS]\n\n"
               "Slipway's control plane: REST API, image store and engine.\n\n"
               "  --state-dir DIR            state directory (default %s)\n"
               "  --api ADDR:PORT            address of the REST API (default %s)\n"
               "  --ingress-base-port PORT   first port of environment ingress listeners\n"
               "  --proxy-bin PATH           slipway-proxy binary to supervise\n"
               "  --reconcile-interval SEC   how often the host is checked against the database (default %u)\n"
               "  --bake-default DUR         bake window of components that set none (default %us, 0: off)\n"
               "  --build-timeout DUR        longest a git build may take (default 30min)\n"
               "  --build-concurrency N      git builds run at once (default 1; one per component)\n"
               "  --git-local-root DIR       local repositories (paths, file://) must be below DIR\n"
               "  --registry-upload-ttl DUR  unfinished registry uploads are removed after DUR idle (default 1h)\n"
               "  --registry-anonymous-pull  serve registry pulls (GET, HEAD under /v2/) without credentials\n"
               "  --session-idle-timeout DUR a console session unused this long ends (default 12h)\n"
               "  --session-lifetime DUR     every console session ends this long after login (default 7d)\n"
               "  --debug                    log debug messages\n"
               "  -h --help                  show this help\n"
               "     --version               show the version\n",
               DEFAULT_STATE_DIR, DEFAULT_API, RECONCILE_INTERVAL_DEFAULT_SEC,
               DEPLOY_BAKE_DEFAULT_MS / 1000U);
}

/* A decimal number from 1 to max (no sign, nothing after it) into *ret; else -EINVAL. */
static int parse_positive(const char *s, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v == 0 || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* 0 = run, 1 = exit 0 (help/version), -EINVAL = usage error (exit 2). */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_STATE_DIR = 0x100,
                ARG_API,
                ARG_INGRESS,
                ARG_PROXY_BIN,
                ARG_RECONCILE,
                ARG_BAKE_DEFAULT,
                ARG_BUILD_TIMEOUT,
                ARG_BUILD_CONCURRENCY,
                ARG_GIT_LOCAL_ROOT,
                ARG_REGISTRY_UPLOAD_TTL,
                ARG_REGISTRY_ANONYMOUS_PULL,
                ARG_SESSION_IDLE,
                ARG_SESSION_LIFETIME,
                ARG_DEBUG,
                ARG_VERSION
        };
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "api", required_argument, NULL, ARG_API },
                { "ingress-base-port", required_argument, NULL, ARG_INGRESS },
                { "proxy-bin", required_argument, NULL, ARG_PROXY_BIN },
                { "reconcile-interval", required_argument, NULL, ARG_RECONCILE },
                { "bake-default", required_argument, NULL, ARG_BAKE_DEFAULT },
                { "build-timeout", required_argument, NULL, ARG_BUILD_TIMEOUT },
                { "build-concurrency", required_argument, NULL, ARG_BUILD_CONCURRENCY },
                { "git-local-root", required_argument, NULL, ARG_GIT_LOCAL_ROOT },
                { "registry-upload-ttl", required_argument, NULL, ARG_REGISTRY_UPLOAD_TTL },
                { "registry-anonymous-pull", no_argument, NULL, ARG_REGISTRY_ANONYMOUS_PULL },
                { "session-idle-timeout", required_argument, NULL, ARG_SESSION_IDLE },
                { "session-lifetime", required_argument, NULL, ARG_SESSION_LIFETIME },
                { "debug", no_argument, NULL, ARG_DEBUG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_STATE_DIR:
                        if (isempty(optarg)) {
                                fprintf(stderr, "Error: --state-dir needs a directory.\n");
                                return -EINVAL;
                        }
                        arg_state_dir = optarg;
                        break;
                case ARG_API: {
                        _cleanup_free_ char *addr = NULL;
                        unsigned port;

                        if (http_parse_listen(optarg, &addr, &port) < 0) {
                                fprintf(stderr,
                                        "Error: --api '%s' is not ADDR:PORT with a numeric IP address.\n"
                                        "Hint: for example --api 127.0.0.1:7070.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_api = optarg;
                        break;
                }
                case ARG_INGRESS:
                        if (parse_positive(optarg, 65536 - MODEL_INGRESS_PORTS_MAX, &arg_ingress_base_port) <
                            0) {
                                fprintf(stderr,
                                        "Error: --ingress-base-port '%s' is not a port from 1 to %u.\n"
                                        "Hint: for example --ingress-base-port 8080.\n",
                                        optarg, 65536 - MODEL_INGRESS_PORTS_MAX);
                                return -EINVAL;
                        }
                        break;
                case ARG_PROXY_BIN:
                        if (isempty(optarg)) {
                                fprintf(stderr, "Error: --proxy-bin needs the path of slipway-proxy.\n");
                                return -EINVAL;
                        }
                        arg_proxy_bin = optarg;
                        break;
                case ARG_RECONCILE:
                        if (parse_positive(optarg, RECONCILE_INTERVAL_MAX_SEC, &arg_reconcile_interval) <
                            0) {
                                fprintf(stderr,
                                        "Error: --reconcile-interval '%s' is not a number of seconds from 1 "
                                        "to %u.\nHint: for example --reconcile-interval 10.\n",
                                        optarg, RECONCILE_INTERVAL_MAX_SEC);
                                return -EINVAL;
                        }
                        break;
                case ARG_BAKE_DEFAULT: {
                        uint64_t ns;

                        if (duration_parse(optarg, &ns) < 0 || ns / NSEC_PER_MSEC > SPEC_BAKE_MS_MAX) {
                                fprintf(stderr,
                                        "Error: --bake-default '%s' is not a duration from 0 to 24h.\n"
                                        "Hint: for example --bake-default 30s, or 0 for no bake window.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_bake_default_ms = (uint32_t) (ns / NSEC_PER_MSEC);
                        break;
                }
                case ARG_BUILD_TIMEOUT: {
                        uint64_t ns;

                        if (duration_parse(optarg, &ns) < 0 || ns < 1000ULL * NSEC_PER_MSEC ||
                            ns / NSEC_PER_MSEC > 24ULL * 3600ULL * 1000ULL) {
                                fprintf(stderr,
                                        "Error: --build-timeout '%s' is not a duration from 1s to 24h.\n"
                                        "Hint: for example --build-timeout 45min.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_build_timeout_usec = ns / 1000ULL;
                        break;
                }
                case ARG_BUILD_CONCURRENCY:
                        if (parse_positive(optarg, 8, &arg_build_concurrency) < 0) {
                                fprintf(stderr,
                                        "Error: --build-concurrency '%s' is not a number from 1 to 8.\n"
                                        "Hint: each build may use a CPU; for example --build-concurrency 2.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_REGISTRY_UPLOAD_TTL: {
                        uint64_t ns;

                        if (duration_parse(optarg, &ns) < 0 || ns < 1000ULL * NSEC_PER_MSEC ||
                            ns / NSEC_PER_MSEC > 7ULL * 24ULL * 3600ULL * 1000ULL) {
                                fprintf(stderr,
                                        "Error: --registry-upload-ttl '%s' is not a duration from 1s to 7d.\n"
                                        "Hint: for example --registry-upload-ttl 2h.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_registry_upload_ttl_sec = (int64_t) (ns / (1000ULL * NSEC_PER_MSEC));
                        break;
                }
                case ARG_GIT_LOCAL_ROOT:
                        if (isempty(optarg) || optarg[0] != '/') {
                                fprintf(stderr, "Error: --git-local-root needs an absolute directory.\n"
                                                "Hint: for example --git-local-root /srv/git.\n");
                                return -EINVAL;
                        }
                        arg_git_local_root = optarg;
                        break;
                case ARG_REGISTRY_ANONYMOUS_PULL:
                        arg_registry_anonymous_pull = true;
                        break;
                case ARG_SESSION_IDLE:
                case ARG_SESSION_LIFETIME: {
                        const char *name =
                                c == ARG_SESSION_IDLE ? "--session-idle-timeout" : "--session-lifetime";
                        uint64_t ns;

                        if (duration_parse(optarg, &ns) < 0 || ns < 1000ULL * NSEC_PER_MSEC ||
                            ns / NSEC_PER_MSEC > (uint64_t) SESSION_DURATION_MAX_SEC * 1000ULL) {
                                fprintf(stderr,
                                        "Error: %s '%s' is not a duration from 1s to 366d.\n"
                                        "Hint: for example %s 8h.\n",
                                        name, optarg, name);
                                return -EINVAL;
                        }
                        *(c == ARG_SESSION_IDLE ? &arg_session_idle_sec : &arg_session_lifetime_sec) =
                                (int64_t) (ns / (1000ULL * NSEC_PER_MSEC));
                        break;
                }
                case ARG_DEBUG:
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("slipwayd %s\n", SLIPWAY_VERSION);
                        return 1;
                default:
                        fprintf(stderr,
                                "Error: unknown option or missing value: '%s'.\nHint: see 'slipwayd --help'.\n",
                                argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr,
                        "Error: slipwayd takes no arguments, but got '%s'.\nHint: see 'slipwayd --help'.\n",
                        argv[optind]);
                return -EINVAL;
        }
        return 0;
}

static int api_url_for(const char *listen, int port, char **ret) {
        _cleanup_free_ char *addr = NULL;
        unsigned p;
        int r;

        r = http_parse_listen(listen, &addr, &p);
        if (r < 0)
                return r;
        if (strchr(addr, ':'))
                r = asprintf(ret, "http://[%s]:%d", addr, port);
        else
                r = asprintf(ret, "http://%s:%d", addr, port);
        return r < 0 ? -ENOMEM : 0;
}

static int run(void) {
        /* Declared first so it is released last: no second daemon starts while we still close files. */
        _cleanup_close_ int lock_fd = -EBADF;
        /* The server's token set: freed after the server stopped (it is declared before every user). */
        _cleanup_(http_token_set_freep) HttpTokenSet *tokens = NULL;
        _cleanup_(http_session_set_freep) HttpSessionSet *sessions = NULL; /* the same */
        _cleanup_(http_login_throttle_freep) HttpLoginThrottle *throttle = NULL;
        _cleanup_free_ char *dir = NULL, *token = NULL, *db_path = NULL, *oci_path = NULL, *layers = NULL,
                            *tmp = NULL, *url = NULL, *url_actual = NULL, *listen_addr = NULL,
                            *blob_dir = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(vault_freep) Vault *vault = NULL; /* freed after the deployer and the handlers */
        _cleanup_(oci_store_freep) OciStore *store = NULL;
        _cleanup_(image_catalog_freep) ImageCatalog *catalog = NULL;
        _cleanup_(builder_freep) Builder *builder = NULL;
        _cleanup_(engine_freep) Engine *engine = NULL;
        _cleanup_(deployer_freep) Deployer *deployer = NULL;            /* after engine: freed before it */
        _cleanup_(pipeline_freep) Pipeline *pipeline = NULL;            /* freed before the deployer */
        _cleanup_(pipeline_poller_freep) PipelinePoller *poller = NULL; /* freed before the pipeline */
        _cleanup_(reconciler_freep) Reconciler *reconciler = NULL; /* freed first: its pass uses the rest */
        _cleanup_free_ char *proxy_bin = NULL, *self_exe = NULL;
        HttpServer *server = NULL;
        ApiContext ctx = {};
        HostShare host;
        TempSweepStats swept = {};
        char state_id[STATE_ID_LEN + 1];
        bool initialised;
        pid_t holder = 0;
        unsigned port, vault_keys = 0;
        int r;

        r = http_parse_listen(arg_api, &listen_addr, &port);
        if (r < 0)
                return log_error_errno(r,
                                       "Error: --api '%s' is not ADDR:PORT with a numeric IP address (e.g. "
                                       "127.0.0.1:7070).",
                                       arg_api);

        r = state_dir_prepare(arg_state_dir, &dir);
        if (r < 0)
                return log_error_errno(r, "Error: cannot create the state directory %s: %m.", arg_state_dir);

        r = state_dir_lock(dir, &lock_fd, &holder);
        if (r == -EBUSY) {
                if (holder > 0)
                        return log_error_errno(r, "Another slipwayd (pid %d) is already using %s.",
                                               (int) holder, arg_state_dir);
                return log_error_errno(r, "Another slipwayd is already using %s.", arg_state_dir);
        }
        if (r < 0)
                return log_error_errno(r, "Error: cannot lock %s/slipwayd.lock: %m.", arg_state_dir);

        /* The vault first, before anything in DIR changes (migrations included): a wrong or missing master
         * key refuses the start with nothing written.  An existing database is read as it is, without
         * migrating it; one from before the vault has no keys and nothing to check. */
        db_path = path_join(dir, "slipway.db");
        if (!db_path)
                return log_oom();
        if (access(db_path, F_OK) == 0) {
                _cleanup_free_ char *err = NULL;

                r = sqlite_open(db_path, &db);
                if (r < 0)
                        return log_error_errno(r, "Error: cannot open the database %s: %m.", db_path);
                r = model_vault_keys_count(db, &vault_keys);
                if (r < 0)
                        return log_error_errno(r, "Error: cannot read the vault's keys from %s: %m.",
                                               db_path);
                if (vault_keys > 0) {
                        r = vault_open(db, dir, &vault, &err);
                        if (r < 0)
                                return log_error_errno(r, "Error: %s", err ?: "the vault cannot be opened.");
                }
                sqlite3_close_v2(TAKE_PTR(db));
        }

        r = state_dir_init(dir, &initialised);
        if (r < 0)
                return log_error_errno(r, "Error: cannot initialise the state directory %s: %m.",
                                       arg_state_dir);
        if (initialised)
                log_info("Initialised state directory %s (admin token in %s/admin.token).", arg_state_dir,
                         arg_state_dir);
        r = state_open(db_path, &db);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r,
                                       "Error: %s was written by a newer slipwayd; run that version or "
                                       "restore a backup.",
                                       db_path);
        if (r < 0)
                return log_error_errno(r, "Error: cannot open the database %s: %m.", db_path);
        if (!vault) {
                _cleanup_free_ char *err = NULL;

                /* First start: master.key exists now, and the vault gets its first data key. */
                r = vault_open(db, dir, &vault, &err);
                if (r < 0)
                        return log_error_errno(r, "Error: %s", err ?: "the vault cannot be opened.");
        }
        (void) state_dir_clean_tmp(dir);
        /* A few MiB kept back so that deletes and gc can commit once the disk fills (see disk-space.h). */
        r = disk_reserve_ensure(dir);
        if (r == -ENOSPC)
                log_warning("The disk holding %s has too little room for its %u MiB reserve; deletes may "
                            "fail once it is full.",
                            arg_state_dir, DISK_RESERVE_SIZE / (1024U * 1024U));
        else if (r < 0)
                log_warning_errno(r, "Cannot make the disk reserve %s/%s: %m", arg_state_dir,
                                  DISK_RESERVE_FILE);

        /* What this state dir owns host-wide is named by its id (nft table, bridges) and claimed under
         * /run/slipway, so several state dirs on one host never touch each other's. */
        r = state_dir_id(dir, state_id);
        if (r < 0)
                return log_error_errno(r, "Error: cannot read or create %s/state-id: %m.", arg_state_dir);
        {
                _cleanup_free_ char *err = NULL;

                r = host_share_init(&host, dir, state_id, &err);
                if (r < 0)
                        return log_error_errno(r, "Error: %s", err ?: "cannot claim this state dir's id.");
        }

        r = state_dir_read_token(dir, &token);
        if (r < 0)
                return log_error_errno(r, "Error: cannot read %s/admin.token: %m.", arg_state_dir);
        {
                _cleanup_(model_user_done) ModelUser admin = {};

                /* admin.token speaks for user admin, as an admin: not once that user was removed */
                r = model_user_get(db, MODEL_USER_ADMIN, &admin);
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "Error: cannot read the users from %s: %m.", db_path);
                if (r == -ENOENT || !streq(admin.role, "admin")) {
                        log_warning("User admin was removed: %s/admin.token is not accepted; use another "
                                    "admin's token (slipway --token).",
                                    arg_state_dir);
                        free(TAKE_PTR(token));
                }
        }
        /* Users' API tokens: the database is their record, the set what the gate checks without a query. */
        r = http_token_set_new(&tokens);
        if (r < 0)
                return log_oom();
        {
                size_t n_tokens = 0;

                r = api_tokens_load(db, tokens, &n_tokens);
                if (r < 0)
                        return log_error_errno(r, "Error: cannot read the API tokens from %s: %m.", db_path);
                if (n_tokens > 0)
                        log_debug("Loaded %zu API token(s) of users.", n_tokens);
        }
        /* Console sessions, the same way: the gate checks a cookie without a query. */
        if (http_session_set_new(arg_session_idle_sec, &sessions) < 0 ||
            http_login_throttle_new(&throttle) < 0)
                return log_oom();
        {
                size_t n_sessions = 0;

                r = api_sessions_load(db, sessions, &n_sessions);
                if (r < 0)
                        return log_error_errno(r, "Error: cannot read the console sessions from %s: %m.",
                                               db_path);
                if (n_sessions > 0)
                        log_debug("Loaded %zu open console session(s).", n_sessions);
        }
        {
                _cleanup_(model_user_done) ModelUser admin = {};

                if (model_user_get(db, MODEL_USER_ADMIN, &admin) >= 0 && !admin.has_password)
                        log_info(
                                "User admin has no console password yet; set one with 'slipway --state-dir %s "
                                "user passwd admin'.",
                                arg_state_dir);
        }

        /* Handler threads write to clients that may have gone: we want EPIPE, not death. */
        signal(SIGPIPE, SIG_IGN);

        r = engine_new(&engine);
        if (r < 0)
                return log_error_errno(r, "Error: cannot set up the event loop: %m.");

        oci_path = path_join(dir, "oci");
        layers = path_join(dir, "layers");
        tmp = path_join(dir, "tmp");
        /* the layout's blob directory (the OCI image layout spec names it): the API gate serves blob reads
         * from it */
        blob_dir = oci_path ? path_join(oci_path, "blobs/sha256") : NULL;
        if (!oci_path || !layers || !tmp || !blob_dir)
                return log_oom();

        /* Under the lock no unpack can be running: what a killed one left half-done can go. */
        r = layer_cache_sweep_temp(layers, false, &swept);
        if (r < 0)
                log_warning_errno(r, "Cannot clean up interrupted layer unpacks in %s: %m", layers);

        r = oci_store_open(oci_path, &store);
        if (r < 0)
                return log_error_errno(r, "Error: cannot open the image store %s: %m.", oci_path);
        /* The same for blobs a killed import, build or pull was writing. */
        r = oci_store_sweep_temp(store, false, &swept);
        if (r < 0)
                log_warning_errno(r, "Cannot clean up interrupted blob writes in %s: %m", oci_path);
        r = image_catalog_new(db, store, layers, &catalog);
        if (r < 0)
                return log_oom();

        /* Under the lock no build can be running: what a killed one left behind can go. */
        r = builder_sweep_temp(dir, false, &swept);
        if (r < 0 && r != -EOPNOTSUPP)
                log_warning_errno(r, "Cannot clean up the temp dirs of interrupted builds in %s/builds: %m",
                                  dir);
        if (swept.removed > 0)
                log_info("Removed %" PRIu64 " temp file(s) and dir(s) (%" PRIu64
                         " bytes) that an interrupted import, unpack or build left in %s.",
                         swept.removed, swept.bytes, arg_state_dir);
        r = builder_new(dir, catalog, &builder);
        if (r < 0)
                log_warning_errno(r, "The image builder is not available; builds will be refused: %m");

        r = deployer_new(
                &(DeployerConfig) {
                        .state_dir = dir,
                        .db_path = db_path,
                        .catalog = catalog,
                        .store = store,
                        .host = &host,
                        .bake_default_ms = arg_bake_default_ms,
                        .vault = vault,
                        .wake = engine_wake,
                        .wake_userdata = engine,
                },
                &deployer);
        if (r < 0)
                return log_error_errno(r, "Error: cannot set up the deployer: %m.");

        if (builder) {
                r = pipeline_new(
                        &(PipelineConfig) {
                                .state_dir = dir,
                                .db_path = db_path,
                                .catalog = catalog,
                                .builder = builder,
                                .vault = vault,
                                .concurrency = arg_build_concurrency,
                                .timeout_usec = arg_build_timeout_usec,
                                .local_root = arg_git_local_root,
                                .wake_engine = engine_wake,
                                .wake_userdata = engine,
                        },
                        &pipeline);
                if (r < 0)
                        log_warning_errno(
                                r, "The build pipeline is not available; git builds will be refused: %m");
                else if ((r = pipeline_poller_new(pipeline, db_path, &poller)) < 0)
                        log_warning_errno(r, "The git poller cannot start; --poll is not served: %m");
        }

        ctx = (ApiContext) {
                .catalog = catalog,
                .registry_upload_ttl_sec = arg_registry_upload_ttl_sec,
                .pipeline = pipeline,
                .store = store,
                .builder = builder,
                .state_dir = dir,
                .tmp_dir = tmp,
                .pid = getpid(),
                .wake_engine = engine_wake,
                .wake_userdata = engine,
                .db_path = db_path,
                .ingress_base_port = arg_ingress_base_port,
                .host = &host,
                .teardown_project = deployer_teardown_project,
                .teardown_userdata = deployer,
                .refresh_environment = deployer_refresh_environment,
                .health = reconciler_health,
                .nft_table = env_network_nft_table(&host),
                .vault = vault,
                .tokens = tokens,
                .sessions = sessions,
                .login_throttle = throttle,
                .session_lifetime_sec = arg_session_lifetime_sec,
        };
        HttpServerConfig cfg = {
                .listen = arg_api,
                .token = token,
                .tokens = tokens,
                .registry_anonymous_pull = arg_registry_anonymous_pull,
                .token_used = api_token_used,
                .sessions = sessions,
                .session_used = api_session_used,
                .routes = api_routes,
                .n_routes = api_routes_n,
                .hook_routes = hook_routes,
                .n_hook_routes = hook_routes_n,
                .registry_handler = registry_handle,
                .registry_blob_dir = blob_dir,
                .userdata = &ctx,
        };
        /* The URL is known before start unless port 0 was asked for; handlers may read it at once. */
        r = api_url_for(arg_api, (int) port, &url);
        if (r < 0)
                return log_oom();
        ctx.api_url = url;

        r = http_server_start(&cfg, &server);
        if (r == -EADDRINUSE)
                return log_error_errno(
                        r,
                        "Error: cannot listen on %s because another program already uses that "
                        "port; stop it or choose another address with --api.",
                        arg_api);
        if (r == -EADDRNOTAVAIL)
                return log_error_errno(r,
                                       "Error: cannot listen on %s because this host has no such address; "
                                       "choose another with --api.",
                                       arg_api);
        if (r < 0)
                return log_error_errno(r, "Error: cannot listen on %s: %m.", arg_api);

        if (port == 0) {
                /* Port 0: only now do we know the URL.  The first string stays allocated until exit
                 * in case a handler is reading it right now. */
                r = api_url_for(arg_api, http_server_port(server), &url_actual);
                if (r < 0) {
                        http_server_stop(server);
                        return log_oom();
                }
                __atomic_store_n(&ctx.api_url, url_actual, __ATOMIC_RELEASE);
        }
        const char *final_url = ctx.api_url;

        r = state_dir_write_api_url(dir, final_url);
        if (r < 0) {
                http_server_stop(server);
                return log_error_errno(r, "Error: cannot write %s/api.url: %m.", arg_state_dir);
        }

        /* Only now that we serve (a daemon refused for a busy port starts nothing): the data plane —
         * slipway-proxy outlives us, so a running one (ours from before a restart) is kept — then what the
         * database says must run: failed-over deploys, networks, routes, adopted instances. */
        self_exe = realpath("/proc/self/exe", NULL);
        r = proxy_sync_find_binary(arg_proxy_bin, self_exe, &proxy_bin);
        if (r < 0) {
                http_server_stop(server);
                return log_oom();
        }
        /* Claims follow the database (after a reboot /run is empty): before any network is applied. */
        {
                size_t conflicts = 0;

                r = host_share_claims_sync(&host, db, &conflicts);
                if (r < 0)
                        log_warning_errno(r, "Cannot claim this state dir's subnets and ingress ports: %m");
                else if (conflicts > 0)
                        log_warning(
                                "%zu subnet(s) or ingress port(s) of %s are claimed by another state dir on "
                                "this host; their environments stay down until it releases them.",
                                conflicts, arg_state_dir);
        }
        log_info("State id %s: nft table inet %s, bridges %s*.", host.id, host.table, host.bridge_prefix);
        /* Bridges first: after a reboot the proxy's saved routes listen on service addresses that live
         * on the environment bridges, and a proxy that cannot listen exits at once. */
        r = deployer_restore_networks(deployer);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot restore the environment networks before starting the proxy: %m");
        r = proxy_sync_ensure_running(dir, proxy_bin);
        if (r < 0)
                log_warning_errno(r, "Cannot start %s for %s; deploys will fail until it runs: %m",
                                  proxy_bin, arg_state_dir);
        else if (r > 0)
                log_info("Started %s serve --state-dir %s.", proxy_bin, arg_state_dir);
        r = deployer_recover(deployer);
        if (r < 0)
                log_warning_errno(r, "Cannot restore deploys, routes and instances from the database: %m");
        engine_set_reconcile(engine, deployer_reconcile, deployer);
        /* From now on the host is compared with the database every interval; what is missing (a bridge, the
         * nft table, routes, a dead proxy) is re-applied, and what cannot be is reported by status. */
        r = reconciler_start(engine_event(engine),
                             &(ReconcilerConfig) {
                                     .state_dir = dir,
                                     .db_path = db_path,
                                     .proxy_bin = proxy_bin,
                                     .store = store,
                                     .host = &host,
                                     .interval_sec = arg_reconcile_interval,
                             },
                             &reconciler);
        if (r < 0)
                log_warning_errno(
                        r, "Cannot start the periodic host check; nothing missing will be repaired: %m");
        else
                __atomic_store_n(&ctx.health_userdata, reconciler, __ATOMIC_RELEASE);

        (void) sd_notify(0, "READY=1\nSTATUS=Serving the API.");
        log_info("slipwayd ready on %s", final_url);
        if (arg_registry_anonymous_pull)
                log_info(
                        "The registry at %s/v2/ serves pulls without credentials (--registry-anonymous-pull).",
                        final_url);

        r = engine_run(engine);

        (void) sd_notify(0, "STOPPING=1");
        api_logs_stop();
        api_builds_stop(BUILD_STOP_TIMEOUT_USEC);
        http_server_stop(server);
        poller = pipeline_poller_free(poller);
        pipeline = pipeline_free(pipeline);       /* a running build ends failed: "slipwayd stopped" */
        reconciler = reconciler_free(reconciler); /* after the handlers that read its health */
        /* After the handlers (which may call it): workers finish or give up their current step; instances
         * keep running for the next start. */
        deployer = deployer_free(deployer);
        if (r < 0)
                return log_error_errno(r, "Error: the event loop failed: %m.");
        log_info("slipwayd stopped.");
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        log_set_ident("slipwayd");
        /* A daemon keeps no descriptor its starter happened to leave open (a lock, a pipe a shell waits
         * on): it would hold them for its whole life, and so would every container it starts. */
        (void) close_range(3, ~0U, 0);
        r = parse_argv(argc, argv);
        if (r < 0)
                return 2;
        if (r > 0)
                return 0;
        return run() < 0 ? 1 : 0;
}
