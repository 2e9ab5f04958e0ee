/* scan-report.h: the SBOM, the vulnerability match, the checks and the verdict put into one document. */
#include "scan-report.h"

#include <errno.h>
#include <string.h>

#include "json-util.h"
#include "scan-image.h"
#include "string-util.h"
#include "vuln-db.h"

void scan_report_done(ScanReport *r) {
        if (!r)
                return;
        json_decref(r->bom);
        json_decref(r->doc);
        scan_verdict_done(&r->verdict);
        *r = (ScanReport) {};
}

static json_t *ecosystems_json(const Sbom *s) {
        json_t *o = json_object();

        for (size_t i = 0; o && i < s->n_components; i++) {
                const char *e = s->components[i].ecosystem ?: "unknown";
                json_int_t n = json_integer_value(json_object_get(o, e));
                if (json_object_set_new(o, e, json_integer(n + 1)) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static int mark_waived(json_t *list, const ScanIgnore *ignore) {
        json_t *f;
        size_t i;

        json_array_foreach(list, i, f) {
                const char *id = json_string_value(json_object_get(f, "id"));
                if (json_object_set_new(f, "waived", json_boolean(scan_ignore_has(ignore, id))) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int scan_report_make(ImageCatalog *c, sqlite3 *db, const char *digest, const char *image_name,
                     const char *tmp_parent, const ScanIgnore *ignore, ScanFailOn fail_on, ScanReport *ret,
                     OciError *err) {
        _cleanup_(scan_report_done) ScanReport rep = {};
        _cleanup_json_ json_t *findings = NULL, *checks = NULL;
        _cleanup_(sbom_freep) Sbom *sbom = NULL;
        json_t *f;
        size_t i;
        int r;

        r = scan_image_sbom(c, digest, image_name, tmp_parent, &rep.bom, &sbom, &checks, err);
        if (r < 0) {
                if (!err || !err->message[0])
                        oci_error_set(err, r, "Check the daemon's log and the disk.",
                                      "The image's SBOM cannot be made: %s.", strerror(-r));
                return r;
        }
        rep.n_components = sbom->n_components;
        (void) model_vuln_count(db, &rep.advisories);
        r = vulndb_match(db, sbom, &findings, &rep.counts);
        if (r < 0)
                return oci_error_set(err, r, "Import the database again with 'slipway vulndb import'.",
                                     "The SBOM cannot be matched against the vulnerability database: %s.",
                                     strerror(-r));
        json_array_foreach(checks, i, f)
                if (streq_ptr(json_string_value(json_object_get(f, "kind")), "secret"))
                        rep.n_secrets++;
        if ((r = mark_waived(findings, ignore)) < 0 || (r = mark_waived(checks, ignore)) < 0)
                return r;
        r = scan_policy_decide(findings, checks, ignore, fail_on, &rep.verdict);
        if (r < 0)
                return oci_error_set(err, r, "Set it to critical, high or none.",
                                     "The scan threshold is not one Slipway knows.");
        const VulndbCounts *k = &rep.counts;
        rep.doc = json_pack(
                "{s:s?,s:s,s:I,s:o,s:I,s:O,s:O,s:{s:i,s:i,s:i,s:i,s:i,s:i},s:{s:s,s:b,s:s?,s:O,s:i}}",
                "image", image_name, "digest", digest, "components", (json_int_t) rep.n_components,
                "ecosystems", ecosystems_json(sbom), "advisories", (json_int_t) rep.advisories, "findings",
                findings, "checks", checks, "counts", "secrets", rep.n_secrets, "critical",
                k->by_severity[OSV_SEVERITY_CRITICAL], "high", k->by_severity[OSV_SEVERITY_HIGH], "medium",
                k->by_severity[OSV_SEVERITY_MEDIUM], "low", k->by_severity[OSV_SEVERITY_LOW], "unknown",
                k->by_severity[OSV_SEVERITY_UNKNOWN], "policy", "fail_on", scan_fail_on_to_string(fail_on),
                "failed", rep.verdict.fail, "reason", rep.verdict.reason, "blocking", rep.verdict.blocking,
                "waived", rep.verdict.n_waived);
        if (!rep.doc)
                return -ENOMEM;
        *ret = rep;
        rep = (ScanReport) {};
        return 0;
}
