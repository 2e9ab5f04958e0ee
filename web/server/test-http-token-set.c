/* Unit tests for the in-memory token set: lookups by hash, expiry, replacement and removal by id, Basic
 * with the owner's name only, the last-use stamp written back once per interval, and readers on other
 * threads while tokens come and go. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "http-token-set.h"

#include "tests.h"

#define NOW 1700000000

static void put(HttpTokenSet *s, const char *token, int64_t id, const char *user, HttpRole role, bool ro,
                int64_t expires_at) {
        HttpIdentity ident = { .token_id = id, .role = role, .read_only = ro, .expires_at = expires_at };
        unsigned char h[HTTP_TOKEN_HASH_SIZE];

        snprintf(ident.user, sizeof ident.user, "%s", user);
        http_token_hash(token, strlen(token), h);
        CHECK_OK(http_token_set_put(s, h, &ident, 0));
}

static int bearer(HttpTokenSet *s, const char *token, int64_t now, HttpIdentity *ret) {
        char header[256];

        snprintf(header, sizeof header, "Bearer %s", token);
        return http_token_set_check(s, header, strlen(header), false, now, ret);
}

static int basic(HttpTokenSet *s, const char *user, const char *token, HttpIdentity *ret) {
        char plain[256], header[512] = "Basic ";

        snprintf(plain, sizeof plain, "%s:%s", user, token);
        sodium_bin2base64(header + 6, sizeof header - 6, (const unsigned char *) plain, strlen(plain),
                          sodium_base64_VARIANT_ORIGINAL);
        return http_token_set_check(s, header, strlen(header), true, NOW, ret);
}

static void test_roles(void) {
        for (HttpRole r = 0; r < _HTTP_ROLE_MAX; r++)
                CHECK(http_role_from_string(http_role_to_string(r)) == r);
        CHECK(http_role_from_string("root") == _HTTP_ROLE_INVALID);
        CHECK(http_role_from_string(NULL) == _HTTP_ROLE_INVALID);
        CHECK(http_role_to_string(_HTTP_ROLE_MAX) == NULL);
}

static void test_lookup(void) {
        _cleanup_(http_token_set_freep) HttpTokenSet *s = NULL;
        HttpIdentity id;
        unsigned char h[HTTP_TOKEN_HASH_SIZE] = {};

        CHECK_OK(http_token_set_new(&s));
        CHECK(bearer(s, "anything", NOW, &id) == -ENOKEY);
        put(s, "admin-boot", HTTP_TOKEN_ADMIN_ID, "admin", HTTP_ROLE_ADMIN, false, 0);
        put(s, "ci", 3, "admin", HTTP_ROLE_ADMIN, true, NOW + 10);
        put(s, "dev", 4, "dev", HTTP_ROLE_DEVELOPER, false, 0);
        CHECK(http_token_set_size(s) == 3);

        CHECK_OK(bearer(s, "admin-boot", NOW, &id));
        CHECK(id.token_id == HTTP_TOKEN_ADMIN_ID && streq(id.user, "admin") && !id.read_only);
        CHECK_OK(bearer(s, "ci", NOW, &id));
        CHECK(id.token_id == 3 && id.read_only && id.role == HTTP_ROLE_ADMIN);
        CHECK_OK(bearer(s, "dev", NOW, &id));
        CHECK(id.token_id == 4 && streq(id.user, "dev") && id.role == HTTP_ROLE_DEVELOPER);
        /* near misses, other schemes, nothing */
        CHECK(bearer(s, "ci ", NOW, &id) == -ENOKEY);
        CHECK(bearer(s, "c", NOW, &id) == -ENOKEY);
        CHECK(bearer(s, "", NOW, &id) == -ENOKEY);
        CHECK(http_token_set_check(s, NULL, 0, true, NOW, &id) == -ENOKEY);
        CHECK(http_token_set_check(s, "Token ci", 8, true, NOW, &id) == -ENOKEY);
        CHECK(http_token_set_find(s, h, NOW, &id) == -ENOKEY);

        /* expiry: valid until the second it expires */
        CHECK_OK(bearer(s, "ci", NOW + 9, &id));
        CHECK(bearer(s, "ci", NOW + 10, &id) == -EKEYEXPIRED);
        CHECK(bearer(s, "ci", NOW + 1000, &id) == -EKEYEXPIRED);

        /* Basic: only with the owner's name, and only when allowed */
        CHECK_OK(basic(s, "dev", "dev", &id));
        CHECK(id.token_id == 4);
        CHECK(basic(s, "admin", "dev", &id) == -ENOKEY);
        CHECK(basic(s, "deV", "dev", &id) == -ENOKEY);
        CHECK(basic(s, "de", "dev", &id) == -ENOKEY);
        CHECK(basic(s, "dev", "dev2", &id) == -ENOKEY);
        CHECK(http_token_set_check(s, "Basic !!!", 9, true, NOW, &id) == -ENOKEY);
        CHECK(http_token_set_check(s, "Basic ZGV2", 10, true, NOW, &id) == -ENOKEY); /* "dev", no colon */
        {
                const char *h2 = "Basic ZGV2OmRldg=="; /* dev:dev */
                CHECK(http_token_set_check(s, h2, strlen(h2), false, NOW, &id) == -ENOKEY);
        }

        /* the same id replaces its entry (a new hash); removing makes it unknown at once */
        put(s, "ci-2", 3, "admin", HTTP_ROLE_ADMIN, false, 0);
        CHECK(http_token_set_size(s) == 3);
        CHECK(bearer(s, "ci", NOW, &id) == -ENOKEY);
        CHECK_OK(bearer(s, "ci-2", NOW, &id));
        CHECK(!id.read_only);
        CHECK_OK(http_token_set_remove(s, 3));
        CHECK(http_token_set_remove(s, 3) == -ENOENT);
        CHECK(bearer(s, "ci-2", NOW, &id) == -ENOKEY);
        CHECK_OK(bearer(s, "dev", NOW, &id));
        CHECK(http_token_set_size(s) == 2);

        /* bad entries */
        {
                HttpIdentity bad = { .token_id = 9, .role = _HTTP_ROLE_MAX, .user = "x" };
                CHECK(http_token_set_put(s, h, &bad, 0) == -EINVAL);
                bad.role = HTTP_ROLE_VIEWER;
                bad.user[0] = 0;
                CHECK(http_token_set_put(s, h, &bad, 0) == -EINVAL);
        }
}

