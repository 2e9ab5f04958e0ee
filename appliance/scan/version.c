/* Version ordering by ecosystem: maps OSV ecosystem names to a scheme and dispatches each comparison to
 * that scheme's file (version-deb.c, version-apk.c, version-pep440.c, version-semver.c) once the checks
 * every scheme shares have passed.  Nothing here allocates. */
#include <assert.h>
#include <string.h>

#include "version-scheme.h"
#include "version.h"

int version_digits_compare(const char *a, size_t na, const char *b, size_t nb) {
        while (na > 0 && *a == '0')
                a++, na--;
        while (nb > 0 && *b == '0')
                b++, nb--;
        if (na != nb)
                return version_sign((long long) na, (long long) nb);
        if (na == 0)
                return 0;
        int c = memcmp(a, b, na);
        return version_sign(c, 0);
}

/* "Name" itself or "Name:" followed by a release ("Debian:12", "Alpine:v3.19"). */
static bool ecosystem_is(const char *ecosystem, const char *name) {
        size_t n = strlen(name);

        if (strncmp(ecosystem, name, n) != 0)
                return false;
        return ecosystem[n] == '\0' || (ecosystem[n] == ':' && ecosystem[n + 1] != '\0');
}

VersionScheme version_scheme_of_ecosystem(const char *ecosystem) {
        if (!ecosystem)
                return _VERSION_SCHEME_INVALID;
        if (ecosystem_is(ecosystem, "Debian"))
                return VERSION_SCHEME_DEBIAN;
        if (ecosystem_is(ecosystem, "Alpine"))
                return VERSION_SCHEME_ALPINE;
        if (strcmp(ecosystem, "PyPI") == 0)
                return VERSION_SCHEME_PYPI;
        if (strcmp(ecosystem, "npm") == 0 || strcmp(ecosystem, "Go") == 0)
                return VERSION_SCHEME_SEMVER;
        return _VERSION_SCHEME_INVALID;
}

static bool length_ok(const char *v) {
        return v && strnlen(v, VERSION_LENGTH_MAX + 1) <= VERSION_LENGTH_MAX;
}

int version_compare(VersionScheme scheme, const char *a, const char *b, int *ret) {
        assert(ret);

        if (!length_ok(a) || !length_ok(b))
                return -EINVAL;
        switch (scheme) {
        case VERSION_SCHEME_DEBIAN:
                return version_deb_compare(a, b, ret);
        case VERSION_SCHEME_ALPINE:
                return version_apk_compare(a, b, ret);
        case VERSION_SCHEME_PYPI:
                return version_pep440_compare(a, b, ret);
        case VERSION_SCHEME_SEMVER:
                return version_semver_compare(a, b, ret);
        default:
                return -EINVAL;
        }
}

bool version_valid(VersionScheme scheme, const char *v) {
        if (!length_ok(v))
                return false;
        switch (scheme) {
        case VERSION_SCHEME_DEBIAN:
                return version_deb_valid(v);
        case VERSION_SCHEME_ALPINE:
                return version_apk_valid(v);
        case VERSION_SCHEME_PYPI:
                return version_pep440_valid(v);
        case VERSION_SCHEME_SEMVER:
                return version_semver_valid(v);
        default:
                return false;
        }
}
