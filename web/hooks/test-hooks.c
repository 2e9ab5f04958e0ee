/* Unit tests for web/hooks: GitHub's documented signature example and its one-bit changes, Gitea, Forgejo
 * and GitLab checks, unsigned and malformed requests, provider detection, and the push payloads of each
 * provider (tests/fixtures/hooks/, in the shape each documents): branch push, tag push, deletion, ping. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "hook-payload.h"
#include "hook-provider.h"
#include "hook-signature.h"
#include "macro.h"

#include "tests.h"

/* GitHub's "Validating webhook deliveries" example. */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_HEX "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define GH_SIGNATURE "sha256=" GH_HEX

static const char *fixture_dir;

static int verify(HookProvider provider, const HookHeader *h, const char *body, const char *secret) {
        HookHeaders headers = { hook_header_array_lookup, h };
        _cleanup_free_ char *error = NULL;
        int r = hook_signature_verify(provider, &headers, body, strlen(body), secret, &error);

        /* every refusal but a programming error says why */
        if (r < 0 && r != -EINVAL)
                CHECK(error && error[0]);
        if (r >= 0)
                CHECK(!error);
        return r;
}

static void test_github_example(void) {
        char sig[] = GH_SIGNATURE, body[] = GH_BODY;

        CHECK(verify(HOOK_PROVIDER_GITHUB,
                     (HookHeader[]) { { "X-GitHub-Event", "push" }, { "X-Hub-Signature-256", sig }, {} },
                     body, GH_SECRET) == 0);
        /* header names are case-insensitive */
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "x-hub-signature-256", sig }, {} }, body,
                     GH_SECRET) == 0);

        /* one bit of the body, of the signature, of the secret */
        body[0] ^= 1;
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     GH_SECRET) == -EACCES);
        body[0] ^= 1;
        for (size_t i = strlen("sha256="); i < strlen(sig); i += 9) {
                sig[i] ^=
                        1; /* '0'..'9', 'a'..'f' with the low bit flipped stays a hex digit or is not one */
                CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} },
                             body, GH_SECRET) == -EACCES);
                sig[i] ^= 1;
        }
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     "It's a Secret to Everybodz") == -EACCES);
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     GH_SECRET) == 0);
}

static void test_github_malformed(void) {
        char upper[] = GH_SIGNATURE;

        /* GitHub sends lowercase; hex is case-insensitive and the bytes are what is compared */
        for (char *c = upper + strlen("sha256="); *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char) (*c - 'a' + 'A');
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", upper }, {} }, GH_BODY,
                     GH_SECRET) == 0);

        static const char *const bad[] = {
                GH_HEX,               /* no prefix */
                "sha1=" GH_HEX,       /* another algorithm */
                "SHA256=" GH_HEX,     /* the prefix is lowercase */
                "sha256=" GH_HEX "0", /* 65 digits */
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", /* 63 */
                "sha256=",                                                                /* none */
                "sha256= " GH_HEX,                                                        /* a space */
                "sha256=" GH_HEX " ",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g", /* not hex */
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b04+e17",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", bad[i] }, {} },
                             GH_BODY, GH_SECRET) == -EACCES);
}

