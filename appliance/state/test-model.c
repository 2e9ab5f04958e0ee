/* Unit tests for the issue-5 model: projects with ordered environments, allocation of subnets (avoiding
 * each other and the host's), bridges, ingress ports, service and instance addresses, releases,
 * instances and the deploy log, users and their API tokens, protected environments and promotion approvals,
 * against a real sqlite file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fs-util.h"
#include "image-db.h"
#include "model.h"
#include "release-values-db.h"
#include "sqlite-util.h"
#include "state.h"
#include "token-db.h"
#include "user-account-db.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-model-XXXXXX";

static sqlite3 *open_db(const char *name) {
        _cleanup_free_ char *p = path_join(tmpdir, name);
        sqlite3 *db = NULL;
        CHECK(p);
        CHECK(state_open(p, &db) == 0);
        return db;
}

static void test_projects_and_envs(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("a.db");
        NetSubnet host[2];
        char *envs[] = { "development", "production" };
        char *bad[] = { "dev", "dev" };
        ModelProject p = {}, q = {};
        ModelEnvironment *e = NULL, ne = {};
        size_t n = 0;

        /* Pretend the host owns 10.213.0.0/24 and 10.213.2.0/23. */
        CHECK(net_subnet_parse("10.213.0.0/24", &host[0]) == 0);
        CHECK(net_subnet_parse("10.213.2.0/23", &host[1]) == 0);
        ModelAllocation al = {
                .used = host, .n_used = 2, .ingress_base_port = 8080, .bridge_prefix = "swb0a1b2c"
        };

        CHECK(model_project_create(db, "shop", envs, 2, &al, &p) == 0);
        CHECK(streq(p.name, "shop"));
        CHECK(model_project_create(db, "shop", envs, 2, &al, NULL) == -EEXIST);
        /* A failing environment leaves no half-created project behind. */
        CHECK(model_project_create(db, "half", bad, 2, &al, NULL) == -EEXIST);
        CHECK(model_project_get(db, "half", &q) == -ENOENT);

        CHECK(model_environment_list(db, p.id, &e, &n) == 0);
        CHECK(n == 2);
        CHECK(streq(e[0].name, "development") && e[0].position == 0);
        CHECK(streq(e[1].name, "production") && e[1].position == 1);
        CHECK(streq(e[0].subnet, "10.213.1.0/24"));
        CHECK(streq(e[1].subnet, "10.213.4.0/24"));
        CHECK(e[0].ingress_port == 8080 && e[1].ingress_port == 8081);
        CHECK(strncmp(e[0].bridge, "swb0a1b2c", 9) == 0 && strlen(e[0].bridge) == 15);
        CHECK(!streq(e[0].bridge, e[1].bridge));

        /* The same project made again after a delete gets new ids and new bridge names: nothing left of
         * the old one (a bridge a failed teardown kept) is taken over. */
        {
                ModelProject again = {};
                ModelEnvironment *e2 = NULL;
                size_t n2 = 0;

                CHECK(model_project_create(db, "gone", envs, 2, &al, &q) == 0);
                CHECK(model_environment_list(db, q.id, &e2, &n2) == 0 && n2 == 2);
                char old_bridge[16];
                int64_t old_env = e2[0].id;
                snprintf(old_bridge, sizeof old_bridge, "%s", e2[0].bridge);
                model_environments_free(e2, n2);
                CHECK_OK(model_project_delete(db, q.id));
                CHECK(model_project_create(db, "gone", envs, 2, &al, &again) == 0);
                CHECK(again.id > q.id);
                CHECK(model_environment_list(db, again.id, &e2, &n2) == 0 && n2 == 2);
                CHECK(!streq(e2[0].bridge, old_bridge) && e2[0].id > old_env);
                CHECK(strncmp(e2[0].bridge, "swb0a1b2c", 9) == 0 && strlen(e2[0].bridge) == 15);
                model_environments_free(e2, n2);
                CHECK_OK(model_project_delete(db, again.id));
                model_project_done(&again);
                model_project_done(&q);
                q = (ModelProject) {};
        }
        model_environments_free(e, n);

        /* Insert in the middle of the promotion order. */
        CHECK(model_environment_create(db, p.id, "staging", "development", &al, NULL, &ne, NULL) == 0);
        CHECK(ne.position == 1 && ne.ingress_port == 8082 && streq(ne.subnet, "10.213.5.0/24"));
        CHECK(streq(ne.project_name, "shop"));
        model_environment_done(&ne);
        CHECK(model_environment_create(db, p.id, "staging", NULL, &al, NULL, NULL, NULL) == -EEXIST);
        CHECK(model_environment_create(db, p.id, "qa", "nope", &al, NULL, NULL, NULL) == -ENOENT);
        CHECK(model_environment_list(db, p.id, &e, &n) == 0);
        CHECK(n == 3);
        CHECK(streq(e[0].name, "development") && streq(e[1].name, "staging") &&
              streq(e[2].name, "production"));
        CHECK(e[2].position == 2);
        model_environments_free(e, n);

        /* A second project's environments get fresh subnets and ports; freed ones are reused. */
        CHECK(model_project_create(db, "blog", envs, 1, &al, &q) == 0);
        CHECK(model_environment_list(db, q.id, &e, &n) == 0);
        CHECK(n == 1 && streq(e[0].subnet, "10.213.6.0/24") && e[0].ingress_port == 8083);
        model_environments_free(e, n);
        CHECK(model_project_delete(db, p.id) == 0);
        CHECK(model_project_delete(db, p.id) == -ENOENT);
        CHECK(model_environment_create(db, q.id, "production", NULL, &al, NULL, &ne, NULL) == 0);
        CHECK(streq(ne.subnet, "10.213.1.0/24") && ne.ingress_port == 8080 && ne.position == 1);
        int64_t prod = ne.id;
        model_environment_done(&ne);

        /* Settings at create and later; another environment's ingress port or domain is refused. */
        ModelEnvironment c = {};
        ModelEnvironmentSettings st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        st.domain = "qa.example.test";
        st.egress = 1;
        st.ingress_port = 9100;
        CHECK(model_environment_create(db, q.id, "qa", NULL, &al, &st, &ne, NULL) == 0);
        CHECK(ne.ingress_port == 9100 && ne.egress && streq(ne.domain, "qa.example.test"));
        int64_t qa = ne.id;
        model_environment_done(&ne);
        st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        st.ingress_port = 9100;
        CHECK(model_environment_create(db, q.id, "qa2", NULL, &al, &st, NULL, &c) == -EADDRINUSE);
        CHECK(streq(c.name, "qa") && streq(c.project_name, "blog"));
        model_environment_done(&c);
        CHECK(model_environment_get(db, q.id, "qa2", &ne) == -ENOENT); /* nothing half-written */
        st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        st.domain = "qa.example.test";
        CHECK(model_environment_update(db, prod, &st, &c) == -ENOTUNIQ);
        model_environment_done(&c);
        CHECK(model_environment_update(db, qa, &st, NULL) == 0); /* its own domain again: fine */
        st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        st.domain = "";
        st.egress = 0;
        CHECK(model_environment_update(db, qa, &st, NULL) == 0);
        CHECK(model_environment_get_by_id(db, qa, &ne) == 0);
        CHECK(!ne.domain && !ne.egress && ne.ingress_port == 9100);
        model_environment_done(&ne);
        st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        st.ingress_port = 9101;
        CHECK(model_environment_update(db, qa, &st, NULL) == 0);
        CHECK(model_environment_update(db, 999999, &st, NULL) == -EADDRINUSE); /* qa has it now */
        st.ingress_port = 9102;
        CHECK(model_environment_update(db, 999999, &st, NULL) == -ENOENT);

        ModelProject *ps = NULL;
        CHECK(model_project_list(db, &ps, &n) == 0);
        CHECK(n == 1 && streq(ps[0].name, "blog"));
        model_projects_free(ps, n);
        model_project_done(&p);
        model_project_done(&q);
}

