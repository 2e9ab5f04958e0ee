/* image-referrer.h: an artifact manifest with the image as its subject, stored and recorded like a push. */
#include "image-referrer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "distribution-db.h"
#include "json-util.h"
#include "oci-store.h"

int image_referrer_attach(ImageCatalog *c, sqlite3 *db, const char *repo, const char *digest,
                          const char *artifact_type, const char *title, const void *data, size_t size,
                          char ret_digest[static DIGEST_STRING_MAX]) {
        _cleanup_free_ char *subject = NULL, *text = NULL;
        _cleanup_json_ json_t *sj = NULL, *m = NULL;
        char blob[DIGEST_STRING_MAX], empty[DIGEST_STRING_MAX], manifest[DIGEST_STRING_MAX];
        _cleanup_(oci_image_summary_done) OciImageSummary sum = {};
        size_t subject_size = 0;
        const char *subject_type;
        OciError err = {};
        int r;

        if (!digest_is_valid(digest) || !data)
                return -EINVAL;
        image_catalog_read_lock(c);
        r = oci_store_read_blob(c->store, digest, OCI_MANIFEST_MAX, &subject, &subject_size);
        if (r < 0)
                goto unlock;
        if (json_parse_buffer(subject, subject_size, &sj, NULL) < 0) {
                r = -EBADMSG;
                goto unlock;
        }
        subject_type = json_string_value(json_object_get(sj, "mediaType")) ?: OCI_MEDIA_TYPE_MANIFEST;
        (void) oci_store_image_summary(c->store, digest, &sum, &err);

        r = oci_store_put_blob_data(c->store, data, size, blob);
        if (r >= 0)
                r = oci_store_put_blob_data(c->store, "{}", 2, empty);
        if (r < 0)
                goto unlock;
        m = json_pack("{s:i,s:s,s:s,s:{s:s,s:s,s:i,s:s},s:[{s:s,s:s,s:I,s:{s:s}}],s:{s:s,s:s,s:I}}",
                      "schemaVersion", 2, "mediaType", OCI_MEDIA_TYPE_MANIFEST, "artifactType",
                      artifact_type, "config", "mediaType", OCI_MEDIA_TYPE_EMPTY, "digest", empty, "size", 2,
                      "data", "e30=", "layers", "mediaType", artifact_type, "digest", blob, "size",
                      (json_int_t) size, "annotations", "org.opencontainers.image.title", title, "subject",
                      "mediaType", subject_type, "digest", digest, "size", (json_int_t) subject_size);
        if (m && sum.created)
                json_object_set_new(m, "annotations",
                                    json_pack("{s:s}", "org.opencontainers.image.created", sum.created));
        text = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!text) {
                r = -ENOMEM;
                goto unlock;
        }
        r = oci_store_put_blob_data(c->store, text, strlen(text), manifest);
        if (r < 0)
                goto unlock;
        ModelManifest row = {
                .repo = (char *) repo,
                .media_type = (char *) OCI_MEDIA_TYPE_MANIFEST,
                .artifact_type = (char *) artifact_type,
                .subject = (char *) digest,
                .size = (int64_t) strlen(text),
        };
        strcpy(row.digest, manifest);
        r = model_manifest_put(db, &row);
unlock:
        image_catalog_read_unlock(c);
        if (r < 0)
                return r;
        strcpy(ret_digest, manifest);
        return 0;
}
