/* Unit tests for the image catalog over a real slipway.db and OCI store: naming on import, a failed
 * import leaving no blob behind, index.json following the tags table, remove/prune, unpack, and gc
 * sweeping exactly what no name references (blobs and unpacked layer dirs). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "image-catalog.h"
#include "json-util.h"
#include "sqlite-util.h"
#include "state.h"
#include "temp-claim.h"

#include "tests.h"

static char base[] = "/tmp/test-image-catalog-XXXXXX";

static char *at(const char *name) {
        char *p = path_join(base, name);
        CHECK(p);
        return p;
}

static void write_rootfs_tar(const char *path) {
        static const char hello[] = "hello from a layer\n";
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();

        CHECK(a && e);
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
        archive_entry_set_pathname(e, "etc");
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        archive_entry_clear(e);
        archive_entry_set_pathname(e, "etc/hello");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, sizeof hello - 1);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        CHECK(archive_write_data(a, hello, sizeof hello - 1) == (la_ssize_t) sizeof hello - 1);
        archive_entry_free(e);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
}

static int count_cb(const char *digest, uint64_t size, void *userdata) {
        (*(size_t *) userdata)++;
        return 0;
}

static size_t blob_count(OciStore *s) {
        size_t n = 0;
        CHECK(oci_store_foreach_blob(s, count_cb, &n) >= 0);
        return n;
}

/* The refs index.json names, sorted, joined by ' '. */
static char *index_refs(const char *oci) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *p = path_join(oci, "index.json");
        char buf[1024] = "";
        json_t *m;
        size_t i;

        CHECK(json_parse_file_at(AT_FDCWD, p, 1 << 20, &j, NULL) == 0);
        json_array_foreach(json_object_get(j, "manifests"), i, m) {
                const char *ref = json_string_value(json_object_get(json_object_get(m, "annotations"),
                                                                    "org.opencontainers.image.ref.name"));
                CHECK(ref);
                if (i > 0)
                        strcat(buf, " ");
                strncat(buf, ref, sizeof buf - strlen(buf) - 2);
        }
        return strdup(buf);
}