static void test_unsigned_and_refused(void) {
        HookHeaders headers = { hook_header_array_lookup,
                                (HookHeader[]) { { "X-Hub-Signature-256", GH_SIGNATURE }, {} } };
        _cleanup_free_ char *error = NULL;

        /* no signature header at all: a distinct answer */
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "push" }, {} }, GH_BODY,
                     GH_SECRET) == -ENOKEY);
        /* GitHub's SHA-1 header alone is not enough */
        CHECK(verify(HOOK_PROVIDER_GITHUB,
                     (HookHeader[]) { { "X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59" },
                                      {} },
                     GH_BODY, GH_SECRET) == -ENOKEY);
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Event", "push" }, {} }, GH_BODY,
                     GH_SECRET) == -ENOKEY);
        CHECK(verify(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Gitlab-Event", "Push Hook" }, {} }, GH_BODY,
                     GH_SECRET) == -ENOKEY);

        /* an empty secret never means "no check", even with a signature that matches the empty key */
        CHECK(hook_signature_verify(HOOK_PROVIDER_GITHUB, &headers, GH_BODY, 13, "", &error) == -EINVAL);
        CHECK(hook_signature_verify(HOOK_PROVIDER_GITHUB, &headers, GH_BODY, 13, NULL, &error) == -EINVAL);
        CHECK(hook_signature_verify(HOOK_PROVIDER_GITLAB,
                                    &(HookHeaders) { hook_header_array_lookup,
                                                     (HookHeader[]) { { "X-Gitlab-Token", "" }, {} } },
                                    "", 0, "", &error) == -EINVAL);
        CHECK(!error);

        /* a provider out of range */
        CHECK(hook_signature_verify(_HOOK_PROVIDER_MAX, &headers, GH_BODY, 13, GH_SECRET, &error) ==
              -EPROTONOSUPPORT);
        CHECK(error && strstr(error, "does not know"));
        CHECK(hook_signature_verify(_HOOK_PROVIDER_INVALID, &headers, GH_BODY, 13, GH_SECRET, NULL) ==
              -EPROTONOSUPPORT);
}

static void test_gitea_forgejo(void) {
        /* the same HMAC as GitHub's example, bare hex */
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Signature", GH_HEX }, {} }, GH_BODY,
                     GH_SECRET) == 0);
        CHECK(verify(HOOK_PROVIDER_FORGEJO, (HookHeader[]) { { "X-Forgejo-Signature", GH_HEX }, {} },
                     GH_BODY, GH_SECRET) == 0);
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Signature", GH_HEX }, {} },
                     "Hello, World?", GH_SECRET) == -EACCES);
        CHECK(verify(HOOK_PROVIDER_FORGEJO, (HookHeader[]) { { "X-Forgejo-Signature", GH_HEX }, {} },
                     GH_BODY, "secret") == -EACCES);
        /* Gitea's header carries no prefix */
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Signature", GH_SIGNATURE }, {} },
                     GH_BODY, GH_SECRET) == -EACCES);
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Signature", GH_HEX "00" }, {} },
                     GH_BODY, GH_SECRET) == -EACCES);
        /* each checks its own header: Forgejo's delivery must carry X-Forgejo-Signature */
        CHECK(verify(HOOK_PROVIDER_FORGEJO, (HookHeader[]) { { "X-Gitea-Signature", GH_HEX }, {} }, GH_BODY,
                     GH_SECRET) == -ENOKEY);
        CHECK(verify(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Hub-Signature-256", GH_SIGNATURE }, {} },
                     GH_BODY, GH_SECRET) == -ENOKEY);
}

static void test_gitlab(void) {
        static const char *const wrong[] = {
                "s3cr3t-token-x", "s3cr3t-toke", "S3cr3t-token", "", " s3cr3t-token", "s3cr3t-token ",
        };

        CHECK(verify(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Gitlab-Token", "s3cr3t-token" }, {} }, "{}",
                     "s3cr3t-token") == 0);
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++)
                CHECK(verify(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Gitlab-Token", wrong[i] }, {} },
                             "{}", "s3cr3t-token") == -EACCES);
        /* GitLab does not sign, so a signature header is no substitute for the token */
        CHECK(verify(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Hub-Signature-256", GH_SIGNATURE }, {} },
                     GH_BODY, GH_SECRET) == -ENOKEY);
}

static void test_hex(void) {
        unsigned char b[HOOK_SIGNATURE_SIZE];

        CHECK(hook_signature_from_hex(GH_HEX, strlen(GH_HEX), b) == 0);
        CHECK(b[0] == 0x75 && b[1] == 0x71 && b[31] == 0x17);
        CHECK(hook_signature_from_hex(GH_HEX, strlen(GH_HEX) - 1, b) == -EBADMSG);
        CHECK(hook_signature_from_hex(NULL, 0, b) == -EBADMSG);
        /* a NUL inside the counted length is not a digit */
        CHECK(hook_signature_from_hex("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1\0",
                                      64, b) == -EBADMSG);
}

