/* Size parsing. Invariant: the multiplication never overflows; anything above max is -ERANGE, never
 * wrapped or clamped. */
#include "size.h"

#include <errno.h>
#include <stdlib.h>

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
                switch (*end) {
                case 'k':
                case 'K':
                        mult = UINT64_C(1) << 10;
                        break;
                case 'm':
                case 'M':
                        mult = UINT64_C(1) << 20;
                        break;
                case 'g':
                case 'G':
                        mult = UINT64_C(1) << 30;
                        break;
                case 't':
                case 'T':
                        mult = UINT64_C(1) << 40;
                        break;
                default:
                        return -EINVAL;
                }
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
