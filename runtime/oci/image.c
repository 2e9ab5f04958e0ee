/* Read-side views of stored images (summary for list, inspect document, blob and layer lists for
 * gc and the unpacker), plus the small enum/array helpers of the public API.  Every manifest and
 * config is read verified, so a corrupted store shows up as an error here, not as wrong output. */
#include <string.h>

#include "blob-store.h"
#include "json-util.h"
#include "manifest.h"
#include "oci-store.h"

#define HINT_CORRUPT "Remove the image, run `slipway image gc`, then import it again."

static const char *const import_format_table[_OCI_IMPORT_FORMAT_MAX] = {
        [OCI_IMPORT_AUTO] = "auto",
        [OCI_IMPORT_OCI_LAYOUT] = "oci-layout",
        [OCI_IMPORT_OCI_ARCHIVE] = "oci-archive",
        [OCI_IMPORT_DOCKER_ARCHIVE] = "docker-archive",
        [OCI_IMPORT_ROOTFS] = "rootfs",
};

const char *oci_import_format_to_string(OciImportFormat f) {
        if (f < 0 || f >= _OCI_IMPORT_FORMAT_MAX)
                return NULL;
        return import_format_table[f];
}

OciImportFormat oci_import_format_from_string(const char *s) {
        if (!s)
                return _OCI_IMPORT_FORMAT_INVALID;
        for (int i = 0; i < _OCI_IMPORT_FORMAT_MAX; i++)
                if (streq(s, import_format_table[i]))
                        return (OciImportFormat) i;
        return _OCI_IMPORT_FORMAT_INVALID;
}

void oci_import_result_done(OciImportResult *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_images; i++) {
                free(r->images[i].media_type);
                free(r->images[i].ref);
        }
        free(r->images);
        *r = (OciImportResult) {};
}

void oci_image_summary_done(OciImageSummary *s) {
        if (!s)
                return;
        free(s->media_type);
        free(s->created);
        free(s->architecture);
        free(s->os);
        *s = (OciImageSummary) {};
}

static int blob_error(OciError *err, int r, const char *what, const char *digest) {
        if (r == -ENOENT)
                return oci_error_set(err, -ENOENT, HINT_CORRUPT, "The %s %s is missing from the store.",
                                     what, digest);
        if (r == -EBADMSG)
                return oci_error_set(err, -EBADMSG, HINT_CORRUPT,
                                     "The %s %s in the store does not match its digest (corrupted).", what,
                                     digest);
        if (r == -EFBIG)
                return oci_error_set(err, -E2BIG, NULL, "The %s %s is too large.", what, digest);
        return oci_error_set(err, r, NULL, "Failed to read the %s %s: %s.", what, digest, strerror(-r));
}

/* Reads and parses a stored image manifest and its config. */
static int load_image(OciStore *s, const char *digest, OciManifest *ret_m, OciConfig *ret_c,
                      char **ret_mdata, size_t *ret_msize, char **ret_cdata, size_t *ret_csize,
                      OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_(oci_config_done) OciConfig c = {};
        _cleanup_free_ char *mdata = NULL, *cdata = NULL;
        size_t msize, csize;
        char what[128];
        int r;

        if (!digest_is_valid(digest))
                return oci_error_set(err, -EINVAL, "Give a digest of the form sha256:<64 hex digits>.",
                                     "\"%.80s\" is not a valid image digest.", strempty(digest));
        r = oci_store_read_blob(s, digest, OCI_MANIFEST_MAX, &mdata, &msize);
        if (r < 0)
                return blob_error(err, r, "manifest", digest);
        (void) snprintf(what, sizeof what, "manifest %s", digest);
        r = oci_manifest_parse(mdata, msize, NULL, what, &m, err);
        if (r < 0)
                return r;
        r = oci_store_read_blob(s, m.config.digest, OCI_CONFIG_MAX, &cdata, &csize);
        if (r < 0)
                return blob_error(err, r, "config", m.config.digest);
        (void) snprintf(what, sizeof what, "config %s", m.config.digest);
        r = oci_config_parse(cdata, csize, what, &c, err);
        if (r < 0)
                return r;

        *ret_m = m;
        m = (OciManifest) {};
        if (ret_c) {
                *ret_c = c;
                c = (OciConfig) {};
        }
        if (ret_mdata)
                *ret_mdata = TAKE_PTR(mdata);
        if (ret_msize)
                *ret_msize = msize;
        if (ret_cdata)
                *ret_cdata = TAKE_PTR(cdata);
        if (ret_csize)
                *ret_csize = csize;
        return 0;
}

