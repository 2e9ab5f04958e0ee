/* The registry client's parsers: which URLs `registry add` takes (and the sentence for those it refuses), and
 * WWW-Authenticate challenges as distribution, Harbor and GitLab send them.  The pushes themselves are tested
 * against Debian's docker-registry (tests/integration/test_push_registry.py). */
#include "registry-client.h"
#include "string-util.h"
#include "test-util.h"

static const struct {
        const char *url;
        bool insecure;
        const char *authority; /* NULL: refused */
        const char *why;       /* a word of the refusal */
} urls[] = {
        { "https://registry.example.com", false, "registry.example.com", NULL },
        { "https://registry.example.com/", false, "registry.example.com", NULL },
        { "https://127.0.0.1:5000", false, "127.0.0.1:5000", NULL },
        { "https://[::1]:5000/", false, "[::1]:5000", NULL },
        { "http://127.0.0.1:5000", true, "127.0.0.1:5000", NULL },
        { "https://127.0.0.1:5000", true, "127.0.0.1:5000", NULL },
        { "http://127.0.0.1:5000", false, NULL, "--insecure" },
        { "ftp://host", false, NULL, "https://" },
        { "registry.example.com", false, NULL, "https://" },
        { "", false, NULL, "empty" },
        { "https://", false, NULL, "no host" },
        { "https://host/v2/", false, NULL, "path" },
        { "https://host?x=1", false, NULL, "query" },
        { "https://user:pw@host", false, NULL, "--username" },
        { "https://host:0", false, NULL, "port" },
        { "https://host:65536", false, NULL, "port" },
        { "https://host:", false, NULL, "port" },
        { "https://host:12a", false, NULL, "port" },
        { "https://ho_st", false, NULL, "DNS" },
        { "https://[::1", false, NULL, "IPv6" },
        { "https://[zz]:1", false, NULL, "IPv6" },
};

int main(void) {
        RegistryChallenge c;

        for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                _cleanup_free_ char *authority = NULL, *error = NULL;
                int r = registry_url_parse(urls[i].url, urls[i].insecure, &authority, &error);

                if (urls[i].authority) {
                        if (r < 0 || !streq(authority, urls[i].authority))
                                TEST_FAIL("%s: got %d %s (%s)", urls[i].url, r, strempty(authority),
                                          strempty(error));
                } else if (r != -EINVAL || !error || !strstr(error, urls[i].why) || !endswith(error, "."))
                        TEST_FAIL("%s: got %d, error %s, want a sentence with %s", urls[i].url, r,
                                  strempty(error), urls[i].why);
        }

        CHECK(registry_challenge_parse("Bearer realm=\"https://auth.example.com/token\",service=\"registry."
                                       "example.com\",scope=\"repository:demo/web:pull,push\"",
                                       &c) == 0);
        CHECK(streq(c.scheme, "Bearer"));
        CHECK(streq(c.realm, "https://auth.example.com/token"));
        CHECK(streq(c.service, "registry.example.com"));
        CHECK(streq(c.scope, "repository:demo/web:pull,push"));

        CHECK(registry_challenge_parse("Basic realm=\"Registry Realm\"", &c) == 0);
        CHECK(streq(c.scheme, "Basic") && streq(c.realm, "Registry Realm") && !c.service[0] && !c.scope[0]);

        /* Unquoted values, spaces after commas, an unknown parameter with an escaped quote. */
        CHECK(registry_challenge_parse("bearer realm=https://h/t, error=\"x\\\"y\", service=reg", &c) == 0);
        CHECK(streq(c.scheme, "bearer") && streq(c.realm, "https://h/t") && streq(c.service, "reg"));

        CHECK(registry_challenge_parse("", &c) == -EINVAL);
        CHECK(registry_challenge_parse(NULL, &c) == -EINVAL);
        return 0;
}
