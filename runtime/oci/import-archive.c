/* Tar input (oci-archive, docker-archive) read in ONE streaming pass: every file entry is hashed
 * into the store as it goes by (an entry named blobs/sha256/<hex> must hash to <hex>), the few
 * metadata files (index.json, manifest.json, …) are kept in memory, and only after the last entry
 * are the images resolved from them.  Nothing is referenced until the caller writes index.json. */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <unistd.h>

#include "archive-util.h"
#include "blob-store.h"
#include "fs-util.h"
#include "import.h"
#include "json-util.h"
#include "layout.h"
#include "manifest.h"
#include "string-util.h"

/* Limits on archive structure (user input). */
#define ARCHIVE_ENTRIES_MAX 100000U
#define ARCHIVE_PATH_MAX 4096U
#define ARCHIVE_LINK_DEPTH_MAX 8U
#define DOCKER_IMAGES_MAX 1024U

#define HINT_TAR "Give an oci-archive or a docker-archive (docker save) tar file."
#define HINT_INCOMPLETE "The image is incomplete or damaged; export it again and retry."

typedef struct ArchiveFile {
        char *path;                     /* normalised: no "./" or "/" prefix */
        char *link;                     /* symlink/hardlink target (normalised archive path), or NULL */
        char digest[DIGEST_STRING_MAX]; /* the stored blob, or "" */
        uint64_t size;
        char *data; /* metadata files kept in memory */
        size_t data_size;
} ArchiveFile;

typedef struct ArchiveContents {
        ArchiveFile *files;
        size_t n_files;
} ArchiveContents;

static void archive_contents_done(ArchiveContents *c) {
        for (size_t i = 0; i < c->n_files; i++) {
                free(c->files[i].path);
                free(c->files[i].link);
                free(c->files[i].data);
        }
        free(c->files);
        *c = (ArchiveContents) {};
}


int import_archive_error(struct archive *a, const char *name, const char *entry, OciError *err) {
        const char *s = archive_error_string(a);
        int e = archive_errno(a);

        if (s && strstr(s, "runcated"))
                return oci_error_set(err, -EBADMSG, "The file was cut short; copy or export it again.",
                                     "%s is truncated%s%s.", name, entry ? ": it ends inside " : "",
                                     strempty(entry));
        if (e == ENOMEM)
                return oci_error_set(err, -ENOMEM, NULL, "Out of memory while reading %s.", name);
        /* libarchive reports format problems as EILSEQ/EINVAL/-1; anything else is the system's. */
        if (e > 0 && e != EILSEQ && e != EINVAL)
                return oci_error_set(err, -e, NULL, "Failed to read %s: %s.", name, s ? s : strerror(e));
        if (!entry && s && strstr(s, "Unrecognized archive format"))
                return oci_error_set(err, -EBADMSG, HINT_TAR, "%s is not a tar archive.", name);
        return oci_error_set(err, -EBADMSG, HINT_TAR, "%s is not a valid tar archive (%s).", name,
                             s ? s : "unknown error");
}

int import_store_json(OciStore *s, json_t *j, const char *what, char **ret_text,
                      char ret_digest[static DIGEST_STRING_MAX], OciError *err) {
        _cleanup_free_ char *text = NULL;
        int r;

        text = json_dumps(j, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        r = oci_store_put_blob_data(s, text, strlen(text), ret_digest);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store the %s: %s.", what, strerror(-r));
        *ret_text = TAKE_PTR(text);
        return 0;
}

int import_archive_open_fd(int fd, const char *name, bool raw, struct archive **ret, OciError *err) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;

        a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if ((raw ? archive_read_support_format_raw(a) : archive_read_support_format_tar(a)) != ARCHIVE_OK ||
            archive_read_support_filter_all(a) < ARCHIVE_WARN)
                return -ENOMEM;
        if (archive_read_open_fd(a, fd, OCI_ARCHIVE_BLOCK_SIZE) != ARCHIVE_OK)
                return import_archive_error(a, name, NULL, err);
        *ret = TAKE_PTR(a);
        return 0;
}

