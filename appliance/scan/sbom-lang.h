/* Language packages of an image, found by bounded walks below the root: Python distributions
 * (site-packages/ and dist-packages/ *.dist-info/METADATA), npm packages (node_modules/, scoped and
 * nested) and the module lists Go embeds in its binaries (.go.buildinfo, read, never run). */
#pragma once

#include <stddef.h>

#include "sbom.h"

#define SBOM_WALK_DEPTH_MAX 16U       /* directory levels below a walk's start */
#define SBOM_WALK_ENTRIES_MAX 500000U /* directory entries looked at in one scan, all walks together */
#define SBOM_MANIFEST_FILE_MAX (1024U * 1024U)    /* bytes of one METADATA or package.json */
#define SBOM_GO_BINARY_MAX (512U * 1024U * 1024U) /* larger executables are not searched */
#define SBOM_GO_BINARIES_MAX 20000U               /* executables searched for Go build info */
#define SBOM_GO_MODINFO_MAX (1024U * 1024U)       /* bytes of one binary's embedded module list */

/* Walks usr/lib, usr/local/lib, opt, app, srv and home for Python and npm packages, and usr/bin,
 * usr/local/bin, bin, app and opt for Go binaries.  Symlinks are never followed while walking; unreadable
 * or malformed entries add to *skipped.  -ENOMEM and -E2BIG only. */
int sbom_scan_lang(int root_fd, Sbom *s, size_t *skipped);

/* The Go build info at the start of data ("\xff Go buildinf:" header, Go >= 1.18 inline form): appends the
 * main module ("mod") and every dependency ("dep", with "=>" replacements applied).  1 when it was build
 * info, 0 when not, or -ENOMEM / -E2BIG. */
int sbom_parse_go_buildinfo(Sbom *s, const unsigned char *data, size_t size, const char *path);
