/* The Vault: opening it (master key check, data keys unwrapped, first version made on first use), and
 * sealing and opening values.  Lock order everywhere: the Vault's rwlock first, then the database's
 * write lock (BEGIN IMMEDIATE), so a write and a rotation never deadlock and no value is ever sealed
 * under a version a concurrent rotation is retiring. */
#include "vault.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "environment-db.h"
#include "macro.h"
#include "sqlite-util.h"
#include "vault-db.h"
#include "vault-internal.h"
#include "vault-key.h"
#include "vault-seal.h"

static void secure_freep(uint8_t **p) {
        if (*p)
                sodium_free(*p);
        *p = NULL;
}
#define _cleanup_secure_ _cleanup_(secure_freep)

void vault_value_done(VaultValue *v) {
        if (!v)
                return;
        if (v->data) {
                sodium_memzero(v->data, v->size + 1);
                free(v->data);
        }
        free(v->key);
        free(v->file_path);
        *v = (VaultValue) {};
}

void vault_values_free(VaultValue *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                vault_value_done(&v[i]);
        free(v);
}

Vault *vault_free(Vault *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n_keys; i++)
                sodium_free(v->keys[i].key);
        free(v->keys);
        if (v->master)
                sodium_free(v->master);
        free(v->master_path);
        pthread_rwlock_destroy(&v->lock);
        free(v);
        return NULL;
}

const uint8_t *vault_data_key(const Vault *v, int64_t version) {
        for (size_t i = 0; i < v->n_keys; i++)
                if (v->keys[i].version == version)
                        return v->keys[i].key;
        return NULL;
}

int64_t vault_key_version(Vault *v) {
        int64_t version;

        pthread_rwlock_rdlock(&v->lock);
        version = v->n_keys > 0 ? v->keys[v->n_keys - 1].version : 0;
        pthread_rwlock_unlock(&v->lock);
        return version;
}

int vault_data_key_new(const Vault *v, int64_t version, uint8_t **ret_key, uint8_t **ret_wrapped,
                       size_t *ret_wrapped_size, uint8_t ret_nonce[static VAULT_NONCE_SIZE]) {
        _cleanup_secure_ uint8_t *key = NULL;
        uint8_t ad[VAULT_AD_KEY_SIZE];
        size_t ad_size;
        int r;

        key = sodium_malloc(VAULT_DATA_KEY_SIZE);
        if (!key)
                return -ENOMEM;
        crypto_aead_xchacha20poly1305_ietf_keygen(key);
        ad_size = vault_ad_key(version, ad);
        r = vault_aead_seal(v->master, ad, ad_size, key, VAULT_DATA_KEY_SIZE, ret_nonce, ret_wrapped,
                            ret_wrapped_size);
        if (r < 0)
                return r;
        *ret_key = TAKE_PTR(key);
        return 0;
}

static int data_key_unwrap(const Vault *v, const ModelVaultKey *k, uint8_t **ret) {
        _cleanup_secure_ uint8_t *key = NULL;
        uint8_t ad[VAULT_AD_KEY_SIZE];
        size_t ad_size, n;
        int r;

        if (!k->wrapped_key || k->wrapped_key_size != VAULT_DATA_KEY_SIZE + VAULT_TAG_SIZE)
                return -EBADMSG;
        key = sodium_malloc(VAULT_DATA_KEY_SIZE);
        if (!key)
                return -ENOMEM;
        ad_size = vault_ad_key(k->version, ad);
        r = vault_aead_open(v->master, ad, ad_size, k->nonce, k->nonce_size, k->wrapped_key,
                            k->wrapped_key_size, key, &n);
        if (r < 0)
                return r;
        if (n != VAULT_DATA_KEY_SIZE)
                return -EBADMSG;
        *ret = TAKE_PTR(key);
        return 0;
}

static void row_ad(const ModelConfigValue *row, VaultValueAd *ret) {
        *ret = (VaultValueAd) {
                .project_id = row->project_id,
                .environment_id = row->environment_id,
                .component_id = row->component_id,
                .key = row->key,
                .version = row->version,
                .secret = row->secret,
                .is_file = row->is_file,
                .file_path = row->file_path,
        };
}