static void test_real_host_subnets(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("h.db");
        _cleanup_free_ NetSubnet *host = NULL;
        char *envs[] = { "a", "b", "c" };
        ModelProject p = {};
        ModelEnvironment *e = NULL;
        size_t n = 0, n_host = 0;

        if (net_host_subnets(&host, &n_host) < 0)
                return;
        ModelAllocation al = {
                .used = host, .n_used = n_host, .ingress_base_port = 9000, .bridge_prefix = "swb"
        };
        CHECK(model_project_create(db, "x", envs, 3, &al, &p) == 0);
        CHECK(model_environment_list(db, p.id, &e, &n) == 0);
        for (size_t i = 0; i < n; i++) {
                NetSubnet s;
                CHECK(net_subnet_parse(e[i].subnet, &s) == 0);
                for (size_t k = 0; k < n_host; k++)
                        CHECK(!net_subnet_overlaps(&s, &host[k]));
                for (size_t k = 0; k < i; k++) {
                        NetSubnet o;
                        CHECK(net_subnet_parse(e[k].subnet, &o) == 0);
                        CHECK(!net_subnet_overlaps(&s, &o));
                }
                CHECK(e[i].ingress_port == 9000 + i);
        }
        model_environments_free(e, n);
        model_project_done(&p);
}

/* Another state dir's subnet and ports (its claims, passed in) are never handed out here. */
static void test_other_state_dirs(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("o.db");
        char *envs[] = { "development", "production" };
        const unsigned ports[] = { 7000, 7002 };
        ModelEnvironment *e = NULL;
        ModelProject p = {};
        NetSubnet other[1];
        size_t n = 0;

        CHECK(net_subnet_parse("10.213.0.0/24", &other[0]) == 0);
        ModelAllocation al = { .used = other,
                               .n_used = 1,
                               .ports_used = ports,
                               .n_ports_used = 2,
                               .ingress_base_port = 7000,
                               .bridge_prefix = "swb00ff00" };
        CHECK(model_project_create(db, "demo", envs, 2, &al, &p) == 0);
        CHECK(model_environment_list(db, p.id, &e, &n) == 0 && n == 2);
        CHECK(streq(e[0].subnet, "10.213.1.0/24") && streq(e[1].subnet, "10.213.2.0/24"));
        CHECK(e[0].ingress_port == 7001 && e[1].ingress_port == 7003);
        /* Same project and environment names under another prefix: another bridge name. */
        CHECK(strncmp(e[0].bridge, "swb00ff00", 9) == 0);
        model_environments_free(e, n);
        model_project_done(&p);
}

