/* Image import: dispatch by input kind, and the index → manifest → config/layers walk that every
 * OCI-shaped input shares.  Imports only add verified blobs to the store and return what they found;
 * they never touch index.json, so a failed or interrupted import leaves nothing referenced. */
#include "import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob-store.h"
#include "fs-util.h"
#include "layout.h"

#define HINT_INCOMPLETE "The image is incomplete or damaged; export it again and retry."
/* Names of documents in messages: "manifest sha256:<64 hex>" and the like. */
#define IMPORT_WHAT_MAX 160U

int import_result_add(OciImportResult *res, const OciImportedImage *img, const char *ref) {
        OciImportedImage *n, *e;

        n = realloc(res->images, (res->n_images + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        res->images = n;
        e = &res->images[res->n_images];
        *e = *img;
        e->media_type = strdup(img->media_type);
        e->ref = ref ? strdup(ref) : NULL;
        if (!e->media_type || (ref && !e->ref)) {
                free(e->media_type);
                free(e->ref);
                return -ENOMEM;
        }
        res->n_images++;
        return 0;
}

/* Fills an OciImportedImage prototype (no ref) for import_result_add(). */
void imported_image_init(OciImportedImage *img, const char *digest, const char *config_digest,
                         const char *media_type, uint64_t size, uint64_t manifest_size) {
        *img = (OciImportedImage) {
                .media_type = (char *) media_type,
                .size = size,
                .manifest_size = manifest_size,
        };
        (void) snprintf(img->digest, sizeof img->digest, "%s", digest);
        (void) snprintf(img->config_digest, sizeof img->config_digest, "%s", config_digest);
}

static int missing_blob(ImportSource *src, const char *what, const char *digest, OciError *err) {
        return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                             "%s references blob %s, which is missing from %s.", what, digest, src->name);
}

static int size_mismatch(ImportSource *src, const char *what, const OciDescriptor *d, uint64_t actual,
                         OciError *err) {
        return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                             "Blob %s in %s has %llu bytes, but %s says %llu.", d->digest, src->name,
                             (unsigned long long) actual, what, (unsigned long long) d->size);
}

static int digest_mismatch(ImportSource *src, const char *digest, OciError *err) {
        return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                             "The content of blob %s in %s does not match its digest.", digest, src->name);
}

/* A failed read of a small blob: missing, over max (read_full_file_at's -EFBIG), or anything else. */
static int read_failed(ImportSource *src, const OciDescriptor *d, size_t max, const char *what, int r,
                       OciError *err) {
        if (r == -ENOENT)
                return missing_blob(src, what, d->digest, err);
        if (r == -EFBIG)
                return oci_error_set(err, -E2BIG, NULL, "%s is larger than the limit of %zu bytes.", what,
                                     max);
        return oci_error_set(err, r, NULL, "Failed to read %s: %s.", what, strerror(-r));
}

/* Blobs already in the store (streamed from an archive and verified on the way in). */
static int store_read_small(ImportSource *src, const OciDescriptor *d, size_t max, const char *what,
                            char **ret_data, size_t *ret_size, OciError *err) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = oci_store_read_blob(src->store, d->digest, max, &data, &size);
        if (r == -EBADMSG)
                return digest_mismatch(src, d->digest, err);
        if (r < 0)
                return read_failed(src, d, max, what, r, err);
        if (size != d->size)
                return size_mismatch(src, what, d, size, err);
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int store_ensure_blob(ImportSource *src, const OciDescriptor *d, const char *what, OciError *err) {
        uint64_t size;
        int r;

        r = blob_store_stat(src->store, d->digest, &size);
        if (r == -ENOENT)
                return missing_blob(src, what, d->digest, err);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to look up blob %s: %s.", d->digest,
                                     strerror(-r));
        if (size != d->size)
                return size_mismatch(src, what, d, size, err);
        return 0;
}

/* Blobs in an OCI layout directory: copied into the store (verified while copying) when needed. */
static int dir_open_blob(ImportSource *src, const char *digest, const char *what, int *ret_fd,
                         OciError *err) {
        _cleanup_free_ char *p = NULL;
        int fd;

        if (asprintf(&p, "blobs/sha256/%s", digest_hex(digest)) < 0)
                return -ENOMEM;
        fd = openat(src->dir_fd, p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return missing_blob(src, what, digest, err);
                return oci_error_set(err, -errno, NULL, "Failed to open blob %s in %s: %m.", digest,
                                     src->name);
        }
        *ret_fd = fd;
        return 0;
}

