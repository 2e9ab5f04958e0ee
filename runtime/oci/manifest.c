/* Manifest, index and config parsing.  Everything is read through the typed json-util getters and
 * checked against a short list of media types, so anything the store later relies on (a digest used
 * as a file name, a size, a layer type the unpacker understands) has been validated here. */
#include "manifest.h"

#include <string.h>

#include "json-util.h"
#include "layout.h"
#include "oci-store.h"

#define HINT_DAMAGED "The image is damaged or not a container image; export it again and retry."
#define HINT_MEDIA_TYPES \
        "Only OCI and Docker schema2 images with tar, tar+gzip or tar+zstd layers are supported."

static const char *const manifest_types[] = { OCI_MEDIA_TYPE_MANIFEST, DOCKER_MEDIA_TYPE_MANIFEST };
static const char *const index_types[] = { OCI_MEDIA_TYPE_INDEX, DOCKER_MEDIA_TYPE_MANIFEST_LIST };
static const char *const config_types[] = { OCI_MEDIA_TYPE_CONFIG, DOCKER_MEDIA_TYPE_CONFIG };

static const struct {
        const char *media_type;
        OciLayerCompression compression;
} layer_types[] = {
        { OCI_MEDIA_TYPE_LAYER, OCI_LAYER_UNCOMPRESSED },
        { OCI_MEDIA_TYPE_LAYER_GZIP, OCI_LAYER_GZIP },
        { OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_LAYER_ZSTD },
        { OCI_MEDIA_TYPE_LAYER_NONDIST, OCI_LAYER_UNCOMPRESSED },
        { OCI_MEDIA_TYPE_LAYER_NONDIST "+gzip", OCI_LAYER_GZIP },
        { OCI_MEDIA_TYPE_LAYER_NONDIST "+zstd", OCI_LAYER_ZSTD },
        { DOCKER_MEDIA_TYPE_LAYER, OCI_LAYER_UNCOMPRESSED },
        { DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_LAYER_GZIP },
        { DOCKER_MEDIA_TYPE_LAYER_ZSTD, OCI_LAYER_ZSTD },
};

static bool in_list(const char *t, const char *const *list, size_t n) {
        if (!t)
                return false;
        for (size_t i = 0; i < n; i++)
                if (streq(t, list[i]))
                        return true;
        return false;
}

bool oci_media_type_is_manifest(const char *t) {
        return in_list(t, manifest_types, ELEMENTSOF(manifest_types));
}

bool oci_media_type_is_index(const char *t) {
        return in_list(t, index_types, ELEMENTSOF(index_types));
}

bool oci_media_type_is_config(const char *t) {
        return in_list(t, config_types, ELEMENTSOF(config_types));
}

int oci_layer_media_type_compression(const char *t) {
        if (!t)
                return -EMEDIUMTYPE;
        for (size_t i = 0; i < ELEMENTSOF(layer_types); i++)
                if (streq(t, layer_types[i].media_type))
                        return layer_types[i].compression;
        return -EMEDIUMTYPE;
}

const char *oci_layer_media_type_for(OciLayerCompression c) {
        switch (c) {
        case OCI_LAYER_UNCOMPRESSED:
                return OCI_MEDIA_TYPE_LAYER;
        case OCI_LAYER_GZIP:
                return OCI_MEDIA_TYPE_LAYER_GZIP;
        case OCI_LAYER_ZSTD:
                return OCI_MEDIA_TYPE_LAYER_ZSTD;
        default:
                return NULL;
        }
}

static int unknown_media_type(OciError *err, const char *what, const char *kind, const char *t) {
        if (t && (streq(t, DOCKER_MEDIA_TYPE_MANIFEST_V1) || streq(t, DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED)))
                return oci_error_set(err, -EMEDIUMTYPE,
                                     "Convert it to schema2 or OCI first, e.g. with skopeo copy.",
                                     "%s is a Docker schema 1 manifest, which is not supported.", what);
        if (!kind)
                return oci_error_set(err, -EMEDIUMTYPE, HINT_MEDIA_TYPES,
                                     "%s has unknown media type \"%.*s\".", what, (int) OCI_MEDIA_TYPE_MAX,
                                     strempty(t));
        return oci_error_set(err, -EMEDIUMTYPE, HINT_MEDIA_TYPES,
                             "%s has %s of unknown media type \"%.*s\".", what, kind,
                             (int) OCI_MEDIA_TYPE_MAX, strempty(t));
}

