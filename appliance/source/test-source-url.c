/* Unit tests for appliance/source's URL handling: classification, redaction, the mirror key and scrubbing
 * of library messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "source-url.h"

#include "tests.h"

static void check_norm(const char *url, const char *expected) {
        _cleanup_free_ char *n = NULL;

        CHECK_OK(source_url_normalize(url, &n));
        CHECK_STREQ(n, expected);
}

static void check_redact(const char *url, const char *expected) {
        _cleanup_free_ char *n = NULL;

        CHECK_OK(source_url_redact(url, &n));
        CHECK_STREQ(n, expected);
}

static void test_classify(void) {
        CHECK(source_url_classify("/srv/repo") == SOURCE_URL_PATH);
        CHECK(source_url_classify("file:///srv/repo") == SOURCE_URL_FILE);
        CHECK(source_url_classify("file://localhost/srv/repo") == SOURCE_URL_FILE);
        CHECK(source_url_classify("git://127.0.0.1:9418/x.git") == SOURCE_URL_GIT);
        CHECK(source_url_classify("http://user:pw@h/x.git") == SOURCE_URL_HTTP);
        CHECK(source_url_classify("HTTPS://example.org/a/b") == SOURCE_URL_HTTPS);
        CHECK(source_url_classify("ssh://git@example.org/a.git") == SOURCE_URL_SSH);
        CHECK(source_url_classify("git@example.org:a/b.git") == SOURCE_URL_SSH);

        CHECK(source_url_classify(NULL) == -EINVAL);
        CHECK(source_url_classify("") == -EINVAL);
        CHECK(source_url_classify("relative/path") == -EINVAL);
        CHECK(source_url_classify("ext::sh -c evil") == -EINVAL);
        CHECK(source_url_classify("ext::sh") == -EINVAL);
        CHECK(source_url_classify("ftp://h/x") == -EINVAL);
        CHECK(source_url_classify("http://h") == -EINVAL);
        CHECK(source_url_classify("http://h//") == -EINVAL);
        CHECK(source_url_classify("file:////") == -EINVAL);
        CHECK(source_url_classify("http:///x") == -EINVAL);
        CHECK(source_url_classify("http://u@/x") == -EINVAL);
        CHECK(source_url_classify("file://otherhost/x") == -EINVAL);
        CHECK(source_url_classify("file://") == -EINVAL);
        CHECK(source_url_classify("http://h/x y") == -EINVAL);
        CHECK(source_url_classify("/srv/a\nb") == -EINVAL);

        char *big = malloc(SOURCE_URL_MAX + 2);
        CHECK(big);
        memset(big, 'a', SOURCE_URL_MAX + 1);
        big[0] = '/';
        big[SOURCE_URL_MAX + 1] = '\0';
        CHECK(source_url_classify(big) == -EINVAL);
        big[SOURCE_URL_MAX] = '\0';
        CHECK(source_url_classify(big) == SOURCE_URL_PATH);
        free(big);

        CHECK_STREQ(source_url_kind_to_string(SOURCE_URL_GIT), "git");
        CHECK(source_url_kind_to_string(_SOURCE_URL_KIND_MAX) == NULL);
}

static void test_redact_normalize(void) {
        check_redact("http://user:secret@127.0.0.1:1/x.git", "http://127.0.0.1:1/x.git");
        check_redact("https://tok@h/x", "https://h/x");
        check_redact("https://u:p@ss@h/x@y", "https://h/x@y");
        check_redact("https://h/x", "https://h/x");
        check_redact("/srv/a@b", "/srv/a@b");

        check_norm("HTTPS://User:Pw@Example.ORG/Repo.git/", "https://example.org/Repo.git");
        check_norm("https://example.org/Repo.git", "https://example.org/Repo.git");
        check_norm("https://example.org/Repo", "https://example.org/Repo");
        check_norm("git+ssh://h/x", "ssh://h/x");
        check_norm("ssh+git://h/x", "ssh://h/x");
        check_norm("ssh+git://h/x/", "ssh://h/x");
        check_norm("/srv/repo//", "/srv/repo");
        check_norm("/", "/");
        check_norm("file:///srv/repo", "file:///srv/repo");

        _cleanup_free_ char *n = NULL;
        CHECK(source_url_normalize("ftp://h/x", &n) == -EINVAL);
}

static void test_scrub(void) {
        char text[256];

        strcpy(text, "failed to connect to http://user:secret@127.0.0.1:1/x.git: refused");
        source_url_scrub_text(text, "http://user:secret@127.0.0.1:1/x.git");
        CHECK_STREQ(text, "failed to connect to http://127.0.0.1:1/x.git: refused");

        strcpy(text, "auth 'secret' rejected; see 'https://a:b@h/x' and secret again");
        source_url_scrub_text(text, "http://user:secret@h/x");
        CHECK(!strstr(text, "secret"));
        CHECK(!strstr(text, "a:b@"));
        CHECK(strstr(text, "https://h/x"));

        strcpy(text, "plain message");
        source_url_scrub_text(text, "/srv/repo");
        CHECK_STREQ(text, "plain message");
        source_url_scrub_text(NULL, "x");
}

int main(void) {
        test_classify();
        test_redact_normalize();
        test_scrub();
        return 0;
}
