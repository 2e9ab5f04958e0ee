/* Unit tests for the scan policy and the ignore list: each threshold against vulnerabilities of every
 * severity and against secrets, waivers by id, the sentence naming the first ids, and the ignore files'
 * syntax (comments, Trivy's trailing fields, a link not followed, the size limit). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "scan-policy.h"

#include "tests.h"

static json_t *vuln(const char *id, const char *severity) {
        return json_pack("{s:s,s:s,s:s}", "id", id, "severity", severity, "package", "p");
}

static json_t *check(const char *id, const char *kind, const char *severity) {
        return json_pack("{s:s,s:s,s:s}", "id", id, "kind", kind, "severity", severity);
}

static void test_fail_on_names(void) {
        CHECK(scan_fail_on_from_string("critical") == SCAN_FAIL_ON_CRITICAL);
        CHECK(scan_fail_on_from_string("high") == SCAN_FAIL_ON_HIGH);
        CHECK(scan_fail_on_from_string("none") == SCAN_FAIL_ON_NONE);
        CHECK(scan_fail_on_from_string("CRITICAL") == _SCAN_FAIL_ON_INVALID);
        CHECK(scan_fail_on_from_string("medium") == _SCAN_FAIL_ON_INVALID);
        CHECK(scan_fail_on_from_string(NULL) == _SCAN_FAIL_ON_INVALID);
        CHECK(scan_fail_on_from_setting(NULL) == SCAN_FAIL_ON_CRITICAL);
        CHECK(scan_fail_on_from_setting("") == SCAN_FAIL_ON_CRITICAL);
        CHECK(scan_fail_on_from_setting("high") == SCAN_FAIL_ON_HIGH);
        CHECK(scan_fail_on_from_setting("bogus") == _SCAN_FAIL_ON_INVALID);
        for (int i = 0; i < _SCAN_FAIL_ON_MAX; i++)
                CHECK(scan_fail_on_from_string(scan_fail_on_to_string((ScanFailOn) i)) == i);
        CHECK(!scan_fail_on_to_string(_SCAN_FAIL_ON_MAX));
}

static void test_thresholds(void) {
        _cleanup_json_ json_t *findings = json_array(), *checks = json_array();
        ScanVerdict v = {};

        json_array_append_new(findings, vuln("CVE-HIGH", "HIGH"));
        json_array_append_new(findings, vuln("CVE-MED", "MEDIUM"));
        json_array_append_new(findings, vuln("CVE-LOW", "LOW"));
        json_array_append_new(findings, vuln("CVE-UNK", "UNKNOWN"));
        json_array_append_new(checks, check("config:user-root", "config", "MEDIUM"));

        /* Default threshold: a HIGH vulnerability and running as root do not fail the build. */
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(!v.fail && v.n_blocking == 0 && !v.reason && json_array_size(v.blocking) == 0);
        scan_verdict_done(&v);

        /* high: the HIGH one does, and only it. */
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_HIGH, &v));
        CHECK(v.fail && v.n_blocking == 1);
        CHECK_STREQ(json_string_value(json_array_get(v.blocking, 0)), "CVE-HIGH");
        CHECK(strstr(v.reason, "1 high or critical finding(s)") && strstr(v.reason, "CVE-HIGH") &&
              strstr(v.reason, ".slipwayignore"));
        CHECK(!strstr(v.reason, "CVE-MED"));
        scan_verdict_done(&v);

        /* A CRITICAL one fails it at both; none never fails. */
        json_array_append_new(findings, vuln("CVE-CRIT", "CRITICAL"));
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(v.fail && v.n_blocking == 1 && strstr(v.reason, "1 critical finding(s)") &&
              strstr(v.reason, "CVE-CRIT"));
        scan_verdict_done(&v);
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_HIGH, &v));
        CHECK(v.fail && v.n_blocking == 2);
        scan_verdict_done(&v);
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_NONE, &v));
        CHECK(!v.fail && v.n_blocking == 0 && !v.reason);
        scan_verdict_done(&v);

        /* A secret fails at critical and high, whatever severity it carries; not at none. */
        _cleanup_json_ json_t *secrets = json_array();
        json_array_append_new(secrets, check("secret:private-key:/k", "secret", "LOW"));
        CHECK_OK(scan_policy_decide(NULL, secrets, NULL, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(v.fail && strstr(v.reason, "secret:private-key:/k"));
        scan_verdict_done(&v);
        CHECK_OK(scan_policy_decide(NULL, secrets, NULL, SCAN_FAIL_ON_NONE, &v));
        CHECK(!v.fail);
        scan_verdict_done(&v);

        CHECK(scan_policy_decide(findings, checks, NULL, _SCAN_FAIL_ON_INVALID, &v) == -EINVAL);
        CHECK(scan_policy_decide(findings, checks, NULL, _SCAN_FAIL_ON_MAX, &v) == -EINVAL);
        /* The inputs are not changed. */
        CHECK(json_array_size(findings) == 5 && !json_object_get(json_array_get(findings, 0), "waived"));
}

static void test_waivers_and_reason(void) {
        _cleanup_json_ json_t *findings = json_array(), *checks = json_array();
        _cleanup_(scan_ignore_done) ScanIgnore ig = {};
        ScanVerdict v = {};
        char id[32];

        for (int i = 1; i <= 5; i++) {
                snprintf(id, sizeof id, "CVE-2026-%04d", i);
                json_array_append_new(findings, vuln(id, "CRITICAL"));
        }
        json_array_append_new(checks, check("secret:aws-access-key-id:/env", "secret", "CRITICAL"));
        static const char list[] = "# accepted until the base image moves\n"
                                   "CVE-2026-0001\n"
                                   "  CVE-2026-0003   exp:2027-01-01\n"
                                   "CVE-2026-0004# trailing comment\r\n"
                                   "secret:aws-access-key-id:/env";
        CHECK_OK(scan_ignore_parse(&ig, list, strlen(list)));
        CHECK(ig.n_ids == 4);
        CHECK(scan_ignore_has(&ig, "CVE-2026-0003") && scan_ignore_has(&ig, "CVE-2026-0004"));
        CHECK(!scan_ignore_has(&ig, "CVE-2026-000") && !scan_ignore_has(&ig, "#") &&
              !scan_ignore_has(NULL, "x"));

        CHECK_OK(scan_policy_decide(findings, checks, &ig, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(v.fail && v.n_blocking == 2 && v.n_waived == 4);
        CHECK_STREQ(v.reason,
                    "2 critical finding(s) (vulnerabilities or secrets) fail the build: CVE-2026-0002, "
                    "CVE-2026-0005; fix them, or waive one by listing its id in .slipwayignore.");
        scan_verdict_done(&v);

        /* All waived: the build goes on. */
        CHECK_OK(scan_ignore_parse(&ig, "CVE-2026-0002\nCVE-2026-0005\n", 28));
        CHECK_OK(scan_policy_decide(findings, checks, &ig, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(!v.fail && v.n_blocking == 0 && v.n_waived == 6);
        scan_verdict_done(&v);

        /* Past SCAN_POLICY_IDS_SHOWN ids the sentence counts the rest. */
        CHECK_OK(scan_policy_decide(findings, checks, NULL, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(v.n_blocking == 6 &&
              strstr(v.reason, "CVE-2026-0001, CVE-2026-0002, CVE-2026-0003 and 3 more;"));
        CHECK(!strstr(v.reason, "CVE-2026-0004"));
        scan_verdict_done(&v);

        /* One advisory hitting several packages: counted per finding, named once. */
        _cleanup_json_ json_t *same = json_array();
        for (int i = 0; i < 4; i++)
                json_array_append_new(same, vuln("DSA-9999-1", "CRITICAL"));
        CHECK_OK(scan_policy_decide(same, NULL, NULL, SCAN_FAIL_ON_CRITICAL, &v));
        CHECK(v.n_blocking == 4 && json_array_size(v.blocking) == 1);
        CHECK_STREQ(v.reason,
                    "4 critical finding(s) (vulnerabilities or secrets) fail the build: DSA-9999-1; fix "
                    "them, or waive one by listing its id in .slipwayignore.");
        scan_verdict_done(&v);
}

static void test_ignore_files(void) {
        char dir[] = "/tmp/test-scan-policy.XXXXXX", path[256];
        _cleanup_(scan_ignore_done) ScanIgnore ig = {};
        _cleanup_close_ int fd = -EBADF;
        FILE *fp;

        CHECK(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_OK(scan_ignore_load(fd, &ig)); /* neither file: nothing waived */
        CHECK(ig.n_ids == 0);

        snprintf(path, sizeof path, "%s/.slipwayignore", dir);
        CHECK((fp = fopen(path, "w")));
        fputs("DSA-1\n", fp);
        fclose(fp);
        snprintf(path, sizeof path, "%s/.trivyignore", dir);
        CHECK(symlink("/etc/passwd", path) == 0); /* a link out of the context is not read */
        CHECK_OK(scan_ignore_load(fd, &ig));
        CHECK(ig.n_ids == 1 && scan_ignore_has(&ig, "DSA-1") &&
              !scan_ignore_has(&ig, "root:x:0:0:root:/root:/bin/bash"));
        scan_ignore_done(&ig);
        CHECK(unlink(path) == 0);
        CHECK((fp = fopen(path, "w")));
        fputs("CVE-2", fp);
        fclose(fp);
        CHECK_OK(scan_ignore_load(fd, &ig));
        CHECK(ig.n_ids == 2 && scan_ignore_has(&ig, "CVE-2"));
        scan_ignore_done(&ig);

        /* Larger than the limit: refused, not cut. */
        CHECK((fp = fopen(path, "w")));
        for (unsigned i = 0; i < SCAN_IGNORE_FILE_MAX / 8 + 1; i++)
                fputs("CVE-99\n#", fp);
        fclose(fp);
        CHECK(scan_ignore_load(fd, &ig) == -EFBIG);
        scan_ignore_done(&ig);
        (void) rm_rf(dir);
}

static void test_ignore_limits(void) {
        _cleanup_(scan_ignore_done) ScanIgnore ig = {};
        _cleanup_free_ char *many = NULL, *longid = NULL;
        size_t n = 0;

        many = malloc((SCAN_IGNORE_IDS_MAX + 1) * 8 + 1);
        CHECK(many);
        for (unsigned i = 0; i <= SCAN_IGNORE_IDS_MAX; i++)
                n += (size_t) sprintf(many + n, "X%05u\n", i);
        CHECK(scan_ignore_parse(&ig, many, n) == -E2BIG);
        scan_ignore_done(&ig);

        longid = malloc(SCAN_IGNORE_ID_MAX + 8);
        CHECK(longid);
        memset(longid, 'a', SCAN_IGNORE_ID_MAX + 1);
        memcpy(longid + SCAN_IGNORE_ID_MAX + 1, "\nOK\n", 4);
        CHECK_OK(scan_ignore_parse(&ig, longid, SCAN_IGNORE_ID_MAX + 5));
        CHECK(ig.n_ids == 1 && scan_ignore_has(&ig, "OK"));
}

int main(void) {
        test_fail_on_names();
        test_thresholds();
        test_waivers_and_reason();
        test_ignore_files();
        test_ignore_limits();
        return 0;
}
