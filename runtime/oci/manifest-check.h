/* What a registry checks of a manifest pushed to it before storing it: a known manifest or index media type
 * (agreeing with the Content-Type it came with), well-formed descriptors within the limits, and what it
 * references (the blobs or manifests that must be present), its subject and its artifact type.  Images are
 * parsed as strictly as imports are (manifest.h); artifacts (a config that is no image config) may carry any
 * well-formed media types. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

typedef enum OciManifestKind {
        OCI_MANIFEST_KIND_IMAGE,    /* an image manifest with an image config: the catalog can hold it */
        OCI_MANIFEST_KIND_ARTIFACT, /* a manifest whose config is not an image config (an SBOM, a signature) */
        OCI_MANIFEST_KIND_INDEX,    /* an OCI index or Docker manifest list */
        _OCI_MANIFEST_KIND_MAX,
        _OCI_MANIFEST_KIND_INVALID = -EINVAL,
} OciManifestKind;

typedef struct OciManifestCheck {
        OciManifestKind kind;
        char *media_type;    /* the manifest's own */
        char *artifact_type; /* artifactType, else an artifact's config media type; NULL for images */
        char subject[DIGEST_STRING_MAX]; /* "" when it has none */
        OciDescriptor *refs;             /* config then layers, or an index's manifests */
        size_t n_refs;
} OciManifestCheck;

bool oci_media_type_is_valid(const char *t);
/* content_type (may be NULL) is the Content-Type the manifest came with.  -EBADMSG with err for anything
 * a registry must refuse, -EMEDIUMTYPE for an unknown or disagreeing media type. */
int oci_manifest_check(const char *data, size_t size, const char *content_type, OciManifestCheck *ret,
                       OciError *err);
void oci_manifest_check_done(OciManifestCheck *c);
