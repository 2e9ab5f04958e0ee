/* A plain rootfs tar (gzip/zstd/xz or uncompressed) → a one-layer linux/amd64 image.  The layer is
 * stored uncompressed (media type …layer.v1.tar), so its digest is its diff_id.  One pass: a raw
 * reader decompresses, and every decompressed block is written and hashed on its way into a tar
 * reader that checks it really is a complete tar before anything is stored under a name. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive-util.h"
#include "blob-store.h"
#include "import.h"
#include "json-util.h"
#include "layer-unpack.h"
#include "path-confine.h"
#include "path-util.h"
#include "string-util.h"

#define HINT_ROOTFS "Give a tar of a root file system (.tar, .tar.gz or .tar.zst)."


static bool is_shell(const char *path) {
        while (startswith(path, "./"))
                path += 2;
        while (*path == '/')
                path++;
        return streq(path, "bin/sh") || streq(path, "usr/bin/sh");
}

/* Feeds the tar reader from the raw (decompressing) reader, storing every block it passes on. */
typedef struct RootfsPump {
        struct archive *raw;
        BlobWriter *writer;
        const char *name;
        OciError *err;
        int error; /* set when the pump failed (the tar reader only sees "read error") */
        bool eof;
} RootfsPump;

static la_ssize_t pump_read(struct archive *a, void *userdata, const void **ret_buf) {
        RootfsPump *p = userdata;

        for (;;) {
                size_t len;
                la_int64_t off;
                int r;

                r = archive_read_data_block(p->raw, ret_buf, &len, &off);
                if (r == ARCHIVE_EOF) {
                        p->eof = true;
                        return 0;
                }
                if (r < ARCHIVE_WARN) {
                        p->error = import_archive_error(p->raw, p->name, "its compressed data", p->err);
                        archive_set_error(a, EIO, "decompression failed");
                        return -1;
                }
                if (len == 0)
                        continue;
                r = blob_writer_write(p->writer, *ret_buf, len);
                if (r < 0) {
                        p->error = oci_error_set(p->err, r, NULL, "Failed to write to the store: %s.",
                                                 strerror(-r));
                        archive_set_error(a, -r, "write failed");
                        return -1;
                }
                return (la_ssize_t) len;
        }
}

#define HINT_ESCAPE "Rebuild the tar with paths relative to the root (tar -C ROOTFS -cf FILE .)."
#define ROOTFS_RISKY_SYMLINKS_MAX 4096U

/* Symlinks in this tar that point out of their directory tree (absolute, or with ".."): an entry
 * stored *through* one of them is how a hostile tar tries to write outside the root. */
typedef struct RiskySymlinks {
        char **paths;
        size_t n;
} RiskySymlinks;

static void risky_symlinks_done(RiskySymlinks *r) {
        for (size_t i = 0; i < r->n; i++)
                free(r->paths[i]);
        free(r->paths);
}

static bool target_leaves_tree(const char *target) {
        if (target[0] == '/')
                return true;
        for (const char *p = target; *p;) {
                size_t l = strcspn(p, "/");
                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return true;
                p += l;
                while (*p == '/')
                        p++;
        }
        return false;
}

/* A rootfs tar is refused at import, not only at unpack, when an entry would escape the root:
 * absolute names, ".." components, hardlinks out of the tree, entries through outward symlinks. */
static int check_entry(RootfsPump *p, struct archive_entry *e, RiskySymlinks *risky) {
        const char *name = strempty(archive_entry_pathname(e)), *hard = archive_entry_hardlink(e),
                   *sym = archive_entry_symlink(e);
        _cleanup_free_ char *norm = NULL, *hnorm = NULL;
        int r;

        r = path_normalize_relative(name, LAYER_PATH_MAX, &norm);
        if (r == -EXDEV)
                return oci_error_set(p->err, -EBADMSG, HINT_ESCAPE,
                                     "%s has an entry '%s' that points outside the root file system.", p->name,
                                     name);
        if (r == -EINVAL)
                return 0; /* the root itself ("./") */
        if (r < 0)
                return oci_error_set(p->err, -EBADMSG, HINT_ESCAPE, "%s has an entry name that is too long.",
                                     p->name);
        if (hard && path_normalize_relative(hard, LAYER_PATH_MAX, &hnorm) < 0)
                return oci_error_set(p->err, -EBADMSG, HINT_ESCAPE,
                                     "%s has a hard link '%s' to '%s', outside the root file system.", p->name,
                                     name, hard);
        for (size_t i = 0; i < risky->n; i++) {
                size_t l = strlen(risky->paths[i]);
                if (strncmp(norm, risky->paths[i], l) == 0 && norm[l] == '/')
                        return oci_error_set(p->err, -EBADMSG, HINT_ESCAPE,
                                             "%s stores '%s' through the symlink '%s', which points outside "
                                             "its directory tree.",
                                             p->name, name, risky->paths[i]);
        }
        if (sym && target_leaves_tree(sym)) {
                char **n;

                if (risky->n >= ROOTFS_RISKY_SYMLINKS_MAX)
                        return 0; /* beyond this the unpacker's confinement still holds */
                n = realloc(risky->paths, (risky->n + 1) * sizeof(char *));
                if (!n)
                        return -ENOMEM;
                risky->paths = n;
                risky->paths[risky->n++] = TAKE_PTR(norm);
        }
        return 0;
}

/* Runs the tar reader over the pump to the end of the archive, then drains what follows the
 * end-of-archive marker (padding belongs to the layer's bytes and to its diff_id too). */
static int pump_tar(RootfsPump *p, bool *ret_has_shell) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_(risky_symlinks_done) RiskySymlinks risky = {};
        bool has_shell = false;
        size_t n = 0;
        int r;

        a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if (archive_read_support_format_tar(a) != ARCHIVE_OK)
                return -ENOMEM;
        if (archive_read_open(a, p, NULL, pump_read, NULL) != ARCHIVE_OK)
                return p->error ?: import_archive_error(a, p->name, NULL, p->err);
        for (;;) {
                struct archive_entry *e;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return p->error ?: import_archive_error(a, p->name, n == 0 ? NULL : "its header",
                                                                p->err);
                r = check_entry(p, e, &risky);
                if (r < 0)
                        return r;
                if (is_shell(strempty(archive_entry_pathname(e))))
                        has_shell = true;
                n++;
                if (archive_read_data_skip(a) < ARCHIVE_WARN)
                        return p->error ?: import_archive_error(a, p->name, archive_entry_pathname(e),
                                                                p->err);
        }
        if (n == 0)
                return oci_error_set(p->err, -EBADMSG, HINT_ROOTFS, "%s is an empty tar archive.", p->name);
        while (!p->eof) {
                const void *buf;

                if (pump_read(a, p, &buf) < 0)
                        return p->error;
        }
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
        struct archive_entry *e;
        OciImportedImage img;
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
        RootfsPump pump = { .raw = a, .writer = &w, .name = name, .err = err };
        r = pump_tar(&pump, &has_shell);
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

        imported_image_init(&img, mdigest, cdigest, OCI_MEDIA_TYPE_MANIFEST,
                            strlen(mtext) + strlen(ctext) + layer_size, strlen(mtext));
        return import_result_add(res, &img, NULL);
}
