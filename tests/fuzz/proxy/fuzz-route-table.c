/* libFuzzer target for the proxy's route tables as it reads them: its persisted proxy/routes.json and the
 * routes of control requests, parsed with json_parse_buffer() (depth-bounded) and route_table_from_json().
 * A table that parses must print and parse back to the same routes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "route-table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *j = NULL, *out, *again_j;
        RouteTable *t = NULL, *again = NULL;
        char err[512];

        if (size > 1024 * 1024)
                return 0;
        if (json_parse_buffer((const char *) data, size, &j, NULL) < 0)
                return 0;
        err[0] = 0;
        if (route_table_from_json(j, &t, err, sizeof err) < 0) {
                json_decref(j);
                return 0;
        }
        out = route_table_to_json(t);
        if (!out)
                __builtin_trap();
        /* Through text, as the proxy persists it and reads it back at start. */
        char *text = json_dumps(out, JSON_COMPACT);
        if (!text || json_parse_buffer(text, strlen(text), &again_j, NULL) < 0 ||
            route_table_from_json(again_j, &again, err, sizeof err) < 0 || again->n_routes != t->n_routes)
                __builtin_trap();
        for (size_t i = 0; i < t->n_routes; i++)
                if (strcmp(t->routes[i].name, again->routes[i].name) != 0)
                        __builtin_trap();
        route_table_free(again);
        json_decref(again_j);
        free(text);
        json_decref(out);
        route_table_free(t);
        json_decref(j);
        return 0;
}
