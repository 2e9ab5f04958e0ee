/* libFuzzer target for the ignore list (.slipwayignore / .trivyignore, a repository's own file) and the
 * policy over it: every id kept is non-empty, has no blank, '#' or NUL and is listed; a finding named by a
 * kept id is waived, so the policy never blocks on it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan-policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ScanIgnore ig = {};
        ScanVerdict v = {};
        json_t *findings;
        int r;

        if (size > SCAN_IGNORE_FILE_MAX)
                return 0;
        r = scan_ignore_parse(&ig, (const char *) data, size);
        if (r < 0 && r != -ENOMEM && r != -E2BIG)
                abort();
        findings = json_array();
        for (size_t i = 0; i < ig.n_ids; i++) {
                const char *id = ig.ids[i];
                if (!id[0] || strlen(id) > SCAN_IGNORE_ID_MAX || strpbrk(id, " \t\r\n#") ||
                    !scan_ignore_has(&ig, id))
                        abort();
                if (findings && i < 64)
                        json_array_append_new(findings,
                                              json_pack("{s:s,s:s}", "id", id, "severity", "CRITICAL"));
        }
        if (findings && scan_policy_decide(findings, NULL, &ig, SCAN_FAIL_ON_CRITICAL, &v) >= 0 &&
            (v.fail || v.n_blocking != 0))
                abort();
        scan_verdict_done(&v);
        json_decref(findings);
        scan_ignore_done(&ig);
        return 0;
}
