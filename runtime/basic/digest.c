/* SHA-256 digests.  digest_is_valid() is the gate every digest from outside passes before it is
 * used as a path component: only "sha256:" and exactly 64 lowercase hex digits get through. */
#include "digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

void sha256_init(Sha256 *h) {
        (void) SHA256_Init(&h->state);
}

void sha256_update(Sha256 *h, const void *data, size_t size) {
        (void) SHA256_Update(&h->state, data, size);
}

void sha256_final(Sha256 *h, char out[static DIGEST_STRING_MAX]) {
        unsigned char bin[SHA256_DIGEST_LENGTH];

        (void) SHA256_Final(bin, &h->state);
        memcpy(out, "sha256:", 7);
        sodium_bin2hex(out + 7, DIGEST_HEX_LEN + 1, bin, sizeof bin);
}

void sha256_digest_string(const void *data, size_t size, char out[static DIGEST_STRING_MAX]) {
        Sha256 h;

        sha256_init(&h);
        sha256_update(&h, data, size);
        sha256_final(&h, out);
}

#define SHA256_FD_BUFFER (256U * 1024U)

int sha256_fd(int fd, char out[static DIGEST_STRING_MAX], uint64_t *ret_size) {
        _cleanup_free_ char *buf = malloc(SHA256_FD_BUFFER); /* off the stack: handler threads' are small */
        uint64_t total = 0;
        Sha256 h;

        if (!buf)
                return -ENOMEM;
        sha256_init(&h);
        for (;;) {
                ssize_t n = read_retry(fd, buf, SHA256_FD_BUFFER);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
                total += (uint64_t) n;
        }
        sha256_final(&h, out);
        if (ret_size)
                *ret_size = total;
        return 0;
}

bool digest_is_valid(const char *digest) {
        if (!digest || strncmp(digest, "sha256:", 7) != 0)
                return false;
        digest += 7;
        for (size_t i = 0; i < DIGEST_HEX_LEN; i++) {
                char c = digest[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
        }
        return digest[DIGEST_HEX_LEN] == 0;
}

const char *digest_hex(const char *digest) {
        return digest + 7;
}
