/* Password hashing for http-password.h.  The stand-in hash for unknown users is made once, from a random
 * password nobody knows, so verifying against it costs what a real check costs. */
#include "http-password.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char dummy_hash[HTTP_PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

const char *http_password_problem(const char *pw, size_t len) {
        if (len < HTTP_PASSWORD_MIN)
                return "The password is too short: give at least 8 characters.";
        if (len > HTTP_PASSWORD_MAX)
                return "The password is too long: give at most 256 bytes.";
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) pw[i] < 0x20 || pw[i] == 0x7f)
                        return "The password contains a control character (a tab, a line end or similar).";
        return NULL;
}

int http_password_hash(const char *pw, size_t len, char ret[HTTP_PASSWORD_HASH_MAX]) {
        if (sodium_init() < 0)
                return -EIO;
        if (crypto_pwhash_str(ret, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
                return -ENOMEM; /* the only way it fails: no memory for the hash's work area */
        return 0;
}

static void dummy_make(void) {
        char pw[HTTP_PASSWORD_GENERATED_LEN + 1];

        http_password_generate(pw);
        if (http_password_hash(pw, strlen(pw), dummy_hash) < 0)
                dummy_hash[0] = 0;
        sodium_memzero(pw, sizeof pw);
}

bool http_password_verify(const char *hash, const char *pw, size_t len) {
        bool ok;

        (void) pthread_once(&dummy_once, dummy_make);
        if (!hash || !hash[0]) {
                if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, pw, len) == 0)
                        return false; /* nobody knows the stand-in's password: never reached */
                return false;
        }
        ok = crypto_pwhash_str_verify(hash, pw, len) == 0;
        return ok;
}

void http_password_generate(char ret[HTTP_PASSWORD_GENERATED_LEN + 1]) {
        unsigned char raw[HTTP_PASSWORD_GENERATED_BYTES];

        if (sodium_init() < 0)
                abort();
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(ret, HTTP_PASSWORD_GENERATED_LEN + 1, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof raw);
}
