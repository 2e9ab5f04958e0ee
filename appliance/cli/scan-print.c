/* scan-print.h: the scan report as aligned tables and plain sentences. */
#include "scan-print.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "json-util.h"
#include "macro.h"

static const char *s_or(json_t *o, const char *key, const char *dflt) {
        const char *v = json_string_value(json_object_get(o, key));
        return v && *v ? v : dflt;
}

static long long i_of(json_t *o, const char *key) {
        return (long long) json_integer_value(json_object_get(o, key));
}

static void print_sbom_summary(json_t *doc) {
        json_t *eco = json_object_get(doc, "ecosystems"), *v;
        const char *name;
        bool first = true;

        printf("SBOM:        %lld package(s)", i_of(doc, "components"));
        json_object_foreach(eco, name, v) {
                printf("%s%s %lld", first ? " (" : ", ", name, (long long) json_integer_value(v));
                first = false;
        }
        printf("%s, CycloneDX 1.5\n", first ? "" : ")");
}

static void print_advisories(json_t *doc) {
        json_t *at = json_object_get(doc, "vulndb_imported_at");
        char when[32];

        if (i_of(doc, "advisories") == 0) {
                printf("Advisories:  none imported: vulnerabilities are not checked (import OSV's all.zip with "
                       "'slipway vulndb import FILE.zip')\n");
                return;
        }
        printf("Advisories:  %lld", i_of(doc, "advisories"));
        if (json_is_integer(at)) {
                printf(", newest import %s", model_format_time(at, when));
                if (time(NULL) - (time_t) json_integer_value(at) > VULNDB_OLD_DAYS * 24 * 3600)
                        printf(" (more than %d days old: import fresh archives)", VULNDB_OLD_DAYS);
        }
        printf("\n");
}

static int print_vulnerabilities(json_t *findings) {
        _cleanup_(table_freep) Table *t = NULL;
        json_t *f;
        size_t i;

        if (json_array_size(findings) == 0)
                return 0;
        t = table_new(6, "ID", "SEVERITY", "PACKAGE", "INSTALLED", "FIXED", "NOTE");
        if (!t)
                return -ENOMEM;
        json_array_foreach(findings, i, f) {
                char pkg[512];
                const char *src = s_or(f, "source", NULL), *name = s_or(f, "package", "-");
                if (src && !streq(src, name))
                        snprintf(pkg, sizeof pkg, "%s (source %s)", name, src);
                else
                        snprintf(pkg, sizeof pkg, "%s", name);
                if (table_add_row(t, s_or(f, "id", "-"), s_or(f, "severity", "-"), pkg,
                                  s_or(f, "installed", "-"), s_or(f, "fixed", "-"),
                                  json_is_true(json_object_get(f, "waived")) ? "waived" : "") < 0)
                        return -ENOMEM;
        }
        printf("\n");
        table_print(t);
        return 0;
}

static int print_checks(json_t *checks) {
        _cleanup_(table_freep) Table *t = NULL;
        json_t *f;
        size_t i;

        if (json_array_size(checks) == 0)
                return 0;
        t = table_new(5, "CHECK", "SEVERITY", "FILE", "LAYER", "NOTE");
        if (!t)
                return -ENOMEM;
        json_array_foreach(checks, i, f) {
                bool waived = json_is_true(json_object_get(f, "waived"));
                const char *note = s_or(f, "summary", "");
                char layer[128] = "-", n[512];
                if (json_object_get(f, "layer"))
                        snprintf(layer, sizeof layer, "%s (layer %lld)", s_or(f, "layer", "?"),
                                 i_of(f, "layer_index") + 1);
                snprintf(n, sizeof n, "%s%s%s", waived ? "waived" : "", waived && *note ? "; " : "", note);
                if (table_add_row(t, s_or(f, "id", "-"), s_or(f, "severity", "-"), s_or(f, "file", "-"),
                                  layer, n) < 0)
                        return -ENOMEM;
        }
        printf("\n");
        table_print(t);
        return 0;
}

void scan_print(json_t *doc, ScanPrintMode mode) {
        json_t *counts = json_object_get(doc, "counts"), *policy = json_object_get(doc, "policy");
        json_t *findings = json_object_get(doc, "findings"), *checks = json_object_get(doc, "checks");
        const char *fail_on = s_or(policy, "fail_on", "critical");
        size_t n_checks = json_array_size(checks);
        long long secrets = i_of(counts, "secrets");

        print_sbom_summary(doc);
        print_advisories(doc);
        printf("Findings:    %zu vulnerabilit%s (%lld critical, %lld high, %lld medium, %lld low, %lld "
               "unknown), %lld secret(s), %lld other check(s)\n",
               json_array_size(findings), json_array_size(findings) == 1 ? "y" : "ies",
               i_of(counts, "critical"), i_of(counts, "high"), i_of(counts, "medium"), i_of(counts, "low"),
               i_of(counts, "unknown"), secrets, (long long) n_checks - secrets);
        if (policy) {
                bool failed = json_is_true(json_object_get(policy, "failed"));
                if (mode == SCAN_PRINT_IMAGE)
                        printf("Policy:      a build with this image %s at the default threshold (%s)%s%s\n",
                               failed ? "would fail" : "would pass", fail_on, failed ? ": " : "",
                               failed ? s_or(policy, "reason", "") : "");
                else
                        printf("Policy:      fail on %s: %s%s\n", fail_on,
                               failed ? "the build failed: " : "passed",
                               failed ? s_or(policy, "reason", "") : "");
                if (i_of(policy, "waived") > 0)
                        printf("             %lld finding(s) at or above the threshold waived by the build "
                               "context's .slipwayignore\n",
                               i_of(policy, "waived"));
        }
        if (print_vulnerabilities(findings) < 0 || print_checks(checks) < 0)
                (void) log_oom_cli();
}
