/* The parts of a component spec beyond running it: configurables ("configs"), the bake window ("bake_ms",
 * "bake_max_5xx_percent") and how many releases are kept ("keep_releases").  component-spec.c calls these
 * from component_spec_from_json()/_to_json(); the limits are in component-spec.h. */
#include "component-spec-configs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-names.h"
#include "json-util.h"

void component_spec_extras_defaults(ComponentSpec *spec) {
        spec->n_configs = 0;
        spec->bake_ms = SPEC_BAKE_DAEMON_DEFAULT;
        spec->bake_max_5xx_percent = SPEC_BAKE_MAX_5XX_PERCENT_DEFAULT;
        spec->keep_releases = SPEC_KEEP_RELEASES_DEFAULT;
}

static int check_config(const SpecConfig *c, char **ret_error) {
        int r = config_key_check(c->name, ret_error);
        if (r < 0)
                return r;
        if (c->file[0])
                return config_file_path_check(c->file, ret_error);
        return 0;
}

int spec_config_put(ComponentSpec *spec, const SpecConfig *c, char **ret_error) {
        size_t i;
        int r;

        r = check_config(c, ret_error);
        if (r < 0)
                return r;
        for (i = 0; i < spec->n_configs; i++)
                if (streq(spec->configs[i].name, c->name))
                        break;
        for (size_t k = 0; k < spec->n_configs; k++)
                if (k != i && c->file[0] && streq(spec->configs[k].file, c->file))
                        return spec_fail(ret_error, "Configurables %s and %s are both mounted at %s.",
                                         spec->configs[k].name, c->name, c->file);
        if (i == spec->n_configs) {
                if (spec->n_configs >= SPEC_CONFIGS_MAX)
                        return spec_fail(ret_error, "A component may declare at most %u configurables.",
                                         SPEC_CONFIGS_MAX);
                spec->n_configs++;
        }
        spec->configs[i] = *c;
        return 0;
}

const SpecConfig *component_spec_config(const ComponentSpec *spec, const char *name) {
        for (size_t i = 0; i < spec->n_configs; i++)
                if (streq(spec->configs[i].name, name))
                        return &spec->configs[i];
        return NULL;
}

