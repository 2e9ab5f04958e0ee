/* The vault's rows in slipway.db: vault_keys (one data key per version, wrapped by the master key; erased
 * once retired) and vault_meta (named blobs, e.g. the master key's check value).  The bytes are opaque
 * here; appliance/vault makes and opens them.  Rows are owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ModelVaultKey {
        int64_t version;
        uint8_t *wrapped_key; /* NULL once retired */
        size_t wrapped_key_size;
        uint8_t *nonce;
        size_t nonce_size;
        int64_t created_at;
        int64_t retired_at; /* 0 while in use */
} ModelVaultKey;

void model_vault_key_done(ModelVaultKey *k);
void model_vault_keys_free(ModelVaultKey *k, size_t n);

/* Every key version, retired ones included, oldest first. */
int model_vault_keys_list(sqlite3 *db, ModelVaultKey **ret, size_t *ret_n);
/* How many versions exist (retired ones included); 0 in a database from before the vault (no table). */
int model_vault_keys_count(sqlite3 *db, unsigned *ret);
/* The highest key version ever made, retired ones included (0 when none). */
int model_vault_key_max_version(sqlite3 *db, int64_t *ret);
/* A new version; -EEXIST when it exists. */
int model_vault_key_insert(sqlite3 *db, int64_t version, const uint8_t *wrapped_key, size_t wrapped_key_size,
                           const uint8_t *nonce, size_t nonce_size);
/* Erases a version's wrapped key and nonce and sets retired_at (once). */
int model_vault_key_retire(sqlite3 *db, int64_t version);

/* The blob named name; -ENOENT when there is none.  *ret is malloc'ed. */
int model_vault_meta_get(sqlite3 *db, const char *name, uint8_t **ret, size_t *ret_size);
int model_vault_meta_set(sqlite3 *db, const char *name, const uint8_t *value, size_t size);

/* A component_secrets row (issue 12): a per-component secret sealed by the vault. */
typedef struct ModelComponentSecret {
        int64_t component_id;
        char *name;
        int64_t key_version;
        uint8_t *nonce;
        size_t nonce_size;
        uint8_t *ciphertext;
        size_t ciphertext_size;
        int64_t set_at;
} ModelComponentSecret;

void model_component_secret_done(ModelComponentSecret *s);
void model_component_secrets_free(ModelComponentSecret *s, size_t n);

/* Inserts or replaces (component_id, name). */
int model_component_secret_put(sqlite3 *db, const ModelComponentSecret *s);
/* -ENOENT when there is none. */
int model_component_secret_get(sqlite3 *db, int64_t component_id, const char *name,
                               ModelComponentSecret *ret);
/* -ENOENT when there was none. */
int model_component_secret_delete(sqlite3 *db, int64_t component_id, const char *name);
/* Every row sealed under key_version (for rotation). */
int model_component_secrets_by_key_version(sqlite3 *db, int64_t key_version, ModelComponentSecret **ret,
                                           size_t *ret_n);
