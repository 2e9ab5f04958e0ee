/* Unit tests for runtime/basic: digests, atomic writes, JSON getters, process helpers. */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "fs-util.h"
#include "json-util.h"
#include "process.h"
#include "string-util.h"

#include "tests.h"

static void test_digest(void) {
        char d[DIGEST_STRING_MAX];

        sha256_digest_string("abc", 3, d);
        CHECK(streq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        sha256_digest_string("", 0, d);
        CHECK(streq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        CHECK(digest_is_valid(d));
        CHECK(!digest_is_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
        CHECK(!digest_is_valid("sha256:../../etc/passwd"));
        CHECK(!digest_is_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        CHECK(!digest_is_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550"));
        CHECK(!digest_is_valid(NULL));
}

static void test_atomic_write(void) {
        char dir[] = "/tmp/test-basic-XXXXXX";
        _cleanup_free_ char *path = NULL, *data = NULL;
        struct stat st;
        size_t size;

        CHECK(mkdtemp(dir));
        path = path_join(dir, "file");
        CHECK(write_file_atomic(path, "hello", 5, 0600) == 0);
        CHECK(write_file_atomic(path, "world!", 6, 0640) == 0);
        CHECK(read_full_file(path, &data, &size) == 0);
        CHECK(size == 6 && streq(data, "world!"));
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
        free(data);
        data = NULL;
        CHECK(read_full_file_at(AT_FDCWD, path, 3, &data, &size) == -EFBIG);
        CHECK(rm_rf(dir) == 0);
        CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
}

static void test_json(void) {
        _cleanup_json_ json_t *j = NULL;
        const char *s;
        int64_t i;

        CHECK(json_parse_buffer("{\"a\":\"x\",\"b\":3}", 15, &j, NULL) == 0);
        CHECK(json_get_string(j, "a", &s) == 0 && streq(s, "x"));
        CHECK(json_get_int(j, "b", &i) == 0 && i == 3);
        CHECK(json_get_string(j, "b", &s) == -EBADMSG);
        CHECK(json_get_string(j, "c", &s) == -ENOENT);
        CHECK(json_get_string_opt(j, "c", &s) == 0 && s == NULL);
        json_t *k = NULL;
        CHECK(json_parse_buffer("{\"a\":1,\"a\":2}", 13, &k, NULL) == -EBADMSG);
        CHECK(json_parse_buffer("{", 1, &k, NULL) == -EBADMSG);
}

static void test_process(void) {
        char *ok[] = { (char *) "true", NULL };
        char *bad[] = { (char *) "false", NULL };
        char *missing[] = { (char *) "/nonexistent/binary", NULL };

        CHECK(run_process(ok, NULL) == 0);
        CHECK(run_process(bad, NULL) == 1);
        CHECK(run_process(missing, NULL) == 127);
}

static void test_strings(void) {
        char buf[32];

        CHECK(startswith("sha256:abc", "sha256:"));
        CHECK(!startswith("sha", "sha256:"));
        CHECK(endswith("layer.tar.gz", ".gz"));
        CHECK(streq(format_bytes(buf, sizeof buf, 999), "999 B"));
        CHECK(streq(format_bytes(buf, sizeof buf, 1500000), "1.5 MB"));
}

int main(void) {
        test_digest();
        test_atomic_write();
        test_json();
        test_process();
        test_strings();
        printf("test-basic: ok\n");
        return 0;
}
