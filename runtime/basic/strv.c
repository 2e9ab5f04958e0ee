/* String vectors.  Appending reallocates to length + 2 each time: vectors here are argv, env and
 * tag lists of tens of entries, where that costs nothing and keeps no capacity field beside the array. */
#include "strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

char **strv_new(const char *s, ...) {
        _cleanup_strv_free_ char **l = NULL;
        va_list ap;

        /* An empty vector is still an allocated one, so NULL can mean "out of memory". */
        l = strv_new_empty();
        if (!l)
                return NULL;
        va_start(ap, s);
        for (const char *i = s; i; i = va_arg(ap, const char *))
                if (strv_extend(&l, i) < 0) {
                        va_end(ap);
                        return NULL;
                }
        va_end(ap);
        return TAKE_PTR(l);
}

char **strv_new_empty(void) {
        return calloc(1, sizeof(char *));
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **c;

        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return strv_free(c);
        }
        return c;
}

char **strv_free(char **l) {
        for (size_t i = 0; l && l[i]; i++)
                free(l[i]);
        free(l);
        return NULL;
}

void strv_free_n(char **l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                free(l[i]);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (strcmp(l[i], s) == 0)
                        return true;
        return false;
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **p;

        p = realloc(*l, (n + 2) * sizeof(char *));
        if (!p) {
                free(s);
                return -ENOMEM;
        }
        p[n] = s;
        p[n + 1] = NULL;
        *l = p;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        return strv_push(l, c);
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 0, k = strlen(sep);
        char *s, *p;

        for (size_t i = 0; l && l[i]; i++)
                n += strlen(l[i]) + (i > 0 ? k : 0);
        s = p = malloc(n + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, l[i]);
        }
        *p = 0;
        return s;
}
