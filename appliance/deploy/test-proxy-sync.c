/* Unit tests for proxy_sync_routes_check(): the routes a live release should have, compared with a
 * proxy's route-list — a complete table matches, a missing, moved or retargeted route is counted. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy-target.h"
#include "json-util.h"
#include "proxy-sync.h"
#include "tests.h"

static json_t *route(const char *name, const char *listen, const char *path, bool strip,
                     const char *target) {
        return json_pack("{s:s,s:s,s:s,s:b,s:[s]}", "name", name, "listen", listen, "path", path, "strip",
                         strip, "targets", target);
}

int main(void) {
        DeployTarget t = {
                .environment_id = 3,
                .component_id = 7,
                .project = (char *) "shop",
                .component = (char *) "web",
                .n_ports = 1,
                .ports = { 8080 },
                .public_index = 0,
                .is_public = { true },
                .ingress_port = 18080,
        };
        struct in_addr inst;
        _cleanup_json_ json_t *routes = NULL;
        char *first = NULL;

        CHECK(inet_pton(AF_INET, "10.213.4.2", &t.service) == 1);
        CHECK(inet_pton(AF_INET, "10.213.4.100", &inst) == 1);

        /* What proxy_sync_routes_apply() sets, as route-list shows it (no path is "/"). */
        routes = json_array();
        CHECK(routes);
        json_array_append_new(routes,
                              route("svc-3-7-8080", "10.213.4.2:8080", "/", false, "10.213.4.100:8080"));
        json_array_append_new(routes,
                              route("ing-3-7", "0.0.0.0:18080", "/shop/web", true, "10.213.4.100:8080"));
        json_array_append_new(routes, route("other", "127.0.0.1:1", "/", false, "127.0.0.1:2"));
        CHECK(proxy_sync_routes_check(routes, &t, inst, &first) == 0);
        CHECK(first == NULL);

        /* Retargeted: the instance moved. */
        CHECK(inet_pton(AF_INET, "10.213.4.101", &inst) == 1);
        CHECK(proxy_sync_routes_check(routes, &t, inst, &first) == 2);
        CHECK(first && strcmp(first, "svc-3-7-8080") == 0);
        free(first);
        first = NULL;
        CHECK(inet_pton(AF_INET, "10.213.4.100", &inst) == 1);

        /* Missing: the ingress route is gone. */
        CHECK(json_array_remove(routes, 1) == 0);
        CHECK(proxy_sync_routes_check(routes, &t, inst, &first) == 1);
        CHECK(first && strcmp(first, "ing-3-7") == 0);
        free(first);
        first = NULL;

        /* A different path under the same name counts too. */
        json_array_append_new(routes,
                              route("ing-3-7", "0.0.0.0:18080", "/shop/other", true, "10.213.4.100:8080"));
        CHECK(proxy_sync_routes_check(routes, &t, inst, NULL) == 1);

        /* With a domain the host route is wanted as well. */
        CHECK(json_array_remove(routes, json_array_size(routes) - 1) == 0);
        json_array_append_new(routes,
                              route("ing-3-7", "0.0.0.0:18080", "/shop/web", true, "10.213.4.100:8080"));
        t.domain = (char *) "example.test";
        CHECK(proxy_sync_routes_check(routes, &t, inst, &first) == 1);
        CHECK(first && strcmp(first, "host-3-7") == 0);
        free(first);

        printf("test-proxy-sync: ok\n");
        return 0;
}
