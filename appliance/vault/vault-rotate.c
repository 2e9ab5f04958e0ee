/* Key rotation: a new data key version, every value re-sealed under it, the older versions retired (their
 * wrapped keys erased), all in one sqlite transaction, so a kill at any moment leaves the old or the new
 * state whole.  Afterwards the WAL is truncated so old ciphertexts and wrapped keys do not linger in it. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-secret-db.h"
#include "config-value-db.h"
#include "macro.h"
#include "sqlite-util.h"
#include "vault-db.h"
#include "vault-internal.h"
#include "vault.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* The rewrap of one kind of sealed row (config values, component secrets, registry passwords, build
 * secrets): every row of one old version is opened, re-sealed under new_version and stored.  A row that does
 * not open now did not open before either (copied from another slot, or damaged): it is left as it was. */
#define DEFINE_REWRAP(name, Type, list, open, seal, store, free_rows)                    \
        static int name(Vault *v, sqlite3 *db, int64_t old_version, int64_t new_version, \
                        VaultRotation *rot) {                                            \
                Type *rows = NULL;                                                       \
                size_t n = 0;                                                            \
                int r;                                                                   \
                                                                                         \
                r = list(db, old_version, &rows, &n);                                    \
                if (r < 0)                                                               \
                        return r;                                                        \
                for (size_t i = 0; i < n && r >= 0; i++) {                               \
                        uint8_t *data = NULL;                                            \
                        size_t size = 0;                                                 \
                                                                                         \
                        r = open(v, &rows[i], &data, &size);                             \
                        if (r == -EBADMSG) {                                             \
                                rot->unopenable++;                                       \
                                r = 0;                                                   \
                                continue;                                                \
                        }                                                                \
                        if (r < 0)                                                       \
                                break;                                                   \
                        r = seal(v, new_version, &rows[i], data, size);                  \
                        vault_secret_free(data, size);                                   \
                        if (r >= 0)                                                      \
                                r = store(db, &rows[i]);                                 \
                        if (r >= 0)                                                      \
                                rot->rewrapped++;                                        \
                }                                                                        \
                free_rows(rows, n);                                                      \
                return r;                                                                \
        }

static int config_value_store(sqlite3 *db, const ModelConfigValue *row) {
        return model_config_value_rewrap(db, row->id, row->key_version, row->nonce, row->nonce_size,
                                         row->ciphertext, row->ciphertext_size);
}

static int registry_store(sqlite3 *db, const ModelRegistry *row) {
        return model_registry_password_rewrap(db, row->id, row->key_version, row->nonce, row->nonce_size,
                                              row->ciphertext, row->ciphertext_size);
}

DEFINE_REWRAP(rewrap_config_values, ModelConfigValue, model_config_values_by_key_version, vault_open_row,
              vault_seal_row, config_value_store, model_config_values_free)
DEFINE_REWRAP(rewrap_component_secrets, ModelComponentSecret, model_component_secrets_by_key_version,
              vault_open_component_secret, vault_seal_component_secret, model_component_secret_put,
              model_component_secrets_free)
DEFINE_REWRAP(rewrap_registries, ModelRegistry, model_registries_by_key_version,
              vault_open_registry_password, vault_seal_registry_password, registry_store,
              model_registries_free)
DEFINE_REWRAP(rewrap_build_secrets, ModelBuildSecret, model_build_secrets_by_key_version,
              vault_open_build_secret, vault_seal_build_secret, model_build_secret_rewrap,
              model_build_secrets_free)

typedef int (*Rewrap)(Vault *v, sqlite3 *db, int64_t old_version, int64_t new_version, VaultRotation *rot);
static const Rewrap rewraps[] = {
        rewrap_config_values,
        rewrap_component_secrets,
        rewrap_registries,
        rewrap_build_secrets,
};

int vault_rewrap_retire(Vault *v, sqlite3 *db, int64_t new_version, const uint8_t *new_key,
                        VaultRotation *rot) {
        int r = 0;

        (void) new_key; /* found through vault_data_key(): the caller has put it into v->keys */
        for (size_t i = 0; i < v->n_keys && r >= 0; i++) {
                int64_t old = v->keys[i].version;

                if (old >= new_version)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(rewraps) && r >= 0; k++)
                        r = rewraps[k](v, db, old, new_version, rot);
                if (r >= 0)
                        r = model_vault_key_retire(db, old);
                if (r >= 0 && rot->n_retired < ELEMENTSOF(rot->retired_versions))
                        rot->retired_versions[rot->n_retired++] = old;
        }
        return r;
}

/* Keeps only the keys of version >= keep in v->keys (wiping the others). */
static void drop_keys_before(Vault *v, int64_t keep) {
        size_t k = 0;

        for (size_t i = 0; i < v->n_keys; i++) {
                if (v->keys[i].version < keep) {
                        sodium_free(v->keys[i].key);
                        continue;
                }
                v->keys[k++] = v->keys[i];
        }
        v->n_keys = k;
}

static bool checkpoint_truncate(sqlite3 *db) {
        int log = -1, done = -1;

        return sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) == SQLITE_OK;
}

int vault_finish_rotation(Vault *v, sqlite3 *db) {
        VaultRotation rot = {};
        int64_t newest = v->keys[v->n_keys - 1].version;
        int r;

        r = sqlite_begin(db);
        if (r >= 0)
                r = vault_rewrap_retire(v, db, newest, v->keys[v->n_keys - 1].key, &rot);
        r = sqlite_end(db, r);
        if (r < 0)
                return r;
        drop_keys_before(v, newest);
        (void) checkpoint_truncate(db);
        return 0;
}

int vault_rotate(Vault *v, sqlite3 *db, VaultRotation *ret) {
        _cleanup_free_ uint8_t *wrapped = NULL;
        VaultRotation rot = {};
        uint8_t nonce[VAULT_NONCE_SIZE];
        uint8_t *key = NULL;
        size_t wrapped_size;
        int64_t max_version = 0;
        uint64_t start = now_usec();
        VaultDataKey *grown;
        int r;

        pthread_rwlock_wrlock(&v->lock);
        r = sqlite_begin(db);
        if (r < 0)
                goto out;
        /* Retired versions keep their rows: the new one comes after every version ever made. */
        r = model_vault_key_max_version(db, &max_version);
        if (r < 0)
                goto end;
        rot.new_version = max_version + 1;
        r = vault_data_key_new(v, rot.new_version, &key, &wrapped, &wrapped_size, nonce);
        if (r < 0)
                goto end;
        r = model_vault_key_insert(db, rot.new_version, wrapped, wrapped_size, nonce, sizeof nonce);
        if (r < 0)
                goto end;
        grown = realloc(v->keys, (v->n_keys + 1) * sizeof *grown);
        if (!grown) {
                r = -ENOMEM;
                goto end;
        }
        v->keys = grown;
        v->keys[v->n_keys++] = (VaultDataKey) { .version = rot.new_version, .key = key };
        r = vault_rewrap_retire(v, db, rot.new_version, key, &rot);
end:
        r = sqlite_end(db, r);
        if (r < 0) {
                /* Nothing changed on disk: forget the new key. */
                if (v->n_keys > 0 && v->keys[v->n_keys - 1].key == key)
                        v->n_keys--;
                if (key)
                        sodium_free(key);
        } else
                drop_keys_before(v, rot.new_version);
out:
        pthread_rwlock_unlock(&v->lock);
        if (r < 0)
                return r;
        rot.checkpointed = checkpoint_truncate(db);
        rot.usec = now_usec() - start;
        if (ret)
                *ret = rot;
        return 0;
}
