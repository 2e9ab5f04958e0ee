/* The offline vulnerability database: OSV advisories imported from an archive (OSV's per-ecosystem all.zip,
 * or a tar of *.json as `slipway vulndb import DIR` sends it) into slipway.db, and the matching of an
 * image's SBOM against them (version.h orderings; Debian and Alpine advisories by source package). */
#pragma once

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "osv.h"
#include "sbom.h"

#define VULNDB_ENTRIES_MAX 2000000U

typedef struct VulndbImportResult {
        int64_t entries; /* advisories stored (new or replaced) */
        int64_t skipped; /* documents not in OSV's shape, or naming no ecosystem we order */
} VulndbImportResult;

/* Reads every *.json member of the archive at fd (zip or tar, compressed or not) and stores them in one
 * transaction: all or nothing.  -EBADMSG with one sentence in *ret_error when the file is no archive or
 * holds no advisory; -E2BIG past VULNDB_ENTRIES_MAX. */
int vulndb_import(sqlite3 *db, int fd, const char *source, VulndbImportResult *ret, char **ret_error);

typedef struct VulndbCounts {
        unsigned total, by_severity[_OSV_SEVERITY_MAX];
} VulndbCounts;

/* The findings of s: a JSON array of {"id", "package", "source", "ecosystem", "installed", "fixed",
 * "severity", "summary", "purl"} (one per advisory and package), and their counts. */
int vulndb_match(sqlite3 *db, const Sbom *s, json_t **ret, VulndbCounts *ret_counts);
