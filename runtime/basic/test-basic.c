/* Unit tests for runtime/basic: digests, atomic writes, JSON getters, process helpers. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "disk-space.h"
#include "duration.h"
#include "fs-util.h"
#include "host-claims.h"
#include "json-util.h"
#include "macro.h"
#include "path-util.h"
#include "process.h"
#include "size.h"
#include "string-util.h"
#include "utf8.h"

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

static void test_dirs(void) {
        _cleanup_(closedirp) DIR *d = NULL;
        char top[] = "/tmp/test-basic-XXXXXX";
        _cleanup_free_ char *nested = NULL;
        struct dirent *de;
        int fd;

        CHECK(mkdtemp(top));
        nested = path_join(top, "a/b");
        fd = mkdir_p_open(nested, 0700);
        CHECK_OK(fd);
        CHECK(dir_is_empty_at(fd, ".") == 1);
        CHECK(close(fd) == 0);
        fd = mkdir_p_open(nested, 0700); /* an existing directory is fine */
        CHECK_OK(fd);
        CHECK(close(fd) == 0);
        CHECK(dir_is_empty_at(AT_FDCWD, top) == 0);
        CHECK(dir_is_empty_at(AT_FDCWD, "/nonexistent-test-basic") == -ENOENT);

        CHECK_OK(opendir_at(AT_FDCWD, top, &d));
        de = readdir_no_dot(d);
        CHECK(de && streq(de->d_name, "a"));
        CHECK(!readdir_no_dot(d));
        CHECK(rm_rf(top) == 0);
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
        CHECK(ascii_isalnum('a') && ascii_isalnum('Z') && ascii_isalnum('7'));
        CHECK(!ascii_isalnum('-') && !ascii_isalnum('\xc3') && !ascii_isalnum('\0'));
        CHECK(streq(format_bytes(buf, sizeof buf, 999), "999 B"));
        CHECK(streq(format_bytes(buf, sizeof buf, 1500000), "1.5 MB"));
}

typedef struct ParseCase {
        const char *text;
        uint64_t value;
} ParseCase;

/* Each good text parses to its value; each bad one is -EINVAL and leaves the out-parameter alone. */
static void check_parser(const char *name, int (*parse)(const char *s, uint64_t *ret), const ParseCase *good,
                         size_t n_good, const char *const *bad, size_t n_bad) {
        uint64_t v = 1;

        for (size_t i = 0; i < n_good; i++)
                if (parse(good[i].text, &v) != 0 || v != good[i].value)
                        TEST_FAIL("%s(\"%s\") gave %" PRIu64 ", want %" PRIu64, name, good[i].text, v,
                                  good[i].value);
        for (size_t i = 0; i < n_bad; i++)
                if (parse(bad[i], &v) != -EINVAL || v != good[n_good - 1].value)
                        TEST_FAIL("%s(\"%s\") accepted", name, bad[i]);
}

static void test_duration(void) {
        static const ParseCase good[] = {
                { "0", 0 },
                { "30s", UINT64_C(30000000000) },
                { "1m30s", UINT64_C(90000000000) },
                { "250ms", UINT64_C(250000000) },
                { "1.5h", UINT64_C(5400000000000) },
                { "3\xc2\xb5s", 3000 },
                { "7ns", 7 },
        };
        static const char *const bad[] = { "", "5", "-5s", "s", "5 s", "1x" };
        uint64_t ns = 7;

        check_parser("duration_parse", duration_parse, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));
        CHECK(duration_parse("3000000h", &ns) == -ERANGE);
        CHECK(ns == 7); /* failures leave the out-parameter alone */
}

static void test_utf8(void) {
        CHECK(utf8_is_valid("plain", 5));
        CHECK(utf8_is_valid("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x90\xb3", 15));
        CHECK(utf8_valid_prefix("ab\xc0\xaf", 4) == 2);       /* overlong '/' */
        CHECK(utf8_valid_prefix("a\xed\xa0\x80", 4) == 1);    /* surrogate U+D800 */
        CHECK(utf8_valid_prefix("\xf4\x90\x80\x80", 4) == 0); /* above U+10FFFF */
        CHECK(utf8_valid_prefix("xy\xe2\x82", 4) == 2);       /* truncated */
        CHECK(utf8_valid_prefix("\x80", 1) == 0);             /* lone continuation byte */
        CHECK(utf8_valid_prefix("", 0) == 0);
}

static int size_parse_unbounded(const char *s, uint64_t *ret) {
        return size_parse(s, UINT64_MAX, ret);
}

