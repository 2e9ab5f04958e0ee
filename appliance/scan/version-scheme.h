/* The per-scheme halves of version.c: each scheme's file parses and orders its own versions, and
 * version.c dispatches to them after the checks they share (NULL, VERSION_LENGTH_MAX).  Each compare
 * returns -EINVAL for an invalid version and writes *ret as -1, 0 or 1 only on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

int version_deb_compare(const char *a, const char *b, int *ret);
bool version_deb_valid(const char *v);

int version_apk_compare(const char *a, const char *b, int *ret);
bool version_apk_valid(const char *v);

int version_pep440_compare(const char *a, const char *b, int *ret);
bool version_pep440_valid(const char *v);

int version_semver_compare(const char *a, const char *b, int *ret);
bool version_semver_valid(const char *v);

/* ASCII classes, independent of the locale the daemon runs in. */
static inline bool version_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static inline bool version_is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static inline bool version_is_alpha(char c) {
        return version_is_lower(c) || (c >= 'A' && c <= 'Z');
}

static inline bool version_is_alnum(char c) {
        return version_is_digit(c) || version_is_alpha(c);
}

static inline char version_to_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* Compares two runs of decimal digits by value, of any length (leading zeros do not count; an empty run is
 * 0): -1, 0 or 1. */
int version_digits_compare(const char *a, size_t na, const char *b, size_t nb);

/* -1, 0 or 1 as x is below, equal to or above y. */
static inline int version_sign(long long x, long long y) {
        return (x > y) - (x < y);
}
