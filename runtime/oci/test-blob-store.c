/* Blob store: put/verify/read, corrupted blobs detected on read, concurrent writers, index.json. */
#include <dirent.h>
#include <sys/wait.h>

#include "blob-store.h"
#include "json-util.h"
#include "oci-store.h"
#include "test-util.h"

static size_t count_files(const char *dir, bool tmp_only) {
        DIR *d = opendir(dir);
        size_t n = 0;

        CHECK(d);
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                        continue;
                if (!tmp_only || de->d_name[0] == '.')
                        n++;
        }
        closedir(d);
        return n;
}

static void test_put_read(OciStore *s, const char *root) {
        char d[DIGEST_STRING_MAX], want[DIGEST_STRING_MAX];
        _cleanup_free_ char *data = NULL, *blobs = path_of(root, "blobs/sha256");
        _cleanup_close_ int fd = -EBADF;
        uint64_t size;
        size_t n;
        char c;

        CHECK(oci_store_put_blob_data(s, "hello", 5, d) == 0);
        sha256_digest_string("hello", 5, want);
        CHECK(streq(d, want));
        CHECK(oci_store_has_blob(s, d));
        CHECK(oci_store_read_blob(s, d, 100, &data, &n) == 0);
        CHECK(n == 5 && memcmp(data, "hello", 5) == 0);
        CHECK(oci_store_read_blob(s, d, 4, &data, &n) == -EFBIG);
        CHECK(oci_store_open_blob(s, d, &fd, &size) == 0);
        CHECK(size == 5);
        CHECK(read(fd, &c, 1) == 1 && c == 'h'); /* at offset 0 after verification */
        CHECK(!oci_store_has_blob(
                s, "sha256:0000000000000000000000000000000000000000000000000000000000000000"));
        CHECK(oci_store_open_blob(s, "sha256:../../etc/passwd", &fd, NULL) == -EINVAL);
        CHECK(count_files(blobs, true) == 0);
}

