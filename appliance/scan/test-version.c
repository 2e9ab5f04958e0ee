/* Unit tests for appliance/scan's version ordering: each ecosystem's own edge cases, checked in both
 * directions, equalities, invalid versions refused with -EINVAL, and the ecosystem names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#include "tests.h"

static const char *scheme_name(VersionScheme s) {
        static const char *const names[] = { "debian", "alpine", "pypi", "semver" };
        return s >= 0 && s < _VERSION_SCHEME_MAX ? names[s] : "invalid";
}

/* a sorts before b, and b after a. */
static void check_less(VersionScheme s, const char *a, const char *b) {
        int r = 99;

        CHECK_OK(version_compare(s, a, b, &r));
        if (r >= 0)
                TEST_FAIL("%s: expected '%s' < '%s', got %d", scheme_name(s), a, b, r);
        r = 99;
        CHECK_OK(version_compare(s, b, a, &r));
        if (r <= 0)
                TEST_FAIL("%s: expected '%s' > '%s', got %d", scheme_name(s), b, a, r);
}

static void check_equal(VersionScheme s, const char *a, const char *b) {
        int r = 99;

        CHECK_OK(version_compare(s, a, b, &r));
        if (r != 0)
                TEST_FAIL("%s: expected '%s' == '%s', got %d", scheme_name(s), a, b, r);
        r = 99;
        CHECK_OK(version_compare(s, b, a, &r));
        if (r != 0)
                TEST_FAIL("%s: expected '%s' == '%s', got %d", scheme_name(s), b, a, r);
}

/* Every element of the list sorts before every later one. */
static void check_chain(VersionScheme s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++) {
                CHECK(version_valid(s, list[i]));
                check_equal(s, list[i], list[i]);
                for (size_t j = i + 1; j < n; j++)
                        check_less(s, list[i], list[j]);
        }
}

/* v is refused on either side of a comparison, and *ret is left alone. */
static void check_invalid(VersionScheme s, const char *v, const char *good) {
        int r = 42;

        if (version_valid(s, v))
                TEST_FAIL("%s: '%s' should be invalid", scheme_name(s), v);
        if (version_compare(s, v, good, &r) != -EINVAL || version_compare(s, good, v, &r) != -EINVAL)
                TEST_FAIL("%s: comparing '%s' should fail with -EINVAL", scheme_name(s), v);
        CHECK(r == 42);
        CHECK(version_valid(s, good));
}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static void test_debian(void) {
        const VersionScheme d = VERSION_SCHEME_DEBIAN;

        check_less(d, "1.0~rc1", "1.0");
        check_less(d, "9.9", "1:0.1");
        check_less(d, "1.0-1", "1.0-1.1");
        check_less(d, "1.0", "1.0a");
        check_less(d, "2.30-3", "2.30-3+deb12u1");
        check_less(d, "2.30-3+deb12u1", "2.30-3+deb12u2");
        check_less(d, "2.30-3+deb12u9", "2.30-3+deb12u10");
        check_less(d, "1.0", "1.0.1");
        check_less(d, "1.0", "1.0-0.1");
        check_less(d, "1.0-1", "1.0-2");
        check_less(d, "1.2.3-1", "1.10-1");
        check_less(d, "1.0a", "1.0+");   /* letters before non-letters */
        check_less(d, "1.0+", "1.0.");   /* then ASCII: '+' < '.' */
        check_less(d, "1:1.0", "2:0.1"); /* epochs */
        check_less(d, "1.0-1~bpo1", "1.0-1");
        check_less(d, "1.0-1", "1.0-1+b1");
        /* '~' before everything, even the end: "~~" < "~~a" < "~" < "" at the end of a part */
        const char *const tilde[] = { "1.0~~", "1.0~~a", "1.0~", "1.0" };
        check_chain(d, tilde, ELEMENTSOF(tilde));
        const char *const tilde_rev[] = { "1.0-1~~", "1.0-1~~a", "1.0-1~", "1.0-1" };
        check_chain(d, tilde_rev, ELEMENTSOF(tilde_rev));

        check_equal(d, "0:1.0", "1.0");
        check_equal(d, "1.0", "1.00");
        check_equal(d, "1.01-1", "1.1-1");
        check_equal(d, " 1.0-1", "1.0-1\n"); /* dpkg trims around the version */
        /* the revision is after the last '-'; a hyphen and a colon may be in the upstream part */
        check_less(d, "1:1.0-rc-1", "1:1.0-rc-2");
        check_less(d, "1:2:3-1", "1:2:4-1");

        check_invalid(d, "", "1.0");
        check_invalid(d, "   ", "1.0");
        check_invalid(d, "~", "1.0");
        check_invalid(d, "a1.0", "1.0");  /* upstream must start with a digit */
        check_invalid(d, "1.0 1", "1.0"); /* embedded space */
        check_invalid(d, "1.0-", "1.0");  /* empty revision */
        check_invalid(d, "-1", "1.0");    /* empty upstream */
        check_invalid(d, ":1.0", "1.0");  /* empty epoch */
        check_invalid(d, "a:1.0", "1.0"); /* epoch not a number */
        check_invalid(d, "1:", "1.0");    /* nothing after the colon */
        check_invalid(d, "99999999999:1.0", "1.0");
        check_invalid(d, "1.0_1", "1.0");   /* '_' is not allowed */
        check_invalid(d, "1.0-1:2", "1.0"); /* ':' not allowed in the revision */
        check_invalid(d, "1.0-a_b", "1.0");
        check_invalid(d, "1.0é", "1.0");
        CHECK(version_valid(d, "2147483647:1"));
}

