/* oci-layout and index.json of the store.  index.json is the only file that makes an image visible
 * to skopeo/umoci, so it is only ever replaced whole (temp + fsync + rename + dir fsync) and only by
 * oci_store_write_index(): imports add blobs, never names. */
#include "layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob-store.h"
#include "fs-util.h"
#include "json-util.h"

int layout_index_build(const OciIndexEntry *entries, size_t n, json_t **ret) {
        _cleanup_json_ json_t *index = NULL;
        json_t *manifests;

        index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", OCI_MEDIA_TYPE_INDEX,
                          "manifests");
        if (!index)
                return -ENOMEM;
        manifests = json_object_get(index, "manifests");
        for (size_t i = 0; i < n; i++) {
                json_t *d;

                if (!digest_is_valid(entries[i].digest) || isempty(entries[i].media_type))
                        return -EINVAL;
                d = json_pack("{s:s, s:s, s:I}", "mediaType", entries[i].media_type, "digest",
                              entries[i].digest, "size", (json_int_t) entries[i].size);
                if (!d)
                        return -ENOMEM;
                if (entries[i].ref) {
                        json_t *a = json_pack("{s:s}", OCI_ANNOTATION_REF_NAME, entries[i].ref);
                        if (!a || json_object_set_new(d, "annotations", a) < 0) {
                                json_decref(d);
                                return -ENOMEM;
                        }
                }
                if (json_array_append_new(manifests, d) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(index);
        return 0;
}

char *layout_index_dump(json_t *index) {
        return json_dumps(index, JSON_COMPACT);
}

static int write_index_at(int dir_fd, const OciIndexEntry *entries, size_t n) {
        _cleanup_json_ json_t *index = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = layout_index_build(entries, n, &index);
        if (r < 0)
                return r;
        text = layout_index_dump(index);
        if (!text)
                return -ENOMEM;
        return write_file_atomic_at(dir_fd, OCI_INDEX_FILE, text, strlen(text), 0644);
}

int layout_init(int dir_fd) {
        int r;

        if (faccessat(dir_fd, OCI_LAYOUT_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                r = write_file_atomic_at(dir_fd, OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT,
                                         strlen(OCI_LAYOUT_CONTENT), 0644);
                if (r < 0)
                        return r;
        }
        if (faccessat(dir_fd, OCI_INDEX_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                r = write_index_at(dir_fd, NULL, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int oci_store_write_index(OciStore *s, const OciIndexEntry *entries, size_t n) {
        if (n > 0 && !entries)
                return -EINVAL;
        return write_index_at(s->dir_fd, entries, n);
}
