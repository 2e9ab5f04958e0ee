/* Artifacts attached to a stored image as OCI referrers (an SBOM): the artifact's blob, the empty config and
 * an artifact manifest whose subject is the image go into the store and are recorded as pushed to the image's
 * repository, so the registry's referrers API lists them and gc keeps them. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

#include "image-catalog.h"

#define IMAGE_REFERRER_SBOM_TYPE "application/vnd.cyclonedx+json"
#define OCI_MEDIA_TYPE_EMPTY "application/vnd.oci.empty.v1+json"

/* Attaches data (size bytes of artifact_type, e.g. the CycloneDX JSON) to the image digest in repository
 * repo ("project/component").  Attaching the same bytes again gives the same manifest (the created
 * annotation is the image's own creation time, not now).  ret_digest: the artifact manifest's digest. */
int image_referrer_attach(ImageCatalog *c, sqlite3 *db, const char *repo, const char *digest,
                          const char *artifact_type, const char *title, const void *data, size_t size,
                          char ret_digest[static DIGEST_STRING_MAX]);
