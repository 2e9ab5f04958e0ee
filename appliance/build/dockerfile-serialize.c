/* Canonical serialisation of a Dockerfile instruction for the build cache key.
 * Invariant: two instructions with the same meaning give the same bytes (sorted keys and flags; no
 * line numbers, case or whitespace of the source). */
#include "dockerfile-serialize.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"

static json_t *instruction_to_json(const DockerfileInstruction *i) {
        _cleanup_json_ json_t *o = NULL;
        json_t *a;

        o = json_object();
        if (!o || json_object_set_new(o, "kind", json_string(dockerfile_instruction_to_string(i->kind))) < 0)
                return NULL;
        if (i->n_flags > 0) {
                a = json_object();
                if (!a || json_object_set_new(o, "flags", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_flags; k++)
                        if (json_object_set_new(a, i->flags[k].name,
                                                i->flags[k].value ? json_string(i->flags[k].value)
                                                                  : json_null()) < 0)
                                return NULL;
        }
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
        if (i->n_pairs > 0) {
                a = json_array();
                if (!a || json_object_set_new(o, "pairs", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_pairs; k++)
                        if (json_array_append_new(
                                    a, json_pack("[s,s?]", i->pairs[k].name, i->pairs[k].value)) < 0)
                                return NULL;
        }
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