static HookProvider detect(const HookHeader *h) {
        HookHeaders headers = { hook_header_array_lookup, h };
        _cleanup_free_ char *error = NULL;
        HookProvider p = _HOOK_PROVIDER_INVALID;
        int r = hook_provider_detect(&headers, &p, &error);

        if (r < 0) {
                CHECK(r == -EPROTONOSUPPORT && error && strstr(error, "X-Gitlab-Event"));
                return r;
        }
        return p;
}

static void test_detect(void) {
        /* Forgejo sends Gitea's, Gogs' and GitHub's headers too; Gitea sends GitHub's */
        CHECK(detect((HookHeader[]) { { "X-GitHub-Event", "push" },
                                      { "X-Gitea-Event", "push" },
                                      { "X-Gogs-Event", "push" },
                                      { "X-Forgejo-Event", "push" },
                                      {} }) == HOOK_PROVIDER_FORGEJO);
        CHECK(detect((HookHeader[]) { { "X-GitHub-Event", "push" }, { "X-Gitea-Event", "push" }, {} }) ==
              HOOK_PROVIDER_GITEA);
        CHECK(detect((HookHeader[]) { { "x-gitlab-event", "Push Hook" }, {} }) == HOOK_PROVIDER_GITLAB);
        CHECK(detect((HookHeader[]) { { "X-GitHub-Event", "ping" }, {} }) == HOOK_PROVIDER_GITHUB);
        CHECK(detect((HookHeader[]) { { "X-Gogs-Event", "push" }, {} }) == -EPROTONOSUPPORT);
        CHECK(detect((HookHeader[]) { { "X-Hub-Signature-256", GH_SIGNATURE }, {} }) == -EPROTONOSUPPORT);
        CHECK(detect((HookHeader[]) { {} }) == -EPROTONOSUPPORT);

        for (HookProvider p = 0; p < _HOOK_PROVIDER_MAX; p++)
                CHECK(hook_provider_from_string(hook_provider_to_string(p)) == p);
        CHECK(hook_provider_from_string("gogs") == _HOOK_PROVIDER_INVALID);
        CHECK(!hook_provider_to_string(_HOOK_PROVIDER_MAX));
        CHECK_STREQ(hook_provider_event_header(HOOK_PROVIDER_GITLAB), "X-Gitlab-Event");
        for (HookEvent e = 0; e < _HOOK_EVENT_MAX; e++)
                CHECK(hook_event_from_string(hook_event_to_string(e)) == e);
        CHECK(hook_event_from_string("pull") == _HOOK_EVENT_INVALID);
}

static char *fixture(const char *name, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;
        char *data = NULL;

        CHECK(asprintf(&path, "%s/%s", fixture_dir, name) > 0);
        CHECK_OK(read_full_file(path, &data, ret_size));
        return data;
}

/* Parses body for provider with headers h; *ret_error gets the sentence of a refusal. */
static int parse(HookProvider provider, const HookHeader *h, const char *body, size_t size, HookPush **ret,
                 char **ret_error) {
        HookHeaders headers = { hook_header_array_lookup, h };
        int r;

        *ret_error = NULL;
        *ret = NULL;
        r = hook_push_parse(provider, &headers, body, size, ret, ret_error);
        if (r < 0)
                CHECK(*ret_error && (*ret_error)[0] && !*ret);
        else
                CHECK(!*ret_error && *ret);
        return r;
}

static HookPush *parse_fixture(HookProvider provider, const HookHeader *h, const char *name) {
        _cleanup_free_ char *body = NULL, *error = NULL;
        HookPush *push;
        size_t size;

        body = fixture(name, &size);
        if (parse(provider, h, body, size, &push, &error) < 0)
                TEST_FAIL("%s: %s", name, error);
        return push;
}

