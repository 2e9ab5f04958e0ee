/* String vectors: NULL-terminated arrays of malloc'ed strings, as exec and the OCI config want them.
 * NULL is the empty vector.  A function that fails with -ENOMEM leaves the vector as it was. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* A vector of copies of the arguments up to the terminating NULL; NULL when out of memory. */
char **strv_new(const char *s, ...) __attribute__((sentinel));
/* An allocated vector with no entries, for lists whose callers read them without a NULL check. */
char **strv_new_empty(void);
char **strv_copy(char *const *l);
char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
/* For counted arrays of n strings (entries may be NULL), not NULL-terminated. */
void strv_free_n(char **l, size_t n);

size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);

/* Appends s and takes it, even on failure (then frees it). */
int strv_push(char ***l, char *s);
/* Appends a copy of s. */
int strv_extend(char ***l, const char *s);

/* The entries joined with sep between them ("" for an empty vector); NULL when out of memory. */
char *strv_join(char *const *l, const char *sep);