/* Nothing left to allocate and a full disk are told apart: -EADDRNOTAVAIL against sqlite's -ENOSPC (which
 * once made a full disk read as "no free subnet"). */
static void test_exhaustion_is_not_a_full_disk(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("x.db");
        _cleanup_free_ unsigned *ports = NULL;
        char *envs[] = { "development" };
        ModelProject p = {};
        NetSubnet pool;
        int64_t pages;

        CHECK(net_subnet_parse(NET_SUBNET_POOL_DEFAULT, &pool) == 0);
        ModelAllocation al = {
                .used = &pool, .n_used = 1, .ingress_base_port = 7000, .bridge_prefix = "swb"
        };
        CHECK(model_project_create(db, "a", envs, 1, &al, &p) == -EADDRNOTAVAIL);

        ports = calloc(MODEL_INGRESS_PORTS_MAX, sizeof *ports);
        CHECK(ports);
        for (unsigned i = 0; i < MODEL_INGRESS_PORTS_MAX; i++)
                ports[i] = 7000 + i;
        al = (ModelAllocation) { .ports_used = ports,
                                 .n_ports_used = MODEL_INGRESS_PORTS_MAX,
                                 .ingress_base_port = 7000,
                                 .bridge_prefix = "swb" };
        CHECK(model_project_create(db, "a", envs, 1, &al, &p) == -EADDRNOTAVAIL);

        /* A database that cannot grow is a full disk to sqlite (SQLITE_FULL). */
        al.n_ports_used = 0;
        CHECK(sqlite_get_int64(db, "PRAGMA page_count", SQL_NO_ARGS, &pages) == 0);
        CHECK(sqlite_get_int64(db, "PRAGMA max_page_count = 1", SQL_NO_ARGS, &pages) == 0);
        for (unsigned i = 0;; i++) {
                char name[16];
                int r;

                CHECK(i < 200); /* the pages the database has fill up long before */
                snprintf(name, sizeof name, "p%u", i);
                r = model_project_create(db, name, envs, 1, &al, &p);
                model_project_done(&p);
                if (r == 0)
                        continue;
                CHECK(r == -ENOSPC);
                CHECK(model_project_get(db, name, &p) == -ENOENT); /* nothing half-made */
                break;
        }
}

/* Ports some program on the host holds (what the daemon's net_tcp_port_busy() answers) are skipped when a
 * port is chosen automatically, and asked about only for ports that are otherwise free. */
static unsigned busy_asked;
static bool fake_busy(unsigned port) {
        busy_asked++;
        CHECK(port != 7101); /* another state dir's: never asked about */
        return port == 7100 || port == 7102;
}

static void test_ports_busy_on_host(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("busy.db");
        char *envs[] = { "development", "production" };
        const unsigned ports[] = { 7101 };
        ModelEnvironment *e = NULL;
        ModelProject p = {};
        unsigned port;
        size_t n = 0;

        ModelAllocation al = { .ports_used = ports,
                               .n_ports_used = 1,
                               .port_busy = fake_busy,
                               .ingress_base_port = 7100,
                               .bridge_prefix = "swb" };
        CHECK(model_project_create(db, "busy", envs, 2, &al, &p) == 0);
        CHECK(model_environment_list(db, p.id, &e, &n) == 0 && n == 2);
        CHECK(e[0].ingress_port == 7103 && e[1].ingress_port == 7104);
        CHECK(busy_asked == 6); /* development: 7100, 7102, 7103; production: 7100, 7102, 7104 */
        /* Without the check (NULL), the same base gives the busy port. */
        CHECK(model_allocate_ingress_port(db, 7100, ports, 1, NULL, &port) == 0 && port == 7100);
        CHECK(model_allocate_ingress_port(db, 7100, ports, 1, fake_busy, &port) == 0 && port == 7105);
        model_environments_free(e, n);
        model_project_done(&p);
}