int vault_slot_seal(const Vault *v, int64_t key_version, const uint8_t *ad, size_t ad_size, const void *data,
                    size_t size, VaultSlot s) {
        _cleanup_free_ uint8_t *nonce = NULL;
        const uint8_t *key = vault_data_key(v, key_version);
        uint8_t *c;
        size_t c_size;
        int r;

        if (!key)
                return -ENOKEY;
        nonce = malloc(VAULT_NONCE_SIZE);
        if (!nonce)
                return -ENOMEM;
        r = vault_aead_seal(key, ad, ad_size, data, size, nonce, &c, &c_size);
        if (r < 0)
                return r;
        free(*s.nonce);
        free(*s.ciphertext);
        *s.key_version = key_version;
        *s.nonce = TAKE_PTR(nonce);
        *s.nonce_size = VAULT_NONCE_SIZE;
        *s.ciphertext = c;
        *s.ciphertext_size = c_size;
        return 0;
}

int vault_slot_open(const Vault *v, int64_t key_version, const uint8_t *ad, size_t ad_size,
                    const uint8_t *nonce, size_t nonce_size, const uint8_t *ciphertext,
                    size_t ciphertext_size, uint8_t **ret_data, size_t *ret_size) {
        const uint8_t *key;
        size_t n, cap;
        uint8_t *m;
        int r;

        if (!ciphertext || ciphertext_size < VAULT_TAG_SIZE)
                return -EBADMSG;
        key = vault_data_key(v, key_version);
        if (!key)
                return -EBADMSG; /* sealed under a retired or unknown key */
        cap = ciphertext_size - VAULT_TAG_SIZE + 1;
        m = malloc(cap);
        if (!m)
                return -ENOMEM;
        r = vault_aead_open(key, ad, ad_size, nonce, nonce_size, ciphertext, ciphertext_size, m, &n);
        if (r < 0) {
                sodium_memzero(m, cap);
                free(m);
                return r;
        }
        m[n] = 0;
        *ret_data = m;
        *ret_size = n;
        return 0;
}

