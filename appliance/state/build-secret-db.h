/* Build secrets in slipway.db (issue 15): what RUN --mount=type=secret,id=KEY gets in a pipeline build of a
 * component.  One row per write of a (component, key), versions 1, 2, …; an unset is a tombstone (deleted,
 * no ciphertext).  Rows hold only ciphertext: appliance/vault seals and opens them.  Owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ModelBuildSecret {
        int64_t id, project_id, component_id;
        char *key;
        int64_t version;
        bool deleted;
        uint64_t size;       /* plaintext bytes */
        int64_t key_version; /* 0 for a tombstone */
        uint8_t *nonce;
        size_t nonce_size;
        uint8_t *ciphertext;
        size_t ciphertext_size;
        int64_t set_at;
} ModelBuildSecret;

void model_build_secret_done(ModelBuildSecret *s);
void model_build_secrets_free(ModelBuildSecret *s, size_t n);

/* Per key the newest version of the component's build secrets, tombstones left out, sorted by key. */
int model_build_secret_list(sqlite3 *db, int64_t component_id, ModelBuildSecret **ret, size_t *ret_n);
/* The newest version of (component, key), a tombstone included; -ENOENT when never set. */
int model_build_secret_get(sqlite3 *db, int64_t component_id, const char *key, ModelBuildSecret *ret);
/* The version the next write of (component, key) gets: the newest + 1, or 1. */
int model_build_secret_next_version(sqlite3 *db, int64_t component_id, const char *key, int64_t *ret);
/* Inserts s as is (s->id and s->set_at are ignored); -EEXIST when that version exists. */
int model_build_secret_insert(sqlite3 *db, const ModelBuildSecret *s, int64_t *ret_id);
/* Deletes the versions of (component, key) older than version: nothing pins a build secret's old value
 * (a build mounts the current one), so a replaced or unset value's ciphertext does not stay behind. */
int model_build_secret_prune(sqlite3 *db, int64_t component_id, const char *key, int64_t version);
/* The rows sealed under one data key version, by id; for rotation. */
int model_build_secrets_by_key_version(sqlite3 *db, int64_t key_version, ModelBuildSecret **ret,
                                       size_t *ret_n);
/* Re-seals row s->id: its key_version, nonce and ciphertext are written. */
int model_build_secret_rewrap(sqlite3 *db, const ModelBuildSecret *s);
