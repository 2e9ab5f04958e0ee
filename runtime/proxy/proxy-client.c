/* Control-socket client and the text renderings the CLI prints. */
#include "proxy-client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "macro.h"

int proxy_control_call(const char *state_dir, json_t *req, json_t **ret_reply) {
        _cleanup_free_ char *path = path_join(state_dir, "proxy.sock"), *line = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        json_t *reply;
        size_t len = 0;
        int r;

        if (!path)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        line = json_dumps(req, JSON_COMPACT);
        if (!line)
                return -ENOMEM;
        r = loop_write(fd, line, strlen(line));
        if (r >= 0)
                r = loop_write(fd, "\n", 1);
        if (r < 0)
                return r;
        buf = malloc(PROXY_REPLY_MAX);
        if (!buf)
                return -ENOMEM;
        while (len < PROXY_REPLY_MAX) {
                ssize_t n = read(fd, buf + len, PROXY_REPLY_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        r = json_parse_buffer(buf, len, &reply, NULL);
        if (r < 0 || !json_is_object(reply)) {
                if (r >= 0)
                        json_decref(reply);
                return -EBADMSG;
        }
        *ret_reply = reply;
        return 0;
}

void proxy_print_routes(json_t *reply) {
        json_t *routes = json_object_get(reply, "routes"), *r;
        size_t i;

        printf("%-20s %-22s %-24s %-16s %s\n", "NAME", "LISTEN", "HOST", "PATH", "TARGETS");
        json_array_foreach(routes, i, r) {
                json_t *t, *targets = json_object_get(r, "targets");
                const char *host = json_string_value(json_object_get(r, "host"));
                char path[1100];
                size_t k;

                snprintf(path, sizeof(path), "%s%s", json_string_value(json_object_get(r, "path")),
                         json_is_true(json_object_get(r, "strip")) ? " (strip)" : "");
                printf("%-20s %-22s %-24s %-16s ", json_string_value(json_object_get(r, "name")),
                       json_string_value(json_object_get(r, "listen")), host ? host : "*", path);
                if (json_array_size(targets) == 0)
                        printf("(none)");
                json_array_foreach(targets, k, t)
                        printf("%s%s", k ? "," : "", json_string_value(t));
                printf("\n");
        }
}

static void print_counters(const char *indent, const char *label, json_t *o) {
        json_t *st = json_object_get(o, "status"), *lat = json_object_get(o, "latency_ms");

        printf("%s%-28s req %-8" JSON_INTEGER_FORMAT " 2xx %-7" JSON_INTEGER_FORMAT
               " 4xx %-5" JSON_INTEGER_FORMAT " 5xx %-5" JSON_INTEGER_FORMAT
               " in-flight %-4" JSON_INTEGER_FORMAT " tunnels %-4" JSON_INTEGER_FORMAT
               " p50/p90/p99 %.1f/%.1f/%.1f ms\n",
               indent, label, json_integer_value(json_object_get(o, "requests")),
               json_integer_value(json_object_get(st, "2xx")),
               json_integer_value(json_object_get(st, "4xx")),
               json_integer_value(json_object_get(st, "5xx")),
               json_integer_value(json_object_get(o, "in_flight")),
               json_integer_value(json_object_get(o, "tunnels")),
               json_real_value(json_object_get(lat, "p50")), json_real_value(json_object_get(lat, "p90")),
               json_real_value(json_object_get(lat, "p99")));
}

void proxy_print_stats(json_t *reply) {
        json_t *routes = json_object_get(reply, "routes"), *r;
        size_t i;

        json_array_foreach(routes, i, r) {
                json_t *t, *targets = json_object_get(r, "targets");
                size_t k;
                print_counters("", json_string_value(json_object_get(r, "name")), r);
                json_array_foreach(targets, k, t)
                        print_counters("  ", json_string_value(json_object_get(t, "address")), t);
        }
}
