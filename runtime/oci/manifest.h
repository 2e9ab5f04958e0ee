/* Parsers for the JSON documents of an image: manifests (OCI, Docker schema2), indexes and
 * manifest lists, and image configs.  They accept only what the store can use and say precisely
 * what is wrong with anything else (file, line/column, field). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "oci-error.h"

#define OCI_LAYERS_MAX 1024U
#define OCI_INDEX_ENTRIES_MAX 4096U
#define OCI_MEDIA_TYPE_MAX 255U

#define OCI_MEDIA_TYPE_LAYER_NONDIST "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define DOCKER_MEDIA_TYPE_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define DOCKER_MEDIA_TYPE_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* What an image runs on: a descriptor's "platform" object, or a config's own fields.  NULL when absent. */
typedef struct OciPlatform {
        char *os;
        char *architecture;
} OciPlatform;

typedef struct OciDescriptor {
        char *media_type;
        char digest[DIGEST_STRING_MAX];
        uint64_t size;
        char *ref_name; /* annotation org.opencontainers.image.ref.name, or NULL */
        OciPlatform platform;
} OciDescriptor;

typedef struct OciManifest {
        char *media_type; /* declared, else the referring descriptor's, else OCI */
        OciDescriptor config;
        OciDescriptor *layers;
        size_t n_layers;
} OciManifest;

typedef struct OciIndex {
        char *media_type;
        OciDescriptor *manifests;
        size_t n_manifests;
} OciIndex;

typedef struct OciConfig {
        OciPlatform platform;
        char *created;
        char **diff_ids;
        size_t n_diff_ids;
} OciConfig;

typedef enum OciLayerCompression {
        OCI_LAYER_UNCOMPRESSED,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        _OCI_LAYER_COMPRESSION_MAX,
        _OCI_LAYER_COMPRESSION_INVALID = -EINVAL,
} OciLayerCompression;

bool oci_media_type_is_manifest(const char *t);
bool oci_media_type_is_index(const char *t);
bool oci_media_type_is_config(const char *t);
/* Returns the compression of a known layer media type, or -EMEDIUMTYPE. */
int oci_layer_media_type_compression(const char *t);
/* The OCI layer media type for a compression. */
const char *oci_layer_media_type_for(OciLayerCompression c);

/* what names the document in messages ("index.json", "manifest sha256:…").  descriptor_media_type
 * (may be NULL) is the media type under which the document was referenced. */
int oci_manifest_parse(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                       OciManifest *ret, OciError *err);
int oci_index_parse(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                    OciIndex *ret, OciError *err);
int oci_config_parse(const char *data, size_t size, const char *what, OciConfig *ret, OciError *err);
/* One descriptor object (mediaType, sha256 digest, size; platform and ref name when given); what names it. */
int oci_descriptor_parse(json_t *j, const char *what, OciDescriptor *ret, OciError *err);

/* Index of the first linux/amd64 entry (by platform) or -ENOENT. */
int oci_index_find_platform(const OciIndex *index, const char *os, const char *architecture);

void oci_platform_done(OciPlatform *p);
void oci_descriptor_done(OciDescriptor *d);
void oci_manifest_done(OciManifest *m);
void oci_index_done(OciIndex *i);
void oci_config_done(OciConfig *c);
