/* What vault.c and vault-rotate.c share: the Vault itself.  Data keys live in sodium_malloc'ed memory;
 * `keys` holds every version not retired, oldest first, and the last one seals new values. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "build-secret-db.h"
#include "registry-db.h"
#include "vault-db.h"
#include "vault-seal.h"
#include "vault.h"

#define VAULT_META_CHECK "master-key-check"

typedef struct VaultDataKey {
        int64_t version;
        uint8_t *key; /* VAULT_DATA_KEY_SIZE bytes, sodium_malloc'ed */
} VaultDataKey;

struct Vault {
        pthread_rwlock_t lock; /* read: seal/open; write: rotation (changes keys) */
        uint8_t *master;       /* sodium_malloc'ed */
        char *master_path;
        VaultDataKey *keys;
        size_t n_keys;
};

/* The data key of version (caller holds the lock); NULL when retired or unknown. */
const uint8_t *vault_data_key(const Vault *v, int64_t version);
/* A fresh random data key in sodium_malloc'ed memory, and its wrapping under the master key for version. */
int vault_data_key_new(const Vault *v, int64_t version, uint8_t **ret_key, uint8_t **ret_wrapped,
                       size_t *ret_wrapped_size, uint8_t ret_nonce[static VAULT_NONCE_SIZE]);
/* The sealed columns of a row (a config value, a component secret, a registry password): every such row has
 * key_version, nonce and ciphertext with their sizes. */
typedef struct VaultSlot {
        int64_t *key_version;
        uint8_t **nonce, **ciphertext;
        size_t *nonce_size, *ciphertext_size;
} VaultSlot;
#define VAULT_SLOT(row)                                    \
        ((VaultSlot) { .key_version = &(row)->key_version, \
                       .nonce = &(row)->nonce,             \
                       .ciphertext = &(row)->ciphertext,   \
                       .nonce_size = &(row)->nonce_size,   \
                       .ciphertext_size = &(row)->ciphertext_size })

/* Seals data with associated data ad under the data key of key_version into slot s (the old nonce and
 * ciphertext freed, the new ones malloc'ed).  -ENOKEY for a retired or unknown version. */
int vault_slot_seal(const Vault *v, int64_t key_version, const uint8_t *ad, size_t ad_size, const void *data,
                    size_t size, VaultSlot s);
/* Opens ciphertext (with its nonce, under the data key of key_version, with ad) into a malloc'ed buffer of
 * one byte more, NUL-terminated; -EBADMSG when it does not open (the buffer wiped). */
int vault_slot_open(const Vault *v, int64_t key_version, const uint8_t *ad, size_t ad_size,
                    const uint8_t *nonce, size_t nonce_size, const uint8_t *ciphertext,
                    size_t ciphertext_size, uint8_t **ret_data, size_t *ret_size);

/* Seals data for row (its slot, version, flags) under the data key of key_version: fills row->key_version,
 * nonce and ciphertext (malloc'ed, the caller frees them). */
int vault_seal_row(const Vault *v, int64_t key_version, ModelConfigValue *row, const void *data,
                   size_t size);
/* Opens row under its key_version into a malloc'ed buffer of row->size + 1 bytes (NUL-terminated). */
int vault_open_row(const Vault *v, const ModelConfigValue *row, uint8_t **ret_data, size_t *ret_size);

/* Seals data as component secret row->(component_id, name) under the data key of key_version: fills
 * row->key_version, nonce and ciphertext (malloc'ed). */
int vault_seal_component_secret(const Vault *v, int64_t key_version, ModelComponentSecret *row,
                                const void *data, size_t size);
/* Opens it into a malloc'ed NUL-terminated buffer; -EBADMSG when it does not open. */
int vault_open_component_secret(const Vault *v, const ModelComponentSecret *row, uint8_t **ret_data,
                                size_t *ret_size);

/* Seals a registry's password as row->name under the data key of key_version: fills row->key_version, nonce
 * and ciphertext (malloc'ed).  Opens it into a malloc'ed NUL-terminated buffer; -EBADMSG when it does not. */
int vault_seal_registry_password(const Vault *v, int64_t key_version, ModelRegistry *row, const void *data,
                                 size_t size);
int vault_open_registry_password(const Vault *v, const ModelRegistry *row, uint8_t **ret_data,
                                 size_t *ret_size);

/* Seals data as build secret row->(project_id, component_id, key, version) under the data key of
 * key_version: fills row->key_version, nonce and ciphertext (malloc'ed).  Opens it into a malloc'ed
 * NUL-terminated buffer; -EBADMSG when it does not open there (or is a tombstone, or its size differs). */
int vault_seal_build_secret(const Vault *v, int64_t key_version, ModelBuildSecret *row, const void *data,
                            size_t size);
int vault_open_build_secret(const Vault *v, const ModelBuildSecret *row, uint8_t **ret_data,
                            size_t *ret_size);

/* Re-seals every row of the versions in keys[0 .. n_keys - 1] that are older than new_version under
 * new_key and retires them, inside the caller's transaction; counts into rot. */
int vault_rewrap_retire(Vault *v, sqlite3 *db, int64_t new_version, const uint8_t *new_key,
                        VaultRotation *rot);
/* vault_open(): a kill left several versions unretired: finish that rotation (write lock not needed: the
 * Vault is not shared yet). */
int vault_finish_rotation(Vault *v, sqlite3 *db);