int spec_config_parse(const char *s, SpecConfig *ret, char **ret_error) {
        SpecConfig c = {};
        const char *p, *colon;
        size_t n;
        int r;

        colon = strchr(s, ':');
        n = colon ? (size_t) (colon - s) : strlen(s);
        if (n == 0 || n >= sizeof c.name)
                return spec_fail(ret_error,
                                 "Configurable '%.80s' needs a name of 1 to %u bytes; use "
                                 "NAME[:secret][:optional][:file=PATH].",
                                 s, SPEC_CONFIG_NAME_MAX - 1);
        memcpy(c.name, s, n);
        for (p = colon; p; p = colon) {
                const char *word = p + 1;
                /* file=PATH is last: a path holds no ':' (config_file_path_check). */
                colon = strchr(word, ':');
                n = colon ? (size_t) (colon - word) : strlen(word);
                if (n == 6 && strncmp(word, "secret", 6) == 0)
                        c.secret = true;
                else if (n == 8 && strncmp(word, "optional", 8) == 0)
                        c.optional = true;
                else if (n > 5 && strncmp(word, "file=", 5) == 0) {
                        if (n - 5 >= sizeof c.file)
                                return spec_fail(ret_error,
                                                 "The file path of configurable %s is longer than %u bytes.",
                                                 c.name, SPEC_CONFIG_PATH_MAX - 1);
                        memcpy(c.file, word + 5, n - 5);
                } else
                        return spec_fail(
                                ret_error,
                                "Configurable '%.80s' has '%.*s'; use NAME[:secret][:optional][:file=PATH].",
                                s, (int) MIN(n, (size_t) 40), word);
        }
        r = check_config(&c, ret_error);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

static int configs_from_json(json_t *arr, ComponentSpec *spec, char **ret_error) {
        static const char *const keys[] = { "name", "secret", "optional", "file", NULL };
        size_t i;
        json_t *e;

        if (!json_is_array(arr))
                return spec_fail(ret_error, "'configs' must be an array.");
        if (json_array_size(arr) > SPEC_CONFIGS_MAX)
                return spec_fail(ret_error, "A component may declare at most %u configurables.",
                                 SPEC_CONFIGS_MAX);
        json_array_foreach(arr, i, e) {
                SpecConfig c = {};
                const char *name = NULL, *file = NULL, *k;
                json_t *v;
                int r;

                if (!json_is_object(e))
                        return spec_fail(ret_error, "Each configurable must be an object with a \"name\".");
                json_object_foreach(e, k, v) {
                        bool known = false;
                        for (const char *const *q = keys; *q; q++)
                                known = known || streq(*q, k);
                        if (!known)
                                return spec_fail(ret_error, "Unknown field '%.64s' in a configurable.", k);
                }
                if (json_get_string(e, "name", &name) < 0)
                        return spec_fail(ret_error, "Each configurable needs a \"name\" string.");
                if (strlen(name) >= sizeof c.name)
                        return spec_fail(ret_error,
                                         "The configurable name '%.40s…' is longer than %u bytes.", name,
                                         SPEC_CONFIG_NAME_MAX - 1);
                strcpy(c.name, name);
                v = json_object_get(e, "secret");
                if (v && !json_is_boolean(v))
                        return spec_fail(ret_error, "Configurable %s: \"secret\" must be true or false.",
                                         c.name);
                c.secret = json_is_true(v);
                v = json_object_get(e, "optional");
                if (v && !json_is_boolean(v))
                        return spec_fail(ret_error, "Configurable %s: \"optional\" must be true or false.",
                                         c.name);
                c.optional = json_is_true(v);
                v = json_object_get(e, "file");
                if (v && !json_is_null(v)) {
                        if (json_get_string(e, "file", &file) < 0)
                                return spec_fail(ret_error, "Configurable %s: \"file\" must be a path.",
                                                 c.name);
                        if (strlen(file) >= sizeof c.file)
                                return spec_fail(ret_error,
                                                 "The file path of configurable %s is longer than %u bytes.",
                                                 c.name, SPEC_CONFIG_PATH_MAX - 1);
                        strcpy(c.file, file);
                }
                if (component_spec_config(spec, c.name))
                        return spec_fail(ret_error, "Two configurables are named %s.", c.name);
                r = spec_config_put(spec, &c, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int component_spec_extras_from_json(json_t *j, ComponentSpec *spec, char **ret_error) {
        json_t *v;
        int r;

        component_spec_extras_defaults(spec);
        v = json_object_get(j, "configs");
        if (v && (r = configs_from_json(v, spec, ret_error)) < 0)
                return r;
        v = json_object_get(j, "bake_ms");
        if (v && !json_is_null(v)) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    json_integer_value(v) > (json_int_t) SPEC_BAKE_MS_MAX)
                        return spec_fail(ret_error,
                                         "'bake_ms' must be an integer between 0 and %u (24 hours).",
                                         SPEC_BAKE_MS_MAX);
                spec->bake_ms = (uint32_t) json_integer_value(v);
        }
        v = json_object_get(j, "bake_max_5xx_percent");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100)
                        return spec_fail(ret_error,
                                         "'bake_max_5xx_percent' must be an integer between 0 and 100.");
                spec->bake_max_5xx_percent = (uint32_t) json_integer_value(v);
        }
        v = json_object_get(j, "keep_releases");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                    json_integer_value(v) > (json_int_t) SPEC_KEEP_RELEASES_MAX)
                        return spec_fail(ret_error, "'keep_releases' must be an integer between 1 and %u.",
                                         SPEC_KEEP_RELEASES_MAX);
                spec->keep_releases = (uint32_t) json_integer_value(v);
        }
        return 0;
}

int component_spec_extras_to_json(const ComponentSpec *spec, json_t *obj) {
        json_t *arr = json_array();

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_configs; i++) {
                const SpecConfig *c = &spec->configs[i];
                json_t *e = json_pack("{s:s,s:b,s:b,s:s?}", "name", c->name, "secret", c->secret, "optional",
                                      c->optional, "file", c->file[0] ? c->file : NULL);
                if (!e || json_array_append_new(arr, e) < 0) {
                        json_decref(arr);
                        return -ENOMEM;
                }
        }
        if (json_object_set_new(obj, "configs", arr) < 0 ||
            json_object_set_new(obj, "bake_ms",
                                spec->bake_ms == SPEC_BAKE_DAEMON_DEFAULT
                                        ? json_null()
                                        : json_integer(spec->bake_ms)) < 0 ||
            json_object_set_new(obj, "bake_max_5xx_percent", json_integer(spec->bake_max_5xx_percent)) < 0 ||
            json_object_set_new(obj, "keep_releases", json_integer(spec->keep_releases)) < 0)
                return -ENOMEM;
        return 0;
}
