/* Unit tests for runtime/basic's string vectors (strv.h) and growable arrays (alloc-util.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "strv.h"

#include "tests.h"

static void test_strv_build(void) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL, **e = NULL;
        _cleanup_free_ char *j = NULL;

        CHECK(strv_length(NULL) == 0);
        CHECK(!strv_contains(NULL, "a"));
        CHECK_OK(strv_extend(&l, "a"));
        CHECK_OK(strv_push(&l, strdup("b")));
        CHECK_OK(strv_extend(&l, ""));
        CHECK(strv_length(l) == 3 && l[3] == NULL);
        CHECK_STREQ(l[0], "a");
        CHECK_STREQ(l[1], "b");
        CHECK(strv_contains(l, "b") && strv_contains(l, "") && !strv_contains(l, "c"));

        j = strv_join(l, ", ");
        CHECK_STREQ(j, "a, b, ");
        free(j);
        j = strv_join(NULL, ",");
        CHECK_STREQ(j, "");

        c = strv_copy(l);
        CHECK(c && c != l && c[0] != l[0] && strv_length(c) == 3);
        CHECK_STREQ(c[2], "");

        CHECK(!strv_free(NULL));
        strv_free_n(NULL, 3);
        {
                char **counted = calloc(3, sizeof(char *));
                CHECK(counted);
                counted[0] = strdup("a"); /* counted[1] stays NULL */
                counted[2] = strdup("c");
                strv_free_n(counted, 3); /* frees all three; ASan reports a leak otherwise */
        }
        e = strv_new_empty();
        CHECK(e && !e[0]);
        CHECK_OK(strv_extend(&e, "x"));
        CHECK(strv_length(e) == 1);
        e = strv_free(e);
        e = strv_new("x", "y", NULL);
        CHECK(strv_length(e) == 2);
        free(j);
        j = strv_join(e, "");
        CHECK_STREQ(j, "xy");
}

static void test_greedy_realloc(void) {
        _cleanup_free_ int *v = NULL;
        size_t allocated = 0, n = 0;
        int *before;

        for (int i = 0; i < 1000; i++) {
                CHECK_OK(GREEDY_REALLOC(v, allocated, n + 1));
                CHECK(allocated >= n + 1);
                v[n++] = i;
        }
        for (int i = 0; i < 1000; i++)
                CHECK(v[i] == i);
        /* Doubling: far fewer than 1000 reallocations left spare room, but not absurdly much. */
        CHECK(allocated >= 1000 && allocated <= 4000);

        /* Enough room already: nothing moves. */
        before = v;
        CHECK(GREEDY_REALLOC(v, allocated, 10) == 0 && v == before);

        /* A size that overflows fails and keeps the array. */
        CHECK(GREEDY_REALLOC(v, allocated, SIZE_MAX / 2) == -ENOMEM);
        CHECK(v == before && allocated >= 1000 && v[999] == 999);
}

int main(void) {
        test_strv_build();
        test_greedy_realloc();
        return 0;
}
