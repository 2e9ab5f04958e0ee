/* Size parsing. Invariant: the multiplication never overflows; anything above max is -ERANGE, never
 * wrapped or clamped. */
#include "size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The power of two a unit letter stands for (k, M, G, T in either case: 2^10 … 2^40), or -EINVAL. */
static int unit_shift(char c) {
        static const char units[] = "kmgt";
        const char *p;

        if (c >= 'A' && c <= 'Z')
                c = (char) (c - 'A' + 'a');
        p = c ? strchr(units, c) : NULL;
        return p ? 10 * (int) (p - units + 1) : -EINVAL;
}

int size_parse(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (*end) {
                int shift = unit_shift(*end);

                if (shift < 0)
                        return -EINVAL;
                mult = UINT64_C(1) << shift;
                end++;
                if (*end == 'i')
                        end++;
                if (*end == 'B' || *end == 'b')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        if (v > max / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}