static void test_touch(void) {
        _cleanup_(http_token_set_freep) HttpTokenSet *s = NULL;

        CHECK_OK(http_token_set_new(&s));
        put(s, "t", 5, "admin", HTTP_ROLE_ADMIN, false, 0);
        CHECK(http_token_set_touch(s, 5, NOW));  /* never used: due */
        CHECK(!http_token_set_touch(s, 5, NOW)); /* within the interval: not again */
        CHECK(!http_token_set_touch(s, 5, NOW + HTTP_TOKEN_TOUCH_INTERVAL_SEC - 1));
        CHECK(http_token_set_touch(s, 5, NOW + HTTP_TOKEN_TOUCH_INTERVAL_SEC));
        CHECK(!http_token_set_touch(s, 6, NOW)); /* unknown */
}

/* Readers on other threads while the main thread adds and removes tokens: every lookup of the token
 * that stays finds it, and none crashes (run under the sanitizers in the debug build). */
#define READERS 4
#define ROUNDS 2000

static HttpTokenSet *shared;
static int stop;

static void *reader(void *arg) {
        long misses = 0;

        (void) arg;
        while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
                HttpIdentity id;

                if (bearer(shared, "stays", NOW, &id) < 0 || id.token_id != 1)
                        misses++;
        }
        return (void *) misses;
}

static void test_threads(void) {
        pthread_t t[READERS];

        CHECK_OK(http_token_set_new(&shared));
        put(shared, "stays", 1, "admin", HTTP_ROLE_ADMIN, false, 0);
        for (int i = 0; i < READERS; i++)
                CHECK(pthread_create(&t[i], NULL, reader, NULL) == 0);
        for (int i = 0; i < ROUNDS; i++) {
                char tok[32];

                snprintf(tok, sizeof tok, "churn-%d", i);
                put(shared, tok, 100 + i, "admin", HTTP_ROLE_ADMIN, false, 0);
                if (i % 2 == 0)
                        CHECK_OK(http_token_set_remove(shared, 100 + i));
        }
        __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < READERS; i++) {
                void *misses;
                CHECK(pthread_join(t[i], &misses) == 0);
                CHECK(misses == NULL);
        }
        CHECK(http_token_set_size(shared) == 1 + ROUNDS / 2);
        shared = http_token_set_free(shared);
}

int main(void) {
        CHECK(sodium_init() >= 0);
        test_roles();
        test_lookup();
        test_touch();
        test_threads();
        printf("test-http-token-set: OK\n");
        return 0;
}