int oci_store_image_summary(OciStore *s, const char *digest, OciImageSummary *ret, OciError *err) {
        _cleanup_(oci_image_summary_done) OciImageSummary sum = {};
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_(oci_config_done) OciConfig c = {};
        size_t msize;
        int r;

        r = load_image(s, digest, &m, &c, NULL, &msize, NULL, NULL, err);
        if (r < 0)
                return r;

        memcpy(sum.digest, digest, DIGEST_STRING_MAX);
        memcpy(sum.config_digest, m.config.digest, DIGEST_STRING_MAX);
        sum.manifest_size = msize;
        sum.total_size = msize + m.config.size;
        for (size_t i = 0; i < m.n_layers; i++)
                sum.total_size += m.layers[i].size;
        sum.n_layers = m.n_layers;
        sum.media_type = TAKE_PTR(m.media_type);
        sum.created = TAKE_PTR(c.created);
        sum.architecture = TAKE_PTR(c.platform.architecture);
        sum.os = TAKE_PTR(c.platform.os);

        *ret = sum;
        sum = (OciImageSummary) {};
        return 0;
}

int oci_store_image_inspect(OciStore *s, const char *digest, json_t **ret, OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_free_ char *mdata = NULL, *cdata = NULL;
        _cleanup_json_ json_t *mj = NULL, *cj = NULL;
        size_t msize, csize;
        uint64_t total;
        json_t *j;
        int r;

        r = load_image(s, digest, &m, NULL, &mdata, &msize, &cdata, &csize, err);
        if (r < 0)
                return r;
        /* Both parsed fine in load_image(). */
        if (json_parse_buffer(mdata, msize, &mj, NULL) < 0 || json_parse_buffer(cdata, csize, &cj, NULL) < 0)
                return -EBADMSG;
        total = msize + m.config.size;
        for (size_t i = 0; i < m.n_layers; i++)
                total += m.layers[i].size;
        j = json_pack("{s:s, s:s, s:I, s:O, s:O}", "digest", digest, "mediaType", m.media_type, "size",
                      (json_int_t) total, "manifest", mj, "config", cj);
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

int oci_store_image_blobs(OciStore *s, const char *digest, char ***ret_digests, size_t *ret_n) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        char **v;
        size_t n = 0;
        int r;

        r = load_image(s, digest, &m, NULL, NULL, NULL, NULL, NULL, NULL);
        if (r < 0)
                return r;
        v = calloc(m.n_layers + 3, sizeof(char *));
        if (!v)
                return -ENOMEM;
        if (!(v[n++] = strdup(digest)) || !(v[n++] = strdup(m.config.digest))) {
                strv_free_n(v, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m.n_layers; i++)
                if (!(v[n++] = strdup(m.layers[i].digest))) {
                        strv_free_n(v, n);
                        return -ENOMEM;
                }
        *ret_digests = v;
        *ret_n = n;
        return 0;
}

int oci_store_image_layers(OciStore *s, const char *digest, char ***ret_layer_digests, char ***ret_diff_ids,
                           char ***ret_media_types, size_t *ret_n) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_(oci_config_done) OciConfig c = {};
        char **layers = NULL, **diff_ids = NULL, **types = NULL;
        int r;

        r = load_image(s, digest, &m, &c, NULL, NULL, NULL, NULL, NULL);
        if (r < 0)
                return r;
        if (c.n_diff_ids != m.n_layers)
                return -EBADMSG;

        layers = calloc(m.n_layers + 1, sizeof(char *));
        diff_ids = calloc(m.n_layers + 1, sizeof(char *));
        types = calloc(m.n_layers + 1, sizeof(char *));
        if (!layers || !diff_ids || !types)
                goto oom;
        for (size_t i = 0; i < m.n_layers; i++) {
                layers[i] = strdup(m.layers[i].digest);
                diff_ids[i] = strdup(c.diff_ids[i]);
                types[i] = strdup(m.layers[i].media_type);
                if (!layers[i] || !diff_ids[i] || !types[i])
                        goto oom;
        }
        if (ret_layer_digests)
                *ret_layer_digests = layers;
        else
                strv_free_n(layers, m.n_layers);
        if (ret_diff_ids)
                *ret_diff_ids = diff_ids;
        else
                strv_free_n(diff_ids, m.n_layers);
        if (ret_media_types)
                *ret_media_types = types;
        else
                strv_free_n(types, m.n_layers);
        if (ret_n)
                *ret_n = m.n_layers;
        return 0;
oom:
        strv_free_n(layers, m.n_layers);
        strv_free_n(diff_ids, m.n_layers);
        strv_free_n(types, m.n_layers);
        return -ENOMEM;
}
