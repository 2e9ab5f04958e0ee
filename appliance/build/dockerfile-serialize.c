/* Canonical serialisation of a Dockerfile instruction for the build cache key.
 * Invariant: two instructions with the same meaning give the same bytes (sorted keys and flags; no
 * line numbers, case or whitespace of the source). */
#include "dockerfile-serialize.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"

/* Flags as an object {"name": value or null}: their order means nothing and the canonical dump sorts the
 * keys. ENV/LABEL/ARG pairs (ordered) as an array of [name, value or null], as written: a later ENV may use
 * an earlier one. NULL when out of memory. */
static json_t *name_values_to_json(const DockerfileNameValue *a, size_t n, bool ordered) {
        _cleanup_json_ json_t *j = ordered ? json_array() : json_object();

        if (!j)
                return NULL;
        for (size_t k = 0; k < n; k++) {
                json_t *prev = ordered ? NULL : json_object_get(j, a[k].name);
                int r;

                /* A repeatable flag (RUN --mount) becomes an array of its values in the order written. */
                if (prev && !json_is_array(prev)) {
                        json_t *l = json_pack("[O]", prev);

                        if (!l || json_object_set_new(j, a[k].name, l) < 0)
                                return NULL;
                        prev = l;
                }
                if (ordered)
                        r = json_array_append_new(j, json_pack("[s,s?]", a[k].name, a[k].value));
                else if (prev)
                        r = json_array_append_new(prev, a[k].value ? json_string(a[k].value) : json_null());
                else
                        r = json_object_set_new(j, a[k].name,
                                                a[k].value ? json_string(a[k].value) : json_null());
                if (r < 0)
                        return NULL;
        }
        return TAKE_PTR(j);
}

static json_t *instruction_to_json(const DockerfileInstruction *i) {
        _cleanup_json_ json_t *o = NULL;
        json_t *a;

        o = json_object();
        if (!o || json_object_set_new(o, "kind", json_string(dockerfile_instruction_to_string(i->kind))) < 0)
                return NULL;
        if (i->n_flags > 0 &&
            json_object_set_new(o, "flags", name_values_to_json(i->flags, i->n_flags, false)) < 0)
                return NULL;
        if (i->n_argv > 0 || i->json_form) {
                a = json_array();
                if (!a || json_object_set_new(o, i->json_form ? "exec" : "args", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_argv; k++)
                        if (json_array_append_new(a, json_string(i->argv[k])) < 0)
                                return NULL;
        }
        if (i->shell && json_object_set_new(o, "shell", json_string(i->shell)) < 0)
                return NULL;
        if (i->n_pairs > 0 &&
            json_object_set_new(o, "pairs", name_values_to_json(i->pairs, i->n_pairs, true)) < 0)
                return NULL;
        if (i->stage_name && json_object_set_new(o, "as", json_string(i->stage_name)) < 0)
                return NULL;
        if (i->kind == DOCKERFILE_HEALTHCHECK &&
            json_object_set_new(o, "healthcheck",
                                json_pack("{s:b,s:I,s:I,s:I,s:I,s:i}", "none", i->healthcheck.none,
                                          "interval", (json_int_t) i->healthcheck.interval_ns, "timeout",
                                          (json_int_t) i->healthcheck.timeout_ns, "start_period",
                                          (json_int_t) i->healthcheck.start_period_ns, "start_interval",
                                          (json_int_t) i->healthcheck.start_interval_ns, "retries",
                                          i->healthcheck.retries)) < 0)
                return NULL;
        if (i->onbuild) {
                a = instruction_to_json(i->onbuild);
                if (!a || json_object_set_new(o, "trigger", a) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

int dockerfile_instruction_serialize(const DockerfileInstruction *i, char **ret) {
        _cleanup_json_ json_t *j = NULL;
        char *s;

        j = instruction_to_json(i);
        if (!j)
                return -ENOMEM;
        s = json_dump_canonical(j);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
