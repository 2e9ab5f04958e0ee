/* Small string helpers shared by every layer. */
#include "string-util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ascii_isalnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);

        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

const char *format_bytes(char *buf, size_t size, unsigned long long bytes) {
        static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
                v /= 1000.0;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%llu B", bytes);
        else
                snprintf(buf, size, "%.1f %s", v, units[u]);
        return buf;
}

char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int errmsg_set(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                free(*ret_error);
                *ret_error = NULL;
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

int error_set_once(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error && !*ret_error) {
                char *m = NULL;

                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) >= 0)
                        *ret_error = m;
                va_end(ap);
        }
        return r;
}