static void test_size(void) {
        static const ParseCase good[] = {
                { "4096", 4096 },
                { "512M", UINT64_C(512) << 20 },
                { "1G", UINT64_C(1) << 30 },
                { "1GiB", UINT64_C(1) << 30 },
                { "64kb", 64 * 1024 },
                { "2T", UINT64_C(2) << 40 },
        };
        static const char *const bad[] = { "99999999999999999999", "12X", "1.5G", "-1", "", "1GiBx" };
        uint64_t v = 1;

        check_parser("size_parse", size_parse_unbounded, good, ELEMENTSOF(good), bad, ELEMENTSOF(bad));
        CHECK(size_parse("2T", UINT64_C(1) << 40, &v) == -ERANGE);
        CHECK(v == 1); /* failures leave the out-parameter alone */
}

static void test_path_util(void) {
        static const char *const safe[] = { "blobs/sha256/abc", "./index.json", "a..b/c", "a//b/" };
        static const char *const unsafe[] = { "../x", "a/../../x", "a/..", "a//..//b", "/etc/passwd", "" };
        _cleanup_free_ char *p = NULL;

        for (size_t i = 0; i < ELEMENTSOF(safe); i++)
                if (!path_is_safe_relative(safe[i]))
                        TEST_FAIL("\"%s\" is a safe relative path", safe[i]);
        for (size_t i = 0; i < ELEMENTSOF(unsafe); i++)
                if (path_is_safe_relative(unsafe[i]))
                        TEST_FAIL("\"%s\" is not a safe relative path", unsafe[i]);
        CHECK(!path_is_safe_relative(NULL));

        CHECK(path_normalize_relative("./a//b/./c/", 4096, &p) == 0 && streq(p, "a/b/c"));
        free(p);
        p = NULL;
        CHECK(path_normalize_relative("./", 4096, &p) == 0 && streq(p, ""));
        free(p);
        p = NULL;
        CHECK(path_normalize_relative("a..b/..c", 4096, &p) == 0 && streq(p, "a..b/..c"));
        free(p);
        p = NULL;
        CHECK(path_normalize_relative("a/../b", 4096, &p) == -EXDEV && !p);
        CHECK(path_normalize_relative("..", 4096, &p) == -EXDEV);
        CHECK(path_normalize_relative("/etc/passwd", 4096, &p) == -EXDEV);
        CHECK(path_normalize_relative("aaaa", 3, &p) == -ENAMETOOLONG);
        CHECK(path_normalize_relative("", 4096, &p) == -EINVAL);
        CHECK(!p);
}

/* Claims in a temp dir: two owners, one wins; a vanished owner's claim is stale and taken over; each
 * owner lists and drops only its own. */
static void test_host_claims(void) {
        char root[] = "/tmp/test-claims-XXXXXX", a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
        char **l = NULL;
        int dfd;

        CHECK(mkdtemp(root));
        snprintf(a, sizeof a, "%s/owner-a", root);
        snprintf(b, sizeof b, "%s/owner-b", root);
        snprintf(dir, sizeof dir, "%s/claims/subnets", root);
        CHECK(mkdir(a, 0700) == 0 && mkdir(b, 0700) == 0);
        CHECK(!host_claim_name_valid("../x") && !host_claim_name_valid("") &&
              host_claim_name_valid("10.0.1.0-24"));

        dfd = host_claims_lock(dir);
        CHECK(dfd >= 0);
        CHECK(host_claim_check(dfd, "10.0.1.0-24", a) == -ENOENT);
        CHECK(host_claim_take(dfd, "10.0.1.0-24", a) == 1);
        CHECK(host_claim_take(dfd, "10.0.1.0-24", a) == 1); /* idempotent */
        CHECK(host_claim_take(dfd, "10.0.1.0-24", b) == 0); /* a lives: b does not get it */
        CHECK(host_claim_take(dfd, "10.0.2.0-24", b) == 1);
        CHECK(host_claim_drop(dfd, "10.0.1.0-24", b) == 0); /* not b's: stays */
        CHECK(host_claim_check(dfd, "10.0.1.0-24", a) == 1);
        CHECK(host_claims_list(dfd, a, HOST_CLAIMS_MINE, &l) == 0);
        CHECK(l[0] && streq(l[0], "10.0.1.0-24") && !l[1]);
        l = host_claims_list_free(l);
        CHECK(host_claims_list(dfd, a, HOST_CLAIMS_OTHERS, &l) == 0);
        CHECK(l[0] && streq(l[0], "10.0.2.0-24") && !l[1]);
        l = host_claims_list_free(l);
        CHECK(rmdir(b) == 0); /* b is gone: its claim is stale */
        CHECK(host_claim_check(dfd, "10.0.2.0-24", a) == -ESTALE);
        CHECK(host_claims_list(dfd, a, HOST_CLAIMS_OTHERS, &l) == 0 && !l[0]);
        l = host_claims_list_free(l);
        CHECK(host_claim_take(dfd, "10.0.2.0-24", a) == 1);
        CHECK(host_claim_drop(dfd, "10.0.1.0-24", a) == 1);
        CHECK(host_claim_check(dfd, "10.0.1.0-24", a) == -ENOENT);
        safe_close(dfd);
        CHECK(host_claim_drop_in(dir, "10.0.2.0-24", a) == 1);
        CHECK(host_claim_take_in(dir, "../escape", a) == -EINVAL);
        CHECK(rm_rf(root) == 0);
}

