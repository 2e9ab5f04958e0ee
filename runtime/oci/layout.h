/* The OCI image layout files around the blobs: oci-layout and index.json. */
#pragma once

#include <jansson.h>

#include "oci-store.h"

#define OCI_LAYOUT_FILE "oci-layout"
#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define OCI_INDEX_FILE "index.json"
#define OCI_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* Creates oci-layout and an empty index.json in dir_fd when they are missing. */
int layout_init(int dir_fd);
/* Builds the index.json document for the given entries. */
int layout_index_build(const OciIndexEntry *entries, size_t n, json_t **ret);
/* Serialises an index document the way it is written to disk. */
char *layout_index_dump(json_t *index);