static void test_github_payloads(void) {
        _cleanup_(hook_push_freep) HookPush *push = NULL, *tag = NULL, *del = NULL, *ping = NULL;
        static const char uuid[] = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

        push = parse_fixture(
                HOOK_PROVIDER_GITHUB,
                (HookHeader[]) { { "X-GitHub-Event", "push" }, { "X-GitHub-Delivery", uuid }, {} },
                "github-push.json");
        CHECK(push->provider == HOOK_PROVIDER_GITHUB && push->event == HOOK_EVENT_PUSH);
        CHECK_STREQ(push->event_name, "push");
        CHECK_STREQ(push->delivery_id, uuid);
        CHECK_STREQ(push->ref, "refs/heads/main");
        CHECK_STREQ(push->branch, "main");
        CHECK(!push->tag);
        CHECK_STREQ(push->before, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
        CHECK_STREQ(push->after, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
        CHECK(!push->created && !push->deleted);
        CHECK_STREQ(push->repository, "octo-org/shop");
        CHECK_STREQ(push->clone_url, "https://github.com/octo-org/shop.git");
        CHECK_STREQ(push->ssh_url, "git@github.com:octo-org/shop.git");
        CHECK_STREQ(push->web_url, "https://github.com/octo-org/shop");
        CHECK_STREQ(push->pusher, "Codertocat");
        CHECK_STREQ(push->commit_message, "Update README.md\n\nSay what the shop sells.");
        CHECK_STREQ(push->commit_author_name, "Codertocat");
        CHECK_STREQ(push->commit_author_email, "21031067+Codertocat@users.noreply.github.com");

        tag = parse_fixture(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "push" }, {} },
                            "github-tag.json");
        CHECK(tag->event == HOOK_EVENT_TAG_PUSH && !tag->delivery_id);
        CHECK_STREQ(tag->tag, "v1.0");
        CHECK(!tag->branch && tag->created && !tag->deleted);

        del = parse_fixture(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "push" }, {} },
                            "github-delete.json");
        CHECK(del->event == HOOK_EVENT_PUSH && del->deleted && !del->created);
        CHECK_STREQ(del->branch, "feature");
        CHECK_STREQ(del->after, "0000000000000000000000000000000000000000");
        CHECK(!del->commit_message && !del->commit_author_name);

        ping = parse_fixture(
                HOOK_PROVIDER_GITHUB,
                (HookHeader[]) { { "X-GitHub-Event", "ping" }, { "X-GitHub-Delivery", uuid }, {} },
                "github-ping.json");
        CHECK(ping->event == HOOK_EVENT_PING);
        CHECK_STREQ(ping->delivery_id, uuid);
        CHECK(!ping->ref && !ping->branch && !ping->clone_url && !ping->after[0]);
}

static void test_gitea_payloads(void) {
        _cleanup_(hook_push_freep) HookPush *gitea = NULL, *forgejo = NULL;
        static const char uuid[] = "a4a3d8bc-4f1e-4d3e-9a2f-0f8c5c1b7e11";
        const char *id = "bffeb74224043ba2feb48d137756c8a9331c449a";

        /* as Gitea sends it: its own headers and GitHub's */
        gitea = parse_fixture(HOOK_PROVIDER_GITEA,
                              (HookHeader[]) { { "X-GitHub-Event", "push" },
                                               { "X-GitHub-Delivery", "not-this-one" },
                                               { "X-Gitea-Event", "push" },
                                               { "X-Gitea-Delivery", uuid },
                                               {} },
                              "gitea-push.json");
        CHECK(gitea->provider == HOOK_PROVIDER_GITEA && gitea->event == HOOK_EVENT_PUSH);
        CHECK_STREQ(gitea->delivery_id, uuid);
        CHECK_STREQ(gitea->branch, "main");
        CHECK_STREQ(gitea->after, id);
        CHECK_STREQ(gitea->before, "28e1879d029cb852e4844d9c718537df08844e03");
        CHECK_STREQ(gitea->repository, "alice/shop");
        CHECK_STREQ(gitea->clone_url, "https://git.example.com/alice/shop.git");
        CHECK_STREQ(gitea->ssh_url, "git@git.example.com:alice/shop.git");
        CHECK_STREQ(gitea->pusher, "alice");
        CHECK_STREQ(gitea->commit_message, "Serve the new price list\n");
        CHECK_STREQ(gitea->commit_author_email, "alice@example.com");

        forgejo = parse_fixture(HOOK_PROVIDER_FORGEJO,
                                (HookHeader[]) { { "X-Forgejo-Event", "push" },
                                                 { "X-Forgejo-Delivery", uuid },
                                                 { "X-Gitea-Event", "push" },
                                                 {} },
                                "gitea-push.json");
        CHECK(forgejo->provider == HOOK_PROVIDER_FORGEJO && forgejo->event == HOOK_EVENT_PUSH);
        CHECK_STREQ(forgejo->delivery_id, uuid);
        CHECK_STREQ(forgejo->after, id);
}