static void test_alpine(void) {
        const VersionScheme a = VERSION_SCHEME_ALPINE;

        const char *const suffixes[] = {
                "1.2.3_alpha", "1.2.3_alpha1", "1.2.3_beta", "1.2.3_pre2", "1.2.3_rc1", "1.2.3",
                "1.2.3_cvs",   "1.2.3_svn",    "1.2.3_git",  "1.2.3_hg",   "1.2.3_p1",  "1.2.3_p2",
        };
        check_chain(a, suffixes, ELEMENTSOF(suffixes));
        check_less(a, "1.2.3-r0", "1.2.3-r1");
        check_less(a, "1.2.3-r9", "1.2.3-r10");
        check_less(a, "1.2.3", "1.2.3-r0"); /* as apk: a revision, even r0, is after none */
        check_less(a, "1.2.3-r5", "1.2.4-r0");
        check_less(a, "1.2", "1.2a");
        check_less(a, "1.2a", "1.2b");
        check_less(a, "1.2z", "1.2.1");
        check_less(a, "1.2", "1.2.0");
        check_less(a, "1.9", "1.10");
        check_less(a, "9", "10");
        check_less(a, "1.02", "1.1"); /* a leading zero after the first component compares as text */
        check_less(a, "1.2.3_rc1", "1.2.3_rc2");
        check_less(a, "1.2.3_rc", "1.2.3_rc1");
        check_less(a, "1.2.3_rc1", "1.2.3_rc1_p1");
        check_less(a, "1.2.3_rc1_p1", "1.2.3");
        check_less(a, "1.0_git20230101~abc", "1.0_git20230101~abd");
        check_less(a, "1.0-r1", "1.0~abc-r1"); /* as apk: the one going on with a hash is newer */
        check_equal(a, "01.2", "1.2");
        check_equal(a, "1.2.3_rc01-r01", "1.2.3_rc1-r1");

        check_invalid(a, "", "1.0");
        check_invalid(a, "v1.0", "1.0");
        check_invalid(a, "1.0-1", "1.0"); /* the revision is -rN */
        check_invalid(a, "1.0-r", "1.0");
        check_invalid(a, "1.0_foo", "1.0"); /* unknown suffix */
        check_invalid(a, "1.0_RC1", "1.0");
        check_invalid(a, "1.0ab", "1.0"); /* one letter */
        check_invalid(a, "1.0a1", "1.0");
        check_invalid(a, "1.0a.1", "1.0");
        check_invalid(a, "1..0", "1.0");
        check_invalid(a, "1.0.", "1.0");
        check_invalid(a, "1.0_rc1.2", "1.0");
        check_invalid(a, "1.0-r1-r2", "1.0");
        check_invalid(a, "1.0-r1_p1", "1.0");
        check_invalid(a, "1.0~", "1.0");
        check_invalid(a, "1.0~xyz", "1.0");
        check_invalid(a, "1.0 ", "1.0");
}

