/* Growable byte buffers and NULL-terminated string vectors for the build library.
 * A StrBuf's data is always NUL-terminated once anything was appended; on OOM the append fails and the
 * buffer keeps its previous content. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct StrBuf {
        char *data;
        size_t len;
        size_t allocated;
} StrBuf;

int strbuf_append(StrBuf *b, const char *s, size_t n);
int strbuf_append_char(StrBuf *b, char c);
int strbuf_append_str(StrBuf *b, const char *s);
/* Hands the (NUL-terminated, possibly empty) string over and resets the buffer. */
char *strbuf_steal(StrBuf *b);
void strbuf_done(StrBuf *b);

/* String vectors: NULL-terminated arrays of malloc'ed strings. */
size_t strv_length(char *const *l);
int strv_push(char ***l, char *s); /* takes s even on failure (frees it) */
int strv_extend(char ***l, const char *s);
char **strv_copy(char *const *l);
char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* For "NAME=VALUE" / "NAME" environment-style vectors: finds the last entry for name (len bytes).
 * Returns the entry, or NULL. */
const char *strv_env_find(char *const *l, const char *name, size_t len);
/* Sets (replaces or appends) NAME=VALUE; value NULL stores a bare "NAME" (declared, no value). */
int strv_env_set(char ***l, const char *name, const char *value);
