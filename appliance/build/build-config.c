/* Config-only instructions → the OCI image config's "config" object (Docker's field names, as buildah and
 * BuildKit write them).  Invariant: only the stage state passed in is changed. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define EXPOSE_RANGE_MAX 1024U

static json_t *config_of(json_t *state) {
        json_t *c = json_object_get(state, "config");

        if (!json_is_object(c)) {
                c = json_object();
                json_object_set_new(state, "config", c);
        }
        return c;
}

static json_t *object_field(json_t *config, const char *key) {
        json_t *o = json_object_get(config, key);

        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(config, key, o);
        }
        return o;
}

/* The command of CMD/ENTRYPOINT/HEALTHCHECK: exec form as is, shell form wrapped in the stage's shell. */
static json_t *command_json(json_t *state, const DockerfileInstruction *i) {
        json_t *a = json_array(), *shell = json_object_get(state, "shell"), *v;
        size_t k;

        if (!a)
                return NULL;
        if (i->json_form) {
                for (size_t n = 0; n < i->n_argv; n++)
                        json_array_append_new(a, json_string(i->argv[n]));
                return a;
        }
        if (json_array_size(shell) > 0)
                json_array_foreach(shell, k, v)
                        json_array_append(a, v);
        else {
                json_array_append_new(a, json_string("/bin/sh"));
                json_array_append_new(a, json_string("-c"));
        }
        json_array_append_new(a, json_string(strempty(i->shell)));
        return a;
}

/* Joins and cleans an absolute path: "//a/./b/../c/" → "/a/c". */
static char *path_clean(const char *base, const char *p) {
        StrBuf out = {};
        _cleanup_free_ char *joined = NULL;
        char *save = NULL, *parts[256];
        size_t n = 0;

        if (asprintf(&joined, "%s/%s", p[0] == '/' ? "" : strempty(base), p) < 0)
                return NULL;
        for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        if (n > 0)
                                n--;
                        continue;
                }
                if (n < ELEMENTSOF(parts))
                        parts[n++] = c;
        }
        if (n == 0)
                strbuf_append_str(&out, "/");
        for (size_t k = 0; k < n; k++) {
                strbuf_append_char(&out, '/');
                strbuf_append_str(&out, parts[k]);
        }
        return strbuf_steal(&out);
}

static int expose(json_t *config, const char *spec) {
        json_t *ports = object_field(config, "ExposedPorts");
        _cleanup_free_ char *copy = strdup(spec);
        const char *proto = "tcp";
        char *slash, *dash, key[64];
        unsigned long first, last;

        if (!copy)
                return -ENOMEM;
        slash = strchr(copy, '/');
        if (slash) {
                *slash = '\0';
                proto = slash + 1;
        }
        dash = strchr(copy, '-');
        if (dash)
                *dash = '\0';
        first = strtoul(copy, NULL, 10);
        last = dash ? strtoul(dash + 1, NULL, 10) : first;
        if (first == 0 || last < first || last > 65535 || last - first >= EXPOSE_RANGE_MAX)
                return -EINVAL;
        for (unsigned long p = first; p <= last; p++) {
                snprintf(key, sizeof key, "%lu/%s", p, proto);
                json_object_set_new(ports, key, json_object());
        }
        return 0;
}

static json_t *healthcheck_json(json_t *state, const DockerfileInstruction *i) {
        const DockerfileHealthcheck *h = &i->healthcheck;
        json_t *hc = json_object(), *test;

        if (!hc)
                return NULL;
        if (h->none) {
                json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
                return hc;
        }
        test = json_array();
        if (i->json_form) {
                json_array_append_new(test, json_string("CMD"));
                for (size_t n = 0; n < i->n_argv; n++)
                        json_array_append_new(test, json_string(i->argv[n]));
        } else {
                json_array_append_new(test, json_string("CMD-SHELL"));
                json_array_append_new(test, json_string(strempty(i->shell)));
        }
        json_object_set_new(hc, "Test", test);
        if (h->interval_ns)
                json_object_set_new(hc, "Interval", json_integer((json_int_t) h->interval_ns));
        if (h->timeout_ns)
                json_object_set_new(hc, "Timeout", json_integer((json_int_t) h->timeout_ns));
        if (h->start_period_ns)
                json_object_set_new(hc, "StartPeriod", json_integer((json_int_t) h->start_period_ns));
        if (h->start_interval_ns)
                json_object_set_new(hc, "StartInterval", json_integer((json_int_t) h->start_interval_ns));
        if (h->retries >= 0)
                json_object_set_new(hc, "Retries", json_integer(h->retries));
        return hc;
}