static void test_components_releases(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("c.db");
        char *envs[] = { "development", "production" };
        ModelProject p = {};
        ModelEnvironment dev = {}, prod = {};
        ModelComponent c = {}, c2 = {};
        ModelRelease rel = {}, *rels = NULL;
        ModelInstance inst = {}, *insts = NULL;
        ModelServiceAddress *sa = NULL;
        ModelLogLine *lines = NULL;
        char *a = NULL, *b = NULL, **digests = NULL;
        const char *missing = NULL;
        int64_t r1, r2, i1;
        unsigned count;
        size_t n;

        ModelAllocation al = { .ingress_base_port = 8080, .bridge_prefix = "swb" };
        CHECK(model_project_create(db, "shop", envs, 2, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "development", &dev) == 0);
        CHECK(model_environment_get(db, p.id, "production", &prod) == 0);
        CHECK(model_component_create(db, p.id, "web", "busybox:latest", "{}", &c) == 0);
        CHECK(model_component_create(db, p.id, "web", NULL, "{}", NULL) == -EEXIST);
        CHECK(model_component_create(db, p.id, "api", NULL, "{}", &c2) == 0);
        ModelComponent found = {};
        CHECK(model_component_lookup(db, "shop", "web", &found, &missing) == 0 && found.id == c.id);
        CHECK(streq(found.image_ref, "busybox:latest") && streq(found.project_name, "shop"));
        model_component_done(&found);
        CHECK(model_component_lookup(db, "nope", "web", &(ModelComponent) {}, &missing) == -ENOENT &&
              streq(missing, "project"));
        CHECK(model_component_lookup(db, "shop", "nope", &(ModelComponent) {}, &missing) == -ENOENT &&
              streq(missing, "component"));

        /* Service addresses: .2 upwards, stable, per environment. */
        CHECK(model_service_address_ensure(db, c.id, dev.id, &a) == 0);
        CHECK(streq(a, "10.213.0.2"));
        free(a);
        CHECK(model_service_address_ensure(db, c2.id, dev.id, &a) == 0);
        CHECK(streq(a, "10.213.0.3"));
        CHECK(model_service_address_ensure(db, c2.id, dev.id, &b) == 0 && streq(a, b));
        free(a);
        free(b);
        CHECK(model_service_address_ensure(db, c.id, prod.id, &a) == 0 && streq(a, "10.213.1.2"));
        free(a);
        CHECK(model_service_address_list(db, dev.id, &sa, &n) == 0);
        CHECK(n == 2 && streq(sa[0].component_name, "api") && streq(sa[1].address, "10.213.0.2"));
        model_service_addresses_free(sa, n);

        /* Releases and instances. */
        CHECK(model_release_create(db, c.id, dev.id, "sha256:aa", "{}", &r1) == 0);
        CHECK(model_release_create(db, 9999, dev.id, "sha256:aa", "{}", NULL) == -ENOENT);
        CHECK(model_release_get(db, r1, &rel) == 0);
        CHECK(streq(rel.status, "pending") && rel.finished_at == 0 && !rel.reason);
        CHECK(streq(rel.environment_name, "development"));
        model_release_done(&rel);
        CHECK(model_release_list_by_status(db, MODEL_RELEASE_PENDING, &rels, &n) == 0 && n == 1);
        model_releases_free(rels, n);
        CHECK(model_release_get_live(db, c.id, dev.id, &rel) == -ENOENT);
        CHECK(model_instance_allocate_address(db, dev.id, &a) == 0 && streq(a, "10.213.0.100"));
        CHECK(model_instance_create(db, r1, a, "sw-ns1", "/x/1", MODEL_INSTANCE_STARTING, &i1) == 0);
        free(a);
        CHECK(model_instance_allocate_address(db, dev.id, &a) == 0 && streq(a, "10.213.0.101"));
        free(a);
        CHECK(model_project_count_live_instances(db, p.id, &count) == 0 && count == 1);
        CHECK(model_count_live_instances(db, &count) == 0 && count == 1);
        CHECK(model_release_set_status(db, r1, MODEL_RELEASE_LIVE, NULL) == 0);
        CHECK(model_instance_set_state(db, i1, MODEL_INSTANCE_READY) == 0);
        CHECK(model_instance_set_restarts(db, i1, 2) == 0);
        CHECK(model_instance_get_live(db, c.id, dev.id, &inst) == 0);
        CHECK(inst.id == i1 && inst.restarts == 2 && streq(inst.state, "ready") && streq(inst.dir, "/x/1"));
        model_instance_done(&inst);
        CHECK(model_release_get_live(db, c.id, dev.id, &rel) == 0 && rel.id == r1 && rel.finished_at > 0);
        model_release_done(&rel);

        CHECK(model_release_create(db, c.id, dev.id, "sha256:bb", "{}", &r2) == 0);
        CHECK(model_release_set_status(db, r2, MODEL_RELEASE_FAILED, "readiness: connection refused") == 0);
        CHECK(model_release_get(db, r2, &rel) == 0 && streq(rel.reason, "readiness: connection refused"));
        model_release_done(&rel);
        CHECK(model_release_list(db, c.id, 0, &rels, &n) == 0 && n == 2 && rels[0].id == r2);
        model_releases_free(rels, n);
        CHECK(model_release_list(db, c.id, prod.id, &rels, &n) == 0 && n == 0);
        free(rels);
        CHECK(model_release_set_status(db, 4242, MODEL_RELEASE_LIVE, NULL) == -ENOENT);

        CHECK(model_deploy_log_append(db, r2, "probe 1: tcp 10.213.0.101:80 refused") == 0);
        CHECK(model_deploy_log_appendf(db, r2, "probe %d: %s", 2, "ok") == 0);
        CHECK(model_deploy_log_list(db, r2, &lines, &n) == 0 && n == 2 &&
              streq(lines[1].line, "probe 2: ok"));
        CHECK(lines[0].at <= lines[1].at && lines[0].at > 0);
        model_log_lines_free(lines, n);

        CHECK(release_image_digests(db, &digests, &n) == 0 && n == 2);
        CHECK(streq(digests[0], "sha256:aa") && streq(digests[1], "sha256:bb"));
        for (size_t i = 0; i < n; i++)
                free(digests[i]);
        free(digests);

        CHECK(model_instance_list_active(db, &insts, &n) == 0 && n == 1);
        model_instances_free(insts, n);
        CHECK(model_instance_set_state(db, i1, MODEL_INSTANCE_STOPPED) == 0);
        CHECK(model_instance_list_active(db, &insts, &n) == 0 && n == 0);
        free(insts);

        /* Deleting the project cascades to everything under it. */
        CHECK(model_project_delete(db, p.id) == 0);
        CHECK(model_count(db, "releases", &count) == 0 && count == 0);
        CHECK(model_count(db, "environments", &count) == 0 && count == 0);
        CHECK(model_count(db, "bogus", &count) == -EINVAL);

        model_project_done(&p);
        model_environment_done(&dev);
        model_environment_done(&prod);
        model_component_done(&c);
        model_component_done(&c2);
}