static void test_gitlab_payloads(void) {
        _cleanup_(hook_push_freep) HookPush *push = NULL, *tag = NULL, *del = NULL, *retry = NULL;
        static const char uuid[] = "9cdd2c6d-2f40-4f8e-9b6a-2c1a43a8d2f0";

        push = parse_fixture(HOOK_PROVIDER_GITLAB,
                             (HookHeader[]) { { "X-Gitlab-Event", "Push Hook" },
                                              { "X-Gitlab-Event-UUID", uuid },
                                              { "X-Gitlab-Token", "t" },
                                              {} },
                             "gitlab-push.json");
        CHECK(push->provider == HOOK_PROVIDER_GITLAB && push->event == HOOK_EVENT_PUSH);
        CHECK_STREQ(push->event_name, "Push Hook");
        CHECK_STREQ(push->delivery_id, uuid);
        CHECK_STREQ(push->branch, "main");
        CHECK_STREQ(push->after, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
        CHECK_STREQ(push->repository, "mike/diaspora");
        CHECK_STREQ(push->clone_url, "http://example.com/mike/diaspora.git");
        CHECK_STREQ(push->ssh_url, "git@example.com:mike/diaspora.git");
        CHECK_STREQ(push->web_url, "http://example.com/mike/diaspora");
        CHECK_STREQ(push->pusher, "jsmith");
        /* the head commit is the entry of commits[] whose id is after, not the first */
        CHECK_STREQ(push->commit_message, "fixed readme");
        CHECK_STREQ(push->commit_author_name, "GitLab dev user");

        /* a retry carries the same Idempotency-Key, which is the better replay key */
        retry = parse_fixture(HOOK_PROVIDER_GITLAB,
                              (HookHeader[]) { { "X-Gitlab-Event", "Push Hook" },
                                               { "X-Gitlab-Event-UUID", uuid },
                                               { "Idempotency-Key", "f2a1" },
                                               {} },
                              "gitlab-push.json");
        CHECK_STREQ(retry->delivery_id, "f2a1");

        tag = parse_fixture(HOOK_PROVIDER_GITLAB,
                            (HookHeader[]) { { "X-Gitlab-Event", "Tag Push Hook" }, {} }, "gitlab-tag.json");
        CHECK(tag->event == HOOK_EVENT_TAG_PUSH && tag->created);
        CHECK_STREQ(tag->tag, "v1.0.0");
        CHECK(!tag->branch && !tag->commit_message);

        del = parse_fixture(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Gitlab-Event", "Push Hook" }, {} },
                            "gitlab-delete.json");
        CHECK(del->event == HOOK_EVENT_PUSH && del->deleted);
        CHECK_STREQ(del->branch, "feature");
        CHECK(!del->web_url || streq(del->web_url, "http://example.com/mike/diaspora"));
}

/* Git allows UTF-8 branch names; GitHub sends them as they are. */
static void test_utf8_branch(void) {
        _cleanup_free_ char *body = NULL, *edited = NULL, *error = NULL;
        _cleanup_(hook_push_freep) HookPush *push = NULL;
        size_t size;
        char *at;

        body = fixture("github-push.json", &size);
        at = strstr(body, "refs/heads/main");
        CHECK(at);
        CHECK(asprintf(&edited, "%.*srefs/heads/f\u00fcnf%s", (int) (at - body), body,
                       at + strlen("refs/heads/main")) > 0);
        if (parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "push" }, {} }, edited,
                  strlen(edited), &push, &error) < 0)
                TEST_FAIL("a UTF-8 branch name was refused: %s", error);
        CHECK_STREQ(push->branch, "f\xc3\xbcnf");
}

