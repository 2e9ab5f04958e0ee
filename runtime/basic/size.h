/* Sizes as people write them: "4096", "512M", "1G", "1GiB", "64kB" (binary multiples, K/M/G/T). */
#pragma once

#include <stdint.h>

/* Parses a decimal count of bytes with an optional K, M, G or T (either case, 1024-based), optionally
 * followed by "i" and then "B" or "b". Returns -EINVAL for other text (signs, spaces, fractions) and
 * -ERANGE when the value exceeds max. */
int size_parse(const char *s, uint64_t max, uint64_t *ret);
