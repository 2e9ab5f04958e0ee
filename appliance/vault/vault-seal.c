/* Seal, open and associated data.  A length prefix per field keeps two different slots from ever giving
 * the same associated data ("AB" + "C" vs "A" + "BC"). */
#include "vault-seal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define VAULT_AD_VALUE_LABEL "slipway vault value v1"
#define VAULT_AD_KEY_LABEL "slipway vault data key v1"
#define VAULT_AD_COMPONENT_SECRET_LABEL "slipway vault component secret v1"
#define VAULT_AD_REGISTRY_LABEL "slipway vault registry password v1"
#define VAULT_AD_BUILD_SECRET_LABEL "slipway vault build secret v1"
#define VAULT_CHECK_LABEL "slipway vault master key check v1"

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static size_t put_bytes(uint8_t *p, const void *b, size_t n) {
        if (p) {
                put_le32(p, (uint32_t) n);
                memcpy(p + 4, b, n);
        }
        return 4 + n;
}

static size_t put_int(uint8_t *p, int64_t v) {
        uint8_t le[8];

        put_le64(le, (uint64_t) v);
        return put_bytes(p, le, sizeof le);
}

/* Writes the associated data into p (NULL: only counts); returns its size. */
static size_t ad_value_put(const VaultValueAd *ad, uint8_t *p) {
        const char *kind = ad->is_file ? "file" : "env";
        const char *path = ad->is_file && ad->file_path ? ad->file_path : "";
        size_t n = 0;

#define PUT(expr) n += (expr)
#define AT (p ? p + n : NULL)
        PUT(put_bytes(AT, VAULT_AD_VALUE_LABEL, strlen(VAULT_AD_VALUE_LABEL)));
        PUT(put_int(AT, ad->project_id));
        PUT(put_int(AT, ad->environment_id));
        PUT(put_int(AT, ad->component_id));
        PUT(put_bytes(AT, ad->key, strlen(ad->key)));
        PUT(put_int(AT, ad->version));
        PUT(put_int(AT, ad->secret));
        PUT(put_bytes(AT, kind, strlen(kind)));
        PUT(put_bytes(AT, path, strlen(path)));
#undef AT
#undef PUT
        return n;
}

int vault_ad_value(const VaultValueAd *ad, uint8_t **ret, size_t *ret_size) {
        size_t n = ad_value_put(ad, NULL);
        uint8_t *b = malloc(n);

        if (!b)
                return -ENOMEM;
        (void) ad_value_put(ad, b);
        *ret = b;
        *ret_size = n;
        return 0;
}

int vault_ad_component_secret(int64_t component_id, const char *name, uint8_t **ret, size_t *ret_size) {
        size_t n = 4 + strlen(VAULT_AD_COMPONENT_SECRET_LABEL) + 4 + 8 + 4 + strlen(name), k = 0;
        uint8_t *b = malloc(n);

        if (!b)
                return -ENOMEM;
        k += put_bytes(b + k, VAULT_AD_COMPONENT_SECRET_LABEL, strlen(VAULT_AD_COMPONENT_SECRET_LABEL));
        k += put_int(b + k, component_id);
        k += put_bytes(b + k, name, strlen(name));
        assert(k == n);
        *ret = b;
        *ret_size = n;
        return 0;
}

int vault_ad_registry(const char *name, uint8_t **ret, size_t *ret_size) {
        static const char kind[] = "registry";
        size_t n = 4 + strlen(VAULT_AD_REGISTRY_LABEL) + 4 + strlen(kind) + 4 + strlen(name), k = 0;
        uint8_t *b = malloc(n);

        if (!b)
                return -ENOMEM;
        k += put_bytes(b + k, VAULT_AD_REGISTRY_LABEL, strlen(VAULT_AD_REGISTRY_LABEL));
        k += put_bytes(b + k, kind, strlen(kind));
        k += put_bytes(b + k, name, strlen(name));
        assert(k == n);
        *ret = b;
        *ret_size = n;
        return 0;
}

int vault_ad_build_secret(int64_t project_id, int64_t component_id, const char *key, int64_t version,
                          uint8_t **ret, size_t *ret_size) {
        static const char kind[] = "build";
        size_t n = 4 + strlen(VAULT_AD_BUILD_SECRET_LABEL) + 4 + strlen(kind) + 3 * (4 + 8) + 4 +
                   strlen(key),
               k = 0;
        uint8_t *b = malloc(n);

        if (!b)
                return -ENOMEM;
        k += put_bytes(b + k, VAULT_AD_BUILD_SECRET_LABEL, strlen(VAULT_AD_BUILD_SECRET_LABEL));
        k += put_bytes(b + k, kind, strlen(kind));
        k += put_int(b + k, project_id);
        k += put_int(b + k, component_id);
        k += put_bytes(b + k, key, strlen(key));
        k += put_int(b + k, version);
        assert(k == n);
        *ret = b;
        *ret_size = n;
        return 0;
}

size_t vault_ad_key(int64_t version, uint8_t buf[static VAULT_AD_KEY_SIZE]) {
        size_t n = put_bytes(buf, VAULT_AD_KEY_LABEL, strlen(VAULT_AD_KEY_LABEL));

        return n + put_int(buf + n, version);
}

int vault_aead_seal(const uint8_t *key, const uint8_t *ad, size_t ad_size, const void *m, size_t size,
                    uint8_t ret_nonce[static VAULT_NONCE_SIZE], uint8_t **ret_c, size_t *ret_c_size) {
        unsigned long long clen;
        uint8_t *c;

        c = malloc(size + VAULT_TAG_SIZE);
        if (!c)
                return -ENOMEM;
        randombytes_buf(ret_nonce, VAULT_NONCE_SIZE);
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, size, ad, ad_size, NULL, ret_nonce,
                                                       key) != 0) {
                free(c);
                return -EBADMSG;
        }
        *ret_c = c;
        *ret_c_size = (size_t) clen;
        return 0;
}

int vault_aead_open(const uint8_t *key, const uint8_t *ad, size_t ad_size, const uint8_t *nonce,
                    size_t nonce_size, const uint8_t *c, size_t c_size, uint8_t *ret_m, size_t *ret_size) {
        unsigned long long mlen;

        if (!nonce || nonce_size != VAULT_NONCE_SIZE || !c || c_size < VAULT_TAG_SIZE)
                return -EBADMSG;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(ret_m, &mlen, NULL, c, c_size, ad, ad_size, nonce,
                                                       key) != 0)
                return -EBADMSG;
        *ret_size = (size_t) mlen;
        return 0;
}

void vault_check_value(const uint8_t *master_key, uint8_t ret[static VAULT_CHECK_SIZE]) {
        crypto_generichash(ret, VAULT_CHECK_SIZE, (const uint8_t *) VAULT_CHECK_LABEL,
                           strlen(VAULT_CHECK_LABEL), master_key, 32);
}