static void test_other_events(void) {
        _cleanup_(hook_push_freep) HookPush *push = NULL;
        _cleanup_free_ char *error = NULL;

        /* not a push: reported by name, its body never read */
        CHECK(parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "issues" }, {} }, "not json",
                    8, &push, &error) == 0);
        CHECK(push->event == HOOK_EVENT_OTHER && !push->ref);
        CHECK_STREQ(push->event_name, "issues");
        push = hook_push_free(push);
        CHECK(parse(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Event", "delete" }, {} }, "", 0, &push,
                    &error) == 0);
        CHECK(push->event == HOOK_EVENT_OTHER);
        push = hook_push_free(push);
        CHECK(parse(HOOK_PROVIDER_GITLAB, (HookHeader[]) { { "X-Gitlab-Event", "Merge Request Hook" }, {} },
                    "{}", 2, &push, &error) == 0);
        CHECK(push->event == HOOK_EVENT_OTHER);
        push = hook_push_free(push);
        /* Gitea has no ping */
        CHECK(parse(HOOK_PROVIDER_GITEA, (HookHeader[]) { { "X-Gitea-Event", "ping" }, {} }, "{}", 2, &push,
                    &error) == 0);
        CHECK(push->event == HOOK_EVENT_OTHER);
}

/* body is github-push.json with from replaced by to (once); the parse must fail saying want. */
static void check_refused(HookProvider provider, const HookHeader *h, const char *name, const char *from,
                          const char *to, const char *want) {
        _cleanup_free_ char *body = NULL, *edited = NULL, *error = NULL;
        HookPush *push;
        size_t size;
        char *at;

        body = fixture(name, &size);
        at = strstr(body, from);
        if (!at)
                TEST_FAIL("%s has no '%s'", name, from);
        CHECK(asprintf(&edited, "%.*s%s%s", (int) (at - body), body, to, at + strlen(from)) > 0);
        if (parse(provider, h, edited, strlen(edited), &push, &error) != -EBADMSG)
                TEST_FAIL("%s with '%s' for '%s' was accepted", name, to, from);
        if (!strstr(error, want))
                TEST_FAIL("'%s' does not say '%s'", error, want);
}