/* The one finished_at rule: set when a release first finishes (live, failed, superseded) and kept; the
 * one deploy-log rule: lines cut to MODEL_DEPLOY_LOG_LINE_MAX bytes, never inside a UTF-8 character. */
static void test_state_rules(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("rules.db");
        char *envs[] = { "development" };
        ModelProject p = {};
        ModelEnvironment e = {};
        ModelComponent c = {};
        ModelRelease rel = {};
        ModelInstance *v = NULL;
        ModelLogLine *lines = NULL;
        NetSubnet host;
        size_t n = 0;
        int64_t r1, r2, r3, finished;
        char big[3000];

        CHECK(net_subnet_parse("10.213.0.0/24", &host) == 0);
        ModelAllocation al = {
                .used = &host, .n_used = 1, .ingress_base_port = 9500, .bridge_prefix = "swb"
        };
        CHECK(model_project_create(db, "rules", envs, 1, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "development", &e) == 0);
        CHECK(model_component_create(db, p.id, "web", NULL, "{}", &c) == 0);
        CHECK(model_release_create(db, c.id, e.id, "sha256:aa", "{}", &r1) == 0);
        CHECK(model_release_set_status(db, r1, MODEL_RELEASE_DEPLOYING, NULL) == 0);
        CHECK(model_release_get(db, r1, &rel) == 0 && rel.finished_at == 0);
        model_release_done(&rel);
        CHECK(model_release_set_status(db, r1, MODEL_RELEASE_LIVE, NULL) == 0);
        CHECK(model_release_get(db, r1, &rel) == 0 && rel.finished_at > 0);
        finished = rel.finished_at;
        model_release_done(&rel);

        /* More old instances than any fixed array held: all of them are listed to drain. */
        CHECK(model_release_create(db, c.id, e.id, "sha256:bb", "{}", &r2) == 0);
        for (unsigned i = 0; i < 20; i++) {
                char addr[32];
                snprintf(addr, sizeof addr, "10.213.0.%u", 100 + i);
                CHECK(model_instance_create(db, r1, addr, "ns", "/x", MODEL_INSTANCE_READY, NULL) == 0);
        }
        CHECK(model_instance_create(db, r2, "10.213.0.150", "ns", "/y", MODEL_INSTANCE_STARTING, NULL) == 0);
        CHECK(model_instance_list_active_of_target(db, c.id, e.id, r2, &v, &n) == 0 && n == 20);
        model_instances_free(v, n);

        /* Superseding keeps the time the release finished (went live). */
        CHECK(model_release_supersede_live(db, c.id, e.id) == 0);
        CHECK(model_release_get(db, r1, &rel) == 0 && streq(rel.status, MODEL_RELEASE_SUPERSEDED));
        CHECK(rel.finished_at == finished);
        model_release_done(&rel);

        /* Recovery fails what was deploying, with a reason and a finished_at. */
        CHECK(model_release_set_status(db, r2, MODEL_RELEASE_DEPLOYING, NULL) == 0);
        CHECK(model_release_create(db, c.id, e.id, "sha256:cc", "{}", &r3) == 0);
        CHECK(model_release_fail_all(db, MODEL_RELEASE_DEPLOYING, "stopped") == 0);
        CHECK(model_release_get(db, r2, &rel) == 0 && streq(rel.status, MODEL_RELEASE_FAILED));
        CHECK(streq(rel.reason, "stopped") && rel.finished_at > 0);
        model_release_done(&rel);
        CHECK(model_release_get(db, r3, &rel) == 0 && streq(rel.status, MODEL_RELEASE_PENDING));
        model_release_done(&rel);

        /* 1023 ASCII bytes then 'é' (2 bytes) straddling the limit: the cut goes before it. */
        memset(big, 'a', sizeof big);
        big[1023] = (char) 0xc3;
        big[1024] = (char) 0xa9;
        big[sizeof big - 1] = 0;
        CHECK(model_deploy_log_line_length(big) == 1023);
        CHECK(model_deploy_log_line_length("short") == 5);
        CHECK(model_deploy_log_append(db, r2, big) == 0);
        big[1023] = big[1024] = 'a';
        CHECK(model_deploy_log_appendf(db, r2, "%s", big) == 0);
        CHECK(model_deploy_log_list(db, r2, &lines, &n) == 0 && n == 2);
        CHECK(strlen(lines[0].line) == 1023 && strlen(lines[1].line) == MODEL_DEPLOY_LOG_LINE_MAX);
        model_log_lines_free(lines, n);

        model_project_done(&p);
        model_environment_done(&e);
        model_component_done(&c);
}

