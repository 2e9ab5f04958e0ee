/* One scan of a stored image, the same for the pipeline's scan step and `slipway image scan`: the SBOM
 * (scan-image.c), its components matched against the offline OSV database (vulndb.c), the secrets of each
 * layer and the config checks, each finding flagged "waived" when the ignore list names it, and the policy's
 * verdict (scan-policy.c).  Every finding stays in the document whether or not it fails anything. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "image-catalog.h"
#include "scan-policy.h"
#include "vulndb.h"

typedef struct ScanReport {
        json_t *bom; /* CycloneDX 1.5 */
        /* {"image", "digest", "components", "ecosystems" {NAME: count}, "advisories", "findings" [],
         *  "checks" [], "counts" {secrets, critical, high, medium, low, unknown},
         *  "policy" {fail_on, failed, reason, blocking [], waived}} */
        json_t *doc;
        size_t n_components;
        int64_t advisories; /* in the database when it was matched: 0 when none was imported */
        unsigned n_secrets;
        VulndbCounts counts;
        ScanVerdict verdict;
} ScanReport;

void scan_report_done(ScanReport *r);

/* Scans image digest (named image_name in the SBOM) with temporary files below tmp_parent, matching
 * against db's advisories and deciding with fail_on and ignore (may be NULL).  On failure err says what
 * went wrong in one sentence. */
int scan_report_make(ImageCatalog *c, sqlite3 *db, const char *digest, const char *image_name,
                     const char *tmp_parent, const ScanIgnore *ignore, ScanFailOn fail_on, ScanReport *ret,
                     OciError *err);
