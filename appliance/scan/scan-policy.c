/* scan-policy.h: the threshold's rule applied to each finding, the ignore list's waivers, and the sentence. */
#include "scan-policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "string-util.h"

static const char *const fail_on_table[_SCAN_FAIL_ON_MAX] = {
        [SCAN_FAIL_ON_CRITICAL] = "critical",
        [SCAN_FAIL_ON_HIGH] = "high",
        [SCAN_FAIL_ON_NONE] = "none",
};

const char *scan_fail_on_to_string(ScanFailOn f) {
        return f >= 0 && f < _SCAN_FAIL_ON_MAX ? fail_on_table[f] : NULL;
}

ScanFailOn scan_fail_on_from_string(const char *s) {
        for (int i = 0; s && i < _SCAN_FAIL_ON_MAX; i++)
                if (streq(s, fail_on_table[i]))
                        return (ScanFailOn) i;
        return _SCAN_FAIL_ON_INVALID;
}

ScanFailOn scan_fail_on_from_setting(const char *s) {
        return isempty(s) ? SCAN_FAIL_ON_CRITICAL : scan_fail_on_from_string(s);
}

void scan_verdict_done(ScanVerdict *v) {
        if (!v)
                return;
        json_decref(v->blocking);
        free(v->reason);
        *v = (ScanVerdict) {};
}

bool scan_policy_counts(const json_t *finding, bool is_check, ScanFailOn fail_on) {
        const char *sev = json_string_value(json_object_get(finding, "severity"));

        if (fail_on == SCAN_FAIL_ON_NONE || fail_on < 0 || fail_on >= _SCAN_FAIL_ON_MAX)
                return false;
        /* A secret in an image is as bad as its worst vulnerability, whatever the threshold. */
        if (is_check && streq_ptr(json_string_value(json_object_get(finding, "kind")), "secret"))
                return true;
        if (streq_ptr(sev, "CRITICAL"))
                return true;
        return fail_on == SCAN_FAIL_ON_HIGH && streq_ptr(sev, "HIGH");
}

static int add_ids(ScanVerdict *v, const json_t *list, bool is_check, const ScanIgnore *ignore,
                   ScanFailOn fail_on) {
        const json_t *f;
        size_t i;

        json_array_foreach(list, i, f) {
                const char *id = json_string_value(json_object_get(f, "id"));
                if (!id || !scan_policy_counts(f, is_check, fail_on))
                        continue;
                if (scan_ignore_has(ignore, id)) {
                        v->n_waived++;
                        continue;
                }
                v->n_blocking++;
                /* One advisory often hits several packages of one source: its id is named once. */
                bool seen = false;
                for (size_t k = 0; !seen && k < json_array_size(v->blocking); k++)
                        seen = streq(json_string_value(json_array_get(v->blocking, k)), id);
                if (!seen && json_array_append_new(v->blocking, json_string(id)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int scan_policy_decide(const json_t *findings, const json_t *checks, const ScanIgnore *ignore,
                       ScanFailOn fail_on, ScanVerdict *ret) {
        _cleanup_(scan_verdict_done) ScanVerdict v = {};
        char shown[1024] = "";
        size_t len = 0;
        int r;

        if (fail_on < 0 || fail_on >= _SCAN_FAIL_ON_MAX)
                return -EINVAL;
        v.blocking = json_array();
        if (!v.blocking)
                return -ENOMEM;
        if ((r = add_ids(&v, findings, false, ignore, fail_on)) < 0 ||
            (r = add_ids(&v, checks, true, ignore, fail_on)) < 0)
                return r;
        if (v.n_blocking > 0) {
                size_t n_ids = json_array_size(v.blocking);
                for (size_t i = 0; i < n_ids && i < SCAN_POLICY_IDS_SHOWN; i++) {
                        const char *id = json_string_value(json_array_get(v.blocking, i));
                        int n = snprintf(shown + len, sizeof shown - len, "%s%s", i > 0 ? ", " : "", id);
                        if (n < 0 || (size_t) n >= sizeof shown - len)
                                break;
                        len += (size_t) n;
                }
                char more[48] = "";
                if (n_ids > SCAN_POLICY_IDS_SHOWN)
                        snprintf(more, sizeof more, " and %zu more", n_ids - SCAN_POLICY_IDS_SHOWN);
                if (asprintf(
                            &v.reason,
                            "%u %s finding(s) (vulnerabilities or secrets) fail the build: %s%s; fix them, or "
                            "waive one by listing its id in .slipwayignore.",
                            v.n_blocking, fail_on == SCAN_FAIL_ON_HIGH ? "high or critical" : "critical",
                            shown, more) < 0) {
                        v.reason = NULL;
                        return -ENOMEM;
                }
                v.fail = true;
        }
        *ret = v;
        v = (ScanVerdict) {};
        return 0;
}