int vault_seal_row(const Vault *v, int64_t key_version, ModelConfigValue *row, const void *data,
                   size_t size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        VaultValueAd a;
        int r;

        row_ad(row, &a);
        r = vault_ad_value(&a, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_seal(v, key_version, ad, ad_size, data, size, VAULT_SLOT(row));
}

int vault_open_row(const Vault *v, const ModelConfigValue *row, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_free_ uint8_t *ad = NULL;
        uint8_t *m;
        size_t ad_size, n;
        VaultValueAd a;
        int r;

        if (row->deleted)
                return -EBADMSG;
        row_ad(row, &a);
        r = vault_ad_value(&a, &ad, &ad_size);
        if (r < 0)
                return r;
        r = vault_slot_open(v, row->key_version, ad, ad_size, row->nonce, row->nonce_size, row->ciphertext,
                            row->ciphertext_size, &m, &n);
        if (r < 0)
                return r;
        if (n != row->size) {
                sodium_memzero(m, n);
                free(m);
                return -EBADMSG;
        }
        *ret_data = m;
        *ret_size = n;
        return 0;
}

static int value_from_row(const Vault *v, const ModelConfigValue *row, bool open, VaultValue *ret) {
        _cleanup_(vault_value_done) VaultValue x = {
                .id = row->id,
                .component_id = row->component_id,
                .version = row->version,
                .secret = row->secret,
                .is_file = row->is_file,
        };
        int r;

        x.key = strdup(row->key);
        if (!x.key)
                return -ENOMEM;
        if (row->file_path) {
                x.file_path = strdup(row->file_path);
                if (!x.file_path)
                        return -ENOMEM;
        }
        if (open) {
                r = vault_open_row(v, row, &x.data, &x.size);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_STRUCT(x);
        return 0;
}

int vault_value_open(Vault *v, const ModelConfigValue *row, VaultValue *ret) {
        int r;

        pthread_rwlock_rdlock(&v->lock);
        r = value_from_row(v, row, true, ret);
        pthread_rwlock_unlock(&v->lock);
        return r;
}

/* "The value of KEY in ENV cannot be decrypted: …" for row. */
static int undecryptable(sqlite3 *db, const ModelConfigValue *row, int r, char **ret_error) {
        ModelEnvironment env = {};

        if (r != -EBADMSG || !ret_error)
                return r;
        (void) model_environment_get_by_id(db, row->environment_id, &env);
        if (asprintf(
                    ret_error,
                    "The value of %s in %s cannot be decrypted: its ciphertext does not belong to this slot "
                    "and version (copied or damaged), or its key was lost; set it again with config set.",
                    row->key, env.name ?: "this environment") < 0)
                *ret_error = NULL;
        model_environment_done(&env);
        return r;
}

/* The rows list() returns, and with ret_values the non-secret ones opened, all under the lock. */
static int list_values(Vault *v, sqlite3 *db, int64_t environment_id, int64_t component_id,
                       int (*list)(sqlite3 *, int64_t, int64_t, ModelConfigValue **, size_t *),
                       bool open_values, ModelConfigValue **ret_rows, VaultValue **ret_values, size_t *ret_n,
                       char **ret_error) {
        ModelConfigValue *rows = NULL;
        VaultValue *values = NULL;
        size_t n = 0;
        int r;

        pthread_rwlock_rdlock(&v->lock);
        r = list(db, environment_id, component_id, &rows, &n);
        if (r >= 0 && ret_values && n > 0) {
                values = calloc(n, sizeof *values);
                if (!values)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        r = value_from_row(v, &rows[i], open_values && !rows[i].secret, &values[i]);
                        if (r < 0)
                                r = undecryptable(db, &rows[i], r, ret_error);
                }
        }
        pthread_rwlock_unlock(&v->lock);
        if (r < 0) {
                vault_values_free(values, n);
                model_config_values_free(rows, n);
                return r;
        }
        *ret_rows = rows;
        if (ret_values)
                *ret_values = values;
        *ret_n = n;
        return 0;
}

int vault_slot_list(Vault *v, sqlite3 *db, int64_t environment_id, int64_t component_id, bool open_values,
                    ModelConfigValue **ret_rows, VaultValue **ret_values, size_t *ret_n, char **ret_error) {
        return list_values(v, db, environment_id, component_id, model_config_slot_list, open_values,
                           ret_rows, ret_values, ret_n, ret_error);
}

int vault_effective_list(Vault *v, sqlite3 *db, int64_t environment_id, int64_t component_id,
                         bool open_values, ModelConfigValue **ret_rows, VaultValue **ret_values,
                         size_t *ret_n, char **ret_error) {
        return list_values(v, db, environment_id, component_id, model_config_effective, open_values,
                           ret_rows, ret_values, ret_n, ret_error);
}

int vault_release_values(Vault *v, sqlite3 *db, int64_t release_id, VaultValue **ret, size_t *ret_n,
                         char **ret_error) {
        ModelConfigValue *rows = NULL;
        VaultValue *values = NULL;
        size_t n = 0, k = 0;
        int r;

        pthread_rwlock_rdlock(&v->lock);
        r = model_config_values_of_release(db, release_id, &rows, &n);
        if (r >= 0 && n > 0) {
                values = calloc(n, sizeof *values);
                if (!values)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        if (rows[i].deleted)
                                continue; /* an unset pins nothing */
                        r = value_from_row(v, &rows[i], true, &values[k]);
                        if (r < 0)
                                r = undecryptable(db, &rows[i], r, ret_error);
                        else
                                k++;
                }
        }
        pthread_rwlock_unlock(&v->lock);
        model_config_values_free(rows, n);
        if (r < 0) {
                vault_values_free(values, k);
                return r;
        }
        if (k == 0) {
                free(values);
                values = NULL;
        }
        *ret = values;
        *ret_n = k;
        return 0;
}

static int fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