static int dir_read_small(ImportSource *src, const OciDescriptor *d, size_t max, const char *what,
                          char **ret_data, size_t *ret_size, OciError *err) {
        _cleanup_free_ char *data = NULL, *p = NULL;
        char actual[DIGEST_STRING_MAX], stored[DIGEST_STRING_MAX];
        size_t size;
        int r;

        if (asprintf(&p, "blobs/sha256/%s", digest_hex(d->digest)) < 0)
                return -ENOMEM;
        r = read_full_file_at(src->dir_fd, p, max, &data, &size);
        if (r < 0)
                return read_failed(src, d, max, what, r, err);
        sha256_digest_string(data, size, actual);
        if (!streq(actual, d->digest))
                return digest_mismatch(src, d->digest, err);
        if (size != d->size)
                return size_mismatch(src, what, d, size, err);
        r = oci_store_put_blob_data(src->store, data, size, stored);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store blob %s: %s.", d->digest, strerror(-r));
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int dir_ensure_blob(ImportSource *src, const OciDescriptor *d, const char *what, OciError *err) {
        _cleanup_close_ int fd = -EBADF;
        char stored[DIGEST_STRING_MAX];
        uint64_t size;
        struct stat st;
        int r;

        if (blob_store_stat(src->store, d->digest, &size) >= 0) {
                if (size != d->size)
                        return size_mismatch(src, what, d, size, err);
                return 0;
        }
        r = dir_open_blob(src, d->digest, what, &fd, err);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return oci_error_set(err, -errno, NULL, "Failed to stat blob %s: %m.", d->digest);
        if ((uint64_t) st.st_size != d->size)
                return size_mismatch(src, what, d, (uint64_t) st.st_size, err);
        r = oci_store_put_blob_fd(src->store, fd, d->digest, stored, NULL);
        if (r == -EBADMSG)
                return digest_mismatch(src, d->digest, err);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store blob %s: %s.", d->digest, strerror(-r));
        return 0;
}

/* A source reading from the layout directory dir_fd, or (dir_fd < 0) from blobs already in the store. */
static void import_source_init(ImportSource *src, OciStore *s, const char *name, int dir_fd) {
        *src = (ImportSource) {
                .store = s,
                .name = name,
                .dir_fd = dir_fd,
                .read_small = dir_fd >= 0 ? dir_read_small : store_read_small,
                .ensure_blob = dir_fd >= 0 ? dir_ensure_blob : store_ensure_blob,
        };
}

void import_source_store(ImportSource *src, OciStore *s, const char *name) {
        import_source_init(src, s, name, -EBADF);
}

/* Reads the small blob d describes from src; one whose descriptor claims more than max bytes is refused
 * before a byte is read. */
static int read_small(ImportSource *src, const OciDescriptor *d, size_t max, const char *what,
                      char **ret_data, size_t *ret_size, OciError *err) {
        if (d->size > max)
                return oci_error_set(err, -E2BIG, NULL, "%s is %llu bytes, more than the limit of %zu.",
                                     what, (unsigned long long) d->size, max);
        return src->read_small(src, d, max, what, ret_data, ret_size, err);
}

/* A manifest or index parser (oci_manifest_parse(), oci_index_parse()), for read_document(). */
typedef int (*DocumentParser)(const char *data, size_t size, const char *descriptor_media_type,
                              const char *what, void *ret, OciError *err);

static int parse_manifest(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                          void *ret, OciError *err) {
        return oci_manifest_parse(data, size, descriptor_media_type, what, ret, err);
}

static int parse_index(const char *data, size_t size, const char *descriptor_media_type, const char *what,
                       void *ret, OciError *err) {
        return oci_index_parse(data, size, descriptor_media_type, what, ret, err);
}

/* Reads the manifest or index d describes and parses it into ret; what becomes its name for every message
 * about it ("manifest sha256:…").  ret_size (may be NULL) is the document's size in bytes. */
static int read_document(ImportSource *src, const OciDescriptor *d, const char *kind, DocumentParser parse,
                         char what[static IMPORT_WHAT_MAX], void *ret, size_t *ret_size, OciError *err) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        (void) snprintf(what, IMPORT_WHAT_MAX, "%s %s", kind, d->digest);
        r = read_small(src, d, OCI_MANIFEST_MAX, what, &data, &size, err);
        if (r < 0)
                return r;
        r = parse(data, size, d->media_type, what, ret, err);
        if (r < 0)
                return r;
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* Validates one image manifest and everything it references, and records it. */
static int import_manifest(ImportSource *src, const OciDescriptor *d, const char *ref, OciImportResult *res,
                           OciError *err) {
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_(oci_config_done) OciConfig c = {};
        _cleanup_free_ char *cdata = NULL;
        char what[IMPORT_WHAT_MAX], cwhat[IMPORT_WHAT_MAX];
        OciImportedImage img;
        size_t msize, csize;
        uint64_t total;
        int r;

        r = read_document(src, d, "manifest", parse_manifest, what, &m, &msize, err);
        if (r < 0)
                return r;

        (void) snprintf(cwhat, sizeof cwhat, "config %s", m.config.digest);
        r = read_small(src, &m.config, OCI_CONFIG_MAX, what, &cdata, &csize, err);
        if (r < 0)
                return r;
        r = oci_config_parse(cdata, csize, cwhat, &c, err);
        if (r < 0)
                return r;
        if (c.n_diff_ids != m.n_layers)
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "%s lists %zu layers, but its config lists %zu diff_ids.", what,
                                     m.n_layers, c.n_diff_ids);

        total = msize + csize;
        for (size_t i = 0; i < m.n_layers; i++) {
                r = src->ensure_blob(src, &m.layers[i], what, err);
                if (r < 0)
                        return r;
                total += m.layers[i].size;
        }
        imported_image_init(&img, d->digest, m.config.digest, m.media_type, total, msize);
        return import_result_add(res, &img, ref);
}

