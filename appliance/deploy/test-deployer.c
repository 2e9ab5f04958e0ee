/* Unit tests for the deployer: finding slipway-proxy, instance names, a release target read from a real
 * database, and the deployer's own functions that need no container or network (deployer_new/free,
 * deployer_reconcile and a worker failing a release cleanly, instance rows and addresses, log tails). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "component-spec.h"
#include "deploy-target.h"
#include "deployer-internal.h"
#include "fs-util.h"
#include "ifname.h"
#include "instance.h"
#include "json-util.h"
#include "model.h"
#include "netns.h"
#include "proxy-sync.h"
#include "sqlite-util.h"
#include "state.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-deployer-XXXXXX";

static void test_find_binary(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *engine = NULL, *proxy_dir = NULL,
                            *proxy = NULL, *self = NULL, *want = NULL;

        CHECK(proxy_sync_find_binary("/opt/x/slipway-proxy", "/whatever/slipwayd", &a) == 0);
        CHECK(streq(a, "/opt/x/slipway-proxy"));

        /* The build tree: BUILD/appliance/engine/slipwayd → BUILD/runtime/proxy/slipway-proxy. */
        CHECK(asprintf(&engine, "%s/build/appliance/engine", tmpdir) > 0);
        CHECK(asprintf(&proxy_dir, "%s/build/runtime/proxy", tmpdir) > 0);
        CHECK(mkdir_p(engine, 0755) == 0 && mkdir_p(proxy_dir, 0755) == 0);
        proxy = path_join(proxy_dir, "slipway-proxy");
        self = path_join(engine, "slipwayd");
        CHECK(proxy && self);
        CHECK(write_file_atomic(proxy, "#!/bin/sh\n", 10, 0755) == 0);
        CHECK(proxy_sync_find_binary(NULL, self, &b) == 0);
        want = realpath(proxy, NULL);
        CHECK(want && streq(b, want));

        /* Nothing next to it: PATH. */
        CHECK(proxy_sync_find_binary(NULL, "/nonexistent/dir/slipwayd", &c) == 0);
        CHECK(streq(c, "slipway-proxy"));
}

static void test_instance_names(void) {
        _cleanup_free_ char *ns1 = NULL, *if1 = NULL, *m1 = NULL, *ns2 = NULL, *if2 = NULL, *ns3 = NULL,
                            *n1 = NULL, *n2 = NULL, *n3 = NULL, *n4 = NULL, *ns5 = NULL, *if5 = NULL,
                            *m5 = NULL, *ns6 = NULL, *if6 = NULL;

        /* Rows without recorded names (from before they were recorded): (state dir, id) as before. */
        CHECK(deploy_instance_names("/var/lib/slipway", 7, NULL, &ns1, &if1, &m1) == 0);
        CHECK(netns_name_valid(ns1) && net_ifname_valid(if1));
        CHECK(strncmp(if1, "swv", 3) == 0 && strlen(if1) <= 15);
        CHECK(strstr(m1, "-7") && strlen(m1) <= 64);
        /* Stable for the same (state dir, id); different for another state dir or id. */
        CHECK(deploy_instance_names("/var/lib/slipway", 7, "", &ns2, &if2, NULL) == 0);
        CHECK(streq(ns1, ns2) && streq(if1, if2));
        CHECK(deploy_instance_names("/tmp/other", 7, NULL, &ns3, NULL, NULL) == 0);
        CHECK(!streq(ns1, ns3));

        /* New names: another state dir at the same path (another random id) gets others. */
        CHECK(deploy_instance_netns_new("/var/lib/slipway", "a1b2c3", 7, &n1) == 0);
        CHECK(deploy_instance_netns_new("/var/lib/slipway", "a1b2c3", 7, &n2) == 0);
        CHECK(deploy_instance_netns_new("/var/lib/slipway", "d4e5f6", 7, &n3) == 0);
        CHECK(deploy_instance_netns_new("/var/lib/slipway", "a1b2c3", 8, &n4) == 0);
        CHECK(netns_name_valid(n1) && streq(n1, n2) && !streq(n1, n3) && !streq(n1, n4) && !streq(n1, ns1));
        /* The veth and machine follow the recorded netns. */
        CHECK(deploy_instance_names("/var/lib/slipway", 7, n1, &ns5, &if5, &m5) == 0);
        CHECK(streq(ns5, n1) && net_ifname_valid(if5) && streq(if5 + 3, n1 + strlen("slipway-")));
        CHECK(strncmp(m5, n1, strlen(n1)) == 0 && streq(m5 + strlen(n1), "-7"));
        /* A recorded name that is not one of ours is not trusted: the old derivation. */
        CHECK(deploy_instance_names("/var/lib/slipway", 7, "slipway-../../x", &ns6, &if6, NULL) == 0);
        CHECK(streq(ns6, ns1) && streq(if6, if1));
}