static int parse_json(const char *data, size_t size, const char *what, json_t **ret, OciError *err) {
        json_error_t jerr;
        json_t *j;
        int r;

        r = json_parse_buffer(data, size, &j, &jerr);
        if (r < 0)
                return oci_error_set(err, -EBADMSG, HINT_DAMAGED,
                                     "Invalid JSON in %s at line %d, column %d: %s.", what, jerr.line,
                                     jerr.column, jerr.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return oci_error_set(err, -EBADMSG, HINT_DAMAGED, "%s is not a JSON object.", what);
        }
        *ret = j;
        return 0;
}

static int bad_field(OciError *err, const char *what, const char *field, int r) {
        if (r == -ENOENT)
                return oci_error_set(err, -EBADMSG, HINT_DAMAGED, "%s lacks the field \"%s\".", what, field);
        return oci_error_set(err, -EBADMSG, HINT_DAMAGED, "%s has an invalid \"%s\" field.", what, field);
}

static int check_schema_version(json_t *j, const char *what, OciError *err) {
        int64_t v;
        int r;

        r = json_get_int(j, "schemaVersion", &v);
        if (r < 0)
                return bad_field(err, what, "schemaVersion", r);
        if (v != 2)
                return oci_error_set(err, -EMEDIUMTYPE, HINT_MEDIA_TYPES,
                                     "%s has schemaVersion %lld; only version 2 is supported.", what,
                                     (long long) v);
        return 0;
}

void oci_descriptor_done(OciDescriptor *d) {
        if (!d)
                return;
        free(d->media_type);
        free(d->ref_name);
        oci_platform_done(&d->platform);
        *d = (OciDescriptor) {};
}

static int dup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

void oci_platform_done(OciPlatform *p) {
        if (!p)
                return;
        free(p->os);
        free(p->architecture);
        *p = (OciPlatform) {};
}

