/* Go-style duration parsing. Invariant: the result is exact for integral values and never exceeds
 * INT64_MAX nanoseconds (what Go's time.Duration can hold). */
#include "duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"

int duration_parse(const char *s, uint64_t *ret_nsec) {
        static const struct {
                const char *unit;
                uint64_t ns;
        } units[] = {
                { "ns", 1ULL },           { "us", 1000ULL },         { "\xc2\xb5s", 1000ULL },
                { "\xce\xbcs", 1000ULL }, { "ms", 1000000ULL },      { "s", 1000000000ULL },
                { "m", 60000000000ULL },  { "h", 3600000000000ULL },
        };
        long double total = 0;

        if (!s || !*s)
                return -EINVAL;
        if (streq(s, "0")) {
                *ret_nsec = 0;
                return 0;
        }
        while (*s) {
                long double v = 0, scale = 1;
                bool digits = false;
                size_t best = SIZE_MAX, best_len = 0;

                while (isdigit((unsigned char) *s)) {
                        v = v * 10 + (*s++ - '0');
                        digits = true;
                }
                if (*s == '.') {
                        s++;
                        while (isdigit((unsigned char) *s)) {
                                scale /= 10;
                                v += scale * (*s++ - '0');
                                digits = true;
                        }
                }
                if (!digits)
                        return -EINVAL;
                /* The longest unit that matches: "ms" before "m". */
                for (size_t k = 0; k < ELEMENTSOF(units); k++) {
                        size_t l = strlen(units[k].unit);

                        if (strncmp(s, units[k].unit, l) == 0 && l > best_len) {
                                best = k;
                                best_len = l;
                        }
                }
                if (best == SIZE_MAX)
                        return -EINVAL;
                s += best_len;
                total += v * units[best].ns;
                if (total > (long double) INT64_MAX)
                        return -ERANGE;
        }
        *ret_nsec = (uint64_t) total;
        return 0;
}
