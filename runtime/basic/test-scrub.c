/* Unit tests for secret scrubbing (scrub.h): whole texts, prefix and overlapping secrets, short and empty
 * secrets, and streams cut at every possible place giving what the whole text gives. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scrub.h"

#include "tests.h"

static char *scrub(const Scrubber *s, const char *text) {
        char *out = NULL;
        size_t n = 0;

        CHECK_OK(scrubber_text(s, text, strlen(text), &out, &n));
        CHECK(out && strlen(out) == n);
        return out;
}

#define CHECK_SCRUB(s, text, want)                          \
        do {                                                \
                _cleanup_free_ char *_got = scrub(s, text); \
                CHECK_STREQ(_got, want);                    \
        } while (0)

static void test_basic(void) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;
        _cleanup_free_ char *str = NULL;

        /* No scrubber, or one that knows nothing: a copy. */
        CHECK_SCRUB(NULL, "plain text", "plain text");
        CHECK_OK(scrubber_new(&s));
        CHECK(scrubber_count(s) == 0);
        CHECK_SCRUB(s, "plain text", "plain text");

        CHECK(scrubber_add(s, "DB_PASSWORD", "hunter22", 8) == 1);
        CHECK(scrubber_count(s) == 1);
        CHECK_SCRUB(s, "", "");
        CHECK_SCRUB(s, "hunter22", "[secret DB_PASSWORD]");
        CHECK_SCRUB(s, "pw=hunter22; again hunter22hunter22.",
                    "pw=[secret DB_PASSWORD]; again "
                    "[secret DB_PASSWORD][secret DB_PASSWORD].");
        CHECK_SCRUB(s, "hunter2 hunter2 is not it", "hunter2 hunter2 is not it");
        /* Overlapping occurrences of one secret: the leftmost wins, the rest is what is left. */
        {
                _cleanup_(scrubber_freep) Scrubber *o = NULL;
                CHECK_OK(scrubber_new(&o));
                CHECK(scrubber_add(o, "A", "abab", 4) == 1);
                CHECK_SCRUB(o, "ababab", "[secret A]ab");
                CHECK_SCRUB(o, "abababab", "[secret A][secret A]");
        }

        /* The same value under a second key: known once, by the first key. */
        CHECK(scrubber_add(s, "OTHER", "hunter22", 8) == 0);
        CHECK_SCRUB(s, "hunter22", "[secret DB_PASSWORD]");

        str = strdup("x hunter22 y");
        CHECK(str);
        CHECK_OK(scrubber_string(s, &str));
        CHECK_STREQ(str, "x [secret DB_PASSWORD] y");
        {
                char *none = NULL;
                CHECK_OK(scrubber_string(s, &none));
                CHECK(!none);
        }
}

static void test_short_and_empty(void) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;

        CHECK_OK(scrubber_new(&s));
        /* Below SCRUB_SECRET_MIN bytes nothing is scrubbed: not added. */
        CHECK(SCRUB_SECRET_MIN == 4);
        CHECK(scrubber_add(s, "EMPTY", "", 0) == 0);
        CHECK(scrubber_add(s, "ONE", "a", 1) == 0);
        CHECK(scrubber_add(s, "THREE", "abc", 3) == 0);
        CHECK(scrubber_count(s) == 0);
        CHECK_SCRUB(s, "a abc", "a abc");
        CHECK(scrubber_add(s, "FOUR", "abcd", 4) == 1);
        CHECK_SCRUB(s, "a abc abcd", "a abc [secret FOUR]");
        /* Only a newline more than the minimum: the trimmed form is too short and not added. */
        CHECK(scrubber_add(s, "NL", "xyz\n", 4) == 1);
        CHECK(scrubber_count(s) == 2);

        CHECK(scrubber_add(s, "BAD", NULL, 4) == -EINVAL);
        CHECK(scrubber_add(NULL, "K", "abcd", 4) == -EINVAL);
        {
                char key[SCRUB_KEY_MAX + 2];
                memset(key, 'K', sizeof key - 1);
                key[sizeof key - 1] = 0;
                CHECK(scrubber_add(s, key, "longkey!", 8) == -EINVAL);
        }
        /* Binary secrets, NUL bytes included. */
        CHECK(scrubber_add(s, "BIN", "\x01\0\x02\xff", 4) == 1);
        {
                _cleanup_free_ char *out = NULL;
                size_t n;
                CHECK_OK(scrubber_text(s, "<\x01\0\x02\xff>", 6, &out, &n));
                CHECK(n == strlen("<[secret BIN]>") && memcmp(out, "<[secret BIN]>", n) == 0);
        }
}

