/* Package URLs (github.com/package-url/purl-spec) of the components the SBOM scanner finds.  Every
 * name, version and qualifier value is percent-encoded as the spec says: only [A-Za-z0-9.-_~] and ':'
 * stay as they are, so a version like "1:2.3+dfsg-4" becomes "1:2.3%2Bdfsg-4". */
#pragma once

#include <stddef.h>

/* Appends the percent-encoded form of s to the buffer *buf (of length *len), reallocating it. */
int sbom_purl_append_encoded(char **buf, size_t *len, const char *s);

/* pkg:deb/debian/NAME@VERSION?arch=ARCH&upstream=SOURCE (arch and upstream when not NULL). */
int sbom_purl_deb(const char *name, const char *version, const char *arch, const char *source, char **ret);
/* pkg:apk/alpine/NAME@VERSION?arch=ARCH */
int sbom_purl_apk(const char *name, const char *version, const char *arch, char **ret);
/* pkg:pypi/NAME@VERSION, the name lowercased and '_' turned into '-'. */
int sbom_purl_pypi(const char *name, const char *version, char **ret);
/* pkg:npm/%40scope/name@version, or pkg:npm/name@version. */
int sbom_purl_npm(const char *name, const char *version, char **ret);
/* pkg:golang/MODULE@VERSION, each '/'-separated part of the module path encoded; no @VERSION when version is
 * NULL or "(devel)". */
int sbom_purl_golang(const char *module, const char *version, char **ret);
