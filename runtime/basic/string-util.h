/* Small string helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* [A-Za-z0-9], whatever the locale. */
bool ascii_isalnum(char c);

bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
/* Formats bytes as "12.3 MB" into buf. */
const char *format_bytes(char *buf, size_t size, unsigned long long bytes);
/* strdup that aborts never: returns NULL on OOM like strdup, but accepts NULL. */
char *strdup_or_null(const char *s);

/* Replaces *ret_error (when ret_error is not NULL) with a newly formatted message and returns r:
 * "return errmsg_set(ret_error, -EINVAL, "…", …);" for functions that hand a sentence to their caller. */
int errmsg_set(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The first error of a multi-step job: formats the sentence into *ret_error when ret_error is not NULL and no
 * sentence is there yet (the first failure is the one a person must fix), and returns r. */
int error_set_once(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