static void test_prefix_overlap(void) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;

        CHECK_OK(scrubber_new(&s));
        /* Added shortest first: still the longest wins where both match. */
        CHECK(scrubber_add(s, "SHORT", "token", 5) == 1);
        CHECK(scrubber_add(s, "LONG", "token-extended", 14) == 1);
        CHECK_SCRUB(s, "token-extended", "[secret LONG]");
        CHECK_SCRUB(s, "token-extende", "[secret SHORT]-extende");
        CHECK_SCRUB(s, "tokentoken-extended!", "[secret SHORT][secret LONG]!");

        /* Overlapping different secrets: the leftmost match wins, then the scan goes on after it. */
        CHECK(scrubber_add(s, "AB", "aaaabbbb", 8) == 1);
        CHECK(scrubber_add(s, "BC", "bbbbcccc", 8) == 1);
        CHECK_SCRUB(s, "aaaabbbbcccc", "[secret AB]cccc");
        CHECK_SCRUB(s, "xbbbbcccc", "x[secret BC]");

        /* A file's content with its final newline is also known without it. */
        CHECK(scrubber_add(s, "CERT", "line one\nline two\n", 18) == 1);
        CHECK_SCRUB(s, "cat: line one\nline two\n", "cat: [secret CERT]");
        CHECK_SCRUB(s, "echo: line one\nline two.", "echo: [secret CERT].");
}

/* The stream cut in every way into two, three pieces, and byte by byte, gives the whole text's result. */
static void check_stream_cuts(const Scrubber *s, const char *text) {
        _cleanup_free_ char *want = scrub(s, text);
        size_t n = strlen(text);

        for (size_t a = 0; a <= n; a++)
                for (size_t b = a; b <= n; b++) {
                        ScrubStream st = SCRUB_STREAM_INIT(s);
                        size_t cuts[] = { 0, a, b, n };
                        char got[4096] = "";
                        size_t got_n = 0;

                        for (size_t k = 0; k + 1 < ELEMENTSOF(cuts); k++) {
                                _cleanup_free_ char *piece = NULL;
                                size_t pn;
                                bool last = k + 2 == ELEMENTSOF(cuts);

                                CHECK_OK(scrub_stream_feed(&st, text + cuts[k], cuts[k + 1] - cuts[k], last,
                                                           &piece, &pn));
                                CHECK(got_n + pn < sizeof got);
                                memcpy(got + got_n, piece, pn);
                                got_n += pn;
                        }
                        got[got_n] = 0;
                        CHECK(st.n_held == 0);
                        if (strcmp(got, want) != 0)
                                TEST_FAIL("cut at %zu,%zu of '%s': '%s' != '%s'", a, b, text, got, want);
                        scrub_stream_done(&st);
                }

        /* Byte by byte, ended by an empty last piece. */
        ScrubStream st = SCRUB_STREAM_INIT(s);
        char got[4096] = "";
        size_t got_n = 0;
        for (size_t i = 0; i <= n; i++) {
                _cleanup_free_ char *piece = NULL;
                size_t pn;

                CHECK_OK(scrub_stream_feed(&st, text + i, i < n ? 1 : 0, i == n, &piece, &pn));
                /* Nothing is held beyond the longest secret less one byte. */
                CHECK(st.n_held < 14);
                memcpy(got + got_n, piece, pn);
                got_n += pn;
        }
        got[got_n] = 0;
        CHECK_STREQ(got, want);
        scrub_stream_done(&st);
}

