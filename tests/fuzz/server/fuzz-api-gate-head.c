/* libFuzzer target: the API gate's head check must never crash or read out of bounds, and a head it
 * forwards must have an origin-form target inside the request target and presented the token. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api-gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static unsigned char hash[HTTP_TOKEN_HASH_SIZE], other[HTTP_TOKEN_HASH_SIZE];
        static int ready;
        GateHeadCheck c;
        size_t scan = 0;
        char *copy;
        int n;

        if (!ready) {
                http_token_hash("t", 1, hash);
                http_token_hash("u", 1, other);
                ready = 1;
        }
        if (size > HTTP_HEAD_MAX + 64)
                return 0;
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        n = http_find_head_end(copy, size, &scan);
        if (n > 0) {
                api_gate_check_head(copy, size, hash, &c);
                if (c.status == 0) {
                        assert(c.head_len == (size_t) n);
                        assert(c.origin_off >= c.target_off && c.origin_len <= c.target_len);
                        assert(c.origin_off + c.origin_len == c.target_off + c.target_len);
                        assert(c.origin_len > 0 && copy[c.origin_off] == '/');
                        /* it passed for token "t", so it must fail for any other */
                        api_gate_check_head(copy, size, other, &c);
                        assert(c.status == 401);
                } else
                        assert(c.status >= 400 && c.status < 600 && c.message[0] && c.hint);
        }
        free(copy);
        return 0;
}
