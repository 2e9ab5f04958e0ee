/* Components in slipway.db: what a project deploys (an image reference and a JSON spec, see
 * component-spec.h), unique by name within the project.  Rows are owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ModelComponent {
        int64_t id;
        int64_t project_id;
        char *project_name;
        char *name;
        char *image_ref; /* NULL when none */
        char *spec;      /* JSON, see component-spec.h */
        int64_t created_at;
        char *source; /* JSON {"url","branch","dir","dockerfile","poll_sec"} of a git component, else NULL */
        bool autobuild, autodeploy; /* build on push; deploy finished builds to the first environment */
        int64_t builds_keep;        /* builds (with their logs) kept per component */
} ModelComponent;

void model_component_done(ModelComponent *c);
void model_components_free(ModelComponent *c, size_t n);

int model_component_create(sqlite3 *db, int64_t project_id, const char *name, const char *image_ref,
                           const char *spec_json, ModelComponent *ret); /* -EEXIST */
/* Replaces the image reference (NULL: none) and spec; releases keep the spec they were made with. */
int model_component_update(sqlite3 *db, int64_t id, const char *image_ref, const char *spec_json);
/* Issue 12: the git source (NULL: none, an image component). */
int model_component_set_source(sqlite3 *db, int64_t id, const char *source_json);
int model_component_set_autobuild(sqlite3 *db, int64_t id, bool on);
int model_component_set_autodeploy(sqlite3 *db, int64_t id, bool on);
int model_component_set_builds_keep(sqlite3 *db, int64_t id, int64_t keep);
/* Every component with a git source (for the poller), by id. */
int model_component_list_with_source(sqlite3 *db, ModelComponent **ret, size_t *ret_n);
int model_component_get(sqlite3 *db, int64_t project_id, const char *name, ModelComponent *ret);
int model_component_get_by_id(sqlite3 *db, int64_t id, ModelComponent *ret);
int model_component_list(sqlite3 *db, int64_t project_id, ModelComponent **ret, size_t *ret_n);
int model_component_count(sqlite3 *db, int64_t project_id, unsigned *ret);
/* Resolves "project" and "component" names in one go; -ENOENT with *ret_missing set to "project" or
 * "component" (static strings) saying which one is unknown. */
int model_component_lookup(sqlite3 *db, const char *project, const char *component, ModelComponent *ret,
                           const char **ret_missing);
