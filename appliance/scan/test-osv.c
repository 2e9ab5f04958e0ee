/* Unit tests for OSV advisories: the reader's refusals and the range evaluation of the OSV schema, with the
 * ecosystems' own version orderings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "osv.h"

#include "tests.h"

static const char debian_doc[] =
        "{\"id\": \"DSA-0001-1\", \"summary\": \"openssl: several issues\", \"modified\": \"2024-01-01T00:00:00Z\","
        " \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"openssl\"},"
        "   \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"3.0.11-1~deb12u2\"}]}],"
        "   \"ecosystem_specific\": {\"urgency\": \"high\"}},"
        "  {\"package\": {\"ecosystem\": \"Maven\", \"name\": \"x:y\"}, \"versions\": [\"1.0\"]},"
        "  {\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"openssl\"},"
        "   \"ranges\": [{\"type\": \"GIT\", \"repo\": \"https://x\", \"events\": [{\"introduced\": \"abc\"}]}]}],"
        " \"database_specific\": {\"severity\": \"CRITICAL\"}}";

static bool match(const OsvAffected *a, const char *v, const char *fixed_expected) {
        _cleanup_free_ char *fixed = NULL;
        bool hit = false;

        CHECK_OK(osv_affected_match(a, v, &hit, &fixed));
        if (hit && fixed_expected)
                CHECK_STREQ(fixed, fixed_expected);
        return hit;
}

static void test_debian(void) {
        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;
        _cleanup_free_ char *error = NULL;

        CHECK_OK(osv_parse(debian_doc, strlen(debian_doc), &e, &error));
        CHECK_STREQ(e->id, "DSA-0001-1");
        CHECK(e->severity == OSV_SEVERITY_CRITICAL);
        /* Maven has no ordering here: dropped.  The GIT-only entry stays, with no range. */
        CHECK(e->n_affected == 2);
        CHECK_STREQ(e->affected[0].name, "openssl");
        CHECK(e->affected[0].scheme == VERSION_SCHEME_DEBIAN);
        CHECK(match(&e->affected[0], "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"));
        CHECK(match(&e->affected[0], "1:0.9", NULL) == false); /* an epoch sorts after every plain version */
        CHECK(!match(&e->affected[0], "3.0.11-1~deb12u2", NULL));
        CHECK(!match(&e->affected[0], "3.0.11-1", NULL)); /* ~ sorts before the end: u2 < the release */
        CHECK(match(&e->affected[0], "3.0.9-1", NULL));
        CHECK(e->affected[1].n_ranges == 0);
        CHECK(!match(&e->affected[1], "3.0.9-1", NULL));
        bool hit;
        CHECK(osv_affected_match(&e->affected[0], "not a version", &hit, NULL) == -EINVAL);
}

static void test_semver_last_affected_and_versions(void) {
        static const char doc[] =
                "{\"id\": \"GHSA-aaaa\", \"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"left-pad\"},"
                " \"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"1.2.0\"}, {\"last_affected\": "
                "\"1.3.0\"}, {\"introduced\": \"2.0.0\"}, {\"fixed\": \"2.1.4\"}]}],"
                " \"versions\": [\"0.9.0\"]}], \"database_specific\": {\"severity\": \"MODERATE\"}}";
        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;

        CHECK_OK(osv_parse(doc, strlen(doc), &e, NULL));
        CHECK(e->severity == OSV_SEVERITY_MEDIUM);
        const OsvAffected *a = &e->affected[0];
        CHECK(!match(a, "1.1.9", NULL));
        CHECK(match(a, "1.2.0", NULL));
        CHECK(match(a, "1.3.0", NULL));
        CHECK(!match(a, "1.3.1", NULL));
        CHECK(match(a, "2.1.3", "2.1.4"));
        CHECK(match(a, "2.1.4-rc.1", "2.1.4"));
        CHECK(!match(a, "2.1.4", NULL));
        CHECK(match(a, "0.9.0", NULL)); /* listed */
}

static void test_pypi_and_alpine(void) {
        static const char doc[] =
                "{\"id\": \"PYSEC-1\", \"affected\": [{\"package\": {\"ecosystem\": \"PyPI\", \"name\": \"django\"},"
                " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"4.2a1\"}, {\"fixed\": "
                "\"4.2.7\"}]}]}, {\"package\": {\"ecosystem\": \"Alpine:v3.19\", \"name\": \"busybox\"},"
                " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": "
                "\"1.36.1-r16\"}]}]}]}";
        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;

        CHECK_OK(osv_parse(doc, strlen(doc), &e, NULL));
        CHECK(e->severity == OSV_SEVERITY_UNKNOWN);
        CHECK(match(&e->affected[0], "4.2rc1", "4.2.7"));
        CHECK(match(&e->affected[0], "4.2.6", "4.2.7"));
        CHECK(!match(&e->affected[0], "4.2.7", NULL));
        CHECK(!match(&e->affected[0], "4.1.9", NULL));
        CHECK(match(&e->affected[1], "1.36.1-r15", "1.36.1-r16"));
        CHECK(!match(&e->affected[1], "1.36.1-r16", NULL));
}

static void test_refusals(void) {
        static const char *const bad[] = {
                "[]",
                "{}",
                "{\"id\": 5}",
                "{\"id\": \"X\", \"affected\": {}}",
                "{\"id\": \"X\", \"affected\": [{\"package\": {\"name\": \"a\"}}]}",
                "{\"id\": \"X\", \"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"a\"}, "
                "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"fixed\": \"one\"}]}]}]}",
                "{\"id\": \"X\", \"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"a\"}, "
                "\"ranges\": [{\"type\": \"SEMVER\", \"events\": [{\"fixed\": \"1.0.0\", \"introduced\": \"0\"}]}]}]}",
                "{\"id\": \"X\", \"affected\": [{\"package\": {\"ecosystem\": \"npm\", \"name\": \"a\"}, "
                "\"versions\": [1]}]}",
                "not json",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(osv_entry_freep) OsvEntry *e = NULL;
                _cleanup_free_ char *error = NULL;
                CHECK(osv_parse(bad[i], strlen(bad[i]), &e, &error) == -EBADMSG);
                CHECK(error && error[0] && !e);
        }
}

int main(void) {
        test_debian();
        test_semver_last_affected_and_versions();
        test_pypi_and_alpine();
        test_refusals();
        return 0;
}
