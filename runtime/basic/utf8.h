/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The offset of the first byte that is not part of a valid UTF-8 sequence, or len when all is valid. */
size_t utf8_valid_prefix(const char *s, size_t len);

static inline bool utf8_is_valid(const char *s, size_t len) {
        return utf8_valid_prefix(s, len) == len;
}
