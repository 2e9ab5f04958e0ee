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
        _cleanup_free_ uint8_t *ad = NULL, *nonce = NULL;
        const uint8_t *key = vault_data_key(v, key_version);
        uint8_t *c;
        size_t ad_size, c_size;
        int r;

        if (!key)
                return -ENOKEY;
        r = vault_ad_registry(row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        nonce = malloc(VAULT_NONCE_SIZE);
        if (!nonce)
                return -ENOMEM;
        r = vault_aead_seal(key, ad, ad_size, data, size, nonce, &c, &c_size);
        if (r < 0)
                return r;
        free(row->nonce);
        free(row->ciphertext);
        row->key_version = key_version;
        row->nonce = TAKE_PTR(nonce);
        row->nonce_size = VAULT_NONCE_SIZE;
        row->ciphertext = c;
        row->ciphertext_size = c_size;
        return 0;
}

int vault_open_registry_password(const Vault *v, const ModelRegistry *row, uint8_t **ret_data,
                                 size_t *ret_size) {
        _cleanup_free_ uint8_t *ad = NULL;
        const uint8_t *key;
        size_t ad_size, n, cap;
        uint8_t *m;
        int r;

        if (!row->ciphertext || row->ciphertext_size < VAULT_TAG_SIZE || !row->name)
                return -EBADMSG;
        key = vault_data_key(v, row->key_version);
        if (!key)
                return -EBADMSG;
        r = vault_ad_registry(row->name, &ad, &ad_size);
        if (r < 0)
                return r;
        cap = row->ciphertext_size - VAULT_TAG_SIZE + 1;
        m = malloc(cap);
        if (!m)
                return -ENOMEM;
        r = vault_aead_open(key, ad, ad_size, row->nonce, row->nonce_size, row->ciphertext,
                            row->ciphertext_size, m, &n);
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
