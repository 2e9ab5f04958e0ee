/* Unit tests for the deployer's pure parts: finding slipway-proxy, instance names, and a release target
 * read from a real database (ports, public endpoint, health checks, service address allocation). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "component-spec.h"
#include "deploy-target.h"
#include "fs-util.h"
#include "ifname.h"
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
        _cleanup_free_ char *ns1 = NULL, *if1 = NULL, *m1 = NULL, *ns2 = NULL, *if2 = NULL, *ns3 = NULL;

        CHECK(deploy_instance_names("/var/lib/slipway", 7, &ns1, &if1, &m1) == 0);
        CHECK(netns_name_valid(ns1) && net_ifname_valid(if1));
        CHECK(strncmp(if1, "swv", 3) == 0 && strlen(if1) <= 15);
        CHECK(strstr(m1, "-7") && strlen(m1) <= 64);
        /* Stable for the same (state dir, id); different for another state dir or id. */
        CHECK(deploy_instance_names("/var/lib/slipway", 7, &ns2, &if2, NULL) == 0);
        CHECK(streq(ns1, ns2) && streq(if1, if2));
        CHECK(deploy_instance_names("/tmp/other", 7, &ns3, NULL, NULL) == 0);
        CHECK(!streq(ns1, ns3));
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
        char *envs[] = {"development", "production"};
        int64_t rid;

        CHECK(dbp && spec);
        CHECK(state_open(dbp, &db) == 0);
        CHECK(net_subnet_parse("10.213.0.0/24", &host) == 0);
        ModelAllocation al = {.used = &host, .n_used = 1, .ingress_base_port = 9100, .bridge_prefix = "swb"};
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

        CHECK(deploy_target_load(db, rid + 100, &(DeployTarget){}, NULL) == -ENOENT);

        model_project_done(&p);
        model_environment_done(&e);
        model_component_done(&c);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_find_binary();
        test_instance_names();
        test_target();
        (void)rm_rf(tmpdir);
        printf("test-deployer: OK\n");
        return 0;
}