/* Collapses "." and ".." and duplicate slashes; "" for the archive root.  Never escapes the root
 * (a ".." at the top is dropped): these names are only keys into the archive, never file paths. */
static char *path_normalize(const char *p) {
        size_t n = strlen(p), o = 0;
        char *out = malloc(n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t j = i;

                while (j < n && p[j] != '/')
                        j++;
                if (j - i == 0 || (j - i == 1 && p[i] == '.'))
                        ; /* skip */
                else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;
                } else {
                        if (o > 0)
                                out[o++] = '/';
                        memcpy(out + o, p + i, j - i);
                        o += j - i;
                }
                i = j + 1;
        }
        out[o] = 0;
        return out;
}

static ArchiveFile *contents_find(ArchiveContents *c, const char *path) {
        for (size_t depth = 0; depth <= ARCHIVE_LINK_DEPTH_MAX; depth++) {
                ArchiveFile *f = NULL;

                /* Last wins, like tar extraction. */
                for (size_t i = c->n_files; i > 0; i--)
                        if (streq(c->files[i - 1].path, path)) {
                                f = &c->files[i - 1];
                                break;
                        }
                if (!f || !f->link)
                        return f;
                path = f->link;
        }
        return NULL;
}

static bool is_metadata_file(const char *path) {
        return streq(path, OCI_LAYOUT_FILE) || streq(path, OCI_INDEX_FILE) || streq(path, "manifest.json") ||
               streq(path, "repositories");
}

/* Entries that can be blobs of an oci-archive or docker-archive: anything under blobs/, top-level
 * configs and layer tars, and the <id>/layer.tar of classic docker saves.  Everything else (legacy
 * <id>/json, VERSION, or the files of a rootfs tar given by mistake) is skipped, not stored. */
static bool is_blob_candidate(const char *path) {
        static const char *const suffixes[] = {
                ".json", ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"
        };
        const char *slash = strchr(path, '/');

        if (startswith(path, "blobs/"))
                return true;
        if (slash)
                return strchr(slash + 1, '/') == NULL && startswith(slash + 1, "layer.tar");
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (endswith(path, suffixes[i]))
                        return true;
        return false;
}

static int read_metadata(struct archive *a, const char *name, const char *path, ArchiveFile *f,
                         OciError *err) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        buf = malloc(OCI_MANIFEST_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf + len, OCI_MANIFEST_MAX + 1 - len);
                if (n < 0)
                        return import_archive_error(a, name, path, err);
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > OCI_MANIFEST_MAX)
                        return oci_error_set(err, -E2BIG, NULL,
                                             "%s in %s is larger than the limit of %u bytes.", path, name,
                                             OCI_MANIFEST_MAX);
        }
        buf[len] = 0;
        f->data = TAKE_PTR(buf);
        f->data_size = len;
        return 0;
}

/* Reads the current entry's data, hashing it, into the store (or only hashing it when a blob with
 * the expected digest is stored already: the archive is still checked, nothing is written twice). */
static int stream_blob(OciStore *s, struct archive *a, const char *name, const char *path,
                       const char *expected, ArchiveFile *f, OciError *err) {
        _cleanup_(blob_writer_abort) BlobWriter w = BLOB_WRITER_INIT;
        static const char zeros[64 * 1024];
        bool write = !(expected && oci_store_has_blob(s, expected));
        int64_t pos = 0;
        Sha256 h;
        int r;

        if (write) {
                r = blob_writer_begin(s, &w);
                if (r < 0)
                        return oci_error_set(err, r, NULL, "Failed to create a blob in the store: %s.",
                                             strerror(-r));
        } else
                sha256_init(&h);

        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;

                r = archive_read_data_block(a, &buf, &len, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return import_archive_error(a, name, path, err);
                /* Sparse entries: holes read as zeros. */
                while (pos < off || len > 0) {
                        const void *p = pos < off ? zeros : buf;
                        size_t k = pos < off ? (size_t) MIN((int64_t) sizeof zeros, off - pos) : len;

                        if (write) {
                                r = blob_writer_write(&w, p, k);
                                if (r < 0)
                                        return oci_error_set(err, r, NULL,
                                                             "Failed to write to the store: %s.",
                                                             strerror(-r));
                        } else
                                sha256_update(&h, p, k);
                        if (p == buf)
                                len = 0;
                        pos += (int64_t) k;
                }
        }

        if (write)
                r = blob_writer_commit(&w, expected, f->digest, &f->size);
        else {
                sha256_final(&h, f->digest);
                f->size = (uint64_t) pos;
                r = streq(f->digest, expected) ? 0 : -EBADMSG;
        }
        if (r == -EBADMSG)
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "The content of %s in %s does not match its digest.", path, name);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Failed to store %s: %s.", path, strerror(-r));
        return 0;
}

