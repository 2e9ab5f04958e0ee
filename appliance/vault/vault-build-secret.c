/* Build secrets (issue 15): per component, versioned like config values, each version one build_secrets row
 * sealed under the newest data key with ("build", project, component, key, version) as associated data, so
 * a ciphertext copied to another component, key or version does not open; vault_rotate() re-seals them.
 * Only the newest row of a key is kept (nothing pins an older one): a replaced value's ciphertext is gone. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-secret-db.h"
#include "macro.h"
#include "sqlite-util.h"
#include "vault-internal.h"
#include "vault-seal.h"
#include "vault.h"

int vault_seal_build_secret(const Vault *v, int64_t key_version, ModelBuildSecret *row, const void *data,
                            size_t size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        int r;

        r = vault_ad_build_secret(row->project_id, row->component_id, row->key, row->version, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_seal(v, key_version, ad, ad_size, data, size, VAULT_SLOT(row));
}

int vault_open_build_secret(const Vault *v, const ModelBuildSecret *row, uint8_t **ret_data,
                            size_t *ret_size) {
        _cleanup_free_ uint8_t *ad = NULL;
        uint8_t *m;
        size_t ad_size, n;
        int r;

        if (row->deleted || !row->key)
                return -EBADMSG;
        r = vault_ad_build_secret(row->project_id, row->component_id, row->key, row->version, &ad, &ad_size);
        if (r < 0)
                return r;
        r = vault_slot_open(v, row->key_version, ad, ad_size, row->nonce, row->nonce_size, row->ciphertext,
                            row->ciphertext_size, &m, &n);
        if (r < 0)
                return r;
        if (n != row->size) {
                vault_secret_free(m, n);
                return -EBADMSG;
        }
        *ret_data = m;
        *ret_size = n;
        return 0;
}

static int refuse(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int refuse(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

/* How many keys of the component have a current value, and whether key is one of them. */
static int count_current(sqlite3 *db, int64_t component_id, const char *key, size_t *ret_n, bool *ret_has) {
        ModelBuildSecret *rows = NULL;
        size_t n = 0;
        bool has = false;
        int r;

        r = model_build_secret_list(db, component_id, &rows, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                has = has || streq(rows[i].key, key);
        model_build_secrets_free(rows, n);
        *ret_n = n;
        *ret_has = has;
        return 0;
}

int vault_build_secret_set(Vault *v, sqlite3 *db, int64_t project_id, int64_t component_id, const char *key,
                           const void *data, size_t size, int64_t *ret_id, int64_t *ret_version,
                           char **ret_error) {
        ModelBuildSecret row = {};
        int64_t id = 0, version = 0;
        size_t n = 0;
        bool has = false;
        int r;

        if (!v || !db || project_id <= 0 || component_id <= 0 || !key || !key[0] || (!data && size > 0))
                return -EINVAL;
        if (size == 0)
                return refuse(ret_error, -EFBIG,
                              "The build secret %s is empty; a build secret holds at least one byte.", key);
        if (size > VAULT_VALUE_MAX)
                return refuse(ret_error, -EFBIG,
                              "The build secret %s is %zu bytes; a build secret may hold at most %u KiB.",
                              key, size, VAULT_VALUE_MAX / 1024U);

        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r < 0)
                goto out;
        r = count_current(db, component_id, key, &n, &has);
        if (r >= 0 && !has && n >= VAULT_BUILD_SECRETS_MAX)
                r = refuse(ret_error, -E2BIG,
                           "The component has %zu build secrets, the most a build mounts: unset one it no "
                           "longer needs before setting %s.",
                           n, key);
        if (r >= 0)
                r = model_build_secret_next_version(db, component_id, key, &version);
        if (r >= 0) {
                row = (ModelBuildSecret) {
                        .project_id = project_id,
                        .component_id = component_id,
                        .key = (char *) key,
                        .version = version,
                        .size = size,
                };
                r = vault_seal_build_secret(v, v->keys[v->n_keys - 1].version, &row, data, size);
        }
        if (r >= 0)
                r = model_build_secret_insert(db, &row, &id);
        if (r >= 0)
                r = model_build_secret_prune(db, component_id, key, version);
        r = sqlite_end(db, r);
out:
        pthread_rwlock_unlock(&v->lock);
        free(row.nonce);
        free(row.ciphertext);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        if (ret_version)
                *ret_version = version;
        return 0;
}

int vault_build_secret_unset(Vault *v, sqlite3 *db, int64_t project_id, int64_t component_id,
                             const char *key, int64_t *ret_version) {
        _cleanup_(model_build_secret_done) ModelBuildSecret cur = {};
        int64_t version = 0;
        int r;

        if (!v || !db || !key)
                return -EINVAL;
        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r < 0)
                goto out;
        r = model_build_secret_get(db, component_id, key, &cur);
        if (r >= 0 && cur.deleted)
                r = -ENOENT;
        if (r >= 0)
                r = model_build_secret_next_version(db, component_id, key, &version);
        if (r >= 0)
                r = model_build_secret_insert(db,
                                              &(ModelBuildSecret) {
                                                      .project_id = project_id,
                                                      .component_id = component_id,
                                                      .key = (char *) key,
                                                      .version = version,
                                                      .deleted = true,
                                              },
                                              NULL);
        if (r >= 0)
                r = model_build_secret_prune(db, component_id, key, version);
        r = sqlite_end(db, r);
out:
        pthread_rwlock_unlock(&v->lock);
        if (r < 0)
                return r;
        if (ret_version)
                *ret_version = version;
        return 0;
}

int vault_build_secrets_open(Vault *v, sqlite3 *db, int64_t component_id, VaultValue **ret, size_t *ret_n,
                             char **ret_error) {
        ModelBuildSecret *rows = NULL;
        VaultValue *vals = NULL;
        size_t n = 0, k = 0;
        int r;

        if (!v || !db || !ret || !ret_n)
                return -EINVAL;
        pthread_rwlock_rdlock(&v->lock);
        r = model_build_secret_list(db, component_id, &rows, &n);
        if (r >= 0 && n > 0) {
                vals = calloc(n, sizeof *vals);
                if (!vals)
                        r = -ENOMEM;
        }
        for (; r >= 0 && k < n; k++) {
                vals[k] = (VaultValue) {
                        .id = rows[k].id,
                        .component_id = component_id,
                        .version = rows[k].version,
                        .secret = true,
                        .key = strdup(rows[k].key),
                };
                if (!vals[k].key) {
                        r = -ENOMEM;
                        break;
                }
                r = vault_open_build_secret(v, &rows[k], &vals[k].data, &vals[k].size);
                if (r == -EBADMSG)
                        (void) refuse(ret_error, r,
                                      "The build secret %s cannot be decrypted: its ciphertext does not "
                                      "belong to this component, key and version (copied or damaged), or "
                                      "its key was lost; set it again with config set --build.",
                                      rows[k].key);
        }
        pthread_rwlock_unlock(&v->lock);
        model_build_secrets_free(rows, n);
        if (r < 0) {
                vault_values_free(vals, n); /* calloc'ed: the entries not reached are empty */
                return r;
        }
        *ret = vals;
        *ret_n = n;
        return 0;
}