/* A config_values row as the vault would write it (no ciphertext: only ids and versions matter here). */
static int64_t put_value(sqlite3 *db, int64_t project_id, int64_t env_id, int64_t comp_id, const char *key,
                         int64_t version) {
        CHECK(sqlite_run(
                      db,
                      "INSERT INTO config_values(project_id, environment_id, component_id, key, version, kind,"
                      " secret, size, set_at) VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, 'env', 0, 1, 1)",
                      SQL_ARGS(SQL_INT(project_id), SQL_INT(env_id), SQL_INT(comp_id), SQL_TEXT(key),
                               SQL_INT(version))) == 1);
        return sqlite3_last_insert_rowid(db);
}

static void test_release_origin_values_prune(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("p.db");
        char *envs[] = { "development", "production" };
        ModelAllocation al = { .ingress_base_port = 8080, .bridge_prefix = "swb" };
        ModelProject p = {};
        ModelEnvironment dev = {};
        ModelComponent c = {};
        ModelRelease rel = {};
        ModelReleaseValue *vals = NULL;
        int64_t ids[6], *pinned = NULL, i1;
        char **dirs = NULL;
        unsigned count;
        size_t n;

        CHECK(model_project_create(db, "shop", envs, 2, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "development", &dev) == 0);
        CHECK(model_component_create(db, p.id, "web", "busybox:latest", "{}", &c) == 0);
        CHECK(model_component_update(db, c.id, "busybox:2", "{\"x\":1}") == 0);
        CHECK(model_component_update(db, 4242, NULL, "{}") == -ENOENT);

        /* Six releases: 1 superseded, 2 failed, 3 superseded with a still draining instance, 4 superseded,
         * 5 live, 6 pending. */
        for (size_t i = 0; i < 6; i++)
                CHECK(model_release_create_from(db, c.id, dev.id, i < 3 ? "sha256:aa" : "sha256:bb", "{}",
                                                i == 4 ? MODEL_RELEASE_ORIGIN_ROLLBACK
                                                       : MODEL_RELEASE_ORIGIN_DEPLOY,
                                                i == 4 ? ids[0] : 0, &ids[i]) == 0);
        CHECK(model_release_get(db, ids[4], &rel) == 0);
        CHECK(streq(rel.origin, "rollback") && rel.source_release_id == ids[0] && !rel.bake);
        model_release_done(&rel);
        CHECK(model_release_get(db, ids[0], &rel) == 0);
        CHECK(streq(rel.origin, "deploy") && rel.source_release_id == 0);
        model_release_done(&rel);
        CHECK(model_release_set_status(db, ids[0], MODEL_RELEASE_SUPERSEDED, NULL) == 0);
        CHECK(model_release_set_status(db, ids[1], MODEL_RELEASE_FAILED, "no") == 0);
        CHECK(model_release_set_status(db, ids[2], MODEL_RELEASE_SUPERSEDED, NULL) == 0);
        CHECK(model_release_set_status(db, ids[3], MODEL_RELEASE_SUPERSEDED, NULL) == 0);
        CHECK(model_release_set_status(db, ids[4], MODEL_RELEASE_LIVE, NULL) == 0);
        CHECK(model_instance_create(db, ids[2], "10.213.0.100", "ns", "/x/drain", MODEL_INSTANCE_DRAINING,
                                    &i1) == 0);
        CHECK(model_instance_create(db, ids[1], "10.213.0.101", "ns", "/x/failed", MODEL_INSTANCE_FAILED,
                                    NULL) == 0);

        /* The default rollback target: the newest superseded release before the live one. */
        CHECK(model_release_get_previous_live(db, c.id, dev.id, ids[4], &rel) == 0 && rel.id == ids[3]);
        model_release_done(&rel);
        CHECK(model_release_get_previous_live(db, c.id, dev.id, ids[0], &rel) == -ENOENT);

        /* Values: K v1, v2, v3 (v1 pinned by release 1), project-wide S v1, v2. */
        int64_t k1 = put_value(db, p.id, dev.id, c.id, "K", 1),
                k2 = put_value(db, p.id, dev.id, c.id, "K", 2),
                k3 = put_value(db, p.id, dev.id, c.id, "K", 3), s1 = put_value(db, p.id, dev.id, 0, "S", 1),
                s2 = put_value(db, p.id, dev.id, 0, "S", 2);
        int64_t pin1[] = { k1, s1, k1 };
        CHECK(model_release_values_pin(db, ids[0], pin1, 3) == 0);
        CHECK(model_release_values_pin(db, ids[0], (int64_t[]) { 99999 }, 1) == -ENOENT);
        int64_t pin5[] = { s2, k3 };
        CHECK(model_release_values_pin(db, ids[4], pin5, 2) == 0);
        CHECK(model_release_value_ids(db, ids[4], &pinned, &n) == 0 && n == 2 && pinned[0] == k3 &&
              pinned[1] == s2);
        free(pinned);
        CHECK(model_release_value_list(db, ids[0], &vals, &n) == 0 && n == 2);
        CHECK(streq(vals[0].key, "K") && vals[0].version == 1 && vals[0].component_id == c.id);
        CHECK(streq(vals[1].key, "S") && vals[1].component_id == 0 && !vals[1].is_file);
        model_release_values_free(vals, n);

        /* Nothing unneeded but K v2 while release 1 is kept. */
        CHECK(model_config_values_prune(db, dev.id) == 1);
        CHECK(sqlite_count(db, "SELECT count(*) FROM config_values WHERE id = ?1", SQL_ARGS(SQL_INT(k2)),
                           &count) == 0 &&
              count == 0);

        /* keep 2: releases 5 and 6 are the newest two; 3 has a draining instance, so 1, 2 and 4 go. */
        CHECK(model_release_prune(db, c.id, dev.id, 2, &dirs, &n) == 3);
        CHECK(n == 1 && streq(dirs[0], "/x/failed"));
        free(dirs[0]);
        free(dirs);
        CHECK(model_release_get(db, ids[0], &rel) == -ENOENT);
        CHECK(model_release_get(db, ids[2], &rel) == 0);
        model_release_done(&rel);
        CHECK(model_count(db, "releases", &count) == 0 && count == 3);
        CHECK(model_count(db, "instances", &count) == 0 && count == 1);
        /* Release 1's pins went with it: K v1 and S v1 can go now; the newest of each slot stays. */
        CHECK(model_config_values_prune(db, dev.id) == 2);
        CHECK(sqlite_count(db, "SELECT count(*) FROM config_values", SQL_NO_ARGS, &count) == 0 &&
              count == 2);
        /* Keeping 1 still spares the live, the pending and the draining releases. */
        CHECK(model_release_prune(db, c.id, dev.id, 1, NULL, NULL) == 0);
        CHECK(model_release_values_missing(db, ids[4], &count) == 0 && count == 0);

        model_component_done(&c);
        model_environment_done(&dev);
        model_project_done(&p);
}

