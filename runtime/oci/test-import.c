/* Import and export: oci-archive, docker-archive (classic and with symlinked layers), rootfs tars,
 * layout directories, streams from a pipe; round trips keep digests; bad input is refused with a
 * clear message and leaves index.json untouched. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "json-util.h"
#include "oci-store.h"
#include "test-util.h"

static char *top;

typedef struct Blob {
        char *data;
        size_t size;
        char digest[DIGEST_STRING_MAX];
} Blob;

static void blob_set(Blob *b, char *data, size_t size) {
        b->data = data;
        b->size = size;
        sha256_digest_string(data, size, b->digest);
}

static void blob_text(Blob *b, const char *fmt, ...) _printf_(2, 3);
static void blob_text(Blob *b, const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        CHECK(vasprintf(&s, fmt, ap) > 0);
        va_end(ap);
        blob_set(b, s, strlen(s));
}

/* A layer tar built with libarchive (filter "none", "gzip" or "zstd"). */
static void layer_make(Blob *b, const char *filter, const TarEntry *entries, size_t n) {
        static int counter;
        _cleanup_free_ char *p = NULL;
        char *data;
        size_t size;

        CHECK(asprintf(&p, "%s/layer-%d.tar", top, counter++) > 0);
        tar_write(p, filter, entries, n);
        file_read(p, &data, &size);
        blob_set(b, data, size);
        CHECK(unlink(p) == 0);
}

static const TarEntry rootfs_entries[] = {
        { "bin/", "", 0, NULL },
        { "bin/busybox", "#!not really busybox\n", 21, NULL },
        { "bin/sh", NULL, 0, "busybox" },
        { "etc/hostname", "slipway\n", 8, NULL },
};

typedef struct Image {
        Blob layer;   /* uncompressed */
        Blob layer_z; /* as stored in the image: gzip */
        Blob config;
        Blob manifest;
} Image;

