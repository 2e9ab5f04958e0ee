/* Growable byte buffers and environment-style string vectors used by the Dockerfile parser and its helpers.
 * Every function either fully succeeds or leaves its input unchanged and returns -ENOMEM. */
#include "strbuf.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strbuf_append(StrBuf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->len + n + 1);
                char *p;

                want = MAX(want, (size_t) 64);
                p = realloc(b->data, want);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->allocated = want;
        }
        if (n > 0)
                memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int strbuf_append_char(StrBuf *b, char c) {
        return strbuf_append(b, &c, 1);
}

int strbuf_append_str(StrBuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

char *strbuf_steal(StrBuf *b) {
        char *s = b->data;

        if (!s)
                s = strdup("");
        *b = (StrBuf) {};
        return s;
}

void strbuf_done(StrBuf *b) {
        free(b->data);
        *b = (StrBuf) {};
}

static bool env_entry_is(const char *e, const char *name, size_t len) {
        return strncmp(e, name, len) == 0 && (e[len] == '=' || e[len] == 0);
}

const char *strv_env_find(char *const *l, const char *name, size_t len) {
        const char *found = NULL;

        for (size_t i = 0; l && l[i]; i++)
                if (env_entry_is(l[i], name, len))
                        found = l[i];
        return found;
}

int strv_env_set(char ***l, const char *name, const char *value) {
        size_t len = strlen(name), vlen = value ? strlen(value) : 0;
        char *e;

        e = malloc(len + 1 + vlen + 1);
        if (!e)
                return -ENOMEM;
        memcpy(e, name, len);
        if (value) {
                e[len] = '=';
                memcpy(e + len + 1, value, vlen + 1);
        } else
                e[len] = 0;

        for (size_t i = 0; *l && (*l)[i]; i++)
                if (env_entry_is((*l)[i], name, len)) {
                        free((*l)[i]);
                        (*l)[i] = e;
                        return 0;
                }
        return strv_push(l, e);
}

int strv_env_put(char ***l, const char *assignment) {
        const char *eq = strchr(assignment, '=');
        _cleanup_free_ char *name = NULL;

        assert(eq);
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                return -ENOMEM;
        return strv_env_set(l, name, eq + 1);
}
