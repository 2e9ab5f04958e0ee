/* json-util's depth limit: the scanner counts exactly what jansson would recurse into (strings and escapes
 * honoured), json_parse_buffer() refuses one level past JSON_DEPTH_MAX with -ELOOP and a located error,
 * and a document far deeper than jansson's own limit is refused without recursing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "tests.h"

/* "x" + n '[' + n ']' into a fresh buffer (opener '[' or '{"k":'). */
static char *nested(size_t n, bool objects, size_t *ret_size) {
        const char *open = objects ? "{\"k\":" : "[", *close = objects ? "}" : "]";
        size_t lo = strlen(open), size = n * (lo + 1);
        char *s = malloc(size + 1);

        CHECK(s);
        for (size_t i = 0; i < n; i++)
                memcpy(s + i * lo, open, lo);
        /* The innermost object needs a value: {"k":} is invalid, {"k":{"k":1}} is not. */
        for (size_t i = 0; i < n; i++)
                s[n * lo + i] = close[0];
        s[size] = 0;
        if (objects && n > 0) {
                char *t = malloc(size + 2);
                CHECK(t);
                memcpy(t, s, n * lo);
                t[n * lo] = '1';
                memcpy(t + n * lo + 1, s + n * lo, n);
                t[size + 1] = 0;
                free(s);
                s = t;
                size++;
        }
        *ret_size = size;
        return s;
}

static int scan(const char *s) {
        return json_depth_scan(s, strlen(s), JSON_DEPTH_MAX, NULL);
}

static void test_scan_counts(void) {
        CHECK(scan("") == 0);
        CHECK(scan("1") == 0);
        CHECK(scan("\"[[[{{{\"") == 0);
        CHECK(scan("[]") == 1);
        CHECK(scan("{\"a\":[{}],\"b\":[[]]}") == 3);
        /* An escaped quote does not end the string; an escaped backslash does not escape the quote. */
        CHECK(scan("[\"\\\"[[[[\"]") == 1);
        CHECK(scan("[\"\\\\\",[[]]]") == 3);
        CHECK(scan("[\"\\u005b[\"]") == 1);
        /* Brackets in keys are text too. */
        CHECK(scan("{\"[[[\":{\"}}\":[]}}") == 3);
        /* Stray closers do not make room for more openers. */
        CHECK(scan("]]]]]][") == 1);
        /* An unterminated string swallows the rest. */
        CHECK(scan("[\"[[[[[[") == 1);
}

static void test_scan_limit(void) {
        size_t size, offset = 0;
        char *s;

        s = nested(JSON_DEPTH_MAX, false, &size);
        CHECK(json_depth_scan(s, size, JSON_DEPTH_MAX, NULL) == (int) JSON_DEPTH_MAX);
        free(s);

        s = nested(JSON_DEPTH_MAX + 1, false, &size);
        CHECK(json_depth_scan(s, size, JSON_DEPTH_MAX, &offset) == -ELOOP);
        CHECK(offset == JSON_DEPTH_MAX); /* the 65th '[' */
        free(s);

        /* Far past jansson's own limit (2048) and any stack: refused at the 65th level, in linear time. */
        s = nested(1000 * 1000, false, &size);
        CHECK(json_depth_scan(s, size, JSON_DEPTH_MAX, &offset) == -ELOOP && offset == JSON_DEPTH_MAX);
        free(s);
}

static void test_parse_limit(void) {
        _cleanup_json_ json_t *j = NULL;
        json_t *k = NULL;
        json_error_t err;
        size_t size;
        char *s;

        for (int objects = 0; objects <= 1; objects++) {
                s = nested(JSON_DEPTH_MAX, objects, &size);
                CHECK(json_parse_buffer(s, size, &j, &err) == 0);
                json_decref(j);
                j = NULL;
                free(s);

                s = nested(JSON_DEPTH_MAX + 1, objects, &size);
                CHECK(json_parse_buffer(s, size, &k, &err) == -ELOOP);
                CHECK(k == NULL);
                CHECK(strstr(err.text, "nested deeper than 64 levels"));
                CHECK(err.line == 1 && err.column == (int) (JSON_DEPTH_MAX * (objects ? 5 : 1) + 1));
                /* The larger limit of replies takes it. */
                CHECK(json_parse_buffer_depth(s, size, JSON_REPLY_DEPTH_MAX, &j, NULL) == 0);
                json_decref(j);
                j = NULL;
                free(s);
        }

        /* The location counts lines like jansson does. */
        CHECK(json_parse_buffer_depth("{\"a\":\n [[1]]}", 13, 2, &k, &err) == -ELOOP);
        CHECK(err.line == 2 && err.column == 3 && err.position == 9);
        /* Bad JSON within the limit is still jansson's -EBADMSG. */
        CHECK(json_parse_buffer("[[1]", 4, &k, &err) == -EBADMSG);
        CHECK(json_parse_buffer("{\"a\":1,\"a\":2}", 13, &k, NULL) == -EBADMSG);
        /* A deep document behind a string that only looks like it closes. */
        CHECK(json_parse_buffer("[\"]]]]\",[[[]]]]", 15, &j, NULL) == 0);
        CHECK(json_array_size(j) == 2);
}

int main(void) {
        test_scan_counts();
        test_scan_limit();
        test_parse_limit();
        return 0;
}
