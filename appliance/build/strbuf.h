/* Growable byte buffers for the build library, and environment-style string vectors (strv.h).
 * A StrBuf's data is always NUL-terminated once anything was appended; on OOM the append fails and the
 * buffer keeps its previous content. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "strv.h"

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

/* For "NAME=VALUE" / "NAME" environment-style vectors: finds the last entry for name (len bytes).
 * Returns the entry, or NULL. */
const char *strv_env_find(char *const *l, const char *name, size_t len);
/* Sets (replaces or appends) NAME=VALUE; value NULL stores a bare "NAME" (declared, no value). */
int strv_env_set(char ***l, const char *name, const char *value);
/* The same for an entry "NAME=VALUE" as one string (it must hold a '='). */
int strv_env_put(char ***l, const char *assignment);
