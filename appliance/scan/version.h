/* Version ordering of the package ecosystems the scanner matches advisories in, each by its own rules:
 * Debian (dpkg: epoch, upstream, revision, '~' before everything), Alpine (apk), PyPI (PEP 440), npm and Go
 * (SemVer 2.0.0; Go's "v" prefix and +incompatible).  Pure functions, no allocation visible to the caller. */
#pragma once

#include <errno.h>
#include <stdbool.h>

typedef enum VersionScheme {
        VERSION_SCHEME_DEBIAN,
        VERSION_SCHEME_ALPINE,
        VERSION_SCHEME_PYPI,
        VERSION_SCHEME_SEMVER, /* npm, Go, and OSV's SEMVER ranges */
        _VERSION_SCHEME_MAX,
        _VERSION_SCHEME_INVALID = -EINVAL,
} VersionScheme;

/* The longest version string any scheme accepts (the longest in Debian's archive is under 100 bytes); a
 * longer one is not valid.  It bounds the stack copy the Debian comparison makes. */
#define VERSION_LENGTH_MAX 1024U

/* The scheme of an OSV ecosystem name: "Debian", "Debian:12", "Alpine", "Alpine:v3.19", "PyPI", "npm",
 * "Go"; -EINVAL (as _VERSION_SCHEME_INVALID) for any other. */
VersionScheme version_scheme_of_ecosystem(const char *ecosystem);

/* Compares a and b under scheme: *ret < 0, 0 or > 0 as a sorts before, equal to or after b.  -EINVAL when
 * either is not a valid version of that scheme (nothing else is written then). */
int version_compare(VersionScheme scheme, const char *a, const char *b, int *ret);

/* True when v is a valid version of scheme. */
bool version_valid(VersionScheme scheme, const char *v);
