/* OSV advisories (https://ossf.github.io/osv-schema/), as the per-ecosystem all.zip archives publish them:
 * one JSON document per vulnerability.  Only what matching needs is kept: the id, a summary, a severity,
 * and for each affected package its ecosystem, name, ranges (ECOSYSTEM or SEMVER events: introduced,
 * fixed, last_affected, limit) and listed versions.  GIT ranges are skipped (they name commits, not
 * versions).  Parsing is strict about types and bounded in size; matching compares versions with the
 * ecosystem's own ordering (version.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "version.h"

#define OSV_DOCUMENT_MAX (4U * 1024U * 1024U) /* bytes of one advisory */
#define OSV_AFFECTED_MAX 1024U
#define OSV_EVENTS_MAX 1024U
#define OSV_VERSIONS_MAX 65536U

typedef enum OsvSeverity {
        OSV_SEVERITY_UNKNOWN,
        OSV_SEVERITY_LOW,
        OSV_SEVERITY_MEDIUM,
        OSV_SEVERITY_HIGH,
        OSV_SEVERITY_CRITICAL,
        _OSV_SEVERITY_MAX,
} OsvSeverity;

const char *osv_severity_to_string(OsvSeverity s); /* "UNKNOWN", "LOW", … "CRITICAL" */
int osv_severity_from_string(const char *s);       /* case-insensitive; "MODERATE" is MEDIUM; -EINVAL */

typedef enum OsvEventKind {
        OSV_EVENT_INTRODUCED,
        OSV_EVENT_FIXED,
        OSV_EVENT_LAST_AFFECTED,
        OSV_EVENT_LIMIT,
} OsvEventKind;

typedef struct OsvEvent {
        OsvEventKind kind;
        char *version; /* "0" for introduced: every version */
} OsvEvent;

typedef struct OsvRange {
        OsvEvent *events;
        size_t n_events;
} OsvRange;

typedef struct OsvAffected {
        char *ecosystem; /* "Debian:12", "PyPI", … */
        char *name;      /* Debian and Alpine: the source package */
        VersionScheme scheme;
        OsvRange *ranges;
        size_t n_ranges;
        char **versions;
        size_t n_versions;
} OsvAffected;

typedef struct OsvEntry {
        char *id;
        char *summary; /* NULL when none */
        OsvSeverity severity;
        OsvAffected *affected;
        size_t n_affected;
} OsvEntry;

OsvEntry *osv_entry_free(OsvEntry *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(OsvEntry *, osv_entry_free);

/* Parses one advisory.  Affected entries of ecosystems without a version ordering are dropped.  -EBADMSG
 * with one sentence in *ret_error (may be NULL) for a document not in OSV's shape; -E2BIG past the
 * limits; -ENOMEM. */
int osv_parse(const char *data, size_t size, OsvEntry **ret, char **ret_error);

/* Whether version (of a's scheme) is affected: listed in versions[], or inside a range — from an
 * introduced event up to the next fixed (exclusive) or last_affected (inclusive) event, or without end.
 * *ret_fixed (may be NULL) gets the fixed version of the range it is in (NULL: none known; caller frees).
 * -EINVAL when version is not a valid version of the scheme. */
int osv_affected_match(const OsvAffected *a, const char *version, bool *ret, char **ret_fixed);
