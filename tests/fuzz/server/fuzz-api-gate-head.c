/* libFuzzer target: the API gate's head check must never crash or read out of bounds, and a head it
 * forwards must have an origin-form target inside the request target and presented a token of the set
 * (user admin, token "t"): with an empty set the same head is refused, but for a webhook delivery or a
 * read of the console's files. */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api-gate.h"
#include "http-token-set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static ApiGateAuth with, without;
        static int ready;
        GateHeadCheck c;
        size_t scan = 0;
        char *copy;
        int n;

        if (!ready) {
                HttpIdentity admin = { .token_id = 0, .user = "admin", .role = HTTP_ROLE_ADMIN };
                unsigned char hash[HTTP_TOKEN_HASH_SIZE];

                if (http_token_set_new(&with.tokens) < 0 || http_token_set_new(&without.tokens) < 0)
                        abort();
                http_token_hash("t", 1, hash);
                if (http_token_set_put(with.tokens, hash, &admin, 0) < 0)
                        abort();
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
                api_gate_check_head(copy, size, &with, 1700000000, &c);
                if (c.status == 0) {
                        assert(c.head_len == (size_t) n);
                        assert(c.origin_off >= c.target_off && c.origin_len <= c.target_len);
                        assert(c.origin_off + c.origin_len == c.target_off + c.target_len);
                        assert(c.origin_len > 0 && copy[c.origin_off] == '/');
                        /* it passed for token "t", so it must fail when no token is known, unless it is a
                         * webhook delivery or a read of the console's files ("/" or one plain name) */
                        bool hook = c.origin_len >= 7 && memcmp(copy + c.origin_off, "/hooks/", 7) == 0;
                        bool console =
                                c.origin_len == 1 ||
                                (c.origin_len > 9 && memcmp(copy + c.origin_off, "/console/", 9) == 0 &&
                                 !memchr(copy + c.origin_off, '?', c.origin_len) &&
                                 !memchr(copy + c.origin_off + 9, '/', c.origin_len - 9));
                        if (!hook && !console) {
                                api_gate_check_head(copy, size, &without, 1700000000, &c);
                                assert(c.status == 401); /* only webhooks and the console pass without one */
                        }
                } else
                        assert(c.status >= 400 && c.status < 600 && c.message[0] && c.hint);
        }
        free(copy);
        return 0;
}