static void test_stream(void) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;

        CHECK_OK(scrubber_new(&s));
        /* No secrets: passes through at once, nothing held. */
        {
                ScrubStream st = SCRUB_STREAM_INIT(s);
                _cleanup_free_ char *out = NULL;
                CHECK_OK(scrub_stream_feed(&st, "abc", 3, false, &out, NULL));
                CHECK_STREQ(out, "abc");
                CHECK(st.n_held == 0);
                scrub_stream_done(&st);
        }
        CHECK(scrubber_add(s, "SHORT", "token", 5) == 1);
        CHECK(scrubber_add(s, "LONG", "token-extended", 14) == 1);
        CHECK(scrubber_add(s, "PW", "s3cr3t", 6) == 1);

        check_stream_cuts(s, "token-extended");
        check_stream_cuts(s, "a token-extende and s3cr3t.");
        check_stream_cuts(s, "s3cr3s3cr3t tok token-extended tokentoken");
        check_stream_cuts(s, "line 1: s3cr3t\nline 2: token-extended\n");
        check_stream_cuts(s, "no secret here at all");

        /* A prefix held back is given out once it turns out to be no secret. */
        {
                ScrubStream st = SCRUB_STREAM_INIT(s);
                _cleanup_free_ char *a = NULL, *b = NULL;
                CHECK_OK(scrub_stream_feed(&st, "x s3c", 5, false, &a, NULL));
                CHECK_STREQ(a, "x ");
                CHECK(st.n_held == 3);
                CHECK_OK(scrub_stream_feed(&st, "ond\n", 4, false, &b, NULL));
                CHECK_STREQ(b, "s3cond\n");
                CHECK(st.n_held == 0);
                scrub_stream_done(&st);
        }
        /* And at the end of the stream a held prefix comes out as it is. */
        {
                ScrubStream st = SCRUB_STREAM_INIT(s);
                _cleanup_free_ char *a = NULL, *b = NULL;
                CHECK_OK(scrub_stream_feed(&st, "end tok", 7, false, &a, NULL));
                CHECK_STREQ(a, "end ");
                CHECK_OK(scrub_stream_feed(&st, NULL, 0, true, &b, NULL));
                CHECK_STREQ(b, "tok");
                scrub_stream_done(&st);
        }
}

static void test_limits(void) {
        _cleanup_(scrubber_freep) Scrubber *s = NULL;
        _cleanup_free_ char *big = malloc(SCRUB_SECRET_MAX + 1);

        CHECK(big);
        memset(big, 'z', SCRUB_SECRET_MAX + 1);
        CHECK_OK(scrubber_new(&s));
        CHECK(scrubber_add(s, "HUGE", big, SCRUB_SECRET_MAX + 1) == -E2BIG);
        CHECK(scrubber_add(s, "MAX", big, SCRUB_SECRET_MAX) == 1);
        for (unsigned i = 1; i < SCRUB_SECRETS_MAX; i++) {
                char v[32];
                int n = snprintf(v, sizeof v, "value-%u", i);
                CHECK(scrubber_add(s, "K", v, (size_t) n) == 1);
        }
        CHECK(scrubber_count(s) == SCRUB_SECRETS_MAX);
        CHECK(scrubber_add(s, "K", "one-too-many", 12) == -E2BIG);
        CHECK_SCRUB(s, "value-17 and value-4095", "[secret K] and [secret K]");
}

int main(void) {
        test_basic();
        test_short_and_empty();
        test_prefix_overlap();
        test_stream();
        test_limits();
        return 0;
}
