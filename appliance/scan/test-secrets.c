/* Unit tests for the secret patterns: each rule found, near misses not, and nothing of the secret reported. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "secrets.h"

#include "tests.h"

static const char *m(const char *s) {
        return secrets_match(s, strlen(s));
}

static void test_root(void) {
        char dir[] = "/tmp/test-secrets.XXXXXX";
        _cleanup_json_ json_t *f = NULL;
        char path[256];
        FILE *fp;

        CHECK(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/app", dir);
        CHECK(mkdir(path, 0755) == 0);
        snprintf(path, sizeof path, "%s/app/id_ed25519", dir);
        CHECK((fp = fopen(path, "w")));
        fputs("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretbody\n-----END OPENSSH PRIVATE KEY-----\n", fp);
        fclose(fp);
        snprintf(path, sizeof path, "%s/link", dir);
        CHECK(symlink("/etc/ssh", path) == 0); /* never followed */
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_OK(secrets_scan_root(fd, &f));
        close(fd);
        CHECK(json_array_size(f) == 1);
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "id")),
                    "secret:private-key:/app/id_ed25519");
        _cleanup_free_ char *text = json_dumps(f, 0);
        CHECK(text && !strstr(text, "secretbody"));
        CHECK(rm_rf(dir) >= 0);
}

int main(void) {
        test_root();
        CHECK_STREQ(m("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n"), "private-key");
        CHECK_STREQ(m("-----BEGIN RSA PRIVATE KEY-----"), "private-key");
        CHECK_STREQ(m("-----BEGIN PRIVATE KEY-----"), "private-key");
        CHECK(!m("-----BEGIN PUBLIC KEY-----"));
        CHECK(!m("-----BEGIN CERTIFICATE-----"));
        CHECK_STREQ(m("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"), "aws-access-key-id");
        CHECK(!m("AKIAshort"));
        CHECK(!m("AKIAiosfodnn7example")); /* lower case: not a key id */
        CHECK_STREQ(m("token: ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "github-token");
        CHECK(!m("ghp_tooshort"));
        CHECK_STREQ(m("glpat-abcdefghij0123456789"), "gitlab-token");
        CHECK_STREQ(m("xoxb-1234567890-abcdefghij"), "slack-token");
        CHECK(!m(""));
        CHECK(!m("plain text with nothing secret in it, AKIA and ghp_ mentioned"));
        return 0;
}