static int platform_dup(const char *os, const char *architecture, OciPlatform *ret) {
        OciPlatform p = {};

        if (dup_opt(os, &p.os) < 0 || dup_opt(architecture, &p.architecture) < 0) {
                oci_platform_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

/* Parses a descriptor object; "what" names it for messages, e.g. "layer 3 of manifest …". */
int oci_descriptor_parse(json_t *j, const char *what, OciDescriptor *ret, OciError *err) {
        _cleanup_(oci_descriptor_done) OciDescriptor d = {};
        const char *mt, *digest, *ref = NULL, *os = NULL, *arch = NULL;
        json_t *platform, *annotations;
        int64_t size;
        int r;

        if (!json_is_object(j))
                return oci_error_set(err, -EBADMSG, HINT_DAMAGED, "%s is not a JSON object.", what);
        r = json_get_string(j, "mediaType", &mt);
        if (r < 0)
                return bad_field(err, what, "mediaType", r);
        if (strlen(mt) > OCI_MEDIA_TYPE_MAX)
                return bad_field(err, what, "mediaType", -EBADMSG);
        r = json_get_string(j, "digest", &digest);
        if (r < 0)
                return bad_field(err, what, "digest", r);
        if (!digest_is_valid(digest))
                return oci_error_set(err, -EBADMSG,
                                     "Only sha256 digests (64 lowercase hex digits) are supported.",
                                     "%s has an invalid digest \"%.80s\".", what, digest);
        r = json_get_int(j, "size", &size);
        if (r < 0 || size < 0)
                return bad_field(err, what, "size", r < 0 ? r : -EBADMSG);

        r = json_get_object(j, "platform", &platform);
        if (r == -EBADMSG)
                return bad_field(err, what, "platform", r);
        if (r >= 0) {
                if (json_get_string_opt(platform, "os", &os) < 0 ||
                    json_get_string_opt(platform, "architecture", &arch) < 0)
                        return bad_field(err, what, "platform", -EBADMSG);
        }
        r = json_get_object(j, "annotations", &annotations);
        if (r == -EBADMSG)
                return bad_field(err, what, "annotations", r);
        if (r >= 0 && json_get_string_opt(annotations, OCI_ANNOTATION_REF_NAME, &ref) < 0)
                return bad_field(err, what, OCI_ANNOTATION_REF_NAME, -EBADMSG);

        d.size = (uint64_t) size;
        memcpy(d.digest, digest, DIGEST_STRING_MAX);
        if (dup_opt(mt, &d.media_type) < 0 || dup_opt(ref, &d.ref_name) < 0 ||
            platform_dup(os, arch, &d.platform) < 0)
                return -ENOMEM;
        *ret = d;
        d = (OciDescriptor) {};
        return 0;
}

/* Resolves the document's own mediaType against the one it was referenced with. */
static int document_media_type(json_t *j, const char *descriptor_media_type, const char *fallback,
                               bool (*is_kind)(const char *), const char *what, const char **ret,
                               OciError *err) {
        const char *mt;
        int r;

        r = json_get_string_opt(j, "mediaType", &mt);
        if (r < 0)
                return bad_field(err, what, "mediaType", r);
        if (!mt)
                mt = descriptor_media_type ?: fallback;
        if (!is_kind(mt))
                return unknown_media_type(err, what, NULL, mt);
        *ret = mt;
        return 0;
}

/* Opens a manifest or index: a JSON object whose own mediaType agrees with its kind and whose schemaVersion
 * is 2.  The resolved media type is returned as a copy, so it outlives the JSON tree. */
static int document_open(const char *data, size_t size, const char *descriptor_media_type,
                         const char *fallback, bool (*is_kind)(const char *), const char *what,
                         json_t **ret_json, char **ret_media_type, OciError *err) {
        _cleanup_json_ json_t *j = NULL;
        const char *mt = NULL;
        char *copy;
        int r;

        r = parse_json(data, size, what, &j, err);
        if (r < 0)
                return r;
        r = document_media_type(j, descriptor_media_type, fallback, is_kind, what, &mt, err);
        if (r < 0)
                return r;
        r = check_schema_version(j, what, err);
        if (r < 0)
                return r;
        copy = strdup(mt);
        if (!copy)
                return -ENOMEM;
        *ret_json = TAKE_PTR(j);
        *ret_media_type = copy;
        return 0;
}

static int check_array_limit(OciError *err, const char *what, const char *verb, const char *noun, size_t n,
                             unsigned max, const char *hint) {
        if (n > max)
                return oci_error_set(err, -E2BIG, hint, "%s %s %zu %s, more than the limit of %u.", what,
                                     verb, n, noun, max);
        return 0;
}

/* How one array of descriptors in a document is read: its field, how its entries are named in messages,
 * and its bound. */
typedef struct DescriptorArray {
        const char *field;
        const char *verb;
        const char *entry;
        unsigned max;
        const char *hint_too_many;
        bool layers; /* every entry must have a layer media type the unpacker knows */
} DescriptorArray;

static void descriptors_free(OciDescriptor *d, size_t n) {
        for (size_t i = 0; i < n; i++)
                oci_descriptor_done(&d[i]);
        free(d);
}

static int descriptor_array_parse(json_t *j, const DescriptorArray *a, const char *what, OciDescriptor **ret,
                                  size_t *ret_n, OciError *err) {
        OciDescriptor *d;
        json_t *array, *v;
        char sub[256];
        size_t i, n = 0;
        int r;

        r = json_get_array(j, a->field, &array);
        if (r < 0)
                return bad_field(err, what, a->field, r);
        r = check_array_limit(err, what, a->verb, a->field, json_array_size(array), a->max,
                              a->hint_too_many);
        if (r < 0)
                return r;
        d = calloc(MAX(json_array_size(array), 1U), sizeof *d);
        if (!d)
                return -ENOMEM;
        json_array_foreach(array, i, v) {
                (void) snprintf(sub, sizeof sub, "%s %zu of %s", a->entry, i + 1, what);
                r = oci_descriptor_parse(v, sub, &d[i], err);
                if (r < 0)
                        goto fail;
                n++;
                if (a->layers && oci_layer_media_type_compression(d[i].media_type) < 0) {
                        r = unknown_media_type(err, sub, NULL, d[i].media_type);
                        goto fail;
                }
        }
        *ret = d;
        *ret_n = n;
        return 0;
fail:
        descriptors_free(d, n);
        return r;
}

static const DescriptorArray manifest_layers = {
        .field = "layers",
        .verb = "has",
        .entry = "layer",
        .max = OCI_LAYERS_MAX,
        .hint_too_many = "Flatten or squash the image.",
        .layers = true,
};

static const DescriptorArray index_manifests = {
        .field = "manifests",
        .verb = "lists",
        .entry = "entry",
        .max = OCI_INDEX_ENTRIES_MAX,
        .hint_too_many = "Split the index into smaller ones.",
};

void oci_manifest_done(OciManifest *m) {
        if (!m)
                return;
        free(m->media_type);
        oci_descriptor_done(&m->config);
        descriptors_free(m->layers, m->n_layers);
        *m = (OciManifest) {};
}

int oci_manifest_parse(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                       OciManifest *ret, OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_json_ json_t *j = NULL;
        json_t *config;
        char sub[256];
        int r;

        r = document_open(data, size, descriptor_media_type, OCI_MEDIA_TYPE_MANIFEST,
                          oci_media_type_is_manifest, what, &j, &m.media_type, err);
        if (r < 0)
                return r;

        r = json_get_object(j, "config", &config);
        if (r < 0)
                return bad_field(err, what, "config", r);
        (void) snprintf(sub, sizeof sub, "the config descriptor of %s", what);
        r = oci_descriptor_parse(config, sub, &m.config, err);
        if (r < 0)
                return r;
        if (!oci_media_type_is_config(m.config.media_type))
                return unknown_media_type(err, what, "a config", m.config.media_type);

        r = descriptor_array_parse(j, &manifest_layers, what, &m.layers, &m.n_layers, err);
        if (r < 0)
                return r;

        *ret = m;
        m = (OciManifest) {};
        return 0;
}

void oci_index_done(OciIndex *x) {
        if (!x)
                return;
        free(x->media_type);
        descriptors_free(x->manifests, x->n_manifests);
        *x = (OciIndex) {};
}

int oci_index_parse(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                    OciIndex *ret, OciError *err) {
        _cleanup_(oci_index_done) OciIndex x = {};
        _cleanup_json_ json_t *j = NULL;
        int r;

        r = document_open(data, size, descriptor_media_type, OCI_MEDIA_TYPE_INDEX, oci_media_type_is_index,
                          what, &j, &x.media_type, err);
        if (r < 0)
                return r;
        r = descriptor_array_parse(j, &index_manifests, what, &x.manifests, &x.n_manifests, err);
        if (r < 0)
                return r;

        *ret = x;
        x = (OciIndex) {};
        return 0;
}

int oci_index_find_platform(const OciIndex *index, const char *os, const char *architecture) {
        for (size_t i = 0; i < index->n_manifests; i++)
                if (streq_ptr(index->manifests[i].platform.os, os) &&
                    streq_ptr(index->manifests[i].platform.architecture, architecture))
                        return (int) i;
        return -ENOENT;
}

void oci_config_done(OciConfig *c) {
        if (!c)
                return;
        oci_platform_done(&c->platform);
        free(c->created);
        strv_free_n(c->diff_ids, c->n_diff_ids);
        *c = (OciConfig) {};
}

int oci_config_parse(const char *data, size_t size, const char *what, OciConfig *ret, OciError *err) {
        _cleanup_(oci_config_done) OciConfig c = {};
        _cleanup_json_ json_t *j = NULL;
        const char *arch, *os, *created, *type;
        json_t *rootfs, *diff_ids, *v;
        size_t i;
        int r;

        r = parse_json(data, size, what, &j, err);
        if (r < 0)
                return r;
        if (json_get_string_opt(j, "architecture", &arch) < 0)
                return bad_field(err, what, "architecture", -EBADMSG);
        if (json_get_string_opt(j, "os", &os) < 0)
                return bad_field(err, what, "os", -EBADMSG);
        if (json_get_string_opt(j, "created", &created) < 0)
                return bad_field(err, what, "created", -EBADMSG);

        r = json_get_object(j, "rootfs", &rootfs);
        if (r < 0)
                return bad_field(err, what, "rootfs", r);
        r = json_get_string(rootfs, "type", &type);
        if (r < 0 || !streq(type, "layers"))
                return bad_field(err, what, "rootfs.type", r < 0 ? r : -EBADMSG);
        r = json_get_array(rootfs, "diff_ids", &diff_ids);
        if (r < 0)
                return bad_field(err, what, "rootfs.diff_ids", r);
        r = check_array_limit(err, what, "lists", "layers", json_array_size(diff_ids), OCI_LAYERS_MAX,
                              "Flatten or squash the image.");
        if (r < 0)
                return r;
        c.diff_ids = calloc(json_array_size(diff_ids) + 1, sizeof(char *));
        if (!c.diff_ids)
                return -ENOMEM;
        json_array_foreach(diff_ids, i, v) {
                if (!json_is_string(v) || !digest_is_valid(json_string_value(v)))
                        return oci_error_set(err, -EBADMSG, HINT_DAMAGED,
                                             "%s has an invalid digest in rootfs.diff_ids.", what);
                c.diff_ids[i] = strdup(json_string_value(v));
                if (!c.diff_ids[i])
                        return -ENOMEM;
                c.n_diff_ids++;
        }

        if (platform_dup(os, arch, &c.platform) < 0 || dup_opt(created, &c.created) < 0)
                return -ENOMEM;
        *ret = c;
        c = (OciConfig) {};
        return 0;
}