static void test_strict(void) {
        const HookHeader *gh = (HookHeader[]) { { "X-GitHub-Event", "push" }, {} };
        const HookHeader *gt = (HookHeader[]) { { "X-Gitea-Event", "push" }, {} };
        const HookHeader *gl = (HookHeader[]) { { "X-Gitlab-Event", "Push Hook" }, {} };
        const HookHeader *gl_tag = (HookHeader[]) { { "X-Gitlab-Event", "Tag Push Hook" }, {} };
        const char *gp = "github-push.json";

        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"ref\": \"refs/heads/main\"", "\"ref\": 1",
                      "GitHub push payload's 'ref' is not a string");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"ref\": \"refs/heads/main\"", "\"reff\": \"x\"",
                      "has no 'ref'");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"refs/heads/main\"", "\"heads/main\"", "refs/");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"refs/heads/main\"", "\"refs/heads/ma\\nin\"",
                      "control characters");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"refs/heads/main\"", "\"refs/heads/ma in\"",
                      "without spaces");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"refs/heads/main\"", "\"refs/heads/m\\u0000in\"",
                      "not valid JSON");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\",\n  \"repo",
                      "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1\",\n  \"repo", "'after' is not a commit id");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\",\n  \"repo",
                      "0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C\",\n  \"repo", "'after' is not a commit id");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp,
                      "\"before\": \"6113728f27ae82c7b1a177c8d03f9e96e0adf246\"", "\"before\": null",
                      "'before' is not a string");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"repository\": {", "\"repository\": 1, \"x\": {",
                      "'repository' is not an object");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"repository\": {", "\"repositori\": {",
                      "has no 'repository'");
        check_refused(
                HOOK_PROVIDER_GITHUB, gh, gp, "\"clone_url\": \"https://github.com/octo-org/shop.git\"",
                "\"clone_url\": [\"https://github.com/octo-org/shop.git\"]", "'clone_url' is not a string");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"clone_url\"", "\"clone-url\"", "has no 'clone_url'");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"ssh_url\": \"git", "\"ssh_url\": \"\\tgit",
                      "'ssh_url' is not a URL");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"full_name\": \"octo-org/shop\"",
                      "\"full_name\": \"\"", "'full_name' is not a repository name");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"deleted\": false", "\"deleted\": true",
                      "'deleted' contradicts 'after'");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"deleted\": false", "\"deleted\": \"no\"",
                      "'deleted' is not true or false");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"commits\": [", "\"commits\": \"x\", \"c\": [",
                      "'commits' is not an array");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"commits\": [", "\"commits\": [1, ", "not an object");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"head_commit\": {", "\"head_commit\": \"x\", \"h\": {",
                      "'head_commit' is not an object");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\n    \"message\": \"Update",
                      "\"message\": 7, \"m\": \"Update", "is not a string");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"pusher\": {", "\"pusher\": \"Codertocat\", \"p\": {",
                      "'pusher' is not an object");
        /* duplicate keys are refused, not resolved one way or the other */
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "\"ref\": \"refs/heads/main\"",
                      "\"ref\": \"refs/heads/main\", \"ref\": \"refs/heads/evil\"", "not valid JSON");
        check_refused(HOOK_PROVIDER_GITHUB, gh, gp, "{", "[", "not valid JSON");

        check_refused(HOOK_PROVIDER_GITEA, gt, "gitea-push.json", "\"pusher\": {",
                      "\"pusher\": \"alice\", \"p\": {", "Gitea push payload's 'pusher' is not an object");
        check_refused(HOOK_PROVIDER_GITEA, gt, "gitea-push.json", "\"id\": \"bffeb", "\"idx\": \"bffeb",
                      "without a string 'id'");

        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"object_kind\": \"push\"",
                      "\"object_kind\": \"tag_push\"", "object_kind is 'tag_push', not 'push'");
        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"object_kind\": \"push\",", "",
                      "has no 'object_kind'");
        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"git_http_url\"", "\"http_url2\"",
                      "has no 'git_http_url'");
        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"project\": {", "\"projekt\": {",
                      "has no 'project'");
        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"checkout_sha\": \"da15",
                      "\"checkout_sha\": \"xa15", "'checkout_sha' is not a commit id");
        check_refused(HOOK_PROVIDER_GITLAB, gl, "gitlab-push.json", "\"user_username\": \"jsmith\"",
                      "\"user_username\": {}", "'user_username' is not a string");
        check_refused(HOOK_PROVIDER_GITLAB, gl_tag, "gitlab-tag.json", "refs/tags/v1.0.0",
                      "refs/heads/v1.0.0", "does not match its X-Gitlab-Event 'Tag Push Hook'");
}