static void image_make(Image *img, const char *layer_media_type) {
        layer_make(&img->layer, "none", rootfs_entries, ELEMENTSOF(rootfs_entries));
        layer_make(&img->layer_z, "gzip", rootfs_entries, ELEMENTSOF(rootfs_entries));
        blob_text(
                &img->config,
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\","
                "\"config\":{\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                img->layer.digest);
        blob_text(&img->manifest,
                  "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
                  "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
                  "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
                  img->config.digest, img->config.size, layer_media_type, img->layer_z.digest,
                  img->layer_z.size);
}

static void image_free(Image *img) {
        free(img->layer.data);
        free(img->layer_z.data);
        free(img->config.data);
        free(img->manifest.data);
}

static char *blob_path(const Blob *b) {
        char *p;
        CHECK(asprintf(&p, "blobs/sha256/%s", digest_hex(b->digest)) > 0);
        return p;
}

/* An index.json naming target (of media_type), with a ref name and a platform when they are not NULL. */
static char *index_text_for(const Blob *target, const char *media_type, const char *ref,
                            const char *platform) {
        char *s;
        CHECK(asprintf(&s,
                       "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
                       "\"digest\":\"%s\",\"size\":%zu%s%s%s%s%s}]}",
                       media_type, target->digest, target->size, platform ? ",\"platform\":" : "",
                       strempty(platform),
                       ref ? ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" : "",
                       strempty(ref), ref ? "\"}" : "") > 0);
        return s;
}

static char *index_text(const Blob *manifest, const char *ref, const char *platform) {
        return index_text_for(manifest, OCI_MEDIA_TYPE_MANIFEST, ref, platform);
}

/* Writes an oci-archive of img with the blobs first and index.json last (the hard order). Blobs
 * may be swapped or left out to make bad archives. */
static char *oci_archive_make(const char *name, const Image *img, const char *index,
                              const Blob *layer_content, bool with_layer) {
        _cleanup_free_ char *p1 = blob_path(&img->manifest), *p2 = blob_path(&img->config),
                            *p3 = blob_path(&img->layer_z);
        char *path = path_of(top, name);
        TarEntry e[6];
        size_t n = 0;

        e[n++] = (TarEntry) { "blobs/", "", 0, NULL };
        e[n++] = (TarEntry) { p1, img->manifest.data, img->manifest.size, NULL };
        e[n++] = (TarEntry) { p2, img->config.data, img->config.size, NULL };
        if (with_layer)
                e[n++] = (TarEntry) { p3, layer_content->data, layer_content->size, NULL };
        e[n++] = (TarEntry) { "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL };
        e[n++] = (TarEntry) { "index.json", index, strlen(index), NULL };
        tar_write(path, "none", e, n);
        return path;
}

static void check_index_empty(const char *store_path) {
        _cleanup_free_ char *p = path_of(store_path, "index.json"), *data = NULL;
        _cleanup_json_ json_t *j = NULL;
        json_t *m;
        size_t n;

        file_read(p, &data, &n);
        CHECK(json_parse_buffer(data, n, &j, NULL) == 0);
        CHECK(json_get_array(j, "manifests", &m) == 0 && json_array_size(m) == 0);
}

static OciStore *store_new(const char *name) {
        _cleanup_free_ char *p = path_of(top, name);
        OciStore *s;

        CHECK(oci_store_open(p, &s) == 0);
        return s;
}

static void test_oci_archive(const Image *img) {
        _cleanup_free_ char *index = index_text(&img->manifest, "test:1", NULL);
        _cleanup_free_ char *path = oci_archive_make("good.tar", img, index, &img->layer_z, true);
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-oci");
        _cleanup_(oci_image_summary_done) OciImageSummary sum = {};
        OciImportResult res = {};
        char **layers, **diff_ids, **types;
        OciError err = {};
        size_t n;

        CHECK(oci_store_import(s, path, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1);
        CHECK(streq(res.images[0].digest, img->manifest.digest));
        CHECK(streq(res.images[0].config_digest, img->config.digest));
        CHECK(streq(res.images[0].ref, "test:1"));
        CHECK(streq(res.images[0].media_type, OCI_MEDIA_TYPE_MANIFEST));
        CHECK(res.images[0].size == img->manifest.size + img->config.size + img->layer_z.size);
        CHECK(res.images[0].manifest_size == img->manifest.size);
        oci_import_result_done(&res);
        check_index_empty(oci_store_path(s));

        CHECK(oci_store_image_summary(s, img->manifest.digest, &sum, &err) == 0);
        CHECK(sum.n_layers == 1 && streq(sum.architecture, "amd64") && streq(sum.os, "linux"));
        CHECK(streq(sum.created, "2024-01-02T03:04:05Z"));
        CHECK(sum.manifest_size == img->manifest.size);
        CHECK(oci_store_image_layers(s, img->manifest.digest, &layers, &diff_ids, &types, &n) == 0);
        CHECK(n == 1 && streq(layers[0], img->layer_z.digest) && streq(diff_ids[0], img->layer.digest));
        CHECK(streq(types[0], OCI_MEDIA_TYPE_LAYER_GZIP));
        strv_free_n(layers, n);
        strv_free_n(diff_ids, n);
        strv_free_n(types, n);
        CHECK(oci_store_image_blobs(s, img->manifest.digest, &layers, &n) == 0);
        CHECK(n == 3 && streq(layers[0], img->manifest.digest) && streq(layers[1], img->config.digest));
        strv_free_n(layers, n);

        /* Again: blobs already there are skipped, the result is the same. */
        CHECK(oci_store_import(s, path, OCI_IMPORT_OCI_ARCHIVE, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, img->manifest.digest));
        oci_import_result_done(&res);

        /* The same archive through a pipe (one pass, no seeking). */
        int pfd[2];
        CHECK(pipe2(pfd, O_CLOEXEC) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                char *data;
                size_t size;
                close(pfd[0]);
                file_read(path, &data, &size);
                _exit(loop_write(pfd[1], data, size) < 0);
        }
        close(pfd[1]);
        _cleanup_(oci_store_freep) OciStore *s2 = store_new("store-pipe");
        CHECK(oci_store_import_fd(s2, pfd[0], OCI_IMPORT_AUTO, &res, &err) == 0);
        close(pfd[0]);
        CHECK(waitpid(pid, NULL, 0) == pid);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, img->manifest.digest));
        oci_import_result_done(&res);
}

/* An oci-archive of index.json and the given blobs (nested indexes, the images they list), each at its
 * digest's path. */
static char *nested_archive_make(const char *name, const char *index, const Blob *const *blobs, size_t n) {
        char *path = path_of(top, name), *paths[8] = {};
        TarEntry e[2 + ELEMENTSOF(paths)] = {
                { "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL },
                { "index.json", index, strlen(index), NULL },
        };

        CHECK(n <= ELEMENTSOF(paths));
        for (size_t i = 0; i < n; i++) {
                paths[i] = blob_path(blobs[i]);
                e[2 + i] = (TarEntry) { paths[i], blobs[i]->data, blobs[i]->size, NULL };
        }
        tar_write(path, "none", e, 2 + n);
        for (size_t i = 0; i < n; i++)
                free(paths[i]);
        return path;
}

static void test_nested_index(const Image *img) {
        _cleanup_free_ char *index = NULL, *arm_index = NULL, *path = NULL, *arm_path = NULL;
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-nested");
        const char *bogus = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        OciImportResult res = {};
        OciError err = {};
        Blob bl = {}, barm = {};

        /* A manifest list with arm64 (whose blobs are absent: never needed) and amd64. */
        blob_text(&bl,
                  "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST_LIST
                  "\",\"manifests\":["
                  "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":99,"
                  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
                  "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
                  bogus, img->manifest.digest, img->manifest.size);
        index = index_text_for(&bl, DOCKER_MEDIA_TYPE_MANIFEST_LIST, "multi:1", NULL);
        const Blob *nested[] = { &bl, &img->manifest, &img->config, &img->layer_z };
        path = nested_archive_make("nested.tar", index, nested, ELEMENTSOF(nested));
        CHECK(oci_store_import(s, path, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, img->manifest.digest));
        CHECK(streq(res.images[0].ref, "multi:1"));
        oci_import_result_done(&res);

        /* Only arm64 in the list: refused. */
        blob_text(&barm,
                  "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"manifests\":["
                  "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
                  img->manifest.digest, img->manifest.size);
        arm_index = index_text_for(&barm, OCI_MEDIA_TYPE_INDEX, NULL, NULL);
        const Blob *arm_only[] = { &barm };
        arm_path = nested_archive_make("arm.tar", arm_index, arm_only, ELEMENTSOF(arm_only));
        CHECK_ERR(oci_store_import(s, arm_path, OCI_IMPORT_AUTO, &res, &err), -ENOEXEC,
                  "has no linux/amd64 image (it has: linux/arm64)");
        free(bl.data);
        free(barm.data);
}

static void test_docker_archive(const Image *img) {
        static const TarEntry second[] = { { "etc/motd", "hello from layer 2\n", 19, NULL } };
        _cleanup_free_ char *path = path_of(top, "docker.tar"), *bad_path = path_of(top, "docker-bad.tar"),
                            *cfgname = NULL, *badname = NULL;
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-docker");
        char **layers, **diff_ids, **types;
        Blob l2 = {}, l2z = {}, cfg = {}, manifest = {}, bad_cfg = {}, bad_manifest = {};
        OciImportResult res = {};
        OciError err = {};
        size_t n;

        layer_make(&l2, "none", second, 1);
        layer_make(&l2z, "gzip", second, 1);
        /* Layer 3 is layer 1 again, stored once and linked, as docker save does. */
        blob_text(&cfg,
                  "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                  "\"diff_ids\":[\"%s\",\"%s\",\"%s\"]}}",
                  img->layer.digest, l2.digest, img->layer.digest);
        CHECK(asprintf(&cfgname, "%s.json", digest_hex(cfg.digest)) > 0);
        blob_text(&manifest,
                  "[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:latest\",\"busybox:1\"],"
                  "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar.gz\",\"ccc/layer.tar\"]}]",
                  cfgname);
        TarEntry e[] = {
                { "aaa/", "", 0, NULL },
                { "aaa/VERSION", "1.0", 3, NULL },
                { "aaa/json", "{}", 2, NULL },
                { "aaa/layer.tar", img->layer.data, img->layer.size, NULL },
                { "bbb/layer.tar.gz", l2z.data, l2z.size, NULL },
                { "ccc/layer.tar", NULL, 0, "../aaa/layer.tar" },
                { cfgname, cfg.data, cfg.size, NULL },
                { "manifest.json", manifest.data, manifest.size, NULL },
                { "repositories", "{}", 2, NULL },
        };
        tar_write(path, "none", e, ELEMENTSOF(e));

        CHECK(oci_store_import(s, path, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 2);
        CHECK(streq(res.images[0].digest, res.images[1].digest));
        CHECK(streq(res.images[0].ref, "busybox:latest") && streq(res.images[1].ref, "busybox:1"));
        CHECK(streq(res.images[0].config_digest, cfg.digest)); /* the image ID is kept */
        CHECK(res.images[0].manifest_size > 0 && res.images[0].size > res.images[0].manifest_size);
        CHECK(streq(res.images[0].media_type, OCI_MEDIA_TYPE_MANIFEST));
        CHECK(oci_store_image_layers(s, res.images[0].digest, &layers, &diff_ids, &types, &n) == 0);
        CHECK(n == 3);
        CHECK(streq(layers[0], img->layer.digest) && streq(types[0], OCI_MEDIA_TYPE_LAYER));
        CHECK(streq(layers[1], l2z.digest) && streq(types[1], OCI_MEDIA_TYPE_LAYER_GZIP));
        CHECK(streq(diff_ids[1], l2.digest));
        CHECK(streq(layers[2], img->layer.digest));
        strv_free_n(layers, n);
        strv_free_n(diff_ids, n);
        strv_free_n(types, n);
        oci_import_result_done(&res);
        check_index_empty(oci_store_path(s));

        /* A layer that does not match the config's diff_ids is refused. */
        blob_text(&bad_cfg,
                  "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                  "\"diff_ids\":[\"%s\"]}}",
                  l2.digest);
        CHECK(asprintf(&badname, "%s.json", digest_hex(bad_cfg.digest)) > 0);
        blob_text(&bad_manifest, "[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"aaa/layer.tar\"]}]",
                  badname);
        TarEntry eb[] = {
                { "aaa/layer.tar", img->layer.data, img->layer.size, NULL },
                { badname, bad_cfg.data, bad_cfg.size, NULL },
                { "manifest.json", bad_manifest.data, bad_manifest.size, NULL },
        };
        tar_write(bad_path, "none", eb, ELEMENTSOF(eb));
        CHECK_ERR(oci_store_import(s, bad_path, OCI_IMPORT_DOCKER_ARCHIVE, &res, &err), -EBADMSG,
                  "does not match rootfs.diff_ids[0]");
        /* ... and one whose layer file is missing. */
        free(bad_manifest.data);
        blob_text(&bad_manifest, "[{\"Config\":\"%s\",\"Layers\":[\"zzz/layer.tar\"]}]", badname);
        TarEntry em[] = {
                { badname, bad_cfg.data, bad_cfg.size, NULL },
                { "manifest.json", bad_manifest.data, bad_manifest.size, NULL },
        };
        tar_write(bad_path, "none", em, ELEMENTSOF(em));
        CHECK_ERR(oci_store_import(s, bad_path, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "references layer \"zzz/layer.tar\", which is missing from the archive");
        /* A docker archive is not an OCI archive. */
        CHECK_ERR(oci_store_import(s, path, OCI_IMPORT_OCI_ARCHIVE, &res, &err), -EBADMSG,
                  "is not an OCI archive");
        check_index_empty(oci_store_path(s));

        free(l2.data), free(l2z.data), free(cfg.data), free(manifest.data), free(bad_cfg.data);
        free(bad_manifest.data);
}

/* docker save ≥ 25: an OCI layout plus manifest.json, both naming the same blobs. */
static void test_docker_hybrid(const Image *img) {
        _cleanup_free_ char *path = path_of(top, "hybrid.tar"), *p1 = blob_path(&img->manifest),
                            *p2 = blob_path(&img->config), *p3 = blob_path(&img->layer_z), *index = NULL,
                            *manifest = NULL;
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-hybrid");
        OciImportResult res = {};
        OciError err = {};

        CHECK(asprintf(&index,
                       "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"manifests\":["
                       "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                       "\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/busybox:latest\","
                       "\"org.opencontainers.image.ref.name\":\"latest\"}},"
                       "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                       "\"annotations\":{\"org.opencontainers.image.ref.name\":\"1\"}}]}",
                       img->manifest.digest, img->manifest.size, img->manifest.digest,
                       img->manifest.size) > 0);
        CHECK(asprintf(&manifest,
                       "[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:latest\",\"busybox:1\"],"
                       "\"Layers\":[\"%s\"]}]",
                       p2, p3) > 0);
        TarEntry e[] = {
                { "blobs/", "", 0, NULL },
                { "blobs/sha256/", "", 0, NULL },
                { p3, img->layer_z.data, img->layer_z.size, NULL },
                { p2, img->config.data, img->config.size, NULL },
                { p1, img->manifest.data, img->manifest.size, NULL },
                { "index.json", index, strlen(index), NULL },
                { "manifest.json", manifest, strlen(manifest), NULL },
                { "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL },
                { "repositories", "{}", 2, NULL },
        };
        tar_write(path, "none", e, ELEMENTSOF(e));
        CHECK(oci_store_import(s, path, OCI_IMPORT_AUTO, &res, &err) == 0);
        /* docker's own manifest digest is kept, named by RepoTags (not the bare "latest") */
        CHECK(res.n_images == 2);
        CHECK(streq(res.images[0].digest, img->manifest.digest) &&
              streq(res.images[1].digest, img->manifest.digest));
        CHECK(streq(res.images[0].ref, "busybox:latest") && streq(res.images[1].ref, "busybox:1"));
        oci_import_result_done(&res);
        CHECK(oci_store_import(s, path, OCI_IMPORT_DOCKER_ARCHIVE, &res, &err) == 0);
        CHECK(res.n_images == 2 && streq(res.images[0].digest, img->manifest.digest));
        oci_import_result_done(&res);
        /* As a plain OCI archive it has the bare tags of index.json. */
        CHECK(oci_store_import(s, path, OCI_IMPORT_OCI_ARCHIVE, &res, &err) == 0);
        CHECK(res.n_images == 2 && streq(res.images[0].ref, "latest") && streq(res.images[1].ref, "1"));
        oci_import_result_done(&res);
}

static size_t count_blobs(OciStore *s) {
        _cleanup_free_ char *p = path_of(oci_store_path(s), "blobs/sha256");
        _cleanup_(closedirp) DIR *d = opendir(p);
        size_t n = 0;

        CHECK(d);
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

static void test_rootfs(void) {
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-rootfs");
        _cleanup_free_ char *gz = path_of(top, "rootfs.tar.gz"), *zst = path_of(top, "rootfs.tar.zst"),
                            *junk = path_of(top, "junk.txt");
        static const TarEntry no_shell[] = { { "etc/hostname", "x\n", 2, NULL } };
        _cleanup_json_ json_t *j = NULL;
        char **layers, **diff_ids, **types;
        OciImportResult res = {};
        OciError err = {};
        Blob plain = {}, plain2 = {};
        json_t *cmd;
        size_t n;

        tar_write(gz, "gzip", rootfs_entries, ELEMENTSOF(rootfs_entries));
        layer_make(&plain, "none", rootfs_entries, ELEMENTSOF(rootfs_entries));
        CHECK(oci_store_import(s, gz, OCI_IMPORT_ROOTFS, &res, &err) == 0);
        CHECK(res.n_images == 1 && !res.images[0].ref);
        CHECK(oci_store_image_layers(s, res.images[0].digest, &layers, &diff_ids, &types, &n) == 0);
        /* stored uncompressed: digest == diff_id == hash of the plain tar */
        CHECK(n == 1 && streq(diff_ids[0], plain.digest) && streq(layers[0], plain.digest));
        CHECK(streq(types[0], OCI_MEDIA_TYPE_LAYER));
        strv_free_n(layers, n);
        strv_free_n(diff_ids, n);
        strv_free_n(types, n);
        CHECK(oci_store_image_inspect(s, res.images[0].digest, &j, &err) == 0);
        cmd = json_object_get(json_object_get(json_object_get(j, "config"), "config"), "Cmd");
        CHECK(json_is_array(cmd) && streq(json_string_value(json_array_get(cmd, 0)), "/bin/sh"));
        CHECK(streq(json_string_value(json_object_get(json_object_get(j, "config"), "architecture")),
                    "amd64"));
        CHECK(streq(json_string_value(json_object_get(j, "digest")), res.images[0].digest));
        CHECK((uint64_t) json_integer_value(json_object_get(j, "size")) == res.images[0].size);
        oci_import_result_done(&res);

        tar_write(zst, "zstd", no_shell, 1);
        layer_make(&plain2, "none", no_shell, 1);
        CHECK(oci_store_import(s, zst, OCI_IMPORT_ROOTFS, &res, &err) == 0);
        json_decref(TAKE_PTR(j));
        CHECK(oci_store_image_inspect(s, res.images[0].digest, &j, &err) == 0);
        CHECK(!json_object_get(json_object_get(json_object_get(j, "config"), "config"), "Cmd"));
        CHECK(oci_store_image_layers(s, res.images[0].digest, NULL, &diff_ids, NULL, &n) == 0);
        CHECK(n == 1 && streq(diff_ids[0], plain2.digest));
        strv_free_n(diff_ids, n);
        oci_import_result_done(&res);

        /* A rootfs tar given as an image: refused with a pointer to --rootfs, its files not stored. */
        size_t before = count_blobs(s);
        CHECK_ERR(oci_store_import(s, gz, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "is neither an OCI archive (no index.json) nor a docker archive");
        CHECK(strstr(err.hint, "--rootfs"));
        CHECK(count_blobs(s) == before);

        /* Cut short: a plain tar in the middle of an entry, a gzip stream in the middle. */
        {
                static char big[300000];
                const TarEntry bigfile[] = { { "data/big", big, sizeof big, NULL } };
                _cleanup_free_ char *cut = path_of(top, "cut.tar"), *cutgz = path_of(top, "cut.tar.gz"),
                                    *data = NULL;
                size_t n_data;

                for (size_t i = 0; i < sizeof big; i++)
                        big[i] = (char) (i * 2654435761u >> 13);
                tar_write(cut, "none", bigfile, 1);
                file_read(cut, &data, &n_data);
                file_write(cut, data, 100000);
                CHECK_ERR(oci_store_import(s, cut, OCI_IMPORT_ROOTFS, &res, &err), -EBADMSG, "is truncated");
                free(data);
                tar_write(cutgz, "gzip", bigfile, 1);
                file_read(cutgz, &data, &n_data);
                file_write(cutgz, data, n_data / 2);
                CHECK_ERR(oci_store_import(s, cutgz, OCI_IMPORT_ROOTFS, &res, &err), -EBADMSG, "truncated");
        }

        file_write(junk, "this is not a tar file\n", 23);
        CHECK_ERR(oci_store_import(s, junk, OCI_IMPORT_ROOTFS, &res, &err), -EBADMSG,
                  "is not a tar archive");
        check_index_empty(oci_store_path(s));
        free(plain.data);
        free(plain2.data);
}

static void compare_blob_files(OciStore *a, const char *dir_b, const char *digest) {
        _cleanup_free_ char *pa = NULL, *pb = NULL, *da = NULL, *db = NULL;
        size_t na, nb;

        CHECK(asprintf(&pa, "%s/blobs/sha256/%s", oci_store_path(a), digest_hex(digest)) > 0);
        CHECK(asprintf(&pb, "%s/blobs/sha256/%s", dir_b, digest_hex(digest)) > 0);
        file_read(pa, &da, &na);
        file_read(pb, &db, &nb);
        CHECK(na == nb && memcmp(da, db, na) == 0);
}

static void test_export_round_trip(const Image *img) {
        _cleanup_free_ char *index = index_text(&img->manifest, "test:1", NULL);
        _cleanup_free_ char *path = oci_archive_make("rt.tar", img, index, &img->layer_z, true);
        _cleanup_free_ char *dir = path_of(top, "exported-layout"), *tarp = path_of(top, "exported.tar"),
                            *tarp2 = path_of(top, "exported2.tar"), *d1 = NULL, *d2 = NULL;
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-rt"), *s2 = store_new("store-rt2"),
                                            *s3 = store_new("store-rt3");
        OciImportResult res = {};
        OciError err = {};
        size_t n1, n2;
        int fd;

        CHECK(oci_store_import(s, path, OCI_IMPORT_AUTO, &res, &err) == 0);
        oci_import_result_done(&res);

        /* layout directory → import → same digests, same bytes */
        CHECK(oci_store_export_layout(s, img->manifest.digest, "busybox:latest", dir, &err) == 0);
        compare_blob_files(s, dir, img->manifest.digest);
        compare_blob_files(s, dir, img->config.digest);
        compare_blob_files(s, dir, img->layer_z.digest);
        CHECK(oci_store_import(s2, dir, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, img->manifest.digest));
        CHECK(streq(res.images[0].ref, "busybox:latest"));
        oci_import_result_done(&res);
        CHECK_ERR(oci_store_export_layout(s, img->manifest.digest, "x", dir, &err), -EEXIST, "is not empty");

        /* A damaged layout directory: a blob with other bytes, then a blob missing. */
        {
                _cleanup_(oci_store_freep) OciStore *s4 = store_new("store-rt4");
                _cleanup_free_ char *lp = NULL;

                CHECK(asprintf(&lp, "%s/blobs/sha256/%s", dir, digest_hex(img->layer_z.digest)) > 0);
                file_write(lp, "not the layer", 13);
                CHECK_ERR(oci_store_import(s4, dir, OCI_IMPORT_AUTO, &res, &err), -EBADMSG, "has 13 bytes");
                file_write(lp, img->layer.data, img->layer_z.size); /* right size, wrong bytes */
                CHECK_ERR(oci_store_import(s4, dir, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                          "does not match its digest");
                CHECK(unlink(lp) == 0);
                CHECK_ERR(oci_store_import(s4, dir, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                          "which is missing from");
                CHECK(!oci_store_has_blob(s4, img->layer_z.digest));
                check_index_empty(oci_store_path(s4));
                file_write(lp, img->layer_z.data, img->layer_z.size);
        }

        /* oci-archive stream → import → same digest; exporting twice gives the same bytes */
        fd = open(tarp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(oci_store_export_archive(s2, img->manifest.digest, "busybox:latest", fd, &err) == 0);
        close(fd);
        fd = open(tarp2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(oci_store_export_archive(s2, img->manifest.digest, "busybox:latest", fd, &err) == 0);
        close(fd);
        file_read(tarp, &d1, &n1);
        file_read(tarp2, &d2, &n2);
        CHECK(n1 == n2 && memcmp(d1, d2, n1) == 0);
        CHECK(oci_store_import(s3, tarp, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, img->manifest.digest));
        CHECK(streq(res.images[0].ref, "busybox:latest"));
        oci_import_result_done(&res);

        /* A corrupted store blob fails the export instead of exporting bad bytes. */
        _cleanup_free_ char *lp = NULL;
        CHECK(asprintf(&lp, "%s/blobs/sha256/%s", oci_store_path(s3), digest_hex(img->layer_z.digest)) > 0);
        fd = open(lp, O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && pwrite(fd, "X", 1, 10) == 1);
        close(fd);
        fd = open(tarp2, O_WRONLY | O_TRUNC | O_CLOEXEC);
        CHECK_ERR(oci_store_export_archive(s3, img->manifest.digest, "busybox:latest", fd, &err), -EBADMSG,
                  "does not match its digest");
        close(fd);
        CHECK_ERR(oci_store_export_layout(s3, img->manifest.digest, NULL, dir, &err), -EEXIST, "not empty");
        _cleanup_free_ char *dir2 = path_of(top, "exported-bad");
        CHECK_ERR(oci_store_export_layout(s3, img->manifest.digest, NULL, dir2, &err), -EBADMSG,
                  "does not match its digest");
        CHECK(access(dir2, F_OK) < 0); /* nothing half-written left */
}

static void test_bad_input(const Image *img) {
        _cleanup_(oci_store_freep) OciStore *s = store_new("store-bad");
        _cleanup_free_ char *index = index_text(&img->manifest, "test:1", NULL),
                            *arm = index_text(&img->manifest, "test:1",
                                              "{\"architecture\":\"arm64\",\"os\":\"linux\"}"),
                            *good = oci_archive_make("good2.tar", img, index, &img->layer_z, true),
                            *swapped = oci_archive_make("swapped.tar", img, index, &img->layer, true),
                            *missing = oci_archive_make("missing.tar", img, index, NULL, false),
                            *armp = oci_archive_make("armonly.tar", img, arm, &img->layer_z, true),
                            *badjson = oci_archive_make("badjson.tar", img,
                                                        "{\"schemaVersion\": 2,\n \"manifests\": [",
                                                        &img->layer_z, true),
                            *junk = path_of(top, "junk.tar"), *empty = path_of(top, "empty.tar"),
                            *trunc = path_of(top, "trunc.tar"), *data = NULL;
        OciImportResult res = {};
        OciError err = {};
        Image odd = {};
        size_t n;

        CHECK_ERR(oci_store_import(s, "/nonexistent/image.tar", OCI_IMPORT_AUTO, &res, &err), -ENOENT,
                  "/nonexistent/image.tar does not exist");
        CHECK(strlen(err.hint) > 0);
        file_write(junk, "hello, world\n", 13);
        CHECK_ERR(oci_store_import(s, junk, OCI_IMPORT_AUTO, &res, &err), -EBADMSG, "is not a tar archive");
        file_write(empty, "", 0);
        CHECK(oci_store_import(s, empty, OCI_IMPORT_AUTO, &res, &err) < 0);
        file_read(good, &data, &n);
        file_write(trunc, data, n / 2 + 100);
        CHECK_ERR(oci_store_import(s, trunc, OCI_IMPORT_AUTO, &res, &err), -EBADMSG, "is truncated");
        CHECK_ERR(oci_store_import(s, swapped, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "does not match its digest");
        CHECK_ERR(oci_store_import(s, missing, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "which is missing from");
        CHECK(strstr(err.message, img->layer_z.digest));
        CHECK_ERR(oci_store_import(s, armp, OCI_IMPORT_AUTO, &res, &err), -ENOEXEC, "no linux/amd64 image");
        CHECK_ERR(oci_store_import(s, badjson, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "Invalid JSON in index.json in ");
        CHECK(strstr(err.message, "line 2, column"));
        CHECK_ERR(oci_store_import(s, good, OCI_IMPORT_OCI_LAYOUT, &res, &err), -ENOTDIR, "not a directory");
        CHECK_ERR(oci_store_import(s, top, OCI_IMPORT_OCI_ARCHIVE, &res, &err), -EISDIR, "is a directory");
        CHECK_ERR(oci_store_import(s, top, OCI_IMPORT_AUTO, &res, &err), -EBADMSG, "no oci-layout file");

        /* An image whose layer has a media type we do not know. */
        image_make(&odd, "application/vnd.example.layer+tar");
        _cleanup_free_ char *oi = index_text(&odd.manifest, "odd:1", NULL),
                            *oddp = oci_archive_make("odd.tar", &odd, oi, &odd.layer_z, true);
        CHECK_ERR(oci_store_import(s, oddp, OCI_IMPORT_AUTO, &res, &err), -EMEDIUMTYPE,
                  "unknown media type \"application/vnd.example.layer+tar\"");
        image_free(&odd);

        check_index_empty(oci_store_path(s));
        /* A good import afterwards still works. */
        CHECK(oci_store_import(s, good, OCI_IMPORT_AUTO, &res, &err) == 0);
        oci_import_result_done(&res);
        /* Bad content is caught even when a good copy of that blob is stored already. */
        CHECK_ERR(oci_store_import(s, swapped, OCI_IMPORT_AUTO, &res, &err), -EBADMSG,
                  "does not match its digest");
}

int main(void) {
        Image img = {};

        top = tmpdir_new("test-import");
        image_make(&img, OCI_MEDIA_TYPE_LAYER_GZIP);
        CHECK(oci_import_format_from_string("docker-archive") == OCI_IMPORT_DOCKER_ARCHIVE);
        CHECK(streq(oci_import_format_to_string(OCI_IMPORT_ROOTFS), "rootfs"));
        CHECK(oci_import_format_from_string("zip") == _OCI_IMPORT_FORMAT_INVALID);

        test_oci_archive(&img);
        test_nested_index(&img);
        test_docker_archive(&img);
        test_docker_hybrid(&img);
        test_rootfs();
        test_export_round_trip(&img);
        test_bad_input(&img);

        image_free(&img);
        CHECK(rm_rf(top) == 0);
        free(top);
        return 0;
}
