/* manifest-check.h: a pushed manifest checked as a registry must before it stores it. */
#include "manifest-check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "oci-store.h"

#define HINT_MANIFEST "Push a well-formed OCI image manifest, image index or Docker v2 manifest."
#define OCI_MEDIA_TYPE_PART_MAX 127U

/* RFC 6838: type "/" subtype, each [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}; parameters are not allowed here. */
static bool media_type_part(const char *s, size_t n) {
        if (n == 0 || n > OCI_MEDIA_TYPE_PART_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || !strchr("!#$&^_.+-", c)))
                        return false;
        }
        return true;
}

bool oci_media_type_is_valid(const char *t) {
        const char *slash;

        if (!t || strlen(t) > OCI_MEDIA_TYPE_MAX)
                return false;
        slash = strchr(t, '/');
        return slash && media_type_part(t, (size_t) (slash - t)) &&
               media_type_part(slash + 1, strlen(slash + 1));
}

void oci_manifest_check_done(OciManifestCheck *c) {
        if (!c)
                return;
        free(c->media_type);
        free(c->artifact_type);
        for (size_t i = 0; i < c->n_refs; i++)
                oci_descriptor_done(&c->refs[i]);
        free(c->refs);
        *c = (OciManifestCheck) {};
}

static int take_descriptors(OciDescriptor *v, size_t n, OciManifestCheck *c) {
        c->refs = v;
        c->n_refs = n;
        return 0;
}

/* An artifact manifest: a config descriptor and layers of any well-formed media type. */
static int check_artifact(json_t *j, OciManifestCheck *c, OciError *err) {
        json_t *config, *layers = NULL, *v;
        size_t i, n;
        OciDescriptor *d;
        int r;

        r = json_get_object(j, "config", &config);
        if (r < 0)
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST, "The manifest has no config descriptor.");
        r = json_get_array(j, "layers", &layers);
        if (r == -EBADMSG)
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                     "The manifest's layers are not an array.");
        n = layers ? json_array_size(layers) : 0;
        if (n > OCI_LAYERS_MAX)
                return oci_error_set(err, -EBADMSG, "Push an artifact of fewer blobs.",
                                     "The manifest lists %zu blobs; at most %u are allowed.", n,
                                     OCI_LAYERS_MAX);
        d = calloc(n + 1, sizeof *d);
        if (!d)
                return -ENOMEM;
        r = oci_descriptor_parse(config, "the config descriptor", &d[0], err);
        json_array_foreach(layers, i, v) {
                if (r < 0)
                        break;
                r = oci_descriptor_parse(v, "a layer descriptor", &d[i + 1], err);
        }
        for (i = 0; r >= 0 && i <= n; i++)
                if (!oci_media_type_is_valid(d[i].media_type))
                        r = oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                          "The media type \"%.80s\" is malformed.", d[i].media_type);
        if (r < 0) {
                for (i = 0; i <= n; i++)
                        oci_descriptor_done(&d[i]);
                free(d);
                return r;
        }
        return take_descriptors(d, n + 1, c);
}

static int check_image(const char *data, size_t size, OciManifestCheck *c, OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        OciDescriptor *d;
        int r;

        r = oci_manifest_parse(data, size, c->media_type, "the manifest", &m, err);
        if (r < 0)
                return r;
        d = calloc(m.n_layers + 1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d[0] = m.config;
        m.config = (OciDescriptor) {};
        for (size_t i = 0; i < m.n_layers; i++) {
                d[i + 1] = m.layers[i];
                m.layers[i] = (OciDescriptor) {};
        }
        return take_descriptors(d, m.n_layers + 1, c);
}

static int check_index(const char *data, size_t size, OciManifestCheck *c, OciError *err) {
        _cleanup_(oci_index_done) OciIndex x = {};
        int r;

        r = oci_index_parse(data, size, c->media_type, "the index", &x, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x.n_manifests; i++)
                if (!oci_media_type_is_valid(x.manifests[i].media_type))
                        return oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                             "The media type \"%.80s\" is malformed.",
                                             x.manifests[i].media_type);
        r = take_descriptors(x.manifests, x.n_manifests, c);
        x.manifests = NULL;
        x.n_manifests = 0;
        return r;
}

