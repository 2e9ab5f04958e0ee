/* Real peers read and write what we do: skopeo inspects our store and our oci-archive export and
 * finds our digests; archives skopeo writes (oci-archive, docker-archive) import with the same
 * digests / diff_ids; umoci unpacks from our store.  Skipped (77) when skopeo is not installed. */
#include <sys/stat.h>

#include "json-util.h"
#include "oci-store.h"
#include "process.h"
#include "test-util.h"

static char *top;

/* Runs argv with stdout captured; returns the exit status and the output. */
static int run_capture(char *const argv[], char **ret_out) {
        _cleanup_free_ char *p = path_of(top, "stdout");
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        int fd, r;

        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        o.stdout_fd = fd;
        r = run_process(argv, &o);
        close(fd);
        if (ret_out)
                file_read(p, ret_out, NULL);
        return r;
}

static const char *json_str(json_t *j, const char *key) {
        const char *s = NULL;
        CHECK(json_get_string(j, key, &s) == 0);
        return s;
}

static void skopeo_inspect_digest(const char *transport_ref, const char *want) {
        _cleanup_free_ char *out = NULL;
        _cleanup_json_ json_t *j = NULL;
        char *argv[] = { (char *) "skopeo", (char *) "inspect", (char *) transport_ref, NULL };

        CHECK(run_capture(argv, &out) == 0);
        CHECK(json_parse_buffer(out, strlen(out), &j, NULL) == 0);
        if (!streq(json_str(j, "Digest"), want)) {
                fprintf(stderr, "skopeo inspect %s: digest %s, want %s\n", transport_ref,
                        json_str(j, "Digest"), want);
                exit(1);
        }
        CHECK(streq(json_str(j, "Architecture"), "amd64") && streq(json_str(j, "Os"), "linux"));
}

int main(void) {
        static const TarEntry rootfs[] = {
                { "bin/busybox", "#!fake\n", 7, NULL },
                { "bin/sh", NULL, 0, "busybox" },
                { "etc/os-release", "NAME=test\n", 10, NULL },
        };
        _cleanup_free_ char *store_dir = NULL, *rootfs_tar = NULL, *store2 = NULL, *export_tar = NULL,
                            *sk_oci = NULL, *sk_docker = NULL, *src = NULL, *dst = NULL, *dst2 = NULL,
                            *insp = NULL;
        _cleanup_(oci_store_freep) OciStore *s = NULL, *s2 = NULL;
        char **diff_ids, **diff_ids2, digest[DIGEST_STRING_MAX];
        OciImportResult res = {};
        OciError err = {};
        size_t n, n2;
        int fd;

        if (access("/usr/bin/skopeo", X_OK) < 0) {
                fprintf(stderr, "skopeo not installed, skipping\n");
                return 77;
        }
        top = tmpdir_new("test-skopeo-peer");
        store_dir = path_of(top, "oci");
        rootfs_tar = path_of(top, "rootfs.tar.gz");
        export_tar = path_of(top, "export.tar");
        sk_oci = path_of(top, "skopeo-oci.tar");
        sk_docker = path_of(top, "skopeo-docker.tar");

        tar_write(rootfs_tar, "gzip", rootfs, ELEMENTSOF(rootfs));
        CHECK(oci_store_open(store_dir, &s) == 0);
        CHECK(oci_store_import(s, rootfs_tar, OCI_IMPORT_ROOTFS, &res, &err) == 0);
        memcpy(digest, res.images[0].digest, sizeof digest);
        oci_import_result_done(&res);
        OciIndexEntry e = { "busybox:latest", digest, OCI_MEDIA_TYPE_MANIFEST, 0 };
        _cleanup_free_ char *m = NULL;
        size_t msize;
        CHECK(oci_store_read_blob(s, digest, OCI_MANIFEST_MAX, &m, &msize) == 0);
        e.size = msize;
        CHECK(oci_store_write_index(s, &e, 1) == 0);

        /* skopeo reads the store as a plain OCI layout. */
        CHECK(asprintf(&src, "oci:%s:busybox:latest", store_dir) > 0);
        skopeo_inspect_digest(src, digest);

        /* ... and our oci-archive export. */
        fd = open(export_tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(oci_store_export_archive(s, digest, "busybox:latest", fd, &err) == 0);
        close(fd);
        CHECK(asprintf(&insp, "oci-archive:%s:busybox:latest", export_tar) > 0);
        skopeo_inspect_digest(insp, digest);

        /* skopeo's oci-archive imports with the same digest and name. */
        CHECK(asprintf(&dst, "oci-archive:%s:busybox:latest", sk_oci) > 0);
        char *copy1[] = { (char *) "skopeo",
                          (char *) "--insecure-policy",
                          (char *) "copy",
                          (char *) "-q",
                          (char *) "--preserve-digests",
                          (char *) "--dest-oci-accept-uncompressed-layers",
                          src,
                          dst,
                          NULL };
        CHECK(run_capture(copy1, NULL) == 0);
        store2 = path_of(top, "oci2");
        CHECK(oci_store_open(store2, &s2) == 0);
        CHECK(oci_store_import(s2, sk_oci, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].digest, digest) &&
              streq(res.images[0].ref, "busybox:latest"));
        oci_import_result_done(&res);

        /* skopeo's docker-archive: converted, so a new manifest, but the same layers (diff_ids). */
        CHECK(asprintf(&dst2, "docker-archive:%s:busybox:latest", sk_docker) > 0);
        char *copy2[] = { (char *) "skopeo",
                          (char *) "--insecure-policy",
                          (char *) "copy",
                          (char *) "-q",
                          src,
                          dst2,
                          NULL };
        CHECK(run_capture(copy2, NULL) == 0);
        CHECK(oci_store_import(s2, sk_docker, OCI_IMPORT_AUTO, &res, &err) == 0);
        CHECK(res.n_images == 1 && streq(res.images[0].ref, "busybox:latest"));
        CHECK(oci_store_image_layers(s, digest, NULL, &diff_ids, NULL, &n) == 0);
        CHECK(oci_store_image_layers(s2, res.images[0].digest, NULL, &diff_ids2, NULL, &n2) == 0);
        CHECK(n == 1 && n2 == 1 && streq(diff_ids[0], diff_ids2[0]));
        strv_free_n(diff_ids, n);
        strv_free_n(diff_ids2, n2);
        oci_import_result_done(&res);

        /* umoci unpacks the image straight from our store. */
        if (access("/usr/bin/umoci", X_OK) >= 0) {
                _cleanup_free_ char *image = NULL, *bundle = path_of(top, "bundle"), *osr = NULL,
                                    *data = NULL;
                CHECK(asprintf(&image, "%s:busybox:latest", store_dir) > 0);
                char *unpack[] = {
                        (char *) "umoci", (char *) "unpack", (char *) "--image", image, bundle, NULL
                };
                CHECK(run_capture(unpack, NULL) == 0);
                osr = path_of(bundle, "rootfs/etc/os-release");
                file_read(osr, &data, NULL);
                CHECK(streq(data, "NAME=test\n"));
        }

        CHECK(rm_rf(top) == 0);
        free(top);
        return 0;
}