static void test_put_fd(OciStore *s, const char *root) {
        _cleanup_free_ char *src = path_of(root, "../big"), *buf = malloc(3 * 1024 * 1024 + 17),
                            *blobs = path_of(root, "blobs/sha256");
        char want[DIGEST_STRING_MAX], got[DIGEST_STRING_MAX];
        _cleanup_close_ int fd = -EBADF;
        size_t before;
        uint64_t size;

        CHECK(buf);
        for (size_t i = 0; i < 3 * 1024 * 1024 + 17; i++)
                buf[i] = (char) (i * 7 + i / 4096);
        file_write(src, buf, 3 * 1024 * 1024 + 17);
        sha256_digest_string(buf, 3 * 1024 * 1024 + 17, want);

        before = count_files(blobs, false);
        /* Wrong expected digest: -EBADMSG and nothing stored, no temp file left. */
        fd = open(src, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(oci_store_put_blob_fd(
                      s, fd, "sha256:1111111111111111111111111111111111111111111111111111111111111111", got,
                      &size) == -EBADMSG);
        CHECK(count_files(blobs, false) == before);
        CHECK(!oci_store_has_blob(s, want));

        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        CHECK(oci_store_put_blob_fd(s, fd, want, got, &size) == 0);
        CHECK(streq(got, want) && size == 3 * 1024 * 1024 + 17);
        CHECK(count_files(blobs, false) == before + 1);
        CHECK(unlink(src) == 0);
}

static void test_corruption(OciStore *s, const char *root) {
        char d[DIGEST_STRING_MAX];
        _cleanup_free_ char *p = NULL, *data = NULL;
        int fd = -EBADF;
        size_t n;

        CHECK(oci_store_put_blob_data(s, "precious", 8, d) == 0);
        CHECK(asprintf(&p, "%s/blobs/sha256/%s", root, digest_hex(d)) > 0);
        /* Flip bytes in place, as a disk error or a careless edit would. */
        fd = open(p, O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && pwrite(fd, "PR", 2, 0) == 2);
        close(fd);
        CHECK(oci_store_open_blob(s, d, &fd, NULL) == -EBADMSG);
        CHECK(oci_store_read_blob(s, d, 100, &data, &n) == -EBADMSG);
        /* Removing and re-putting heals it. */
        CHECK(oci_store_remove_blob(s, d) == 0);
        CHECK(!oci_store_has_blob(s, d));
        CHECK(oci_store_put_blob_data(s, "precious", 8, d) == 0);
        CHECK(oci_store_read_blob(s, d, 100, &data, &n) == 0);
}

static int count_cb(const char *digest, uint64_t size, void *userdata) {
        CHECK(digest_is_valid(digest));
        (*(size_t *) userdata)++;
        return 0;
}

/* Several processes write (partly the same) blobs at once: every blob ends up complete under its
 * name and no temp file stays behind. */
static void test_concurrent(const char *root) {
        _cleanup_free_ char *blobs = path_of(root, "blobs/sha256");
        size_t before, after = 0;
        OciStore *s;

        before = count_files(blobs, false);
        for (int p = 0; p < 4; p++) {
                pid_t pid = fork();
                CHECK(pid >= 0);
                if (pid == 0) {
                        OciStore *cs;
                        if (oci_store_open(root, &cs) < 0)
                                _exit(1);
                        for (int i = 0; i < 25; i++) {
                                char buf[200000], d[DIGEST_STRING_MAX];
                                /* blobs 0..19 are shared by all writers, 20..24 are per process */
                                int id = i < 20 ? i : 1000 * (p + 1) + i;
                                memset(buf, id & 0xff, sizeof buf);
                                snprintf(buf, 32, "blob-%d", id);
                                if (oci_store_put_blob_data(cs, buf, sizeof buf, d) < 0)
                                        _exit(2);
                        }
                        oci_store_free(cs);
                        _exit(0);
                }
        }
        for (int p = 0; p < 4; p++) {
                int st;
                CHECK(wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        CHECK(count_files(blobs, true) == 0);
        CHECK(count_files(blobs, false) == before + 20 + 4 * 5);

        /* A writer that died leaves a temp file: not a blob, and removed by the stale-temp sweep. */
        _cleanup_free_ char *stale = path_of(blobs, ".#incoming.deadbeef");
        file_write(stale, "partial", 7);
        CHECK(count_files(blobs, true) == 1);
        CHECK(oci_store_open(root, &s) == 0);
        CHECK(oci_store_foreach_blob(s, count_cb, &after) == 0);
        CHECK(after == before + 40);
        {
                /* A writer at work claims its temp: a sweep (gc, a daemon start) counts and removes only
                 * the dead one, and the live write still commits. */
                BlobWriter w = BLOB_WRITER_INIT;
                TempSweepStats st = {};
                char d[DIGEST_STRING_MAX];

                CHECK(blob_writer_begin(s, &w) == 0);
                CHECK(blob_writer_write(&w, "live", 4) == 0);
                CHECK(count_files(blobs, true) == 2);
                CHECK(oci_store_sweep_temp(s, true, &st) == 0 && st.removed == 1 && st.bytes == 7);
                CHECK(count_files(blobs, true) == 2);
                st = (TempSweepStats) {};
                CHECK(oci_store_sweep_temp(s, false, &st) == 0 && st.removed == 1 && st.bytes == 7);
                CHECK(count_files(blobs, true) == 1);
                CHECK(blob_writer_commit(&w, NULL, d, NULL) == 0 && oci_store_has_blob(s, d));
                CHECK(count_files(blobs, true) == 0);
                st = (TempSweepStats) {};
                CHECK(oci_store_sweep_temp(s, false, &st) == 0 && st.removed == 0);
                CHECK(oci_store_remove_blob(s, d) == 0);
        }
        oci_store_free(s);
}

static void test_index(OciStore *s, const char *root) {
        _cleanup_free_ char *p = path_of(root, "index.json"), *layout = path_of(root, "oci-layout"),
                            *data = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *ref;
        json_t *m;
        size_t n;
        OciIndexEntry e[2] = {
                { "busybox:latest",
                  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                  OCI_MEDIA_TYPE_MANIFEST, 0 },
                { "localhost:5000/x/y:1",
                  "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                  DOCKER_MEDIA_TYPE_MANIFEST, 5 },
        };

        file_read(layout, &data, &n);
        CHECK(streq(data, "{\"imageLayoutVersion\":\"1.0.0\"}"));
        free(TAKE_PTR(data));
        CHECK(oci_store_write_index(s, e, 2) == 0);
        file_read(p, &data, &n);
        CHECK(json_parse_buffer(data, n, &j, NULL) == 0);
        CHECK(json_get_array(j, "manifests", &m) == 0 && json_array_size(m) == 2);
        CHECK(json_get_string(json_object_get(json_array_get(m, 1), "annotations"),
                              "org.opencontainers.image.ref.name", &ref) == 0);
        CHECK(streq(ref, "localhost:5000/x/y:1"));
        e[0].digest = "sha256:nope";
        CHECK(oci_store_write_index(s, e, 1) == -EINVAL);
        CHECK(oci_store_write_index(s, NULL, 0) == 0);
}

int main(void) {
        _cleanup_free_ char *top = tmpdir_new("test-blob-store"), *root = path_of(top, "oci");
        OciStore *s;

        CHECK(oci_store_open(root, &s) == 0);
        CHECK(streq(oci_store_path(s), root));
        test_put_read(s, root);
        test_put_fd(s, root);
        test_corruption(s, root);
        test_index(s, root);
        oci_store_free(s);
        /* Re-opening keeps what is there. */
        CHECK(oci_store_open(root, &s) == 0);
        oci_store_free(s);
        test_concurrent(root);
        CHECK(rm_rf(top) == 0);
        return 0;
}