int oci_manifest_check(const char *data, size_t size, const char *content_type, OciManifestCheck *ret,
                       OciError *err) {
        _cleanup_(oci_manifest_check_done) OciManifestCheck c = {};
        _cleanup_json_ json_t *j = NULL;
        const char *mt = NULL, *at = NULL;
        json_t *subject = NULL, *config;
        int64_t version = 0;
        int r;

        if (size > OCI_MANIFEST_MAX)
                return oci_error_set(err, -EBADMSG, "Push a manifest of at most 4 MiB.",
                                     "The manifest is %zu bytes; at most %u are allowed.", size,
                                     OCI_MANIFEST_MAX);
        if (json_parse_buffer(data, size, &j, NULL) < 0 || !json_is_object(j))
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST, "The manifest is not a JSON object.");
        if (json_get_int(j, "schemaVersion", &version) < 0 || version != 2)
                return oci_error_set(
                        err, -EBADMSG, HINT_MANIFEST,
                        "The manifest's schemaVersion is not 2 (schema 1 manifests are not accepted).");
        if (json_get_string_opt(j, "mediaType", &mt) < 0)
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                     "The manifest's mediaType is not a string.");
        if (content_type && !*content_type)
                content_type = NULL;
        if (mt && content_type && !streq(mt, content_type))
                return oci_error_set(err, -EMEDIUMTYPE,
                                     "Send the manifest with its own mediaType as Content-Type.",
                                     "The manifest says it is %.100s but came as %.100s.", mt, content_type);
        mt = mt ?: content_type;
        if (!mt) /* OCI allows the field to be left out: an index has "manifests", a manifest "config" */
                mt = json_object_get(j, "manifests") ? OCI_MEDIA_TYPE_INDEX : OCI_MEDIA_TYPE_MANIFEST;
        if (!oci_media_type_is_manifest(mt) && !oci_media_type_is_index(mt))
                return oci_error_set(
                        err, -EMEDIUMTYPE,
                        "Push an OCI image manifest or index, or a Docker v2 manifest or manifest list.",
                        "The manifest media type %.100s is not one this registry stores.", mt);
        c.media_type = strdup(mt);
        if (!c.media_type)
                return -ENOMEM;

        if (json_get_string_opt(j, "artifactType", &at) < 0 || (at && !oci_media_type_is_valid(at)))
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                     "The manifest's artifactType is malformed.");
        r = json_get_object(j, "subject", &subject);
        if (r == -EBADMSG)
                return oci_error_set(err, -EBADMSG, HINT_MANIFEST,
                                     "The manifest's subject is not an object.");
        if (subject) {
                _cleanup_(oci_descriptor_done) OciDescriptor s = {};

                r = oci_descriptor_parse(subject, "the subject descriptor", &s, err);
                if (r < 0)
                        return r;
                strcpy(c.subject, s.digest);
        }

        if (oci_media_type_is_index(mt)) {
                c.kind = OCI_MANIFEST_KIND_INDEX;
                r = check_index(data, size, &c, err);
        } else {
                const char *cmt = NULL;

                if (json_get_object(j, "config", &config) >= 0)
                        (void) json_get_string_opt(config, "mediaType", &cmt);
                c.kind = cmt && oci_media_type_is_config(cmt) ? OCI_MANIFEST_KIND_IMAGE
                                                              : OCI_MANIFEST_KIND_ARTIFACT;
                r = c.kind == OCI_MANIFEST_KIND_IMAGE ? check_image(data, size, &c, err)
                                                      : check_artifact(j, &c, err);
                if (r >= 0 && c.kind == OCI_MANIFEST_KIND_ARTIFACT && !at)
                        at = c.refs[0].media_type;
        }
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (at && !(c.artifact_type = strdup(at)))
                return -ENOMEM;
        *ret = c;
        c = (OciManifestCheck) {};
        return 0;
}
