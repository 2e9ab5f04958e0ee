/* libFuzzer target for version ordering (appliance/scan/version*.c): the input's first three lines are
 * versions, compared under every scheme.  A comparison succeeds exactly when both sides are valid, is
 * antisymmetric (compare(a,b) == -compare(b,a)), reflexive, and transitive over the three. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int compare_checked(VersionScheme s, const char *a, const char *b, bool *ok) {
        int ab = 42, ba = 42;
        int ra = version_compare(s, a, b, &ab), rb = version_compare(s, b, a, &ba);
        bool valid = version_valid(s, a) && version_valid(s, b);

        if ((ra == 0) != valid || (rb == 0) != valid)
                abort();
        if (!valid) {
                if (ra != -EINVAL || rb != -EINVAL || ab != 42 || ba != 42)
                        abort();
                *ok = false;
                return 0;
        }
        if (ab < -1 || ab > 1 || ab != -ba)
                abort();
        *ok = true;
        return ab;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *v[3] = { "", "", "" }, *p;
        size_t n = 0;

        if (size > 3 * VERSION_LENGTH_MAX + 16)
                return 0;
        s = strndup((const char *) data, size);
        if (!s)
                return 0;
        for (p = s; n < 3; n++) {
                v[n] = p;
                p = strchr(p, '\n');
                if (!p)
                        break;
                *p++ = '\0';
        }

        for (VersionScheme sc = 0; sc < _VERSION_SCHEME_MAX; sc++) {
                bool ok_ab, ok_bc, ok_ac, ok;
                int ab = compare_checked(sc, v[0], v[1], &ok_ab);
                int bc = compare_checked(sc, v[1], v[2], &ok_bc);
                int ac = compare_checked(sc, v[0], v[2], &ok_ac);

                for (int i = 0; i < 3; i++)
                        if (compare_checked(sc, v[i], v[i], &ok) != 0)
                                abort();
                if (ok_ab && ok_bc && ok_ac) {
                        if (ab <= 0 && bc <= 0 && ac > 0)
                                abort();
                        if (ab >= 0 && bc >= 0 && ac < 0)
                                abort();
                        if (ab == 0 && bc == 0 && ac != 0)
                                abort();
                }
        }

        free(s);
        return 0;
}
