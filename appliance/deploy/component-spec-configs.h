/* Spec fields beyond running the component: configurables, bake window, releases kept (the declarations
 * for callers are in component-spec.h; these are component-spec.c's hooks). */
#pragma once

#include <jansson.h>

#include "macro.h"

#include "component-spec.h"

/* Sets *ret_error (when ret_error is not NULL; the old value is not freed) to the formatted sentence and
 * returns -EINVAL: the one way the spec parsers and name checks refuse input (component-spec.c). */
int spec_fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);

void component_spec_extras_defaults(ComponentSpec *spec);
/* Reads "configs", "bake_ms" (null: the daemon's default), "bake_max_5xx_percent", "keep_releases". */
int component_spec_extras_from_json(json_t *j, ComponentSpec *spec, char **ret_error);
/* Writes them, every default explicit except bake_ms (null while it is the daemon's). */
int component_spec_extras_to_json(const ComponentSpec *spec, json_t *obj);