static void test_strict_body(void) {
        const HookHeader *gh = (HookHeader[]) { { "X-GitHub-Event", "push" }, {} };
        _cleanup_free_ char *error = NULL, *deep = NULL;
        HookPush *push;
        size_t n = 200;

        CHECK(parse(HOOK_PROVIDER_GITHUB, gh, "", 0, &push, &error) == -EBADMSG);
        CHECK(strstr(error, "empty"));
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB, gh, "[]", 2, &push, &error) == -EBADMSG);
        CHECK(strstr(error, "not a JSON object"));
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "ping" }, {} }, "zen", 3,
                    &push, &error) == -EBADMSG);
        CHECK(strstr(error, "GitHub ping payload is not valid JSON"));
        free(error);
        /* GitHub's default content type */
        CHECK(parse(HOOK_PROVIDER_GITHUB, gh, "payload=%7B%7D", 14, &push, &error) == -EBADMSG);
        CHECK(strstr(error, "content type to application/json"));
        free(error);
        /* a NUL inside the body */
        CHECK(parse(HOOK_PROVIDER_GITHUB, gh, "{}\0{}", 5, &push, &error) == -EBADMSG);
        free(error);

        deep = malloc(2 * n + 1);
        CHECK(deep);
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = 0;
        CHECK(parse(HOOK_PROVIDER_GITHUB, gh, deep, 2 * n, &push, &error) == -EBADMSG);
        free(error);

        /* the headers are outside input too */
        CHECK(parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { {} }, "{}", 2, &push, &error) == -EBADMSG);
        CHECK(strstr(error, "no X-GitHub-Event header"));
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "pu\tsh" }, {} }, "{}", 2,
                    &push, &error) == -EBADMSG);
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB,
                    (HookHeader[]) { { "X-GitHub-Event",
                                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
                                     {} },
                    "{}", 2, &push, &error) == -EBADMSG);
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-GitHub-Event", "" }, {} }, "{}", 2, &push,
                    &error) == -EBADMSG);
        free(error);
        CHECK(parse(HOOK_PROVIDER_GITHUB,
                    (HookHeader[]) { { "X-GitHub-Event", "ping" }, { "X-GitHub-Delivery", "a\x01" }, {} },
                    "{}", 2, &push, &error) == -EBADMSG);
        CHECK(strstr(error, "delivery id"));
        free(error);
        CHECK(parse(_HOOK_PROVIDER_MAX, gh, "{}", 2, &push, &error) == -EBADMSG);
        free(error);
        error = NULL;
        /* NULL ret_error is allowed */
        CHECK(hook_push_parse(HOOK_PROVIDER_GITHUB, &(HookHeaders) { hook_header_array_lookup, gh }, "[]", 2,
                              &push, NULL) == -EBADMSG);
}

/* A fixture signed as GitHub signs it, verified, then parsed: the caller's whole path. */
static void test_signed_fixture(void) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        char sig[sizeof "sha256=" + 2 * sizeof mac];
        _cleanup_free_ char *body = NULL;
        size_t size;

        body = fixture("github-push.json", &size);
        crypto_auth_hmacsha256_init(&st, (const unsigned char *) "whsec", 5);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) body, size);
        crypto_auth_hmacsha256_final(&st, mac);
        memcpy(sig, "sha256=", 7);
        sodium_bin2hex(sig + 7, sizeof sig - 7, mac, sizeof mac);
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     "whsec") == 0);
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     "whsed") == -EACCES);
        body[size - 2] ^= 0x20;
        CHECK(verify(HOOK_PROVIDER_GITHUB, (HookHeader[]) { { "X-Hub-Signature-256", sig }, {} }, body,
                     "whsec") == -EACCES);
}

int main(int argc, char *argv[]) {
        if (argc < 2)
                TEST_FAIL("usage: test-hooks FIXTURE_DIR");
        fixture_dir = argv[1];
        CHECK(sodium_init() >= 0);

        test_github_example();
        test_github_malformed();
        test_unsigned_and_refused();
        test_gitea_forgejo();
        test_gitlab();
        test_hex();
        test_detect();
        test_github_payloads();
        test_gitea_payloads();
        test_gitlab_payloads();
        test_utf8_branch();
        test_other_events();
        test_strict();
        test_strict_body();
        test_signed_fixture();
        return 0;
}