/* Users and their API tokens: the migration's admin, names unique per user, the hash read back as
 * written, last use only forward, delete by (user, name), and a user's tokens going with the user. */
static void test_users_and_tokens(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("tokens.db");
        _cleanup_(model_user_done) ModelUser admin = {};
        ModelApiToken t = {}, *list = NULL;
        uint8_t h1[MODEL_API_TOKEN_HASH_SIZE], h2[MODEL_API_TOKEN_HASH_SIZE];
        size_t n = 0;
        int64_t id = 0;

        memset(h1, 0x11, sizeof h1);
        memset(h2, 0x22, sizeof h2);
        CHECK_OK(model_user_get(db, MODEL_USER_ADMIN, &admin));
        CHECK(streq(admin.role, "admin") && admin.created_at > 0);
        CHECK(model_user_get(db, "nobody", &(ModelUser) {}) == -ENOENT);

        CHECK_OK(model_api_token_create(db, admin.id, "ci", h1, false, 0, &t));
        CHECK(streq(t.name, "ci") && streq(t.user_name, "admin") && streq(t.user_role, "admin"));
        CHECK(memcmp(t.hash, h1, sizeof h1) == 0 && !t.read_only && t.expires_at == 0 &&
              t.last_used_at == 0);
        model_api_token_done(&t);
        CHECK(model_api_token_create(db, admin.id, "ci", h2, true, 0, NULL) == -EEXIST);
        CHECK(model_api_token_create(db, admin.id, "other", h1, true, 0, NULL) == -EEXIST); /* same hash */
        CHECK(model_api_token_create(db, 999, "ci", h2, true, 0, NULL) == -ENOENT);
        CHECK_OK(model_api_token_create(db, admin.id, "ro", h2, true, 4102444800, NULL));

        CHECK_OK(model_api_token_touch(db, 1, 2000));
        CHECK_OK(model_api_token_touch(db, 1, 1000)); /* never backwards */
        CHECK(model_api_token_touch(db, 99, 1000) == -ENOENT);
        CHECK_OK(model_api_token_list(db, admin.id, &list, &n));
        CHECK(n == 2 && streq(list[0].name, "ci") && list[0].last_used_at == 2000);
        CHECK(streq(list[1].name, "ro") && list[1].read_only && list[1].expires_at == 4102444800);
        CHECK(memcmp(list[1].hash, h2, sizeof h2) == 0);
        model_api_tokens_free(list, n);

        CHECK_OK(model_api_token_delete(db, admin.id, "ci", &id));
        CHECK(id == 1);
        CHECK(model_api_token_delete(db, admin.id, "ci", &id) == -ENOENT);
        CHECK_OK(model_api_token_list_all(db, &list, &n));
        CHECK(n == 1 && streq(list[0].name, "ro"));
        model_api_tokens_free(list, n);

        /* a user's tokens go with it (issue 14 deletes users; the cascade is the schema's) */
        CHECK(sqlite_exec(db, "DELETE FROM users WHERE name = 'admin'") == 0);
        CHECK_OK(model_api_token_list_all(db, &list, &n));
        CHECK(n == 0);
}