static void test_target(void) {
        _cleanup_free_ char *dbp = path_join(tmpdir, "t.db"), *spec_json = NULL, *err = NULL, *svc = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ ComponentSpec *spec = calloc(1, sizeof *spec);
        _cleanup_(deploy_target_done) DeployTarget t = {};
        ModelProject p = {};
        ModelEnvironment e = {};
        ModelComponent c = {};
        NetSubnet host;
        char *envs[] = { "development", "production" };
        int64_t rid;

        CHECK(dbp && spec);
        CHECK(state_open(dbp, &db) == 0);
        CHECK(net_subnet_parse("10.213.0.0/24", &host) == 0);
        ModelAllocation al = {
                .used = &host, .n_used = 1, .ingress_base_port = 9100, .bridge_prefix = "swb"
        };
        CHECK(model_project_create(db, "shop", envs, 2, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "production", &e) == 0);

        /* Two endpoints, the second public; readiness http:/healthz. */
        _cleanup_json_ json_t *empty = json_object();
        CHECK(component_spec_from_json(empty, spec, &err) == 0);
        CHECK(spec_endpoint_parse("admin:9000:project", &spec->endpoints[0], &err) == 0);
        CHECK(spec_endpoint_parse("http:8080:public", &spec->endpoints[1], &err) == 0);
        spec->n_endpoints = 2;
        CHECK(spec_health_parse("http:/healthz", spec, &err) == 0);
        spec_json = component_spec_format(spec);
        CHECK(spec_json);
        CHECK(model_component_create(db, p.id, "web", "web:1", spec_json, &c) == 0);
        CHECK(model_release_create(db, c.id, e.id,
                                   "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                   spec_json, &rid) == 0);

        CHECK(deploy_target_load(db, rid, &t, &err) == 0);
        CHECK(streq(t.project, "shop") && streq(t.component, "web") && streq(t.environment, "production"));
        CHECK(t.ingress_port == e.ingress_port);
        CHECK(t.n_ports == 2 && t.ports[0] == 9000 && t.ports[1] == 8080 && t.public_index == 1);
        CHECK(t.readiness.enabled && t.readiness.type == PROBE_HTTP && streq(t.readiness.path, "/healthz"));
        CHECK(t.deploy_timeout_sec > 0);
        /* The service address is the model's (allocated once, in .2–.99 of the environment's subnet). */
        CHECK(model_service_address_get(db, c.id, e.id, &svc) == 0);
        CHECK(streq(inet_ntoa(t.service), svc));
        CHECK(net_subnet_contains(&t.subnet, t.service));
        uint32_t host_part = ntohl(t.service.s_addr) & 0xff;
        CHECK(host_part >= 2 && host_part <= 99);

        CHECK(deploy_target_load(db, rid + 100, &(DeployTarget) {}, NULL) == -ENOENT);

        model_project_done(&p);
        model_environment_done(&e);
        model_component_done(&c);
}

static int wakes; /* atomic */

static void count_wake(void *userdata) {
        (void) userdata;
        __atomic_add_fetch(&wakes, 1, __ATOMIC_ACQ_REL);
}

/* A project with one component (spec_json) and a release of it to development; returns the release. */
static int64_t make_release(sqlite3 *db, const char *project, const char *spec_json,
                            ModelEnvironment *ret_env) {
        char *envs[] = { "development" };
        ModelProject p = {};
        ModelComponent c = {};
        NetSubnet host;
        int64_t rid;

        /* As if the host used 10.213.0.0/24: the environment gets another /24 of the pool. */
        CHECK(net_subnet_parse("10.213.0.0/24", &host) == 0);
        ModelAllocation al = {
                .used = &host, .n_used = 1, .ingress_base_port = 9300, .bridge_prefix = "swb"
        };
        CHECK(model_project_create(db, project, envs, 1, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "development", ret_env) == 0);
        CHECK(model_component_create(db, p.id, "web", "web:1", spec_json, &c) == 0);
        CHECK(model_release_create(db, c.id, ret_env->id,
                                   "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                                   spec_json, &rid) == 0);
        model_project_done(&p);
        model_component_done(&c);
        return rid;
}

static Deployer *new_deployer(const char *name, char **ret_db_path) {
        _cleanup_free_ char *state = path_join(tmpdir, name);
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        char *dbp = NULL;
        Deployer *d = NULL;

        CHECK(state && mkdir_p(state, 0700) == 0);
        dbp = path_join(state, "slipway.db");
        CHECK(dbp && state_open(dbp, &db) == 0); /* migrated */
        DeployerConfig cfg = { .state_dir = state, .db_path = dbp, .wake = count_wake };
        CHECK(deployer_new(&cfg, &d) == 0);
        *ret_db_path = dbp;
        return d;
}

/* What the deployer tests below work on: a deployer on its own state dir (tmpdir/name), a connection to its
 * database, and a release of a component with spec_json to a new project's development environment. */
typedef struct Fixture {
        Deployer *d;
        sqlite3 *db;
        ModelEnvironment env;
        int64_t rid;
} Fixture;

static void fixture_setup(Fixture *f, const char *name, const char *spec_json) {
        _cleanup_free_ char *dbp = NULL;

        f->d = new_deployer(name, &dbp);
        CHECK(sqlite_open(dbp, &f->db) == 0);
        f->rid = make_release(f->db, name, spec_json, &f->env);
}

static void fixture_done(Fixture *f) {
        model_environment_done(&f->env);
        sqlite3_close_v2(f->db);
        deployer_free(f->d);
        *f = (Fixture) {};
}

/* A pending release whose spec cannot be used: reconcile marks it deploying and starts a worker, which
 * fails it with the reason, a deploy log line and finished_at, and wakes the engine; the next reconcile
 * reaps the worker.  Nothing of the network or a container is touched (the target fails to load first). */
static void test_reconcile_fails_bad_release(void) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_free_ char *instances = NULL;
        ModelLogLine *log = NULL;
        size_t n_log = 0;
        struct stat st;
        bool failed_line = false;

        fixture_setup(&f, "recon", "{\"endpoints\": \"not a list\"}");

        /* deployer_new made the instances directory. */
        CHECK(asprintf(&instances, "%s/recon/instances", tmpdir) > 0);
        CHECK(stat(instances, &st) == 0 && S_ISDIR(st.st_mode));

        __atomic_store_n(&wakes, 0, __ATOMIC_RELEASE);
        deployer_reconcile(f.d);
        CHECK(model_release_get(f.db, f.rid, &rel) == 0);
        CHECK(streq(rel.status, MODEL_RELEASE_DEPLOYING) || streq(rel.status, MODEL_RELEASE_FAILED));
        model_release_done(&rel);
        for (unsigned i = 0; i < 500 && __atomic_load_n(&wakes, __ATOMIC_ACQUIRE) == 0; i++)
                nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        CHECK(__atomic_load_n(&wakes, __ATOMIC_ACQUIRE) > 0);
        deployer_reconcile(f.d); /* reaps the worker; starts nothing (no release is pending) */
        CHECK(f.d->workers == NULL);

        CHECK(model_release_get(f.db, f.rid, &rel) == 0);
        CHECK(streq(rel.status, MODEL_RELEASE_FAILED));
        CHECK(rel.reason && strstr(rel.reason, "endpoints") && strstr(rel.reason, "array"));
        CHECK(rel.finished_at > 0);
        CHECK(model_deploy_log_list(f.db, f.rid, &log, &n_log) == 0);
        for (size_t i = 0; i < n_log; i++)
                if (strncmp(log[i].line, "failed: ", 8) == 0)
                        failed_line = true;
        CHECK(failed_line);
        model_log_lines_free(log, n_log);
}

/* Instance rows: the lowest free .100+ address of the environment, netns and directory from the id; an
 * address comes free again once its instance stopped. */
static void test_instance_rows(void) {
        _cleanup_(fixture_done) Fixture f = {};
        _cleanup_(deploy_target_done) DeployTarget t = {};
        _cleanup_(model_instance_done) ModelInstance row = {};
        _cleanup_free_ char *netns = NULL, *dir = NULL, *err = NULL;
        struct in_addr a1, a2, a3;
        int64_t id1, id2, id3;

        fixture_setup(&f, "rows", "{}");
        CHECK(deploy_target_load(f.db, f.rid, &t, &err) == 0);

        CHECK(deployer_instance_row_create(f.d, f.db, &t, &a1, &id1) == 0);
        CHECK(deployer_instance_row_create(f.d, f.db, &t, &a2, &id2) == 0);
        CHECK(net_subnet_contains(&t.subnet, a1) &&
              (ntohl(a1.s_addr) & 0xff) == MODEL_INSTANCE_ADDRESS_FIRST);
        CHECK((ntohl(a2.s_addr) & 0xff) == MODEL_INSTANCE_ADDRESS_FIRST + 1);

        CHECK(model_instance_get(f.db, id1, &row) == 0);
        CHECK(streq(row.state, MODEL_INSTANCE_STARTING) && streq(row.address, inet_ntoa(a1)));
        CHECK(deploy_instance_netns_new(f.d->state_dir, f.d->host ? f.d->host->id : NULL, id1, &netns) == 0);
        CHECK(asprintf(&dir, "%s/%lld", f.d->instances_dir, (long long) id1) > 0);
        CHECK(streq(row.netns, netns) && streq(row.dir, dir));

        CHECK(model_instance_set_state(f.db, id1, MODEL_INSTANCE_STOPPED) == 0);
        CHECK(deployer_instance_row_create(f.d, f.db, &t, &a3, &id3) == 0);
        CHECK(a3.s_addr == a1.s_addr && id3 != id1);
}

static void write_log(const char *dir, InstanceLog l, const char *text) {
        _cleanup_free_ char *path = NULL;
        CHECK(instance_log_path(dir, l, &path) == 0);
        CHECK(write_file_atomic(path, text, strlen(text), 0644) == 0);
}

/* A failure reason quotes the last DEPLOY_LOG_TAIL_LINES lines of stderr, else stdout, on one line. */
static void test_log_tail(void) {
        _cleanup_free_ char *dir = path_join(tmpdir, "tail"), *none = NULL, *out = NULL, *err = NULL;

        CHECK(dir && mkdir_p(dir, 0700) == 0);
        none = deployer_log_tail(dir);
        CHECK(!none);
        write_log(dir, INSTANCE_LOG_STDOUT, "only stdout\n");
        out = deployer_log_tail(dir);
        CHECK(out && streq(out, "only stdout"));
        write_log(dir, INSTANCE_LOG_STDERR, "e1\ne2\ne3\ne4\ne5\tx\ne6\n\n");
        err = deployer_log_tail(dir);
        CHECK(err && streq(err, "e2|e3|e4|e5 x|e6"));
}

/* The bake window's settings reach the target, the daemon's default fills a spec that leaves it open, the
 * record has its fields, and recovery ends a window a stop left open (its standby instances stopped). */
static void test_bake(void) {
        _cleanup_(fixture_done) Fixture f = {}, g = {};
        _cleanup_(deploy_target_done) DeployTarget t = {}, u = {};
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_(model_instance_done) ModelInstance row = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *err = NULL, *text = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        struct in_addr a;
        int64_t standby;
        size_t n = 0;

        fixture_setup(&f, "bake", "{\"bake_ms\": 4000, \"bake_max_5xx_percent\": 10}");
        CHECK(deploy_target_load(f.db, f.rid, &t, &err) == 0);
        CHECK(t.bake_ms == 4000 && t.bake_max_5xx_percent == 10 &&
              t.bake_min_requests == SPEC_BAKE_MIN_REQUESTS);
        CHECK(deployer_bake_ms(f.d, &t) == 4000);

        fixture_setup(&g, "bakedefault", "{}");
        CHECK(deploy_target_load(g.db, g.rid, &u, &err) == 0);
        CHECK(u.bake_ms == SPEC_BAKE_DAEMON_DEFAULT &&
              u.bake_max_5xx_percent == SPEC_BAKE_MAX_5XX_PERCENT_DEFAULT);
        CHECK(deployer_bake_ms(g.d, &u) == 0); /* this deployer's config gave none */
        g.d->bake_default_ms = DEPLOY_BAKE_DEFAULT_MS;
        CHECK(deployer_bake_ms(g.d, &u) == DEPLOY_BAKE_DEFAULT_MS);

        text = deployer_bake_record(&(DeployBakeRecord) { .state = MODEL_BAKE_BAKING,
                                                          .bake_ms = 4000,
                                                          .max_5xx_percent = 10,
                                                          .requests = 52,
                                                          .status_5xx = 37,
                                                          .started_at = 1000 });
        CHECK(text);
        j = json_loads(text, 0, NULL);
        CHECK(j && streq(json_string_value(json_object_get(j, "state")), "baking"));
        CHECK(json_integer_value(json_object_get(j, "bake_ms")) == 4000);
        CHECK(json_integer_value(json_object_get(j, "requests")) == 52);
        CHECK(json_integer_value(json_object_get(j, "5xx")) == 37);
        CHECK(json_integer_value(json_object_get(j, "started_at")) == 1000);
        CHECK(json_is_null(json_object_get(j, "ended_at")) && json_is_null(json_object_get(j, "reason")));

        /* A live release in its window with a standby instance, as a killed slipwayd leaves them. */
        CHECK(model_release_set_status(f.db, f.rid, MODEL_RELEASE_LIVE, NULL) == 0);
        CHECK(model_release_set_bake(f.db, f.rid, text) == 0);
        CHECK(model_release_list_baking(f.db, &ids, &n) == 0 && n == 1 && ids[0] == f.rid);
        CHECK(deployer_instance_row_create(f.d, f.db, &t, &a, &standby) == 0);
        CHECK(model_instance_set_state(f.db, standby, MODEL_INSTANCE_STANDBY) == 0);

        CHECK(deployer_bake_recover(f.d) == 0);
        CHECK(model_release_get(f.db, f.rid, &rel) == 0);
        CHECK(streq(rel.status, MODEL_RELEASE_LIVE));
        json_decref(j);
        j = json_loads(rel.bake, 0, NULL);
        CHECK(j && streq(json_string_value(json_object_get(j, "state")), MODEL_BAKE_INTERRUPTED));
        CHECK(json_integer_value(json_object_get(j, "requests")) == 52); /* the numbers so far stay */
        CHECK(json_integer_value(json_object_get(j, "ended_at")) > 0);
        CHECK(model_instance_get(f.db, standby, &row) == 0 && streq(row.state, MODEL_INSTANCE_STOPPED));
        free(ids);
        ids = NULL;
        CHECK(model_release_list_baking(f.db, &ids, &n) == 0 && n == 0);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_find_binary();
        test_instance_names();
        test_target();
        test_log_tail();
        test_instance_rows();
        test_reconcile_fails_bad_release();
        test_bake();
        (void) rm_rf(tmpdir);
        printf("test-deployer: OK\n");
        return 0;
}