int main(void) {
        _cleanup_free_ char *dbp = NULL, *oci = NULL, *layers = NULL, *tar = NULL, *junk = NULL,
                            *archive = NULL, *unp = NULL, *hello = NULL, *refs = NULL, *removed = NULL,
                            *stale = NULL, *tmpd = NULL, *dead = NULL, *blob_tmp = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(oci_store_freep) OciStore *store = NULL;
        _cleanup_(image_catalog_freep) ImageCatalog *c = NULL;
        CatalogImported *imp = NULL;
        CatalogGcResult gc = {};
        ImageRecord rec = {};
        char digest[DIGEST_STRING_MAX], d2[DIGEST_STRING_MAX];
        OciError err = {};
        uint64_t count;
        size_t n;
        int fd, live_fd;

        CHECK(mkdtemp(base));
        dbp = at("slipway.db");
        oci = at("oci");
        layers = at("layers");
        tar = at("rootfs.tar");
        junk = at("junk.tar");
        archive = at("export.tar");
        unp = at("unpacked");
        CHECK(mkdir(layers, 0700) == 0);
        CHECK(state_open(dbp, &db) == 0);
        CHECK(oci_store_open(oci, &store) == 0);
        CHECK(image_catalog_new(db, store, layers, &c) == 0);
        write_rootfs_tar(tar);
        CHECK(write_file_atomic(junk, "not a tar at all", 16, 0600) == 0);

        /* Names are checked before anything is stored. */
        CHECK(image_catalog_import(c, tar, OCI_IMPORT_ROOTFS, NULL, &imp, &n, &err) == -EINVAL);
        CHECK(image_catalog_import(c, tar, OCI_IMPORT_ROOTFS, "Not A Name", &imp, &n, &err) == -EINVAL);
        CHECK(strstr(err.message, "not a valid image reference"));
        CHECK(blob_count(store) == 0);

        /* Bad content: an error, and whatever the failed import wrote is swept. */
        err = (OciError) {};
        CHECK(image_catalog_import(c, junk, OCI_IMPORT_AUTO, "x", &imp, &n, &err) < 0);
        CHECK(err.message[0]);
        CHECK(blob_count(store) == 0);

        CHECK(image_catalog_import(c, tar, OCI_IMPORT_ROOTFS, "hello", &imp, &n, &err) == 0);
        CHECK(n == 1 && streq(imp[0].ref, "hello:latest") && digest_is_valid(imp[0].digest) &&
              imp[0].size > 0);
        strcpy(digest, imp[0].digest);
        catalog_imported_free(imp, n);
        CHECK(blob_count(store) == 3); /* manifest, config, layer */
        refs = index_refs(oci);
        CHECK(streq(refs, "hello:latest"));
        free(TAKE_PTR(refs));

        CHECK(image_catalog_lookup(c, "hello", &rec, &err) == 0 && streq(rec.digest, digest) &&
              rec.layers == 1);
        image_record_done(&rec);
        CHECK(image_catalog_lookup(c, digest, &rec, &err) == 0 && rec.n_refs == 1);
        image_record_done(&rec);
        CHECK(image_catalog_lookup(c, "nope", &rec, &err) == -ENOENT &&
              streq(err.message, "no image named nope."));

        /* "@sha256:…" only ever means a digest: never accepted as a name, and in a lookup it is the digest
         * whatever the name part says. */
        {
                _cleanup_free_ char *pinned = NULL, *norm = NULL;

                CHECK(asprintf(&pinned, "web@%s", digest) > 0);
                err = (OciError) {};
                CHECK(image_catalog_normalize_name(pinned, &norm, &err) == -EINVAL && !norm);
                CHECK(strstr(err.message, "digest"));
                err = (OciError) {};
                CHECK(image_catalog_import(c, tar, OCI_IMPORT_ROOTFS, pinned, &imp, &n, &err) == -EINVAL);
                CHECK(image_catalog_normalize_ref(pinned, &norm, &err) == 0 && streq(norm, digest));
                CHECK(image_catalog_lookup(c, pinned, &rec, &err) == 0 && streq(rec.digest, digest));
                image_record_done(&rec);
                free(TAKE_PTR(pinned));
                CHECK(asprintf(&pinned, "hello@sha256:%064d", 0) > 0);
                CHECK(image_catalog_lookup(c, pinned, &rec, &err) == -ENOENT);
                CHECK(blob_count(store) == 3);
        }

        /* The same image through an oci-archive named inside: the archive's name is used. */
        fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        CHECK(oci_store_export_archive(store, digest, "other/name:1", fd, &err) == 0);
        close(fd);
        CHECK(image_catalog_import(c, archive, OCI_IMPORT_AUTO, NULL, &imp, &n, &err) == 0);
        CHECK(n == 1 && streq(imp[0].ref, "other/name:1") && streq(imp[0].digest, digest));
        catalog_imported_free(imp, n);
        refs = index_refs(oci);
        CHECK(streq(refs, "hello:latest other/name:1"));
        free(TAKE_PTR(refs));
        CHECK(image_catalog_count(c, &count) == 0 && count == 1);

        /* Unpack: absolute, new or empty targets only. */
        CHECK(image_catalog_unpack(c, digest, "relative/dir", 0, NULL, &err) == -EINVAL);
        CHECK(image_catalog_unpack(c, digest, unp, 0, NULL, &err) == 0);
        hello = path_join(unp, "etc/hello");
        CHECK(access(hello, F_OK) == 0);
        CHECK(image_catalog_unpack(c, digest, unp, 0, NULL, &err) == -ENOTEMPTY);

        /* Never into the state dir, not even through a symlink to it, and nothing is created there. */
        {
                char out[] = "/tmp/test-image-catalog-out-XXXXXX";
                _cleanup_free_ char *inside = path_join(oci, "blobs/x"), *link = NULL, *via = NULL,
                                    *fine = NULL;

                CHECK(mkdtemp(out));
                link = path_join(out, "link");
                via = path_join(link, "oci/y");
                fine = path_join(out, "tree");
                CHECK(symlink(base, link) == 0);
                err = (OciError) {};
                CHECK(image_catalog_unpack(c, digest, inside, 0, base, &err) == -EPERM);
                CHECK(strstr(err.message, "state directory") && access(inside, F_OK) < 0);
                CHECK(image_catalog_unpack(c, digest, base, 0, base, &err) == -EPERM);
                CHECK(image_catalog_unpack(c, digest, via, 0, base, &err) == -EPERM &&
                      access(via, F_OK) < 0);
                CHECK(image_catalog_unpack(c, digest, fine, 0, base, &err) == 0);
                CHECK(rm_rf(out) == 0);
        }

        /* An unpacked layer nobody references, a temp dir gc must leave alone (its unpack is running: it
         * holds the dir's lock) and one a killed unpack left (nobody holds it), which goes. */
        stale = path_join(layers, "0000000000000000000000000000000000000000000000000000000000000000");
        tmpd = path_join(layers, ".tmp-inprogress");
        dead = path_join(layers, ".tmp-killed");
        CHECK(mkdir(stale, 0700) == 0 && mkdir(tmpd, 0700) == 0 && mkdir(dead, 0700) == 0);
        live_fd = open(tmpd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(live_fd >= 0 && temp_claim(live_fd) == 0);
        blob_tmp = path_join(oci, "blobs/sha256/.#incoming.0123456789abcdef");
        CHECK(write_file_atomic(blob_tmp, "half a blob", 11, 0600) == 0);

        /* Removing one name keeps the image; gc keeps its blobs. */
        CHECK(image_catalog_remove(c, "hello", &removed, d2, &err) == 0);
        CHECK(streq(removed, "hello:latest") && streq(d2, digest));
        free(TAKE_PTR(removed));
        CHECK(image_catalog_remove(c, "hello", &removed, d2, &err) == -ENOENT);
        CHECK(image_catalog_gc(c, true, &gc, &err) == 0);
        CHECK(gc.blobs_removed == 0 && gc.layers_removed == 1 && gc.temp.removed == 2 &&
              gc.temp.bytes >= 11);
        catalog_gc_result_done(&gc);
        CHECK(access(dead, F_OK) == 0 && access(blob_tmp, F_OK) == 0);
        CHECK(image_catalog_gc(c, false, &gc, &err) == 0);
        CHECK(gc.blobs_removed == 0 && gc.layers_removed == 1 && gc.temp.removed == 2);
        catalog_gc_result_done(&gc);
        CHECK(access(stale, F_OK) < 0 && access(tmpd, F_OK) == 0);
        CHECK(access(dead, F_OK) < 0 && access(blob_tmp, F_OK) < 0);
        live_fd = safe_close(live_fd);
        CHECK(blob_count(store) == 3);

        /* Removing by digest takes the last name; the dry run removes nothing, the real one all. */
        CHECK(image_catalog_remove(c, digest, &removed, d2, &err) == 0);
        free(TAKE_PTR(removed));
        CHECK(image_catalog_count(c, &count) == 0 && count == 0);
        refs = index_refs(oci);
        CHECK(streq(refs, ""));
        /* Its blobs are still there: a digest still finds it (deploy --image sha256:…), with no name. */
        CHECK(image_catalog_lookup(c, digest, &rec, &err) == 0 && rec.n_refs == 0 && rec.layers == 1 &&
              streq(rec.digest, digest) && rec.size > 0);
        image_record_done(&rec);

        /* A release that runs the image is a gc root even with no name left (issue 5). */
        {
                _cleanup_free_ char *sql = NULL;
                CHECK(asprintf(
                              &sql,
                              "INSERT INTO projects(id, name, created_at) VALUES (1, 'p', 0);"
                              "INSERT INTO environments(id, project_id, name, position, subnet, bridge, ingress_port,"
                              "  created_at) VALUES (1, 1, 'dev', 0, '10.213.0.0/24', 'sw-x', 8080, 0);"
                              "INSERT INTO components(id, project_id, name, spec, created_at) VALUES (1, 1, 'c', '{}', 0);"
                              "INSERT INTO releases(component_id, environment_id, image_digest, spec, status, created_at)"
                              "  VALUES (1, 1, '%s', '{}', 'live', 0);"
                              "INSERT INTO releases(component_id, environment_id, image_digest, spec, status, created_at)"
                              "  VALUES (1, 1, 'sha256:%064d', '{}', 'failed', 0);",
                              digest, 0) > 0);
                CHECK(sqlite_exec(db, sql) == 0);
        }
        CHECK(image_catalog_gc(c, false, &gc, &err) == 0 && gc.blobs_removed == 0);
        catalog_gc_result_done(&gc);
        CHECK(blob_count(store) == 3);
        CHECK(sqlite_exec(db, "DELETE FROM projects") == 0);

        CHECK(image_catalog_gc(c, true, &gc, &err) == 0 && gc.blobs_removed == 3 && gc.n_blobs == 3);
        catalog_gc_result_done(&gc);
        CHECK(blob_count(store) == 3);
        CHECK(image_catalog_gc(c, false, &gc, &err) == 0 && gc.blobs_removed == 3 && gc.bytes_freed > 0);
        catalog_gc_result_done(&gc);
        CHECK(blob_count(store) == 0);
        CHECK(image_catalog_lookup(c, digest, &rec, &err) == -ENOENT);

        CHECK(rm_rf(base) == 0);
        printf("test-image-catalog: OK\n");
        return 0;
}
