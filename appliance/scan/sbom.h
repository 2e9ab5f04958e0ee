/* The software bill of materials of an image: the packages its filesystem says it has, read from an
 * unpacked root directory (the merged layers), never by running anything in it:
 *   dpkg     var/lib/dpkg/status and the files of var/lib/dpkg/status.d (distroless)   ecosystem "Debian"
 *   apk      lib/apk/db/installed                                                      ecosystem "Alpine"
 *   Python   NAME.dist-info/METADATA under site-packages or dist-packages                ecosystem "PyPI"
 *   npm      package.json of each package under node_modules                           ecosystem "npm"
 *   Go       the module list embedded in Go binaries (.go.buildinfo)                   ecosystem "Go"
 * Files are opened below the root only (openat2 RESOLVE_IN_ROOT or equivalent: a symlink never leads
 * out), each read up to a limit.  The result is written as CycloneDX 1.5 JSON. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "macro.h"

#define SBOM_COMPONENTS_MAX 100000U
#define SBOM_DB_FILE_MAX (64U * 1024U * 1024U) /* bytes of one package database read */

typedef struct SbomComponent {
        char *name;      /* the package name as the ecosystem spells it (Debian: the binary package) */
        char *version;   /* as installed (Debian: with epoch and revision, "1:2.3-4") */
        char *ecosystem; /* "Debian", "Alpine", "PyPI", "npm", "Go" */
        char *source; /* Debian/Alpine: the source package ("origin" for apk) when it differs, else NULL */
        char *path;   /* where it was found, relative to the root: "var/lib/dpkg/status", "usr/bin/app" */
        char *purl;   /* package URL: pkg:deb/debian/NAME@VERSION?arch=amd64, pkg:apk/alpine/…,
                           * pkg:pypi/…, pkg:npm/…, pkg:golang/… */
} SbomComponent;

typedef struct Sbom {
        SbomComponent *components;
        size_t n_components;
} Sbom;

Sbom *sbom_free(Sbom *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sbom *, sbom_free);

/* Reads every package database under root_fd (a directory fd of the unpacked image).  Unreadable or
 * malformed entries are skipped (a count in *ret_skipped, may be NULL); -ENOMEM, -E2BIG past
 * SBOM_COMPONENTS_MAX, or -errno when root_fd itself cannot be read. */
int sbom_scan_root(int root_fd, Sbom **ret, size_t *ret_skipped);

/* Parsers of one database's bytes, for the scan and the fuzz targets: they append to s and return the
 * number of entries skipped as malformed (>= 0), or -ENOMEM / -E2BIG. */
int sbom_parse_dpkg_status(Sbom *s, const char *data, size_t size, const char *path);
int sbom_parse_apk_installed(Sbom *s, const char *data, size_t size, const char *path);

/* CycloneDX 1.5 JSON: bomFormat "CycloneDX", specVersion "1.5", serialNumber "urn:uuid:…" (random),
 * version 1, metadata {timestamp, component {type "container", name image_name}}, components[] {type
 * "library" (or "application" for Go binaries' main module), name, version, purl, bom-ref}. */
int sbom_to_cyclonedx(const Sbom *s, const char *image_name, json_t **ret);

/* Helper for the parsers: appends one component, copying every string (source and purl may be NULL).
 * Strings must be valid UTF-8 without control characters, name and version not empty: -EBADMSG
 * otherwise (the caller counts it as skipped); -E2BIG past SBOM_COMPONENTS_MAX.  A Go binary's main
 * module is appended before its dependencies, with the same path: the JSON marks it "application". */
int sbom_add(Sbom *s, const char *name, const char *version, const char *ecosystem, const char *source,
             const char *path, const char *purl);
