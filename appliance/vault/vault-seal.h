/* The vault's crypto, without state: XChaCha20-Poly1305 (IETF) seal/open with a fresh random nonce per
 * seal, the associated data that binds a value to its slot and version and a data key to its version,
 * and the master key's check value.  libsodium's -1 becomes -EBADMSG here. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_DATA_KEY_SIZE crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define VAULT_NONCE_SIZE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define VAULT_TAG_SIZE crypto_aead_xchacha20poly1305_ietf_ABYTES
#define VAULT_CHECK_SIZE 32U

/* Where a value lives: every field goes into its associated data. */
typedef struct VaultValueAd {
        int64_t project_id, environment_id, component_id;
        const char *key;
        int64_t version;
        bool secret, is_file;
        const char *file_path; /* NULL for env */
} VaultValueAd;

/* The associated data of a value: a domain label, then each field as a little-endian u32 length and its
 * bytes (integers as 8 little-endian bytes).  *ret is malloc'ed. */
int vault_ad_value(const VaultValueAd *ad, uint8_t **ret, size_t *ret_size);
/* The associated data of a component secret (issue 12): its own domain label, the component id and the
 * secret's name, length-prefixed like vault_ad_value().  *ret is malloc'ed. */
int vault_ad_component_secret(int64_t component_id, const char *name, uint8_t **ret, size_t *ret_size);
/* The associated data of a registry's password (issue 13): its own domain label and the registry's name
 * ("registry", NAME), length-prefixed like vault_ad_value().  *ret is malloc'ed. */
int vault_ad_registry(const char *name, uint8_t **ret, size_t *ret_size);
/* The associated data of a build secret (issue 15): its own domain label, then ("build", project id,
 * component id, key, version), length-prefixed like vault_ad_value().  *ret is malloc'ed. */
int vault_ad_build_secret(int64_t project_id, int64_t component_id, const char *key, int64_t version,
                          uint8_t **ret, size_t *ret_size);
/* The associated data of data key `version` (label + version), into buf of VAULT_AD_KEY_SIZE bytes. */
#define VAULT_AD_KEY_SIZE 64U
size_t vault_ad_key(int64_t version, uint8_t buf[static VAULT_AD_KEY_SIZE]);

/* Seals m under key with ad: a fresh nonce into ret_nonce, the ciphertext (size + VAULT_TAG_SIZE, malloc'ed)
 * into *ret_c. */
int vault_aead_seal(const uint8_t *key, const uint8_t *ad, size_t ad_size, const void *m, size_t size,
                    uint8_t ret_nonce[static VAULT_NONCE_SIZE], uint8_t **ret_c, size_t *ret_c_size);
/* Opens c into ret_m (at least c_size - VAULT_TAG_SIZE bytes); -EBADMSG when it does not open. */
int vault_aead_open(const uint8_t *key, const uint8_t *ad, size_t ad_size, const uint8_t *nonce,
                    size_t nonce_size, const uint8_t *c, size_t c_size, uint8_t *ret_m, size_t *ret_size);

/* The master key's check value: keyed BLAKE2b of a fixed label. */
void vault_check_value(const uint8_t *master_key, uint8_t ret[static VAULT_CHECK_SIZE]);