int build_config_add_labels(json_t *state, char *const *labels) {
        json_t *l = labels && labels[0] ? object_field(config_of(state), "Labels") : NULL;

        for (size_t n = 0; l && labels[n]; n++) {
                const char *eq = strchr(labels[n], '=');
                _cleanup_free_ char *k = eq ? strndup(labels[n], (size_t) (eq - labels[n])) : NULL;
                if (!eq || !k || !k[0] || json_object_set_new(l, k, json_string(eq + 1)) < 0)
                        return eq ? -ENOMEM : -EINVAL;
        }
        return 0;
}

int build_config_apply(BuildContext *ctx, json_t *state, DockerfileScope *scope,
                       const DockerfileInstruction *i) {
        json_t *config = config_of(state), *a;
        char *const *env;
        int r;

        switch (i->kind) {
        case DOCKERFILE_ARG:
                return 0;
        case DOCKERFILE_ENV:
                a = json_array();
                env = dockerfile_scope_env(scope);
                for (size_t n = 0; env && env[n]; n++)
                        if (strchr(env[n], '='))
                                json_array_append_new(a, json_string(env[n]));
                json_object_set_new(config, "Env", a);
                return 0;
        case DOCKERFILE_LABEL: {
                json_t *labels = object_field(config, "Labels");
                for (size_t n = 0; n < i->n_pairs; n++)
                        json_object_set_new(labels, i->pairs[n].name,
                                            json_string(strempty(i->pairs[n].value)));
                return 0;
        }
        case DOCKERFILE_EXPOSE:
                for (size_t n = 0; n < i->n_argv; n++) {
                        r = expose(config, i->argv[n]);
                        if (r < 0)
                                return build_error(ctx, -EBADMSG, i, "Use PORT, PORT/PROTO or FIRST-LAST.",
                                                   "EXPOSE %s is not a valid port or range.", i->argv[n]);
                }
                return 0;
        case DOCKERFILE_WORKDIR: {
                _cleanup_free_ char *p = path_clean(
                        json_string_value(json_object_get(config, "WorkingDir")) ?: "/", strempty(i->shell));
                if (!p)
                        return -ENOMEM;
                json_object_set_new(config, "WorkingDir", json_string(p));
                return 0;
        }
        case DOCKERFILE_USER:
        case DOCKERFILE_STOPSIGNAL:
                json_object_set_new(config, i->kind == DOCKERFILE_USER ? "User" : "StopSignal",
                                    json_string(strempty(i->shell)));
                return 0;
        case DOCKERFILE_CMD:
                json_object_set_new(config, "Cmd", command_json(state, i));
                json_object_set_new(state, "cmdSet", json_true());
                return 0;
        case DOCKERFILE_ENTRYPOINT:
                json_object_set_new(config, "Entrypoint", command_json(state, i));
                /* Docker: an ENTRYPOINT resets a CMD that came from the base image. */
                if (!json_is_true(json_object_get(state, "cmdSet")))
                        json_object_del(config, "Cmd");
                return 0;
        case DOCKERFILE_VOLUME: {
                json_t *vols = object_field(config, "Volumes");
                for (size_t n = 0; n < i->n_argv; n++)
                        json_object_set_new(vols, i->argv[n], json_object());
                return 0;
        }
        case DOCKERFILE_HEALTHCHECK:
                json_object_set_new(config, "Healthcheck", healthcheck_json(state, i));
                return 0;
        case DOCKERFILE_SHELL:
                a = json_array();
                for (size_t n = 0; n < i->n_argv; n++)
                        json_array_append_new(a, json_string(i->argv[n]));
                json_object_set_new(state, "shell", a);
                return 0;
        case DOCKERFILE_ONBUILD: {
                json_t *ob = json_object_get(config, "OnBuild");
                if (!json_is_array(ob)) {
                        ob = json_array();
                        json_object_set_new(config, "OnBuild", ob);
                }
                json_array_append_new(ob, json_string(strempty(i->trigger)));
                return 0;
        }
        case DOCKERFILE_MAINTAINER:
                json_object_set_new(state, "author", json_string(strempty(i->shell)));
                return 0;
        default:
                return -EINVAL;
        }
}