int vault_value_set(Vault *v, sqlite3 *db, const VaultWrite *w, int64_t *ret_id, int64_t *ret_version,
                    char **ret_error) {
        struct {
                ModelConfigValue *rows;
                size_t n;
        } slot = {};
        ModelConfigValue cur = {}, row = {};
        uint64_t total;
        int64_t id, version;
        int r;

        assert(w && w->key && (!w->is_file || w->file_path) && (w->data || w->size == 0));
        if (w->size > VAULT_VALUE_MAX)
                return fail(ret_error, -EFBIG,
                            "The value of %s is %zu bytes; a value may hold at most %u KiB.", w->key,
                            w->size, VAULT_VALUE_MAX / 1024U);

        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r < 0)
                goto out;

        r = model_config_slot_get(db, w->environment_id, w->component_id, w->key, &cur);
        if (r == -ENOENT)
                r = 0;
        if (r < 0)
                goto end;
        r = model_config_env_total_size(db, w->environment_id, &total);
        if (r < 0)
                goto end;
        if (cur.id != 0 && !cur.deleted)
                total -= MIN(total, cur.size);
        if (total + w->size > VAULT_ENV_TOTAL_MAX) {
                r = fail(
                        ret_error, -EFBIG,
                        "With %s the values of this environment would hold %" PRIu64
                        " bytes; an environment (its project-wide and components' values together) may hold "
                        "at most %u MiB: unset values it no longer needs.",
                        w->key, total + w->size, VAULT_ENV_TOTAL_MAX / (1024U * 1024U));
                goto end;
        }
        if (w->is_file) {
                r = model_config_slot_list(db, w->environment_id, w->component_id, &slot.rows, &slot.n);
                if (r < 0)
                        goto end;
                for (size_t i = 0; i < slot.n; i++)
                        if (slot.rows[i].is_file && streq(slot.rows[i].file_path, w->file_path) &&
                            !streq(slot.rows[i].key, w->key)) {
                                r = fail(
                                        ret_error, -EEXIST,
                                        "%s is already mounted at %s here: unset it or choose another path.",
                                        slot.rows[i].key, w->file_path);
                                goto end;
                        }
        }

        r = model_config_next_version(db, w->environment_id, w->component_id, w->key, &version);
        if (r < 0)
                goto end;
        row = (ModelConfigValue) {
                .project_id = w->project_id,
                .environment_id = w->environment_id,
                .component_id = w->component_id,
                .key = (char *) w->key,
                .version = version,
                .is_file = w->is_file,
                .file_path = w->is_file ? (char *) w->file_path : NULL,
                .secret = w->secret,
                .size = w->size,
        };
        r = vault_seal_row(v, v->keys[v->n_keys - 1].version, &row, w->data, w->size);
        if (r < 0)
                goto end;
        r = model_config_value_insert(db, &row, &id);
end:
        r = sqlite_end(db, r);
out:
        pthread_rwlock_unlock(&v->lock);
        free(row.nonce);
        free(row.ciphertext);
        model_config_value_done(&cur);
        model_config_values_free(slot.rows, slot.n);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        if (ret_version)
                *ret_version = version;
        return 0;
}

int vault_value_unset(Vault *v, sqlite3 *db, int64_t project_id, int64_t environment_id,
                      int64_t component_id, const char *key, int64_t *ret_version) {
        ModelConfigValue cur = {};
        int64_t version = 0;
        int r;

        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r < 0)
                goto out;
        r = model_config_slot_get(db, environment_id, component_id, key, &cur);
        if (r >= 0 && cur.deleted)
                r = -ENOENT;
        if (r >= 0)
                r = model_config_next_version(db, environment_id, component_id, key, &version);
        if (r >= 0) {
                ModelConfigValue tomb = {
                        .project_id = project_id,
                        .environment_id = environment_id,
                        .component_id = component_id,
                        .key = (char *) key,
                        .version = version,
                        .is_file = cur.is_file,
                        .file_path = cur.file_path,
                        .secret = cur.secret,
                        .deleted = true,
                };
                r = model_config_value_insert(db, &tomb, NULL);
        }
        r = sqlite_end(db, r);
out:
        pthread_rwlock_unlock(&v->lock);
        model_config_value_done(&cur);
        if (r < 0)
                return r;
        if (ret_version)
                *ret_version = version;
        return 0;
}

/* First use: version 1 and the check value, in one transaction. */
static int vault_init_keys(Vault *v, sqlite3 *db, int64_t version, bool write_check) {
        _cleanup_free_ uint8_t *wrapped = NULL;
        uint8_t nonce[VAULT_NONCE_SIZE], check[VAULT_CHECK_SIZE];
        uint8_t *key = NULL;
        size_t wrapped_size;
        int r;

        r = vault_data_key_new(v, version, &key, &wrapped, &wrapped_size, nonce);
        if (r < 0)
                return r;
        r = sqlite_begin(db);
        if (r >= 0)
                r = model_vault_key_insert(db, version, wrapped, wrapped_size, nonce, sizeof nonce);
        if (r >= 0 && write_check) {
                vault_check_value(v->master, check);
                r = model_vault_meta_set(db, VAULT_META_CHECK, check, sizeof check);
        }
        r = sqlite_end(db, r);
        if (r < 0) {
                sodium_free(key);
                return r;
        }
        v->keys = malloc(sizeof *v->keys);
        if (!v->keys) {
                sodium_free(key);
                return -ENOMEM;
        }
        v->keys[0] = (VaultDataKey) { .version = version, .key = key };
        v->n_keys = 1;
        return 0;
}

