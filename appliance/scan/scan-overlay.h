/* An image's merged tree for the SBOM without copying it: its cached layers (DIR/layers/<diff_id>/, overlay
 * form) stacked read-only with overlayfs, mounted in a mount namespace of one short-lived thread, so neither
 * the host nor the daemon's other threads ever see the mount and it goes when the thread ends. */
#pragma once

#include "image-catalog.h"
#include "sbom.h"

/* Layers beyond this (the mount options must fit a page) are scanned from a flat unpack instead. */
#define SCAN_OVERLAY_LAYERS_MAX 48U

/* The SBOM of the merged layers diff_ids[0..n) (bottom first), all in the layer cache, mounted on an empty
 * directory made under tmp_parent.  -EOPNOTSUPP when it cannot be done this way (too many layers, no
 * permission to mount): the caller unpacks instead.  The caller keeps the layers from gc meanwhile. */
int scan_overlay_sbom(const char *layers_dir, char *const *diff_ids, size_t n, const char *tmp_parent,
                      Sbom **ret);
