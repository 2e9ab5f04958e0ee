/* Signature and token checks of hook-signature.h.  The expected MAC is never compared byte by byte with
 * early exit: sodium_memcmp() for HMACs, and for GitLab's token a comparison of the BLAKE2b hashes of both
 * values, so neither the secret's bytes nor (beyond hashing time) its length leak through timing. */
#include "hook-signature.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "macro.h"
#include "string-util.h"

#define GITHUB_SIGNATURE_HEADER "X-Hub-Signature-256"
#define GITHUB_SIGNATURE_PREFIX "sha256="
#define GITHUB_SHA1_HEADER "X-Hub-Signature"
#define GITEA_SIGNATURE_HEADER "X-Gitea-Signature"
#define FORGEJO_SIGNATURE_HEADER "X-Forgejo-Signature"
#define GITLAB_TOKEN_HEADER "X-Gitlab-Token"

#define SECRET_HINT "check that the webhook's secret is the one 'slipway webhook show' prints"

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hook_signature_from_hex(const char *hex, size_t len, unsigned char ret[HOOK_SIGNATURE_SIZE]) {
        unsigned char buf[HOOK_SIGNATURE_SIZE];

        if (!hex || len != HOOK_SIGNATURE_HEX_LEN)
                return -EBADMSG;
        for (size_t i = 0; i < HOOK_SIGNATURE_SIZE; i++) {
                int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                buf[i] = (unsigned char) (hi << 4 | lo);
        }
        memcpy(ret, buf, sizeof buf);
        return 0;
}

/* Checks value (the header's, "sha256=" stripped for GitHub) as the hex HMAC-SHA256 of body under secret. */
static int verify_hmac(const char *header, const char *value, const void *body, size_t body_size,
                       const char *secret, char **ret_error) {
        unsigned char expected[crypto_auth_hmacsha256_BYTES], got[HOOK_SIGNATURE_SIZE];
        crypto_auth_hmacsha256_state st;
        int r = 0;

        _Static_assert(crypto_auth_hmacsha256_BYTES == HOOK_SIGNATURE_SIZE, "HMAC-SHA256 is 32 bytes");
        if (hook_signature_from_hex(value, strlen(value), got) < 0)
                return errmsg_set(ret_error, -EACCES, "The %s header is not %s%u hex digits.", header,
                                  streq(header, GITHUB_SIGNATURE_HEADER) ? "'sha256=' and " : "",
                                  HOOK_SIGNATURE_HEX_LEN);
        crypto_auth_hmacsha256_init(&st, (const unsigned char *) secret, strlen(secret));
        crypto_auth_hmacsha256_update(&st, body, body_size);
        crypto_auth_hmacsha256_final(&st, expected);
        if (sodium_memcmp(expected, got, sizeof got) != 0)
                r = errmsg_set(ret_error, -EACCES, "The %s signature does not match the body; %s.", header,
                               SECRET_HINT);
        sodium_memzero(&st, sizeof st);
        sodium_memzero(expected, sizeof expected);
        return r;
}

static int verify_github(const HookHeaders *headers, const void *body, size_t body_size, const char *secret,
                         char **ret_error) {
        const char *v = hook_header(headers, GITHUB_SIGNATURE_HEADER);

        if (!v) {
                if (hook_header(headers, GITHUB_SHA1_HEADER))
                        return errmsg_set(
                                ret_error, -ENOKEY,
                                "The request is signed only with the SHA-1 " GITHUB_SHA1_HEADER
                                " header, which Slipway does not accept; it needs " GITHUB_SIGNATURE_HEADER
                                ", which GitHub sends when the "
                                "webhook has a secret.");
                return errmsg_set(ret_error, -ENOKEY,
                                  "The request has no " GITHUB_SIGNATURE_HEADER
                                  " header; set the webhook's secret to the one 'slipway webhook show' "
                                  "prints.");
        }
        if (!startswith(v, GITHUB_SIGNATURE_PREFIX))
                return errmsg_set(ret_error, -EACCES,
                                  "The " GITHUB_SIGNATURE_HEADER
                                  " header is not 'sha256=' and %u hex digits.",
                                  HOOK_SIGNATURE_HEX_LEN);
        return verify_hmac(GITHUB_SIGNATURE_HEADER, v + strlen(GITHUB_SIGNATURE_PREFIX), body, body_size,
                           secret, ret_error);
}

static int verify_gitea(const char *header, const HookHeaders *headers, const void *body, size_t body_size,
                        const char *secret, char **ret_error) {
        const char *v = hook_header(headers, header);

        if (!v)
                return errmsg_set(ret_error, -ENOKEY,
                                  "The request has no %s header; set the webhook's secret to the one "
                                  "'slipway webhook show' prints.",
                                  header);
        return verify_hmac(header, v, body, body_size, secret, ret_error);
}

static int verify_gitlab(const HookHeaders *headers, const char *secret, char **ret_error) {
        unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
        const char *v = hook_header(headers, GITLAB_TOKEN_HEADER);
        int r = 0;

        if (!v)
                return errmsg_set(ret_error, -ENOKEY,
                                  "The request has no " GITLAB_TOKEN_HEADER
                                  " header; set the webhook's secret token to the one 'slipway webhook "
                                  "show' prints.");
        crypto_generichash(a, sizeof a, (const unsigned char *) v, strlen(v), NULL, 0);
        crypto_generichash(b, sizeof b, (const unsigned char *) secret, strlen(secret), NULL, 0);
        if (sodium_memcmp(a, b, sizeof a) != 0)
                r = errmsg_set(ret_error, -EACCES, "The " GITLAB_TOKEN_HEADER " header is wrong; %s.",
                               SECRET_HINT);
        sodium_memzero(b, sizeof b);
        return r;
}

int hook_signature_verify(HookProvider provider, const HookHeaders *headers, const void *body,
                          size_t body_size, const char *secret, char **ret_error) {
        assert(headers && (body || body_size == 0));

        if (isempty(secret))
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;

        switch (provider) {
        case HOOK_PROVIDER_GITHUB:
                return verify_github(headers, body, body_size, secret, ret_error);
        case HOOK_PROVIDER_GITEA:
                return verify_gitea(GITEA_SIGNATURE_HEADER, headers, body, body_size, secret, ret_error);
        case HOOK_PROVIDER_FORGEJO:
                return verify_gitea(FORGEJO_SIGNATURE_HEADER, headers, body, body_size, secret, ret_error);
        case HOOK_PROVIDER_GITLAB:
                return verify_gitlab(headers, secret, ret_error);
        default:
                return errmsg_set(ret_error, -EPROTONOSUPPORT,
                                  "The webhook comes from a git server Slipway does not know.");
        }
}
