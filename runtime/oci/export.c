/* Export of one stored image as a standard OCI layout: a directory, or an oci-archive tar streamed
 * to an fd.  Blobs are hashed while they are copied (one read each) and a mismatch fails the export;
 * index.json names the image with org.opencontainers.image.ref.name. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "blob-store.h"
#include "fs-util.h"
#include "json-util.h"
#include "layout.h"
#include "manifest.h"

#define HINT_CORRUPT "Remove the image, run `slipway image gc`, then import it again."

typedef struct ExportBlob {
        char digest[DIGEST_STRING_MAX];
} ExportBlob;

typedef struct ExportPlan {
        ExportBlob *blobs; /* manifest, config, layers; each once */
        size_t n_blobs;
        char *media_type;
        uint64_t manifest_size;
} ExportPlan;

static void export_plan_done(ExportPlan *p) {
        free(p->blobs);
        free(p->media_type);
        *p = (ExportPlan) {};
}

static void plan_add(ExportPlan *p, const char *digest) {
        for (size_t i = 0; i < p->n_blobs; i++)
                if (streq(p->blobs[i].digest, digest))
                        return;
        memcpy(p->blobs[p->n_blobs++].digest, digest, DIGEST_STRING_MAX);
}

static int export_plan(OciStore *s, const char *digest, ExportPlan *ret, OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_free_ char *data = NULL;
        ExportPlan p = {};
        char what[128];
        size_t size;
        int r;

        if (!digest_is_valid(digest))
                return oci_error_set(err, -EINVAL, "Give a digest of the form sha256:<64 hex digits>.",
                                     "\"%.80s\" is not a valid image digest.", strempty(digest));
        r = oci_store_read_blob(s, digest, OCI_MANIFEST_MAX, &data, &size);
        if (r == -ENOENT)
                return oci_error_set(err, r, "Check the image name with `slipway image list`.",
                                     "The manifest %s is not in the store.", digest);
        if (r == -EBADMSG)
                return oci_error_set(err, r, HINT_CORRUPT, "The manifest %s in the store is corrupted.",
                                     digest);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to read the manifest %s: %s.", digest,
                                     strerror(-r));
        (void) snprintf(what, sizeof what, "manifest %s", digest);
        r = oci_manifest_parse(data, size, NULL, what, &m, err);
        if (r < 0)
                return r;

        p.blobs = calloc(m.n_layers + 2, sizeof *p.blobs);
        if (!p.blobs)
                return -ENOMEM;
        plan_add(&p, digest);
        plan_add(&p, m.config.digest);
        for (size_t i = 0; i < m.n_layers; i++)
                plan_add(&p, m.layers[i].digest);
        p.media_type = TAKE_PTR(m.media_type);
        p.manifest_size = size;
        *ret = p;
        return 0;
}

static int index_text(const ExportPlan *p, const char *ref, char **ret) {
        _cleanup_json_ json_t *index = NULL;
        OciIndexEntry e = {
                .ref = ref,
                .digest = p->blobs[0].digest,
                .media_type = p->media_type,
                .size = p->manifest_size,
        };
        int r;

        r = layout_index_build(&e, 1, &index);
        if (r < 0)
                return r;
        *ret = layout_index_dump(index);
        return *ret ? 0 : -ENOMEM;
}

/* Opens a stored blob for copy_blob_verified(), with its size (ret_size may be NULL). */
static int open_stored_blob(OciStore *s, const char *digest, int *ret_fd, uint64_t *ret_size,
                            OciError *err) {
        int r = blob_store_open_unverified(s, digest, ret_fd, ret_size);

        if (r < 0)
                return oci_error_set(err, r, HINT_CORRUPT, "Blob %s is missing from the store.", digest);
        return 0;
}

/* Copies an opened blob to a sink while hashing it; fails with -EBADMSG when the store copy is corrupt. */
typedef int (*sink_fn)(void *userdata, const void *buf, size_t len);

