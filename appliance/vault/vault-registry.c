/* Registry passwords (issue 13): each sealed into its registries row under the newest data key with
 * ("registry", NAME) as associated data, so a ciphertext copied to another registry does not open;
 * vault_rotate() re-seals them with the values and component secrets. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "registry-db.h"
#include "sqlite-util.h"
#include "vault-internal.h"
#include "vault-seal.h"
#include "vault.h"

int vault_seal_registry_password(const Vault *v, int64_t key_version, ModelRegistry *row, const void *data,
                                 size_t size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        int r;

        r = vault_ad_registry(row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_seal(v, key_version, ad, ad_size, data, size, VAULT_SLOT(row));
}

int vault_open_registry_password(const Vault *v, const ModelRegistry *row, uint8_t **ret_data,
                                 size_t *ret_size) {
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_size;
        int r;

        if (!row->name)
                return -EBADMSG;
        r = vault_ad_registry(row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        return vault_slot_open(v, row->key_version, ad, ad_size, row->nonce, row->nonce_size,
                               row->ciphertext, row->ciphertext_size, ret_data, ret_size);
}

int vault_registry_add(Vault *v, sqlite3 *db, const ModelRegistry *row, const void *password, size_t size) {
        ModelRegistry sealed = *row;
        int r;

        if (!v || !db || !row->name)
                return -EINVAL;
        if (password && (size == 0 || size > VAULT_REGISTRY_PASSWORD_MAX))
                return -EINVAL;
        sealed.nonce = sealed.ciphertext = NULL;
        sealed.nonce_size = sealed.ciphertext_size = 0;
        sealed.key_version = 0;
        pthread_rwlock_rdlock(&v->lock);
        r = sqlite_begin(db);
        if (r >= 0) {
                if (password)
                        r = vault_seal_registry_password(v, v->keys[v->n_keys - 1].version, &sealed,
                                                         password, size);
                if (r >= 0)
                        r = model_registry_insert(db, &sealed);
                r = sqlite_end(db, r);
        }
        pthread_rwlock_unlock(&v->lock);
        free(sealed.nonce);
        free(sealed.ciphertext);
        return r < 0 ? r : 0;
}

int vault_registry_password(Vault *v, const ModelRegistry *row, uint8_t **ret, size_t *ret_size) {
        int r;

        if (!v || !row || !ret || !ret_size)
                return -EINVAL;
        if (!row->ciphertext)
                return -ENOENT;
        pthread_rwlock_rdlock(&v->lock);
        r = vault_open_registry_password(v, row, ret, ret_size);
        pthread_rwlock_unlock(&v->lock);
        return r < 0 ? r : 0;
}