static void test_disk_space(void) {
        char dir[] = "/tmp/test-disk-space-XXXXXX", buf[32], msg[768], hint[512];
        _cleanup_free_ char *reserve = NULL, *tmp = NULL;
        DiskSpace d;
        struct stat st;
        int r;

        CHECK_STREQ(disk_format_bytes(0, buf, sizeof buf), "0 B");
        CHECK_STREQ(disk_format_bytes(1023, buf, sizeof buf), "1023 B");
        CHECK_STREQ(disk_format_bytes(1536, buf, sizeof buf), "1.5 KiB");
        CHECK_STREQ(disk_format_bytes(4ULL << 20, buf, sizeof buf), "4 MiB");
        CHECK_STREQ(disk_format_bytes(5767168, buf, sizeof buf), "5.5 MiB");
        CHECK_STREQ(disk_format_bytes(64ULL << 30, buf, sizeof buf), "64 GiB");
        CHECK(disk_errno_is_full(-ENOSPC) && disk_errno_is_full(-EDQUOT) && !disk_errno_is_full(-EIO));

        CHECK(mkdtemp(dir));
        CHECK(disk_space_query(dir, &d) == 0);
        CHECK(d.total > 0 && d.free <= d.total);
        CHECK(startswith(dir, d.mount)); /* the mount point is an ancestor (or the dir itself) */
        CHECK(disk_space_query("/nonexistent/dir", &d) == -ENOENT);

        /* The sentence names the disk, how full it is and what to run. */
        disk_full_describe(dir, msg, sizeof msg, hint, sizeof hint);
        CHECK(startswith(msg, "The disk holding ") && strstr(msg, dir) && strstr(msg, " is full (") &&
              strstr(msg, " free of "));
        CHECK(strstr(hint, "slipway image rm") && strstr(hint, "slipway image gc"));
        /* A path that is gone (a target a failed write removed) is on the disk of its nearest ancestor. */
        CHECK(disk_space_query_nearest("/nonexistent/dir", &d) == 0 && d.total > 0);
        disk_full_describe("/nonexistent/dir", msg, sizeof msg, hint, sizeof hint);
        CHECK(startswith(msg, "The disk holding /nonexistent/dir ") && strstr(msg, " is full (") &&
              strstr(hint, "slipway image gc"));
        disk_full_message(dir, msg, sizeof msg);
        CHECK(strstr(msg, dir) && strstr(msg, " is full (") && !strstr(msg, "slipway"));

        reserve = path_join(dir, DISK_RESERVE_FILE);
        tmp = path_join(dir, DISK_RESERVE_FILE ".new");
        CHECK(disk_reserve_release(dir) == 0);
        CHECK(disk_space_query(dir, &d) == 0);
        if (d.free < 2ULL * DISK_RESERVE_SIZE) {
                CHECK(disk_reserve_ensure(dir) == -ENOSPC);
                CHECK(access(reserve, F_OK) < 0 && access(tmp, F_OK) < 0);
        } else {
                /* A crash's half-made reserve is reused, never left beside the real one. */
                CHECK(write_file_atomic(tmp, "x", 1, 0600) == 0);
                r = disk_reserve_ensure(dir);
                CHECK(r == 1);
                CHECK(stat(reserve, &st) == 0 && (uint64_t) st.st_size == DISK_RESERVE_SIZE);
                CHECK((uint64_t) st.st_blocks * 512 >= DISK_RESERVE_SIZE); /* really allocated */
                CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);
                CHECK(disk_reserve_ensure(dir) == 0);
                CHECK(disk_reserve_release(dir) == 1);
                CHECK(access(reserve, F_OK) < 0 && errno == ENOENT);
                CHECK(disk_reserve_release(dir) == 0);
        }
        CHECK(disk_reserve_ensure("/nonexistent/dir") == -ENOENT);
        CHECK(rm_rf(dir) == 0);
}

int main(void) {
        test_digest();
        test_disk_space();
        test_atomic_write();
        test_dirs();
        test_json();
        test_process();
        test_strings();
        test_duration();
        test_utf8();
        test_size();
        test_path_util();
        test_host_claims();
        printf("test-basic: ok\n");
        return 0;
}