static void test_pypi(void) {
        const VersionScheme p = VERSION_SCHEME_PYPI;

        /* PEP 440, "Summary of permitted suffixes and relative ordering" */
        const char *const pep[] = {
                "1.0.dev456",    "1.0a1",         "1.0a2.dev456", "1.0a12.dev456",
                "1.0a12",        "1.0b1.dev456",  "1.0b2",        "1.0b2.post345.dev456",
                "1.0b2.post345", "1.0rc1.dev456", "1.0rc1",       "1.0",
                "1.0+abc.5",     "1.0+abc.7",     "1.0+5",        "1.0.post456.dev34",
                "1.0.post456",   "1.0.15",        "1.1.dev1",
        };
        check_chain(p, pep, ELEMENTSOF(pep));

        check_equal(p, "1.0", "1.0.0");
        check_equal(p, "1.0", "1.0.0.0");
        check_less(p, "2.0", "1!0.1");
        check_equal(p, "0!1.0", "1.0");
        check_less(p, "1.9", "1.10");
        check_less(p, "1.0", "1.0.1");
        /* normalisations */
        check_equal(p, "v1.0", "1.0");
        check_equal(p, "V1.0RC1", "1.0rc1");
        check_equal(p, "1.0alpha1", "1.0a1");
        check_equal(p, "1.0-beta.2", "1.0b2");
        check_equal(p, "1.0c1", "1.0rc1");
        check_equal(p, "1.0pre1", "1.0rc1");
        check_equal(p, "1.0preview1", "1.0rc1");
        check_equal(p, "1.0a", "1.0a0");
        check_equal(p, "1.0-1", "1.0.post1");
        check_equal(p, "1.0rev1", "1.0.post1");
        check_equal(p, "1.0-r1", "1.0.post1");
        check_equal(p, "1.0_post_1", "1.0.post1");
        check_equal(p, "1.0post", "1.0.post0");
        check_equal(p, "1.0-dev", "1.0.dev0");
        check_equal(p, "1.0a1-dev2", "1.0a1.dev2");
        check_equal(p, "1.0.DEV1", "1.0.dev1");
        check_equal(p, "  1.0  ", "1.0");
        check_equal(p, "1.0+ABC", "1.0+abc");
        check_equal(p, "1.0+abc-1", "1.0+abc.1");
        check_equal(p, "01.002", "1.2");
        /* local labels: numbers after words, shorter first */
        check_less(p, "1.0+abc", "1.0+abc.1");
        check_less(p, "1.0+abc.z", "1.0+abc.1");
        check_less(p, "1.0+9", "1.0+10");
        check_less(p, "1.0+ubuntu", "1.0.post0");

        check_invalid(p, "", "1.0");
        check_invalid(p, "v", "1.0");
        check_invalid(p, "1.", "1.0");
        check_invalid(p, ".1", "1.0");
        check_invalid(p, "1.0foo", "1.0");
        check_invalid(p, "1!", "1.0");
        check_invalid(p, "!1.0", "1.0");
        check_invalid(p, "1.0+", "1.0");
        check_invalid(p, "1.0+abc..1", "1.0");
        check_invalid(p, "1.0+abc_", "1.0");
        check_invalid(p, "1.0 1", "1.0");
        check_invalid(p, "1.0a1b1", "1.0");        /* one pre-release only */
        check_invalid(p, "1.0.dev1.post1", "1.0"); /* post before dev */
        check_invalid(p, "1.0-", "1.0");
        check_invalid(p, "1.0__1", "1.0");
}

