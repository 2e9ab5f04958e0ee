/* A plain rootfs tar (gzip/zstd/xz or uncompressed) → a one-layer linux/amd64 image.  The layer is
 * stored uncompressed (media type …layer.v1.tar), so its digest is its diff_id and it is hashed in
 * the same pass that decompresses it; a header-only second pass (data skipped by seeking) checks
 * that it really is a tar before anything is stored under a name. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob-store.h"
#include "import.h"
#include "json-util.h"
#include "string-util.h"

#define HINT_ROOTFS "Give a tar of a root file system (.tar, .tar.gz or .tar.zst)."

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);

static bool is_shell(const char *path) {
        while (startswith(path, "./"))
                path += 2;
        while (*path == '/')
                path++;
        return streq(path, "bin/sh") || streq(path, "usr/bin/sh");
}

/* Reads the headers of the uncompressed tar in fd; fails unless it is a non-empty, complete tar. */
static int check_tar(int fd, const char *name, bool *ret_has_shell, OciError *err) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        bool has_shell = false;
        size_t n = 0;
        int r;

        a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if (archive_read_support_format_tar(a) != ARCHIVE_OK)
                return -ENOMEM;
        if (archive_read_open_fd(a, fd, OCI_ARCHIVE_BLOCK_SIZE) != ARCHIVE_OK)
                return import_archive_error(a, name, NULL, err);
        for (;;) {
                struct archive_entry *e;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return import_archive_error(a, name, n == 0 ? NULL : "its header", err);
                if (is_shell(strempty(archive_entry_pathname(e))))
                        has_shell = true;
                n++;
                if (archive_read_data_skip(a) < ARCHIVE_WARN)
                        return import_archive_error(a, name, archive_entry_pathname(e), err);
        }
        if (n == 0)
                return oci_error_set(err, -EBADMSG, HINT_ROOTFS, "%s is an empty tar archive.", name);
        *ret_has_shell = has_shell;
        return 0;
}

static void format_now(char buf[static 32]) {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        time_t t = sde ? (time_t) strtoll(sde, NULL, 10) : time(NULL);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                strcpy(buf, "1970-01-01T00:00:00Z");
}

int import_rootfs_fd(OciStore *s, int fd, const char *name, OciImportResult *res, OciError *err) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_(blob_writer_abort) BlobWriter w = BLOB_WRITER_INIT;
        _cleanup_json_ json_t *config = NULL, *manifest = NULL;
        _cleanup_free_ char *ctext = NULL, *mtext = NULL;
        char diff_id[DIGEST_STRING_MAX], cdigest[DIGEST_STRING_MAX], mdigest[DIGEST_STRING_MAX], now[32];
        _cleanup_close_ int rfd = -EBADF;
        struct archive_entry *e;
        uint64_t layer_size;
        bool has_shell = false;
        int r;

        a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if (archive_read_support_format_raw(a) != ARCHIVE_OK || archive_read_support_filter_all(a) < ARCHIVE_WARN)
                return -ENOMEM;
        if (archive_read_open_fd(a, fd, OCI_ARCHIVE_BLOCK_SIZE) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) < ARCHIVE_WARN)
                return import_archive_error(a, name, NULL, err);

        r = blob_writer_begin(s, &w);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to create a blob in the store: %s.", strerror(-r));
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;

                r = archive_read_data_block(a, &buf, &len, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return import_archive_error(a, name, "its compressed data", err);
                r = blob_writer_write(&w, buf, len);
                if (r < 0)
                        return oci_error_set(err, r, NULL, "Failed to write to the store: %s.", strerror(-r));
        }

        rfd = openat(s->blobs_fd, w.tmp_name, O_RDONLY | O_CLOEXEC);
        if (rfd < 0)
                return oci_error_set(err, -errno, NULL, "Failed to reopen the layer: %m.");
        r = check_tar(rfd, name, &has_shell, err);
        if (r < 0)
                return r;
        r = blob_writer_commit(&w, NULL, diff_id, &layer_size);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store the layer: %s.", strerror(-r));

        format_now(now);
        config = json_pack("{s:s, s:s, s:s, s:{}, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created", now,
                           "architecture", "amd64", "os", "linux", "config", "rootfs", "type", "layers",
                           "diff_ids", diff_id, "history", "created", now, "created_by",
                           "slipway image import --rootfs");
        if (!config)
                return -ENOMEM;
        if (has_shell &&
            json_object_set_new(json_object_get(config, "config"), "Cmd", json_pack("[s]", "/bin/sh")) < 0)
                return -ENOMEM;
        ctext = json_dumps(config, JSON_COMPACT);
        if (!ctext)
                return -ENOMEM;
        r = oci_store_put_blob_data(s, ctext, strlen(ctext), cdigest);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store the config: %s.", strerror(-r));

        manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
                             "mediaType", OCI_MEDIA_TYPE_MANIFEST, "config", "mediaType", OCI_MEDIA_TYPE_CONFIG,
                             "digest", cdigest, "size", (json_int_t) strlen(ctext), "layers", "mediaType",
                             OCI_MEDIA_TYPE_LAYER, "digest", diff_id, "size", (json_int_t) layer_size);
        if (!manifest)
                return -ENOMEM;
        mtext = json_dumps(manifest, JSON_COMPACT);
        if (!mtext)
                return -ENOMEM;
        r = oci_store_put_blob_data(s, mtext, strlen(mtext), mdigest);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store the manifest: %s.", strerror(-r));

        return import_result_add(res, mdigest, cdigest, OCI_MEDIA_TYPE_MANIFEST,
                                 strlen(mtext) + strlen(ctext) + layer_size, NULL);
}
