/* The SBOM of an image in the store: its layers from the shared layer cache stacked read-only with overlayfs
 * (scan-overlay.h), or where that cannot be done unpacked flat (special files dropped) into a temporary
 * directory below tmp_parent, read by sbom_scan_root() and written as CycloneDX; and the secrets of each
 * layer, read from the shared layer cache. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "image-catalog.h"
#include "sbom.h"

/* *ret_sbom (may be NULL): the components, for matching against the vulnerability database.
 * *ret_checks (may be NULL): the secrets found in the files of each layer (secrets.h; with "layer", the
 * layer blob's digest, "diff_id" and "layer_index" from 0 at the bottom), and a finding of kind "config"
 * when the image runs as root (its config's User empty, "root" or "0"), as a JSON array. */
int scan_image_sbom(ImageCatalog *c, const char *digest, const char *image_name, const char *tmp_parent,
                    json_t **ret, Sbom **ret_sbom, json_t **ret_checks, OciError *err);