static int read_contents(OciStore *s, int fd, const char *name, ArchiveContents *c, OciError *err) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        bool first = true;
        int r;

        r = import_archive_open_fd(fd, name, false, &a, err);
        if (r < 0)
                return r;

        for (;;) {
                struct archive_entry *e;
                const char *raw, *hex, *expected = NULL;
                char expected_buf[DIGEST_STRING_MAX];
                _cleanup_free_ char *path = NULL;
                ArchiveFile *f, *nf;
                mode_t type;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return import_archive_error(a, name, first ? NULL : "its header", err);
                first = false;

                raw = archive_entry_pathname(e);
                if (!raw || strlen(raw) > ARCHIVE_PATH_MAX)
                        return oci_error_set(err, -EBADMSG, HINT_TAR,
                                             "%s has an entry with an invalid name.", name);
                path = path_normalize(raw);
                if (!path)
                        return -ENOMEM;
                type = archive_entry_filetype(e);
                if (isempty(path) || type == AE_IFDIR ||
                    (type != AE_IFREG && type != AE_IFLNK && !archive_entry_hardlink(e)))
                        continue;
                if (!is_metadata_file(path) && !is_blob_candidate(path)) {
                        if (archive_read_data_skip(a) < ARCHIVE_WARN)
                                return import_archive_error(a, name, path, err);
                        continue;
                }
                if (c->n_files >= ARCHIVE_ENTRIES_MAX)
                        return oci_error_set(err, -E2BIG, NULL, "%s has more than %u entries.", name,
                                             ARCHIVE_ENTRIES_MAX);

                nf = realloc(c->files, (c->n_files + 1) * sizeof *nf);
                if (!nf)
                        return -ENOMEM;
                c->files = nf;
                f = &c->files[c->n_files++];
                *f = (ArchiveFile) { .path = TAKE_PTR(path) };

                if (archive_entry_hardlink(e)) {
                        f->link = path_normalize(archive_entry_hardlink(e));
                        if (!f->link)
                                return -ENOMEM;
                        continue;
                }
                if (type == AE_IFLNK) {
                        _cleanup_free_ char *joined = NULL;
                        const char *target = archive_entry_symlink(e), *slash = strrchr(f->path, '/');

                        if (!target)
                                continue;
                        if (asprintf(&joined, "%.*s/%s", slash ? (int) (slash - f->path) : 0, f->path,
                                     target) < 0)
                                return -ENOMEM;
                        f->link = path_normalize(target[0] == '/' ? target : joined);
                        if (!f->link)
                                return -ENOMEM;
                        continue;
                }

                if (is_metadata_file(f->path)) {
                        r = read_metadata(a, name, f->path, f, err);
                        if (r < 0)
                                return r;
                        continue;
                }

                hex = startswith(f->path, "blobs/sha256/") ? f->path + strlen("blobs/sha256/") : NULL;
                if (hex) {
                        (void) snprintf(expected_buf, sizeof expected_buf, "sha256:%s", hex);
                        if (!digest_is_valid(expected_buf))
                                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                                     "%s has a blob with an invalid name: %s.", name,
                                                     f->path);
                        expected = expected_buf;
                }
                r = stream_blob(s, a, name, f->path, expected, f, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int import_oci_contents(OciStore *s, ArchiveContents *c, const char *name, OciImportResult *res,
                               OciError *err) {
        ArchiveFile *index = contents_find(c, OCI_INDEX_FILE);
        char what[PATH_MAX + 32];
        ImportSource src;

        if (!contents_find(c, OCI_LAYOUT_FILE) || !index || !index->data)
                return oci_error_set(err, -EBADMSG, HINT_TAR, "%s is not an OCI archive: it has no %s.",
                                     name,
                                     contents_find(c, OCI_LAYOUT_FILE) ? "index.json" : "oci-layout file");
        import_source_store(&src, s, name);
        (void) snprintf(what, sizeof what, "index.json in %s", name);
        return import_from_index(&src, index->data, index->data_size, what, res, err);
}

/* The compression of a stored layer, from its first bytes. */
static int blob_compression(OciStore *s, const char *digest) {
        _cleanup_close_ int fd = -EBADF;
        unsigned char m[4] = {};
        ssize_t n;
        int r;

        r = blob_store_open_unverified(s, digest, &fd, NULL);
        if (r < 0)
                return r;
        n = loop_read(fd, m, sizeof m);
        if (n < 0)
                return (int) n;
        if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
                return OCI_LAYER_GZIP;
        if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
                return OCI_LAYER_ZSTD;
        return OCI_LAYER_UNCOMPRESSED;
}

static int docker_file(ArchiveContents *c, json_t *v, const char *name, const char *what, ArchiveFile **ret,
                       OciError *err) {
        _cleanup_free_ char *p = NULL;
        ArchiveFile *f;

        if (!json_is_string(v))
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "manifest.json in %s has an invalid %s entry.", name, what);
        p = path_normalize(json_string_value(v));
        if (!p)
                return -ENOMEM;
        f = contents_find(c, p);
        if (!f || !digest_is_valid(f->digest))
                return oci_error_set(
                        err, -EBADMSG, HINT_INCOMPLETE,
                        "manifest.json in %s references %s \"%s\", which is missing from the archive.", name,
                        what, json_string_value(v));
        *ret = f;
        return 0;
}