static int no_platform(const char *what, const OciIndex *x, OciError *err) {
        char have[160] = "";
        size_t l = 0;

        for (size_t i = 0; i < x->n_manifests && l + 1 < sizeof have; i++) {
                int k = snprintf(have + l, sizeof have - l, "%s%s/%s", l ? ", " : "",
                                 strempty(x->manifests[i].platform.os),
                                 strempty(x->manifests[i].platform.architecture));
                if (k < 0)
                        break;
                l = MIN(l + (size_t) k, sizeof have - 1);
        }
        return oci_error_set(err, -ENOEXEC, "Import an image (or index) that includes linux/amd64.",
                             "%s has no linux/amd64 image (it has: %s).", what, l ? have : "nothing");
}

static bool is_linux_amd64(const OciDescriptor *d) {
        return streq_ptr(d->platform.os, "linux") && streq_ptr(d->platform.architecture, "amd64");
}

int import_from_index(ImportSource *src, const char *data, size_t size, const char *what,
                      OciImportResult *res, OciError *err) {
        _cleanup_(oci_index_done) OciIndex x = {};
        size_t n_other_platform = 0;
        int r;

        r = oci_index_parse(data, size, NULL, what, &x, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < x.n_manifests; i++) {
                const OciDescriptor *d = &x.manifests[i];

                if (oci_media_type_is_index(d->media_type)) {
                        _cleanup_(oci_index_done) OciIndex sub = {};
                        char swhat[IMPORT_WHAT_MAX];
                        int k;

                        r = read_document(src, d, "index", parse_index, swhat, &sub, NULL, err);
                        if (r < 0)
                                return r;
                        k = oci_index_find_platform(&sub, "linux", "amd64");
                        if (k < 0)
                                return no_platform(swhat, &sub, err);
                        if (!oci_media_type_is_manifest(sub.manifests[k].media_type))
                                return oci_error_set(err, -EMEDIUMTYPE,
                                                     "Only image manifests may be listed in a nested index.",
                                                     "The linux/amd64 entry of %s has media type \"%s\".",
                                                     swhat, sub.manifests[k].media_type);
                        r = import_manifest(src, &sub.manifests[k], d->ref_name, res, err);
                        if (r < 0)
                                return r;
                } else if (oci_media_type_is_manifest(d->media_type)) {
                        if ((d->platform.os || d->platform.architecture) && !is_linux_amd64(d)) {
                                n_other_platform++;
                                continue;
                        }
                        r = import_manifest(src, d, d->ref_name, res, err);
                        if (r < 0)
                                return r;
                } else
                        return oci_error_set(
                                err, -EMEDIUMTYPE,
                                "Only OCI and Docker schema2 manifests and indexes are supported.",
                                "Entry %zu of %s has unknown media type \"%s\".", i + 1, what,
                                d->media_type);
        }

        if (res->n_images == 0) {
                if (n_other_platform > 0)
                        return no_platform(what, &x, err);
                return oci_error_set(err, -EBADMSG,
                                     "Export the image again; the index must name at least one image.",
                                     "%s lists no images.", what);
        }
        return 0;
}

