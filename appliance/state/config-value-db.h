/* Config values in slipway.db: one row per write of a value to a slot (environment, component or 0 for
 * project-wide, key), versions 1, 2, … per slot; an unset is a tombstone row (deleted, no ciphertext).  Rows
 * hold only ciphertext: appliance/vault seals and opens them.  Rows are owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_CONFIG_KIND_ENV "env"
#define MODEL_CONFIG_KIND_FILE "file"

typedef struct ModelConfigValue {
        int64_t id, project_id, environment_id, component_id; /* component_id 0 = project-wide */
        char *key;
        int64_t version;
        bool is_file;
        char *file_path; /* NULL for env */
        bool secret, deleted;
        uint64_t size;       /* plaintext bytes */
        int64_t key_version; /* 0 for a tombstone */
        uint8_t *nonce;
        size_t nonce_size;
        uint8_t *ciphertext;
        size_t ciphertext_size;
        int64_t set_at;
} ModelConfigValue;

void model_config_value_done(ModelConfigValue *v);
void model_config_values_free(ModelConfigValue *v, size_t n);

/* Per key the newest version of the component's own slot, else of the project-wide slot (component 0:
 * project-wide only); keys whose newest version is a tombstone are absent; sorted by key.  A tombstone counts
 * per slot: a component's unset of KEY lets the project-wide KEY apply to it again. */
int model_config_effective(sqlite3 *db, int64_t environment_id, int64_t component_id, ModelConfigValue **ret,
                           size_t *ret_n);
int model_config_value_get(sqlite3 *db, int64_t id, ModelConfigValue *ret);

/* Per key the newest version of exactly one slot (component 0: the project-wide slot), tombstones left out,
 * sorted by key: what `config list` shows. */
int model_config_slot_list(sqlite3 *db, int64_t environment_id, int64_t component_id, ModelConfigValue **ret,
                           size_t *ret_n);
/* The newest version of (slot, key), a tombstone included; -ENOENT when the key was never set there. */
int model_config_slot_get(sqlite3 *db, int64_t environment_id, int64_t component_id, const char *key,
                          ModelConfigValue *ret);
/* The version the next write of (slot, key) gets: the slot's newest + 1, or 1. */
int model_config_next_version(sqlite3 *db, int64_t environment_id, int64_t component_id, const char *key,
                              int64_t *ret);
/* Bytes of the current (newest, not unset) values of every slot of an environment, project-wide and every
 * component's. */
int model_config_env_total_size(sqlite3 *db, int64_t environment_id, uint64_t *ret);
/* Inserts v as is (v->id and v->set_at are ignored; the caller picked v->version with
 * model_config_next_version() in the same transaction); -EEXIST when that version exists. */
int model_config_value_insert(sqlite3 *db, const ModelConfigValue *v, int64_t *ret_id);

/* The rows sealed under one data key version, by id; for rotation. */
int model_config_values_by_key_version(sqlite3 *db, int64_t key_version, ModelConfigValue **ret,
                                       size_t *ret_n);
/* How many rows are sealed under key_version. */
int model_config_count_by_key_version(sqlite3 *db, int64_t key_version, unsigned *ret);
/* Re-seals row id: its key_version, nonce and ciphertext are replaced. */
int model_config_value_rewrap(sqlite3 *db, int64_t id, int64_t key_version, const uint8_t *nonce,
                              size_t nonce_size, const uint8_t *ciphertext, size_t ciphertext_size);

/* The value rows release_id pinned (release_values), by key then component (project-wide first). */
int model_config_values_of_release(sqlite3 *db, int64_t release_id, ModelConfigValue **ret, size_t *ret_n);
