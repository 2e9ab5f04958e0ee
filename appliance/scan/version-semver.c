/* SemVer 2.0.0 versions (npm, Go): MAJOR.MINOR.PATCH[-prerelease][+build], numbers without leading
 * zeros, Go's leading 'v' accepted.  Build metadata (Go's "+incompatible" among it) is validated but
 * never ordered; a pre-release sorts before its release, identifier by identifier. */
#include <errno.h>
#include <string.h>

#include "version-scheme.h"
#include "version.h"

typedef struct SemVer {
        const char *core[3]; /* major, minor, patch */
        size_t core_n[3];
        const char *pre; /* the identifiers after '-', NULL when none */
        size_t pre_n;
} SemVer;

static bool semver_ident_char(char c) {
        return version_is_alnum(c) || c == '-';
}

/* A numeric identifier: "0", or digits not starting with 0. */
static bool semver_number_ok(const char *p, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!version_is_digit(p[i]))
                        return false;
        return n == 1 || p[0] != '0';
}

static bool semver_all_digits(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!version_is_digit(p[i]))
                        return false;
        return true;
}

/* Dot-separated non-empty identifiers up to end; in a pre-release, numeric ones have no leading zero. */
static bool semver_identifiers_ok(const char *p, const char *end, bool pre) {
        for (;;) {
                const char *id = p;
                while (p < end && semver_ident_char(*p))
                        p++;
                if (p == id)
                        return false;
                if (pre && semver_all_digits(id, p - id) && !semver_number_ok(id, p - id))
                        return false;
                if (p == end)
                        return true;
                if (*p != '.')
                        return false;
                p++;
        }
}

static int semver_parse(const char *v, SemVer *ret) {
        const char *s = v, *end, *plus;
        SemVer sv = {};

        if (*s == 'v')
                s++;
        for (int i = 0; i < 3; i++) {
                sv.core[i] = s;
                while (version_is_digit(*s))
                        s++;
                sv.core_n[i] = s - sv.core[i];
                if (!semver_number_ok(sv.core[i], sv.core_n[i]))
                        return -EINVAL;
                if (i < 2 && *s++ != '.')
                        return -EINVAL;
        }

        end = s + strlen(s);
        plus = strchr(s, '+');
        if (plus) {
                if (!semver_identifiers_ok(plus + 1, end, false))
                        return -EINVAL;
                end = plus;
        }
        if (*s == '-') {
                sv.pre = s + 1;
                sv.pre_n = end - sv.pre;
                if (!semver_identifiers_ok(sv.pre, end, true))
                        return -EINVAL;
        } else if (s != end)
                return -EINVAL;

        *ret = sv;
        return 0;
}

static int semver_pre_compare(const char *a, size_t na, const char *b, size_t nb) {
        for (;;) {
                size_t la = 0, lb = 0;
                int r;

                if (na == 0 || nb == 0)
                        return version_sign(na > 0, nb > 0);
                while (la < na && a[la] != '.')
                        la++;
                while (lb < nb && b[lb] != '.')
                        lb++;

                bool da = semver_all_digits(a, la), db = semver_all_digits(b, lb);
                if (da && db)
                        r = version_digits_compare(a, la, b, lb);
                else if (da != db)
                        r = da ? -1 : 1; /* numeric identifiers sort before alphanumeric ones */
                else {
                        r = memcmp(a, b, la < lb ? la : lb);
                        r = r != 0 ? version_sign(r, 0) : version_sign((long long) la, (long long) lb);
                }
                if (r != 0)
                        return r;

                a += la, na -= la;
                b += lb, nb -= lb;
                if (na > 0)
                        a++, na--;
                if (nb > 0)
                        b++, nb--;
        }
}

int version_semver_compare(const char *a, const char *b, int *ret) {
        SemVer sa, sb;
        int r;

        r = semver_parse(a, &sa);
        if (r < 0)
                return r;
        r = semver_parse(b, &sb);
        if (r < 0)
                return r;

        for (int i = 0; i < 3; i++) {
                r = version_digits_compare(sa.core[i], sa.core_n[i], sb.core[i], sb.core_n[i]);
                if (r != 0) {
                        *ret = r;
                        return 0;
                }
        }
        if (!sa.pre || !sb.pre)
                /* a release sorts after its pre-releases */
                *ret = version_sign(!sa.pre, !sb.pre);
        else
                *ret = semver_pre_compare(sa.pre, sa.pre_n, sb.pre, sb.pre_n);
        return 0;
}

bool version_semver_valid(const char *v) {
        SemVer sv;

        return semver_parse(v, &sv) >= 0;
}