static void test_semver(void) {
        const VersionScheme s = VERSION_SCHEME_SEMVER;

        /* SemVer 2.0.0, item 11 */
        const char *const spec[] = {
                "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
        };
        check_chain(s, spec, ELEMENTSOF(spec));
        const char *const core[] = {
                "0.0.0", "0.0.1", "0.1.0", "0.9.0", "0.10.0", "1.0.0", "2.0.0", "10.0.0"
        };
        check_chain(s, core, ELEMENTSOF(core));

        check_equal(s, "1.0.0+build.1", "1.0.0+build.2");
        check_equal(s, "1.0.0-rc.1+b", "1.0.0-rc.1");
        check_equal(s, "v1.2.3", "1.2.3");
        check_equal(s, "v2.0.0+incompatible", "2.0.0");
        check_less(s, "v1.9.9+incompatible", "v2.0.0+incompatible");
        check_less(s, "1.0.0-1", "1.0.0-a");
        check_less(s, "1.0.0-2", "1.0.0-10");
        check_less(s, "1.0.0-a-b", "1.0.0-a-c");
        check_less(s, "1.0.0-A", "1.0.0-a"); /* ASCII order */
        check_less(s, "1.0.0-alpha", "1.0.0-alphabet");
        check_less(s, "1.0.0-0a", "1.0.0-0b");
        check_less(s, "1.0.0-rc.1", "1.0.0-rc.1.0");
        check_less(s, "99999999999999999999.0.0", "100000000000000000000.0.0");
        CHECK(version_valid(s, "1.0.0-0"));
        CHECK(version_valid(s, "1.0.0-00a")); /* alphanumeric, so leading zeros are fine */
        CHECK(version_valid(s, "1.0.0+001")); /* build identifiers may have them too */

        check_invalid(s, "1.2", "1.0.0");
        check_invalid(s, "01.2.3", "1.0.0");
        check_invalid(s, "1.02.3", "1.0.0");
        check_invalid(s, "1.2.03", "1.0.0");
        check_invalid(s, "1.2.3.4", "1.0.0");
        check_invalid(s, "", "1.0.0");
        check_invalid(s, "v", "1.0.0");
        check_invalid(s, "V1.2.3", "1.0.0");
        check_invalid(s, "vv1.2.3", "1.0.0");
        check_invalid(s, "1.2.3-", "1.0.0");
        check_invalid(s, "1.2.3+", "1.0.0");
        check_invalid(s, "1.2.3-01", "1.0.0");
        check_invalid(s, "1.2.3-a..b", "1.0.0");
        check_invalid(s, "1.2.3-a.", "1.0.0");
        check_invalid(s, "1.2.3-a_b", "1.0.0");
        check_invalid(s, "1.2.3+a+b", "1.0.0");
        check_invalid(s, "1.2.3 ", "1.0.0");
        check_invalid(s, " 1.2.3", "1.0.0");
        check_invalid(s, "-1.2.3", "1.0.0");
}

static void test_ecosystems(void) {
        CHECK(version_scheme_of_ecosystem("Debian") == VERSION_SCHEME_DEBIAN);
        CHECK(version_scheme_of_ecosystem("Debian:12") == VERSION_SCHEME_DEBIAN);
        CHECK(version_scheme_of_ecosystem("Alpine") == VERSION_SCHEME_ALPINE);
        CHECK(version_scheme_of_ecosystem("Alpine:v3.19") == VERSION_SCHEME_ALPINE);
        CHECK(version_scheme_of_ecosystem("PyPI") == VERSION_SCHEME_PYPI);
        CHECK(version_scheme_of_ecosystem("npm") == VERSION_SCHEME_SEMVER);
        CHECK(version_scheme_of_ecosystem("Go") == VERSION_SCHEME_SEMVER);

        CHECK(version_scheme_of_ecosystem(NULL) == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("debian") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("Debian:") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("Debianx") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("Ubuntu") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("PyPI:1") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("crates.io") == _VERSION_SCHEME_INVALID);
        CHECK(version_scheme_of_ecosystem("Go ") == _VERSION_SCHEME_INVALID);
}

static void test_limits(void) {
        char *big = malloc(VERSION_LENGTH_MAX + 2);
        int r = 42;

        CHECK(big);
        memset(big, '1', VERSION_LENGTH_MAX + 1);
        big[VERSION_LENGTH_MAX + 1] = '\0';
        for (VersionScheme s = 0; s < _VERSION_SCHEME_MAX; s++) {
                CHECK(version_compare(s, NULL, "1.0.0", &r) == -EINVAL);
                CHECK(version_compare(s, "1.0.0", NULL, &r) == -EINVAL);
                CHECK(!version_valid(s, NULL));
                CHECK(!version_valid(s, big));
                CHECK(version_compare(s, big, "1.0.0", &r) == -EINVAL);
        }
        big[VERSION_LENGTH_MAX] = '\0';
        CHECK(version_valid(VERSION_SCHEME_DEBIAN, big));
        CHECK(version_valid(VERSION_SCHEME_ALPINE, big));
        CHECK(version_valid(VERSION_SCHEME_PYPI, big));
        CHECK_OK(version_compare(VERSION_SCHEME_DEBIAN, big, "2", &r));
        CHECK(r > 0);
        CHECK(r == 1); /* normalised to -1, 0 or 1 */
        CHECK(version_compare(_VERSION_SCHEME_MAX, "1.0.0", "1.0.0", &r) == -EINVAL);
        CHECK(version_compare(_VERSION_SCHEME_INVALID, "1.0.0", "1.0.0", &r) == -EINVAL);
        CHECK(!version_valid(_VERSION_SCHEME_INVALID, "1.0.0"));
        free(big);
}

int main(void) {
        test_debian();
        test_alpine();
        test_pypi();
        test_semver();
        test_ecosystems();
        test_limits();
        return 0;
}
