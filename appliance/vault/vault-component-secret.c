/* Per-component secrets (issue 12): the webhook secret, the git HTTP token, the ssh deploy key.  Each is
 * one component_secrets row sealed under the newest data key with (component id, name) as associated
 * data, so a row copied to another component or name does not open; vault_rotate() re-seals them with
 * the values. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sqlite-util.h"
#include "vault-db.h"
#include "vault-internal.h"
#include "vault-seal.h"
#include "vault.h"

int vault_seal_component_secret(const Vault *v, int64_t key_version, ModelComponentSecret *row,
                                const void *data, size_t size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        int r;

        r = vault_ad_component_secret(row->component_id, row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_seal(v, key_version, ad, ad_size, data, size, VAULT_SLOT(row));
}

int vault_open_component_secret(const Vault *v, const ModelComponentSecret *row, uint8_t **ret_data,
                                size_t *ret_size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        int r;

        if (!row->name)
                return -EBADMSG;
        r = vault_ad_component_secret(row->component_id, row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_open(v, row->key_version, ad, ad_size, row->nonce, row->nonce_size,
                               row->ciphertext, row->ciphertext_size, ret_data, ret_size);
}

static bool name_ok(const char *name) {
        return name && name[0] && strlen(name) <= 64;
}

int vault_component_secret_set(Vault *v, sqlite3 *db, int64_t component_id, const char *name,
                               const void *data, size_t size) {
        ModelComponentSecret row = {
                .component_id = component_id,
                .name = (char *) name,
        };
        int r;

        if (!v || !db || component_id <= 0 || !name_ok(name))
                return -EINVAL;
        if (!data || size == 0 || size > VAULT_VALUE_MAX)
                return -EINVAL;
        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r >= 0) {
                r = vault_seal_component_secret(v, v->keys[v->n_keys - 1].version, &row, data, size);
                if (r >= 0)
                        r = model_component_secret_put(db, &row);
                r = sqlite_end(db, r);
        }
        pthread_rwlock_unlock(&v->lock);
        free(row.nonce);
        free(row.ciphertext);
        return r < 0 ? r : 0;
}

int vault_component_secret_get(Vault *v, sqlite3 *db, int64_t component_id, const char *name, uint8_t **ret,
                               size_t *ret_size) {
        ModelComponentSecret row = {};
        int r;

        if (!v || !db || !name_ok(name) || !ret || !ret_size)
                return -EINVAL;
        pthread_rwlock_rdlock(&v->lock);
        r = model_component_secret_get(db, component_id, name, &row);
        if (r >= 0)
                r = vault_open_component_secret(v, &row, ret, ret_size);
        pthread_rwlock_unlock(&v->lock);
        model_component_secret_done(&row);
        return r < 0 ? r : 0;
}

int vault_component_secret_unset(Vault *v, sqlite3 *db, int64_t component_id, const char *name) {
        int r;

        if (!v || !db || !name_ok(name))
                return -EINVAL;
        pthread_rwlock_rdlock(&v->lock);
        r = model_component_secret_delete(db, component_id, name);
        pthread_rwlock_unlock(&v->lock);
        return r < 0 ? r : 0;
}

void vault_secret_free(uint8_t *data, size_t size) {
        if (!data)
                return;
        sodium_memzero(data, size + 1); /* the NUL too: the buffer is size + 1 bytes */
        free(data);
}
