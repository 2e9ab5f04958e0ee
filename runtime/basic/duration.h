/* Go-style durations ("30s", "1m30s", "1.5h", "250ms"), the grammar Docker uses for HEALTHCHECK flags
 * and Slipway for health check and timeout settings. */
#pragma once

#include <stdint.h>

#define NSEC_PER_MSEC UINT64_C(1000000)

/* Parses a sequence of decimal numbers, each with an optional fraction and a unit (ns, us, µs, ms, s, m,
 * h), as Go's time.ParseDuration does without a sign; "0" alone needs no unit. Returns -EINVAL for other
 * text, -ERANGE above INT64_MAX nanoseconds. */
int duration_parse(const char *s, uint64_t *ret_nsec);