/* One manifest.json item → an OCI manifest over the blobs already stored. */
static int import_docker_image(OciStore *s, ArchiveContents *c, json_t *item, size_t idx, const char *name,
                               OciImportResult *res, OciError *err) {
        _cleanup_(oci_config_done) OciConfig config = {};
        _cleanup_json_ json_t *manifest = NULL;
        _cleanup_free_ char *cdata = NULL, *mtext = NULL;
        char mdigest[DIGEST_STRING_MAX], what[PATH_MAX + 64];
        json_t *layers, *jlayers, *tags, *v;
        OciImportedImage img;
        ArchiveFile *cf;
        uint64_t total;
        size_t csize, i;
        int r;

        if (!json_is_object(item))
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "Entry %zu of manifest.json in %s is not an object.", idx + 1, name);
        r = docker_file(c, json_object_get(item, "Config"), name, "config", &cf, err);
        if (r < 0)
                return r;
        r = oci_store_read_blob(s, cf->digest, OCI_CONFIG_MAX, &cdata, &csize);
        if (r < 0)
                return oci_error_set(err, r == -EFBIG ? -E2BIG : r, NULL,
                                     "Failed to read the config %s in %s: %s.", cf->path, name,
                                     strerror(-r));
        (void) snprintf(what, sizeof what, "%s in %s", cf->path, name);
        r = oci_config_parse(cdata, csize, what, &config, err);
        if (r < 0)
                return r;

        r = json_get_array(item, "Layers", &jlayers);
        if (r < 0)
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "Entry %zu of manifest.json in %s has no Layers list.", idx + 1, name);
        if (json_array_size(jlayers) != config.n_diff_ids)
                return oci_error_set(
                        err, -EBADMSG, HINT_INCOMPLETE,
                        "manifest.json in %s lists %zu layers, but the config %s lists %zu diff_ids.", name,
                        json_array_size(jlayers), cf->path, config.n_diff_ids);

        manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[]}", "schemaVersion", 2, "mediaType",
                             OCI_MEDIA_TYPE_MANIFEST, "config", "mediaType", OCI_MEDIA_TYPE_CONFIG, "digest",
                             cf->digest, "size", (json_int_t) cf->size, "layers");
        if (!manifest)
                return -ENOMEM;
        layers = json_object_get(manifest, "layers");
        total = csize;
        json_array_foreach(jlayers, i, v) {
                ArchiveFile *lf;
                int comp;

                r = docker_file(c, v, name, "layer", &lf, err);
                if (r < 0)
                        return r;
                comp = blob_compression(s, lf->digest);
                if (comp < 0)
                        return oci_error_set(err, comp, NULL, "Failed to read layer %s: %s.", lf->path,
                                             strerror(-comp));
                /* An uncompressed layer's digest is its diff_id: check it against the config now.
                 * Compressed layers are checked against their diff_id when they are unpacked. */
                if (comp == OCI_LAYER_UNCOMPRESSED && !streq(lf->digest, config.diff_ids[i]))
                        return oci_error_set(
                                err, -EBADMSG, HINT_INCOMPLETE,
                                "Layer %s in %s does not match rootfs.diff_ids[%zu] of its config.",
                                lf->path, name, i);
                if (json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                                                            oci_layer_media_type_for(comp), "digest",
                                                            lf->digest, "size", (json_int_t) lf->size)) < 0)
                        return -ENOMEM;
                total += lf->size;
        }

        r = import_store_json(s, manifest, "manifest", &mtext, mdigest, err);
        if (r < 0)
                return r;
        total += strlen(mtext);
        imported_image_init(&img, mdigest, cf->digest, OCI_MEDIA_TYPE_MANIFEST, total, strlen(mtext));

        tags = json_object_get(item, "RepoTags");
        if (json_is_array(tags) && json_array_size(tags) > 0) {
                json_array_foreach(tags, i, v) {
                        if (!json_is_string(v))
                                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                                     "manifest.json in %s has an invalid RepoTags entry.",
                                                     name);
                        _cleanup_free_ char *tag = NULL;

                        r = oci_ref_familiarize(json_string_value(v), &tag);
                        if (r < 0)
                                return r;
                        r = import_result_add(res, &img, tag);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return import_result_add(res, &img, NULL);
}

