/* Unit tests of console sessions (http-session.h, http-session-set.h) and the login throttle: the cookie
 * is found among others and only in its exact shape; a write needs the session's CSRF token and the
 * daemon's own origin; sessions end when idle, at their end, when removed; the throttle lets 5 failures
 * through per user name and per address, then says how long to wait. */
#include <string.h>

#include "http-login-throttle.h"
#include "http-session.h"
#include "macro.h"

#include "tests.h"

#define NOW 1700000000

static const char cookie_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char csrf_c[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

static HttpSessionHeaders headers(const char *method, const char *cookie, const char *csrf,
                                  const char *origin, const char *host, const char *proto) {
        return (HttpSessionHeaders) {
                .method = method,
                .method_len = strlen(method),
                .cookie = cookie,
                .cookie_len = cookie ? strlen(cookie) : 0,
                .csrf = csrf,
                .csrf_len = csrf ? strlen(csrf) : 0,
                .origin = origin,
                .origin_len = origin ? strlen(origin) : 0,
                .host = host,
                .host_len = host ? strlen(host) : 0,
                .forwarded_proto = proto,
                .forwarded_proto_len = proto ? strlen(proto) : 0,
        };
}

static void test_cookie_find(void) {
        const char *v;
        char buf[256];

        snprintf(buf, sizeof buf, "theme=dark; slipway_session=%s; x=1", cookie_a);
        CHECK(http_session_cookie_find(buf, strlen(buf), &v) && memcmp(v, cookie_a, 64) == 0);
        snprintf(buf, sizeof buf, "slipway_session=%s", cookie_a);
        CHECK(http_session_cookie_find(buf, strlen(buf), &v));
        /* a prefix of the name, a short, long or upper-case value, or none: not a session cookie */
        snprintf(buf, sizeof buf, "xslipway_session=%s", cookie_a);
        CHECK(!http_session_cookie_find(buf, strlen(buf), &v));
        snprintf(buf, sizeof buf, "slipway_session=%.63s", cookie_a);
        CHECK(!http_session_cookie_find(buf, strlen(buf), &v));
        snprintf(buf, sizeof buf, "slipway_session=%sa", cookie_a);
        CHECK(!http_session_cookie_find(buf, strlen(buf), &v));
        CHECK(!http_session_cookie_find("slipway_session=AAAA", 20, &v));
        CHECK(!http_session_cookie_find(NULL, 0, &v));
        /* the length bounds the search: the cookie past it is not seen */
        snprintf(buf, sizeof buf, "a=b; slipway_session=%s", cookie_a);
        CHECK(!http_session_cookie_find(buf, 10, &v));
}

static void test_origin(void) {
        HttpSessionHeaders h = headers("POST", NULL, NULL, NULL, "127.0.0.1:7070", NULL);

        CHECK(http_session_origin_ok(&h)); /* none named */
        h = headers("POST", NULL, NULL, "http://127.0.0.1:7070", "127.0.0.1:7070", NULL);
        CHECK(http_session_origin_ok(&h));
        h = headers("POST", NULL, NULL, "http://evil.example", "127.0.0.1:7070", NULL);
        CHECK(!http_session_origin_ok(&h));
        h = headers("POST", NULL, NULL, "http://127.0.0.1:7071", "127.0.0.1:7070", NULL);
        CHECK(!http_session_origin_ok(&h));
        h = headers("POST", NULL, NULL, "null", "127.0.0.1:7070", NULL);
        CHECK(!http_session_origin_ok(&h));
        h = headers("POST", NULL, NULL, "https://ci.example", "ci.example", NULL);
        CHECK(!http_session_origin_ok(&h)); /* https without the proxy saying so */
        h = headers("POST", NULL, NULL, "https://ci.example", "ci.example:443", "https");
        CHECK(http_session_origin_ok(&h) && http_session_https(&h));
        h = headers("POST", NULL, NULL, "http://127.0.0.1:7070.evil", "127.0.0.1:7070", NULL);
        CHECK(!http_session_origin_ok(&h));
}

static void test_check(void) {
        _cleanup_(http_session_set_freep) HttpSessionSet *set = NULL;
        HttpSession sess = { .session_id = 7,
                             .user = "alice",
                             .role = HTTP_ROLE_DEVELOPER,
                             .expires_at = NOW + 100 },
                    got;
        unsigned char hash[HTTP_TOKEN_HASH_SIZE];
        char cookie[128];
        HttpSessionHeaders h;

        CHECK(http_session_set_new(10, &set) == 0);
        memcpy(sess.csrf_token, csrf_c, sizeof csrf_c);
        http_token_hash(cookie_a, 64, hash);
        CHECK(http_session_set_put(set, hash, &sess, NOW) == 0);
        snprintf(cookie, sizeof cookie, "slipway_session=%s", cookie_a);

        h = headers("GET", cookie, NULL, "http://evil.example", "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == 0 && got.session_id == 7 &&
              streq(got.user, "alice"));
        h = headers("POST", cookie, NULL, NULL, "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == -EPERM);
        h = headers("POST", cookie, "cccc", NULL, "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == -EPERM);
        h = headers("DELETE", cookie, csrf_c, "http://evil.example", "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == -EPERM);
        h = headers("DELETE", cookie, csrf_c, "http://h", "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == 0);
        h = headers("PUT", cookie, csrf_c, NULL, "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 2, &got) == 0);

        /* idle: each use moves it on; 10 s unused ends it */
        h = headers("GET", cookie, NULL, NULL, "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 11, &got) == 0);
        CHECK(http_session_check(set, &h, NOW + 21, &got) == -EKEYEXPIRED);
        /* the absolute end, however busy */
        CHECK(http_session_set_put(set, hash, &sess, NOW + 95) == 0);
        CHECK(http_session_check(set, &h, NOW + 99, &got) == 0);
        CHECK(http_session_check(set, &h, NOW + 100, &got) == -EKEYEXPIRED);
        /* another cookie, and a removed session */
        snprintf(cookie, sizeof cookie, "slipway_session=%.63sb", cookie_a);
        h = headers("GET", cookie, NULL, NULL, "h", NULL);
        CHECK(http_session_check(set, &h, NOW + 1, &got) == -ENOKEY);
        CHECK(http_session_set_remove_user(set, "alice", 7) == 0);
        CHECK(http_session_set_remove_user(set, "alice", 0) == 1);
        CHECK(http_session_set_size(set) == 0);
        /* bad entries are refused */
        sess.csrf_token[3] = 0;
        CHECK(http_session_set_put(set, hash, &sess, NOW) == -EINVAL);
}

static void test_throttle(void) {
        _cleanup_(http_login_throttle_freep) HttpLoginThrottle *t = NULL;
        char name[32], addr[32];

        CHECK(http_login_throttle_new(&t) == 0);
        for (int i = 0; i < HTTP_LOGIN_FAILURES_MAX; i++) {
                CHECK(http_login_throttle_wait(t, "bob", "10.0.0.1", NOW + i) == 0);
                snprintf(addr, sizeof addr, "10.1.0.%d", i);
                http_login_throttle_failed(t, "bob", addr, NOW + i);
        }
        /* the sixth waits until the first failure leaves the window */
        CHECK(http_login_throttle_wait(t, "bob", "10.9.9.9", NOW + 5) == HTTP_LOGIN_WINDOW_SEC - 5);
        CHECK(http_login_throttle_wait(t, "alice", "10.9.9.9", NOW + 5) == 0);
        CHECK(http_login_throttle_wait(t, "bob", "10.9.9.9", NOW + HTTP_LOGIN_WINDOW_SEC) == 0);
        http_login_throttle_succeeded(t, "bob");
        CHECK(http_login_throttle_wait(t, "bob", "10.9.9.9", NOW + 6) == 0);
        /* per address */
        for (int i = 0; i < HTTP_LOGIN_FAILURES_MAX; i++) {
                snprintf(name, sizeof name, "guess%d", i);
                http_login_throttle_failed(t, name, "10.2.0.1", NOW);
        }
        CHECK(http_login_throttle_wait(t, "carol", "10.2.0.1", NOW + 1) > 0);
        CHECK(http_login_throttle_wait(t, "carol", "10.2.0.2", NOW + 1) == 0);
        /* a flood of names fills the table without losing the busiest keys' bound */
        for (unsigned i = 0; i < HTTP_LOGIN_THROTTLE_ENTRIES * 2; i++) {
                snprintf(name, sizeof name, "n%u", i);
                http_login_throttle_failed(t, name, "10.3.0.1", NOW + 2);
        }
        CHECK(http_login_throttle_wait(t, "x", "10.3.0.1", NOW + 3) > 0);
}

int main(void) {
        test_cookie_find();
        test_origin();
        test_check();
        test_throttle();
        return 0;
}
