/* The value versions a release pins (release_values): the exact config_values rows it was deployed with,
 * so a rollback restores values as they were.  A pinned row is never deleted while its release exists. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One pinned value as `releases` shows it: never its content. */
typedef struct ModelReleaseValue {
        int64_t value_id;
        int64_t component_id; /* 0: project-wide */
        char *key;
        int64_t version;
        bool secret;
        bool is_file;
        char *file_path; /* NULL for an environment variable */
} ModelReleaseValue;

void model_release_value_done(ModelReleaseValue *v);
void model_release_values_free(ModelReleaseValue *v, size_t n);

/* Pins value_ids to release_id (duplicates are pinned once).  -ENOENT when a release or value is unknown. */
int model_release_values_pin(sqlite3 *db, int64_t release_id, const int64_t *value_ids, size_t n);
/* The value ids release_id pins, ascending (NULL and 0 when none). */
int model_release_value_ids(sqlite3 *db, int64_t release_id, int64_t **ret, size_t *ret_n);
/* The same with key, version and kind, by key. */
int model_release_value_list(sqlite3 *db, int64_t release_id, ModelReleaseValue **ret, size_t *ret_n);
/* How many of the value ids release_id pins no longer exist (0 while the release is kept: pinned rows are
 * never deleted; a database edited by hand could say otherwise). */
int model_release_values_missing(sqlite3 *db, int64_t release_id, unsigned *ret);

/* Deletes the value rows of environment_id that are not the newest version of their slot and that no
 * release pins; returns how many. */
int model_config_values_prune(sqlite3 *db, int64_t environment_id);