static int docker_manifest_parse(ArchiveContents *c, const char *name, json_t **ret, OciError *err) {
        ArchiveFile *mf = contents_find(c, "manifest.json");
        json_error_t jerr;
        json_t *j;

        if (!mf || !mf->data)
                return oci_error_set(err, -EBADMSG, HINT_TAR,
                                     "%s is not a docker archive: it has no manifest.json.", name);
        if (json_parse_buffer(mf->data, mf->data_size, &j, &jerr) < 0)
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "Invalid JSON in manifest.json in %s at line %d, column %d: %s.", name,
                                     jerr.line, jerr.column, jerr.text);
        if (!json_is_array(j) || json_array_size(j) == 0) {
                json_decref(j);
                return oci_error_set(err, -EBADMSG, HINT_INCOMPLETE,
                                     "manifest.json in %s is not a non-empty list of images.", name);
        }
        if (json_array_size(j) > DOCKER_IMAGES_MAX) {
                json_decref(j);
                return oci_error_set(err, -E2BIG, NULL, "manifest.json in %s lists more than %u images.",
                                     name, DOCKER_IMAGES_MAX);
        }
        *ret = j;
        return 0;
}

static int import_docker_contents(OciStore *s, ArchiveContents *c, const char *name, OciImportResult *res,
                                  OciError *err) {
        _cleanup_json_ json_t *j = NULL;
        json_t *item;
        size_t i;
        int r;

        r = docker_manifest_parse(c, name, &j, err);
        if (r < 0)
                return r;
        json_array_foreach(j, i, item) {
                r = import_docker_image(s, c, item, i, name, res, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Adds one result per RepoTag of the manifest.json items whose config is config_digest. */
static int add_repo_tags(ArchiveContents *c, json_t *items, const OciImportedImage *img,
                         OciImportResult *res, bool *ret_named) {
        json_t *item, *tag;
        size_t i, k;
        int r;

        *ret_named = false;
        json_array_foreach(items, i, item) {
                _cleanup_free_ char *p = NULL;
                json_t *cfg = json_object_get(item, "Config");
                ArchiveFile *f;

                if (!json_is_string(cfg))
                        continue;
                p = path_normalize(json_string_value(cfg));
                if (!p)
                        return -ENOMEM;
                f = contents_find(c, p);
                if (!f || !streq(f->digest, img->config_digest))
                        continue;
                json_array_foreach(json_object_get(item, "RepoTags"), k, tag) {
                        _cleanup_free_ char *ref = NULL;

                        if (!json_is_string(tag))
                                continue;
                        r = oci_ref_familiarize(json_string_value(tag), &ref);
                        if (r < 0)
                                return r;
                        r = import_result_add(res, img, ref);
                        if (r < 0)
                                return r;
                        *ret_named = true;
                }
        }
        return 0;
}

/* docker save ≥ 25 writes an OCI layout plus manifest.json.  The OCI manifests are kept as they
 * are (the digests docker shows), and named by manifest.json's RepoTags (matched by config), since
 * index.json only carries a bare tag there. */
static int import_hybrid_contents(OciStore *s, ArchiveContents *c, const char *name, OciImportResult *res,
                                  OciError *err) {
        _cleanup_(oci_import_result_done) OciImportResult oci = {};
        _cleanup_json_ json_t *j = NULL;
        int r;

        r = docker_manifest_parse(c, name, &j, err);
        if (r < 0)
                return r;
        r = import_oci_contents(s, c, name, &oci, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < oci.n_images; i++) {
                bool seen = false, named;

                for (size_t k = 0; k < i; k++)
                        if (streq(oci.images[k].digest, oci.images[i].digest))
                                seen = true;
                if (seen)
                        continue;
                r = add_repo_tags(c, j, &oci.images[i], res, &named);
                if (r < 0)
                        return r;
                if (!named) {
                        r = import_result_add(res, &oci.images[i], oci.images[i].ref);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int import_archive_fd(OciStore *s, int fd, const char *name, OciImportFormat format, OciImportResult *res,
                      OciError *err) {
        _cleanup_(archive_contents_done) ArchiveContents c = {};
        int r;

        r = read_contents(s, fd, name, &c, err);
        if (r == -ENOMEM)
                return oci_error_set(err, r, NULL, "Out of memory while reading %s.", name);
        if (r < 0)
                return r;

        switch (format) {
        case OCI_IMPORT_OCI_ARCHIVE:
                return import_oci_contents(s, &c, name, res, err);
        case OCI_IMPORT_DOCKER_ARCHIVE:
                if (contents_find(&c, OCI_INDEX_FILE) && contents_find(&c, OCI_LAYOUT_FILE))
                        return import_hybrid_contents(s, &c, name, res, err);
                return import_docker_contents(s, &c, name, res, err);
        case OCI_IMPORT_AUTO: {
                bool docker = contents_find(&c, "manifest.json"),
                     oci = contents_find(&c, OCI_INDEX_FILE) && contents_find(&c, OCI_LAYOUT_FILE);

                if (docker && oci)
                        return import_hybrid_contents(s, &c, name, res, err);
                if (docker)
                        return import_docker_contents(s, &c, name, res, err);
                if (oci || contents_find(&c, OCI_INDEX_FILE))
                        return import_oci_contents(s, &c, name, res, err);
                return oci_error_set(err, -EBADMSG, HINT_TAR " For a root file system tar, use --rootfs.",
                                     "%s is neither an OCI archive (no index.json) nor a docker archive "
                                     "(no manifest.json).",
                                     name);
        }
        default:
                return oci_error_set(err, -EINVAL, NULL, "Invalid import format for a tar archive.");
        }
}
