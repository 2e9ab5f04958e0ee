/* Unit tests for route validation, longest-match lookup and path stripping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "route-table.h"

#include "tests.h"

static RouteTable *load(const char *s, char *err, size_t n) {
        json_t *j = json_loads(s, 0, NULL);
        RouteTable *t = NULL;
        CHECK(j);
        if (route_table_from_json(j, &t, err, n) < 0)
                t = NULL;
        json_decref(j);
        return t;
}

static const char *match(RouteTable *t, const char *host, const char *path) {
        const Route *r = route_table_match(t, 0, host, host ? strlen(host) : 0, path, strlen(path));
        return r ? r->name : NULL;
}

int main(void) {
        char err[256];
        RouteTable *t =
                load("{\"routes\":["
                     "{\"name\":\"any\",\"listen\":\"127.0.0.1:8080\",\"targets\":[\"127.0.0.1:1\"]},"
                     "{\"name\":\"api\",\"listen\":\"127.0.0.1:8080\",\"path\":\"/api\",\"strip\":true,"
                     " \"targets\":[\"127.0.0.1:2\",\"127.0.0.1:3\"]},"
                     "{\"name\":\"wild\",\"listen\":\"127.0.0.1:8080\",\"host\":\"*.example.com\"},"
                     "{\"name\":\"exact\",\"listen\":\"127.0.0.1:8080\",\"host\":\"A.example.com\"},"
                     "{\"name\":\"exactapi\",\"listen\":\"127.0.0.1:8080\",\"host\":\"a.example.com\","
                     " \"path\":\"/api/\"}]}",
                     err, sizeof(err));
        char buf[256];
        size_t n;

        CHECK(t);
        CHECK(streq(match(t, "x", "/"), "any"));
        CHECK(streq(match(t, "x", "/api"), "api"));
        CHECK(streq(match(t, "x:80", "/api/v1?x"), "api"));
        CHECK(streq(match(t, "x", "/api?x"), "api"));
        CHECK(streq(match(t, "x", "/apix"), "any"));
        CHECK(streq(match(t, "b.example.com", "/api"), "wild"));
        CHECK(streq(match(t, "c.b.example.com:8080", "/"), "wild"));
        CHECK(streq(match(t, "example.com", "/"), "any"));
        CHECK(streq(match(t, "a.example.com", "/"), "exact"));
        CHECK(streq(match(t, "a.example.com.", "/api/x"), "exactapi"));
        CHECK(streq(match(t, NULL, "/api/x"), "api"));

        {
                const Route *api = route_table_find(t, "api");
                n = route_rewrite_path(api, "/api/v1?q", 9, buf, sizeof(buf));
                CHECK(n == 5 && memcmp(buf, "/v1?q", 5) == 0);
                n = route_rewrite_path(api, "/api", 4, buf, sizeof(buf));
                CHECK(n == 1 && buf[0] == '/');
                n = route_rewrite_path(api, "/api?q", 6, buf, sizeof(buf));
                CHECK(n == 3 && memcmp(buf, "/?q", 3) == 0);
                /* round robin alternates */
                CHECK(route_pick_target((Route *) api, NULL) != route_pick_target((Route *) api, NULL));
        }
        route_table_free(t);

        CHECK(!load("{\"routes\":[{\"name\":\"a b\",\"listen\":\"127.0.0.1:1\"}]}", err, sizeof(err)));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"localhost:1\"}]}", err, sizeof(err)));
        CHECK(strstr(err, "listen"));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"127.0.0.1:1\",\"targets\":[\"1.2.3.4\"]}]}",
                    err, sizeof(err)));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"127.0.0.1:1\",\"path\":\"x\"}]}", err,
                    sizeof(err)));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"127.0.0.1:1\",\"strip\":true}]}", err,
                    sizeof(err)));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"127.0.0.1:1\",\"host\":\"*x\"}]}", err,
                    sizeof(err)));
        CHECK(!load(
                "{\"routes\":[{\"name\":\"a\",\"listen\":\"127.0.0.1:1\"},{\"name\":\"a\",\"listen\":\"127.0.0.1:2\"}]}",
                err, sizeof(err)));
        CHECK(!load("{\"routes\":[{\"name\":\"a\",\"listen\":\"[::1]:70000\"}]}", err, sizeof(err)));
        CHECK((t = load(
                       "{\"routes\":[{\"name\":\"a\",\"listen\":\"[::1]:8080\",\"balance\":\"least-conn\"}]}",
                       err, sizeof(err))));
        route_table_free(t);
        printf("test-route-table: ok\n");
        return 0;
}