/* Issue 14: protected environments and promotion approvals. */
static void test_approvals(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = open_db("approvals.db");
        char *envs[] = { "development", "production" };
        ModelProject p = {};
        ModelEnvironment dev = {}, prod = {};
        ModelComponent c = {};
        ModelApproval a = {}, b = {}, *list = NULL;
        ModelEnvironmentSettings st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        char **digests = NULL;
        bool existing = true;
        int64_t rel;
        size_t n;

        ModelAllocation al = { .ingress_base_port = 8080, .bridge_prefix = "swa" };
        CHECK_OK(model_project_create(db, "shop", envs, 2, &al, &p));
        CHECK_OK(model_environment_get(db, p.id, "production", &prod));
        CHECK(!prod.is_protected);
        st.is_protected = 1;
        CHECK_OK(model_environment_update(db, prod.id, &st, NULL));
        st = MODEL_ENVIRONMENT_SETTINGS_INIT; /* other settings leave it as it is */
        st.egress = 1;
        CHECK_OK(model_environment_update(db, prod.id, &st, NULL));
        model_environment_done(&prod);
        CHECK_OK(model_environment_get(db, p.id, "production", &prod));
        CHECK(prod.is_protected && prod.egress);
        CHECK_OK(model_environment_get(db, p.id, "development", &dev));
        CHECK(!dev.is_protected);
        CHECK_OK(model_component_create(db, p.id, "web", "busybox:latest", "{}", &c));
        CHECK_OK(model_release_create_from(db, c.id, dev.id, "sha256:aaaa", "{}",
                                           MODEL_RELEASE_ORIGIN_DEPLOY, 0, &rel));

        CHECK_OK(model_approval_request(db, c.id, dev.id, prod.id, "sha256:aaaa", rel, "dev1", &a,
                                        &existing));
        CHECK(!existing && a.id > 0 && streq(a.status, MODEL_APPROVAL_PENDING));
        CHECK(streq(a.project_name, "shop") && streq(a.component_name, "web"));
        CHECK(streq(a.from_environment, "development") && streq(a.to_environment, "production"));
        CHECK(a.source_release_id == rel && streq(a.requested_by, "dev1") && !a.decided_by);
        /* the same request again: the pending one */
        CHECK_OK(model_approval_request(db, c.id, dev.id, prod.id, "sha256:aaaa", rel, "dev2", &b,
                                        &existing));
        CHECK(existing && b.id == a.id && streq(b.requested_by, "dev1"));
        model_approval_done(&b);
        /* a pending request keeps its image from gc even once no release runs it */
        CHECK_OK(model_approval_request(db, c.id, dev.id, prod.id, "sha256:bbbb", rel, "dev1", &b,
                                        &existing));
        CHECK(!existing && b.id != a.id);
        CHECK_OK(release_image_digests(db, &digests, &n));
        CHECK(n == 2 && streq(digests[0], "sha256:aaaa") && streq(digests[1], "sha256:bbbb"));
        sqlite_rows_free(&sqlite_text_row, digests, n);

        /* decided once */
        CHECK_OK(model_approval_decide(db, b.id, MODEL_APPROVAL_REJECTED, "admin", "not today", 0));
        CHECK(model_approval_decide(db, b.id, MODEL_APPROVAL_APPROVED, "admin", NULL, rel) == -EALREADY);
        CHECK(model_approval_decide(db, 999, MODEL_APPROVAL_APPROVED, "admin", NULL, rel) == -ENOENT);
        model_approval_done(&b);
        CHECK_OK(model_approval_get(db, a.id + 1, &b));
        CHECK(streq(b.status, MODEL_APPROVAL_REJECTED) && streq(b.reason, "not today") && b.decided_at > 0);
        model_approval_done(&b);
        CHECK_OK(release_image_digests(db, &digests, &n));
        CHECK(n == 1 && streq(digests[0], "sha256:aaaa"));
        sqlite_rows_free(&sqlite_text_row, digests, n);
        /* a rejected request no longer blocks asking again */
        CHECK_OK(model_approval_request(db, c.id, dev.id, prod.id, "sha256:bbbb", rel, "dev1", &b,
                                        &existing));
        CHECK(!existing && b.id == a.id + 2);

        /* pending first, oldest first; --all adds the decided */
        CHECK_OK(model_approval_list(db, false, &list, &n));
        CHECK(n == 2 && list[0].id == a.id && list[1].id == b.id);
        model_approvals_free(list, n);
        CHECK_OK(model_approval_decide(db, a.id, MODEL_APPROVAL_APPROVED, "admin", NULL, rel));
        /* the rejection came earlier (within this second, so say so) */
        CHECK_OK(sqlite_run_one(db, "UPDATE approvals SET decided_at = decided_at - 10 WHERE id = ?1",
                                SQL_ARGS(SQL_INT(a.id + 1))));
        CHECK_OK(model_approval_list(db, true, &list, &n));
        CHECK(n == 3 && list[0].id == b.id && list[1].id == a.id && list[2].id == a.id + 1);
        CHECK(list[1].release_id == rel && streq(list[1].release_status, "pending"));
        model_approvals_free(list, n);

        /* requests go with their component */
        CHECK_OK(sqlite_run_one(db, "DELETE FROM components WHERE id = ?1", SQL_ARGS(SQL_INT(c.id))));
        CHECK_OK(model_approval_list(db, true, &list, &n));
        CHECK(n == 0);
        model_approval_done(&a);
        model_approval_done(&b);
        model_component_done(&c);
        model_environment_done(&dev);
        model_environment_done(&prod);
        model_project_done(&p);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_projects_and_envs();
        test_real_host_subnets();
        test_other_state_dirs();
        test_exhaustion_is_not_a_full_disk();
        test_ports_busy_on_host();
        test_components_releases();
        test_state_rules();
        test_release_origin_values_prune();
        test_users_and_tokens();
        test_approvals();
        CHECK(rm_rf(tmpdir) == 0);
        printf("test-model: ok\n");
        return 0;
}