static int copy_blob_verified(int blob_fd, const char *digest, char *buf, sink_fn sink, void *userdata,
                              OciError *err) {
        char actual[DIGEST_STRING_MAX];
        Sha256 h;
        int r;

        sha256_init(&h);
        for (;;) {
                ssize_t n = read_retry(blob_fd, buf, OCI_COPY_BUFFER_SIZE);
                if (n < 0)
                        return oci_error_set(err, (int) n, NULL, "Failed to read blob %s: %s.", digest,
                                             strerror((int) -n));
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
                r = sink(userdata, buf, (size_t) n);
                if (r < 0)
                        return oci_error_set(err, r, NULL, "Failed to write the export: %s.", strerror(-r));
        }
        sha256_final(&h, actual);
        if (!streq(actual, digest))
                return oci_error_set(err, -EBADMSG, HINT_CORRUPT,
                                     "Blob %s in the store does not match its digest (corrupted).", digest);
        return 0;
}

/* Directory export. */

static int fd_sink(void *userdata, const void *buf, size_t len) {
        return loop_write(*(int *) userdata, buf, len);
}

static int export_layout_into(OciStore *s, const ExportPlan *p, const char *ref, int dir_fd, OciError *err) {
        _cleanup_free_ char *buf = NULL, *index = NULL;
        _cleanup_close_ int blobs_fd = -EBADF;
        int r;

        buf = malloc(OCI_COPY_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        if ((mkdirat(dir_fd, "blobs", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(dir_fd, "blobs/sha256", 0755) < 0 && errno != EEXIST))
                return oci_error_set(err, -errno, NULL, "Failed to create blobs/sha256: %m.");
        blobs_fd = openat(dir_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (blobs_fd < 0)
                return oci_error_set(err, -errno, NULL, "Failed to open blobs/sha256: %m.");

        for (size_t i = 0; i < p->n_blobs; i++) {
                const char *hex = digest_hex(p->blobs[i].digest);
                _cleanup_close_ int blob_fd = -EBADF, fd = -EBADF;
                _cleanup_free_ char *tmp = NULL;

                r = open_stored_blob(s, p->blobs[i].digest, &blob_fd, NULL, err);
                if (r < 0)
                        return r;
                fd = open_tmpfile_at(blobs_fd, hex, &tmp);
                if (fd < 0)
                        return oci_error_set(err, fd, NULL, "Failed to create a blob file: %s.",
                                             strerror(-fd));
                r = copy_blob_verified(blob_fd, p->blobs[i].digest, buf, fd_sink, &fd, err);
                if (r >= 0 && fchmod(fd, 0644) < 0)
                        r = oci_error_set(err, -errno, NULL, "Failed to set blob mode: %m.");
                if (r < 0) {
                        (void) unlinkat(blobs_fd, tmp, 0);
                        return r;
                }
                r = link_tmpfile_atomic_at(fd, blobs_fd, tmp, hex);
                if (r < 0)
                        return oci_error_set(err, r, NULL, "Failed to write blob %s: %s.", hex,
                                             strerror(-r));
        }

        r = write_file_atomic_at(dir_fd, OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT, strlen(OCI_LAYOUT_CONTENT),
                                 0644);
        if (r >= 0)
                r = index_text(p, ref, &index);
        if (r >= 0)
                r = write_file_atomic_at(dir_fd, OCI_INDEX_FILE, index, strlen(index), 0644);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to write the layout files: %s.", strerror(-r));
        return 0;
}

int oci_store_export_layout(OciStore *s, const char *digest, const char *ref, const char *dir,
                            OciError *err) {
        _cleanup_(export_plan_done) ExportPlan p = {};
        _cleanup_close_ int dir_fd = -EBADF;
        bool created = false;
        int r;

        r = export_plan(s, digest, &p, err);
        if (r < 0)
                return r;

        if (mkdir(dir, 0755) >= 0)
                created = true;
        else if (errno != EEXIST)
                return oci_error_set(err, -errno, "Give a path in an existing, writable directory.",
                                     "Cannot create %s: %m.", dir);
        else {
                r = dir_is_empty_at(AT_FDCWD, dir);
                if (r < 0)
                        return oci_error_set(err, r, NULL, "Cannot read %s: %s.", dir, strerror(-r));
                if (r == 0)
                        return oci_error_set(err, -EEXIST, "Give a new or empty directory.",
                                             "%s exists and is not empty.", dir);
        }

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                r = oci_error_set(err, -errno, NULL, "Cannot open %s: %m.", dir);
        else
                r = export_layout_into(s, &p, ref, dir_fd, err);
        if (r < 0) {
                /* Leave no half-written layout behind. */
                (void) rm_rf(dir);
                if (!created)
                        (void) mkdir(dir, 0755);
                return r;
        }
        return 0;
}

/* Archive export. */


static int archive_sink(void *userdata, const void *buf, size_t len) {
        struct archive *a = userdata;
        la_ssize_t n = archive_write_data(a, buf, len);

        if (n < 0 || (size_t) n != len)
                return archive_errno(a) > 0 ? -archive_errno(a) : -EIO;
        return 0;
}

static int write_header(struct archive *a, const char *path, mode_t type, uint64_t size, OciError *err) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_size(e, type == AE_IFDIR ? 0 : (la_int64_t) size);
        archive_entry_set_mtime(e, 0, 0); /* reproducible: the same image gives the same bytes */
        if (archive_write_header(a, e) != ARCHIVE_OK)
                return oci_error_set(err, archive_errno(a) > 0 ? -archive_errno(a) : -EIO, NULL,
                                     "Failed to write the archive: %s.", strempty(archive_error_string(a)));
        return 0;
}

static int write_small_file(struct archive *a, const char *path, const char *data, OciError *err) {
        int r;

        r = write_header(a, path, AE_IFREG, strlen(data), err);
        if (r < 0)
                return r;
        r = archive_sink(a, data, strlen(data));
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to write the archive: %s.", strerror(-r));
        return 0;
}

int oci_store_export_archive(OciStore *s, const char *digest, const char *ref, int fd, OciError *err) {
        _cleanup_(archive_write_freep) struct archive *a = NULL;
        _cleanup_(export_plan_done) ExportPlan p = {};
        _cleanup_free_ char *buf = NULL, *index = NULL;
        int r;

        r = export_plan(s, digest, &p, err);
        if (r < 0)
                return r;
        r = index_text(&p, ref, &index);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to build index.json: %s.", strerror(-r));
        buf = malloc(OCI_COPY_BUFFER_SIZE);
        a = archive_write_new();
        if (!buf || !a)
                return -ENOMEM;
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(a, 64 * 1024) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open_fd(a, fd) != ARCHIVE_OK)
                return oci_error_set(err, -EIO, NULL, "Failed to start the archive: %s.",
                                     strempty(archive_error_string(a)));

        /* Layout files first, so a streaming reader knows the image before the blobs arrive. */
        r = write_small_file(a, OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT, err);
        if (r >= 0)
                r = write_small_file(a, OCI_INDEX_FILE, index, err);
        if (r >= 0)
                r = write_header(a, "blobs/", AE_IFDIR, 0, err);
        if (r >= 0)
                r = write_header(a, "blobs/sha256/", AE_IFDIR, 0, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < p.n_blobs; i++) {
                _cleanup_close_ int blob_fd = -EBADF;
                _cleanup_free_ char *path = NULL;
                uint64_t size;

                /* The header's size and the bytes copied come from the same open file. */
                r = open_stored_blob(s, p.blobs[i].digest, &blob_fd, &size, err);
                if (r < 0)
                        return r;
                if (asprintf(&path, "blobs/sha256/%s", digest_hex(p.blobs[i].digest)) < 0)
                        return -ENOMEM;
                r = write_header(a, path, AE_IFREG, size, err);
                if (r < 0)
                        return r;
                r = copy_blob_verified(blob_fd, p.blobs[i].digest, buf, archive_sink, a, err);
                if (r < 0)
                        return r;
        }

        if (archive_write_close(a) != ARCHIVE_OK)
                return oci_error_set(err, archive_errno(a) > 0 ? -archive_errno(a) : -EIO, NULL,
                                     "Failed to finish the archive: %s.", strempty(archive_error_string(a)));
        return 0;
}
