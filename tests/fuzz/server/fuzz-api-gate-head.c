/* libFuzzer target: the API gate's head check must never crash or read out of bounds, and a head it
 * forwards must have an origin-form target inside the request target and presented a token of the set
 * (user admin, token "t") or the cookie of a session of the session set ("a" x 64, CSRF token "c" x 64):
 * with empty sets the same head is refused, unless it is a webhook, the login or a console page.  A head the
 * gate takes as a blob read of its own (api_gate_blob_match) is a GET or HEAD under /v2/ with a valid digest
 * and a range that is one. */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api-gate-blob.h"
#include "api-gate.h"
#include "http-session.h"
#include "http-token-set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts(const char *t, size_t len, const char *prefix) {
        return len >= strlen(prefix) && memcmp(t, prefix, strlen(prefix)) == 0;
}

/* What may pass without credentials: webhooks, the login and the console's pages. */
static bool open_target(const char *t, size_t len) {
        return starts(t, len, "/hooks/") || starts(t, len, HTTP_SESSION_PATH) ||
               starts(t, len, "/console") || len == 1 || t[1] == '?';
}

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
                {
                        HttpSession sess = { .session_id = 1,
                                             .user = "admin",
                                             .role = HTTP_ROLE_ADMIN,
                                             .expires_at = 1800000000 };
                        char cookie[HTTP_SESSION_COOKIE_LEN + 1];

                        memset(cookie, 'a', HTTP_SESSION_COOKIE_LEN);
                        cookie[HTTP_SESSION_COOKIE_LEN] = 0;
                        memset(sess.csrf_token, 'c', HTTP_SESSION_CSRF_LEN);
                        if (http_session_set_new(0, &with.sessions) < 0 ||
                            http_session_set_new(0, &without.sessions) < 0)
                                abort();
                        http_token_hash(cookie, HTTP_SESSION_COOKIE_LEN, hash);
                        if (http_session_set_put(with.sessions, hash, &sess, 1700000000) < 0)
                                abort();
                }
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
                        {
                                GateBlobRequest b;

                                if (api_gate_blob_match(copy, size, &c, &b)) {
                                        assert(c.registry && digest_is_valid(b.digest));
                                        assert(starts(copy + c.origin_off, c.origin_len, "/v2/"));
                                        assert(!memchr(copy + c.origin_off, '?', c.origin_len));
                                        /* the digest ends the target, the method is the one asked */
                                        assert(c.origin_len > strlen(b.digest) &&
                                               memcmp(copy + c.origin_off + c.origin_len - strlen(b.digest),
                                                      b.digest, strlen(b.digest)) == 0);
                                        assert(starts(copy, size, b.head ? "HEAD " : "GET "));
                                }
                        }
                        /* it passed for token "t" or the session, so it must fail when none is known */
                        if (!open_target(copy + c.origin_off, c.origin_len)) {
                                api_gate_check_head(copy, size, &without, 1700000000, &c);
                                assert(c.status == 401);
                        }
                } else
                        assert(c.status >= 400 && c.status < 600 && c.message[0] && c.hint);
        }
        free(copy);
        return 0;
}