static int import_layout_dir(OciStore *s, const char *path, OciImportResult *res, OciError *err) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        char what[PATH_MAX + 32];
        ImportSource src;
        size_t size;
        int r;

        dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return oci_error_set(err, -errno, NULL, "Failed to open %s: %m.", path);
        if (faccessat(dir_fd, OCI_LAYOUT_FILE, F_OK, 0) < 0)
                return oci_error_set(err, -EBADMSG,
                                     "Give an OCI image layout (with oci-layout, index.json and blobs/).",
                                     "%s is not an OCI image layout: it has no oci-layout file.", path);
        r = read_full_file_at(dir_fd, OCI_INDEX_FILE, OCI_MANIFEST_MAX, &data, &size);
        if (r == -ENOENT)
                return oci_error_set(err, -EBADMSG,
                                     "Give an OCI image layout (with oci-layout, index.json and blobs/).",
                                     "%s is not an OCI image layout: it has no index.json.", path);
        if (r == -EFBIG)
                return oci_error_set(err, -E2BIG, NULL, "index.json in %s is larger than %u bytes.", path,
                                     OCI_MANIFEST_MAX);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to read index.json in %s: %s.", path,
                                     strerror(-r));

        import_source_init(&src, s, path, dir_fd);
        (void) snprintf(what, sizeof what, "index.json in %s", path);
        return import_from_index(&src, data, size, what, res, err);
}

static int import_fd(OciStore *s, int fd, const char *name, OciImportFormat format, OciImportResult *ret,
                     OciError *err) {
        _cleanup_(oci_import_result_done) OciImportResult res = {};
        int r;

        if (format == OCI_IMPORT_ROOTFS)
                r = import_rootfs_fd(s, fd, name, &res, err);
        else
                r = import_archive_fd(s, fd, name, format, &res, err);
        if (r < 0)
                return r;
        *ret = res;
        res = (OciImportResult) {};
        return 0;
}

int oci_store_import_fd(OciStore *s, int fd, OciImportFormat format, OciImportResult *ret, OciError *err) {
        if (format < 0 || format >= _OCI_IMPORT_FORMAT_MAX || !ret)
                return oci_error_set(err, -EINVAL, NULL, "Invalid import format.");
        if (format == OCI_IMPORT_OCI_LAYOUT)
                return oci_error_set(err, -EINVAL, "Send the layout as an oci-archive tar.",
                                     "An OCI layout directory cannot be read from a stream.");
        return import_fd(s, fd, "the uploaded archive", format, ret, err);
}

int oci_store_import(OciStore *s, const char *path, OciImportFormat format, OciImportResult *ret,
                     OciError *err) {
        _cleanup_(oci_import_result_done) OciImportResult res = {};
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (format < 0 || format >= _OCI_IMPORT_FORMAT_MAX || !ret)
                return oci_error_set(err, -EINVAL, NULL, "Invalid import format.");
        if (isempty(path))
                return oci_error_set(err, -EINVAL, "Give the path of an image archive or layout.",
                                     "No path given.");

        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return oci_error_set(err, -ENOENT, "Check the path and try again.",
                                             "%s does not exist.", path);
                return oci_error_set(err, -errno, NULL, "Cannot access %s: %m.", path);
        }

        if (S_ISDIR(st.st_mode)) {
                if (format != OCI_IMPORT_AUTO && format != OCI_IMPORT_OCI_LAYOUT)
                        return oci_error_set(err, -EISDIR,
                                             "Give a tar file, or import the directory as an OCI layout.",
                                             "%s is a directory, but the %s format needs a tar file.", path,
                                             oci_import_format_to_string(format));
                r = import_layout_dir(s, path, &res, err);
                if (r < 0)
                        return r;
                *ret = res;
                res = (OciImportResult) {};
                return 0;
        }

        if (format == OCI_IMPORT_OCI_LAYOUT)
                return oci_error_set(err, -ENOTDIR,
                                     "Give the directory that holds oci-layout and index.json.",
                                     "%s is not a directory, so it is not an OCI layout.", path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return oci_error_set(err, -errno, NULL, "Failed to open %s: %m.", path);
        return import_fd(s, fd, path, format, ret, err);
}