int vault_open(sqlite3 *db, const char *state_dir, Vault **ret, char **ret_error) {
        _cleanup_(vault_freep) Vault *v = NULL;
        _cleanup_free_ uint8_t *check = NULL;
        ModelVaultKey *keys = NULL;
        uint8_t expected[VAULT_CHECK_SIZE];
        size_t n_keys = 0, check_size = 0;
        int64_t max_version = 0;
        int r;

        if (sodium_init() < 0)
                return fail(ret_error, -EIO, "libsodium cannot be initialised.");

        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        /* Writer first: a rotation must not wait behind an endless stream of reads (no path takes the read
         * lock twice, so this cannot deadlock). */
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        r = -pthread_rwlock_init(&v->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        if (r < 0) {
                free(TAKE_PTR(v));
                return r;
        }
        r = vault_master_key_path(state_dir, &v->master_path);
        if (r < 0)
                return r;
        r = vault_master_key_load(v->master_path, &v->master, ret_error);
        if (r < 0)
                return r;

        r = model_vault_keys_list(db, &keys, &n_keys);
        if (r < 0)
                return fail(ret_error, r, "The vault's keys cannot be read from the database: %s.",
                            strerror(-r));
        r = model_vault_meta_get(db, VAULT_META_CHECK, &check, &check_size);
        if (r < 0 && r != -ENOENT) {
                model_vault_keys_free(keys, n_keys);
                return fail(ret_error, r, "The vault's check value cannot be read from the database: %s.",
                            strerror(-r));
        }
        vault_check_value(v->master, expected);
        if (check &&
            (check_size != sizeof expected || sodium_memcmp(check, expected, sizeof expected) != 0)) {
                model_vault_keys_free(keys, n_keys);
                return fail(ret_error, -EKEYREJECTED,
                            "%s does not open this state directory's vault: restore the master key it was "
                            "created with, or point $CREDENTIALS_DIRECTORY at a directory holding it as "
                            "%s.",
                            v->master_path, VAULT_CREDENTIAL_NAME);
        }

        for (size_t i = 0; i < n_keys; i++) {
                uint8_t *key;

                max_version = MAX(max_version, keys[i].version);
                if (!keys[i].wrapped_key)
                        continue; /* retired */
                r = data_key_unwrap(v, &keys[i], &key);
                if (r < 0) {
                        int64_t version = keys[i].version;

                        model_vault_keys_free(keys, n_keys);
                        return fail(
                                ret_error, -EKEYREJECTED,
                                "%s does not open this state directory's vault (data key version %" PRId64
                                " does not unwrap): restore the master key it was created with, or point "
                                "$CREDENTIALS_DIRECTORY at a directory holding it as %s.",
                                v->master_path, version, VAULT_CREDENTIAL_NAME);
                }
                VaultDataKey *grown = realloc(v->keys, (v->n_keys + 1) * sizeof *grown);
                if (!grown) {
                        sodium_free(key);
                        model_vault_keys_free(keys, n_keys);
                        return -ENOMEM;
                }
                v->keys = grown;
                v->keys[v->n_keys++] = (VaultDataKey) { .version = keys[i].version, .key = key };
        }
        model_vault_keys_free(keys, n_keys);

        if (v->n_keys == 0) {
                /* First use (or every version retired, which no rotation leaves): a fresh version. */
                r = vault_init_keys(v, db, max_version + 1, !check);
                if (r < 0)
                        return fail(ret_error, r, "The vault's first key cannot be written: %s.",
                                    strerror(-r));
        } else if (!check) {
                r = model_vault_meta_set(db, VAULT_META_CHECK, expected, sizeof expected);
                if (r < 0)
                        return fail(ret_error, r, "The vault's check value cannot be written: %s.",
                                    strerror(-r));
        }

        if (v->n_keys > 1) {
                r = vault_finish_rotation(v, db);
                if (r < 0)
                        return fail(ret_error, r,
                                    "The vault's interrupted key rotation cannot be finished: %s.",
                                    strerror(-r));
        }

        *ret = TAKE_PTR(v);
        return 0;
}
