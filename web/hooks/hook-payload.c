/* Push payload parsing for hook-payload.h.  One table per provider names where each field lives; the
 * walk is the same for all.  Invariant: every string a HookPush holds was type-checked, bounded and (for
 * refs, ids and URLs) free of control characters before it was copied. */
#include "hook-payload.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "string-util.h"

#define REFS_HEADS "refs/heads/"
#define REFS_TAGS "refs/tags/"
#define SHA1_HEX_LEN 40U
#define FORM_PREFIX "payload="

static const char *const event_names[_HOOK_EVENT_MAX] = {
        [HOOK_EVENT_PUSH] = "push",
        [HOOK_EVENT_TAG_PUSH] = "tag_push",
        [HOOK_EVENT_PING] = "ping",
        [HOOK_EVENT_OTHER] = "other",
};

/* Where a provider's push payload keeps each field. */
typedef struct PushShape {
        const char *repository;  /* the repository object */
        const char *full_name;   /* in it: "owner/name" */
        const char *clone_url;   /* in it, required */
        const char *ssh_url;     /* in it, optional */
        const char *web_url;     /* in it, optional */
        const char *head_commit; /* top-level head commit object, optional; NULL: the provider has none */
        const char *pusher; /* top-level object holding the pusher's name; NULL: pusher_key is top-level */
        const char *pusher_key;
} PushShape;

static const PushShape github_shape = {
        .repository = "repository",
        .full_name = "full_name",
        .clone_url = "clone_url",
        .ssh_url = "ssh_url",
        .web_url = "html_url",
        .head_commit = "head_commit",
        .pusher = "pusher",
        .pusher_key = "name",
};

/* Gitea and Forgejo send GitHub's shape, with the pusher as a user object. */
static const PushShape gitea_shape = {
        .repository = "repository",
        .full_name = "full_name",
        .clone_url = "clone_url",
        .ssh_url = "ssh_url",
        .web_url = "html_url",
        .head_commit = "head_commit",
        .pusher = "pusher",
        .pusher_key = "login",
};

static const PushShape gitlab_shape = {
        .repository = "project",
        .full_name = "path_with_namespace",
        .clone_url = "git_http_url",
        .ssh_url = "git_ssh_url",
        .web_url = "web_url",
        .head_commit = NULL,
        .pusher = NULL,
        .pusher_key = "user_username",
};

typedef struct Parse {
        const char *what; /* "GitHub push payload" */
        char **ret_error;
} Parse;

const char *hook_event_to_string(HookEvent e) {
        if (e < 0 || e >= _HOOK_EVENT_MAX)
                return NULL;
        return event_names[e];
}

HookEvent hook_event_from_string(const char *s) {
        if (!s)
                return _HOOK_EVENT_INVALID;
        for (HookEvent e = 0; e < _HOOK_EVENT_MAX; e++)
                if (streq(event_names[e], s))
                        return e;
        return _HOOK_EVENT_INVALID;
}

HookPush *hook_push_free(HookPush *p) {
        if (!p)
                return NULL;
        free(p->event_name);
        free(p->delivery_id);
        free(p->ref);
        free(p->branch);
        free(p->tag);
        free(p->repository);
        free(p->clone_url);
        free(p->ssh_url);
        free(p->web_url);
        free(p->pusher);
        free(p->commit_message);
        free(p->commit_author_name);
        free(p->commit_author_email);
        free(p);
        return NULL;
}

void hook_push_freep(HookPush **p) {
        hook_push_free(*p);
}

/* Printable ASCII only, at most max bytes: header values and refs, ids and URLs as we keep them. */
static bool token_ok(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);

        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f)
                        return false;
        return true;
}

/* Non-empty, and free of control characters (UTF-8 above ASCII is fine: jansson validated it). */
static bool text_ok(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);

        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

/* A ref as git allows it: text without spaces (git refuses those; UTF-8 names are fine). */
static bool ref_ok(const char *s, size_t max) {
        return text_ok(s, max) && !strchr(s, ' ');
}

static bool oid_ok(const char *s) {
        size_t n = strlen(s);

        if (n != SHA1_HEX_LEN && n != HOOK_OID_HEX_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool oid_is_zero(const char *s) {
        return strspn(s, "0") == strlen(s);
}

/* "The GitHub push payload's 'after' is not a commit id …." */
static int bad(const Parse *p, const char *field, const char *must) {
        return errmsg_set(p->ret_error, -EBADMSG, "The %s's '%s' %s.", p->what, field, must);
}

static int dup_into(char **dst, const char *s) {
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

/* A required string field of obj (named path in errors) that passes ok(). */
static int get_required(const Parse *p, json_t *obj, const char *key, const char *path,
                        bool (*ok)(const char *, size_t), size_t max, const char *must, const char **ret) {
        const char *s = NULL;
        int r = json_get_string(obj, key, &s);

        if (r == -ENOENT)
                return errmsg_set(p->ret_error, -EBADMSG, "The %s has no '%s'.", p->what, path);
        if (r < 0)
                return bad(p, path, "is not a string");
        if (ok && !ok(s, max))
                return bad(p, path, must);
        *ret = s;
        return 0;
}

/* An optional string field: absent and null give NULL; another type, or a value failing ok(), -EBADMSG. */
static int get_optional(const Parse *p, json_t *obj, const char *key, const char *path,
                        bool (*ok)(const char *, size_t), size_t max, const char *must, char **ret) {
        json_t *v = json_object_get(obj, key);

        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return bad(p, path, "is not a string");
        if (ok && !ok(json_string_value(v), max))
                return bad(p, path, must);
        return dup_into(ret, json_string_value(v));
}

/* An optional object field: absent and null give NULL. */
static int get_object_opt(const Parse *p, json_t *obj, const char *key, json_t **ret) {
        json_t *v = json_object_get(obj, key);

        if (v && !json_is_null(v) && !json_is_object(v))
                return bad(p, key, "is not an object");
        *ret = v && json_is_object(v) ? v : NULL;
        return 0;
}

static int parse_oid(const Parse *p, json_t *root, const char *key, char ret[HOOK_OID_HEX_MAX + 1]) {
        const char *s = NULL;
        int r = get_required(p, root, key, key, NULL, 0, NULL, &s);

        if (r < 0)
                return r;
        if (!oid_ok(s))
                return bad(p, key, "is not a commit id of 40 or 64 lowercase hex digits");
        strcpy(ret, s);
        return 0;
}

/* commit: a commit object with message and author {name, email}. */
static int parse_commit(const Parse *p, json_t *commit, HookPush *push) {
        json_t *author = NULL;
        int r;

        r = get_optional(p, commit, "message", "message", NULL, 0, NULL, &push->commit_message);
        if (r < 0)
                return r;
        r = get_object_opt(p, commit, "author", &author);
        if (r < 0)
                return r;
        if (!author)
                return 0;
        r = get_optional(p, author, "name", "author.name", NULL, 0, NULL, &push->commit_author_name);
        if (r < 0)
                return r;
        return get_optional(p, author, "email", "author.email", NULL, 0, NULL, &push->commit_author_email);
}

/* The head commit: head_commit when the shape has one and it is set, else the commits[] entry whose id is
 * after.  Every entry of commits[] must be an object with a string id. */
static int parse_head_commit(const Parse *p, const PushShape *shape, json_t *root, HookPush *push) {
        json_t *head = NULL, *commits, *c;
        size_t i;
        int r;

        if (shape->head_commit) {
                r = get_object_opt(p, root, shape->head_commit, &head);
                if (r < 0)
                        return r;
        }
        commits = json_object_get(root, "commits");
        if (commits && !json_is_array(commits))
                return bad(p, "commits", "is not an array");
        json_array_foreach(commits, i, c) {
                const char *id;

                if (!json_is_object(c))
                        return bad(p, "commits", "has an entry that is not an object");
                if (json_get_string(c, "id", &id) < 0)
                        return bad(p, "commits", "has an entry without a string 'id'");
                if (!head && streq(id, push->after))
                        head = c;
        }
        if (!head)
                return 0;
        return parse_commit(p, head, push);
}

static int parse_push(const Parse *p, const PushShape *shape, json_t *root, HookPush *push) {
        const char *ref = NULL, *s = NULL;
        json_t *repo, *who = NULL, *deleted;
        int r = 0;

        r = get_required(p, root, "ref", "ref", ref_ok, HOOK_REF_MAX,
                         "is not a ref without spaces or control characters", &ref);
        if (r < 0)
                return r;
        if (!startswith(ref, "refs/"))
                return bad(p, "ref", "does not start with 'refs/'");
        r = dup_into(&push->ref, ref);
        if (r < 0)
                return r;
        if (startswith(ref, REFS_HEADS) && ref[strlen(REFS_HEADS)])
                r = dup_into(&push->branch, ref + strlen(REFS_HEADS));
        else if (startswith(ref, REFS_TAGS) && ref[strlen(REFS_TAGS)])
                r = dup_into(&push->tag, ref + strlen(REFS_TAGS));
        if (r < 0)
                return r;

        r = parse_oid(p, root, "before", push->before);
        if (r < 0)
                return r;
        r = parse_oid(p, root, "after", push->after);
        if (r < 0)
                return r;
        push->created = oid_is_zero(push->before);
        push->deleted = oid_is_zero(push->after);
        /* GitHub also says so in words; a payload contradicting its own ids is not trusted. */
        deleted = json_object_get(root, "deleted");
        if (deleted && !json_is_boolean(deleted))
                return bad(p, "deleted", "is not true or false");
        if (deleted && json_is_true(deleted) != push->deleted)
                return bad(p, "deleted", "contradicts 'after'");

        repo = json_object_get(root, shape->repository);
        if (!repo)
                return errmsg_set(p->ret_error, -EBADMSG, "The %s has no '%s'.", p->what, shape->repository);
        if (!json_is_object(repo))
                return bad(p, shape->repository, "is not an object");
        r = get_required(p, repo, shape->full_name, shape->full_name, text_ok, HOOK_URL_MAX,
                         "is not a repository name", &s);
        if (r < 0)
                return r;
        r = dup_into(&push->repository, s);
        if (r < 0)
                return r;
        r = get_required(p, repo, shape->clone_url, shape->clone_url, token_ok, HOOK_URL_MAX,
                         "is not a URL of printable characters", &s);
        if (r < 0)
                return r;
        r = dup_into(&push->clone_url, s);
        if (r < 0)
                return r;
        r = get_optional(p, repo, shape->ssh_url, shape->ssh_url, token_ok, HOOK_URL_MAX,
                         "is not a URL of printable characters", &push->ssh_url);
        if (r < 0)
                return r;
        r = get_optional(p, repo, shape->web_url, shape->web_url, token_ok, HOOK_URL_MAX,
                         "is not a URL of printable characters", &push->web_url);
        if (r < 0)
                return r;

        who = root;
        if (shape->pusher) {
                r = get_object_opt(p, root, shape->pusher, &who);
                if (r < 0)
                        return r;
        }
        if (who) {
                r = get_optional(p, who, shape->pusher_key, shape->pusher_key, text_ok, HOOK_URL_MAX,
                                 "is not a user name", &push->pusher);
                if (r < 0)
                        return r;
        }

        return parse_head_commit(p, shape, root, push);
}

/* GitLab names the kind in the body too; it must agree with the header. */
static int check_gitlab_kind(const Parse *p, json_t *root, HookEvent event) {
        const char *kind = NULL, *want = event == HOOK_EVENT_TAG_PUSH ? "tag_push" : "push";
        int r = get_required(p, root, "object_kind", "object_kind", NULL, 0, NULL, &kind);
        json_t *checkout;

        if (r < 0)
                return r;
        if (!streq(kind, want))
                return errmsg_set(p->ret_error, -EBADMSG, "The %s's object_kind is '%s', not '%s'.", p->what,
                                  streq(kind, "tag_push") ? "tag_push"
                                  : streq(kind, "push")   ? "push"
                                                          : "other",
                                  want);
        checkout = json_object_get(root, "checkout_sha");
        if (checkout && !json_is_null(checkout) &&
            (!json_is_string(checkout) || !oid_ok(json_string_value(checkout))))
                return bad(p, "checkout_sha", "is not a commit id of 40 or 64 lowercase hex digits");
        return 0;
}

static HookEvent event_of(HookProvider provider, const char *name) {
        switch (provider) {
        case HOOK_PROVIDER_GITHUB:
                if (streq(name, "ping"))
                        return HOOK_EVENT_PING;
                return streq(name, "push") ? HOOK_EVENT_PUSH : HOOK_EVENT_OTHER;
        case HOOK_PROVIDER_GITEA:
        case HOOK_PROVIDER_FORGEJO:
                return streq(name, "push") ? HOOK_EVENT_PUSH : HOOK_EVENT_OTHER;
        case HOOK_PROVIDER_GITLAB:
                if (streq(name, "Push Hook"))
                        return HOOK_EVENT_PUSH;
                if (streq(name, "Tag Push Hook"))
                        return HOOK_EVENT_TAG_PUSH;
                return HOOK_EVENT_OTHER;
        default:
                return _HOOK_EVENT_INVALID;
        }
}

static const char *delivery_of(HookProvider provider, const HookHeaders *headers) {
        switch (provider) {
        case HOOK_PROVIDER_GITHUB:
                return hook_header(headers, "X-GitHub-Delivery");
        case HOOK_PROVIDER_GITEA:
                return hook_header(headers, "X-Gitea-Delivery");
        case HOOK_PROVIDER_FORGEJO:
                return hook_header(headers, "X-Forgejo-Delivery");
        case HOOK_PROVIDER_GITLAB:
                return hook_header(headers, "Idempotency-Key")
                               ?: hook_header(headers, "X-Gitlab-Event-UUID");
        default:
                return NULL;
        }
}

/* "GitHub push payload", "Gitea push payload", "GitHub ping payload", as errors name the body. */
static const char *what_of(HookProvider provider, HookEvent event) {
        static const char *const push_names[_HOOK_PROVIDER_MAX] = {
                [HOOK_PROVIDER_GITHUB] = "GitHub push payload",
                [HOOK_PROVIDER_GITEA] = "Gitea push payload",
                [HOOK_PROVIDER_FORGEJO] = "Forgejo push payload",
                [HOOK_PROVIDER_GITLAB] = "GitLab push payload",
        };

        return event == HOOK_EVENT_PING ? "GitHub ping payload" : push_names[provider];
}

int hook_push_parse(HookProvider provider, const HookHeaders *headers, const char *body, size_t body_size,
                    HookPush **ret, char **ret_error) {
        _cleanup_(hook_push_freep) HookPush *push = NULL;
        _cleanup_json_ json_t *root = NULL;
        const char *event_header, *name, *delivery;
        json_error_t jerr;
        Parse p;
        int r;

        assert(headers && ret && (body || body_size == 0));

        event_header = hook_provider_event_header(provider);
        if (!event_header)
                return errmsg_set(ret_error, -EBADMSG,
                                  "The webhook comes from a git server Slipway does not know.");
        name = hook_header(headers, event_header);
        if (!name)
                return errmsg_set(ret_error, -EBADMSG, "The request has no %s header.", event_header);
        if (!token_ok(name, HOOK_EVENT_NAME_MAX))
                return errmsg_set(ret_error, -EBADMSG, "The %s header is not 1 to %u printable characters.",
                                  event_header, HOOK_EVENT_NAME_MAX);
        delivery = delivery_of(provider, headers);
        if (delivery && !token_ok(delivery, HOOK_DELIVERY_ID_MAX))
                return errmsg_set(ret_error, -EBADMSG,
                                  "The request's delivery id is not 1 to %u printable characters.",
                                  HOOK_DELIVERY_ID_MAX);

        push = calloc(1, sizeof *push);
        if (!push)
                return -ENOMEM;
        push->provider = provider;
        push->event = event_of(provider, name);
        if (dup_into(&push->event_name, name) < 0 ||
            (delivery && dup_into(&push->delivery_id, delivery) < 0))
                return -ENOMEM;
        if (push->event == HOOK_EVENT_OTHER) {
                *ret = TAKE_PTR(push);
                return 0;
        }

        p = (Parse) { .what = what_of(provider, push->event), .ret_error = ret_error };
        if (body_size == 0)
                return errmsg_set(ret_error, -EBADMSG, "The %s is empty; it must be a JSON object.", p.what);
        /* GitHub's and Gitea's other content type, form-encoded JSON: signed alike, but not what we read */
        if (body_size >= strlen(FORM_PREFIX) && memcmp(body, FORM_PREFIX, strlen(FORM_PREFIX)) == 0)
                return errmsg_set(ret_error, -EBADMSG,
                                  "The %s is form-encoded; set the webhook's content type to "
                                  "application/json.",
                                  p.what);
        r = json_parse_buffer(body, body_size, &root, &jerr);
        if (r < 0)
                return errmsg_set(ret_error, -EBADMSG, "The %s is not valid JSON: %s (line %d, column %d).",
                                  p.what, jerr.text, jerr.line, jerr.column);
        if (!json_is_object(root))
                return errmsg_set(ret_error, -EBADMSG, "The %s is not a JSON object.", p.what);

        switch (provider) {
        case HOOK_PROVIDER_GITHUB:
                if (push->event == HOOK_EVENT_PING)
                        break; /* its hook, zen and hook_id are nothing we act on */
                r = parse_push(&p, &github_shape, root, push);
                break;
        case HOOK_PROVIDER_GITEA:
        case HOOK_PROVIDER_FORGEJO:
                r = parse_push(&p, &gitea_shape, root, push);
                break;
        case HOOK_PROVIDER_GITLAB:
                r = check_gitlab_kind(&p, root, push->event);
                if (r >= 0)
                        r = parse_push(&p, &gitlab_shape, root, push);
                break;
        default:
                r = -EBADMSG; /* event_of() gave _HOOK_EVENT_INVALID above for any other */
        }
        if (r < 0)
                return r;

        if (push->event != HOOK_EVENT_PING) {
                bool tag_ref = startswith(push->ref, REFS_TAGS);

                if (provider == HOOK_PROVIDER_GITLAB && (push->event == HOOK_EVENT_TAG_PUSH) != tag_ref)
                        return errmsg_set(ret_error, -EBADMSG,
                                          "The %s's ref '%s' does not match its %s '%s'.", p.what, push->ref,
                                          event_header, name);
                if (tag_ref)
                        push->event = HOOK_EVENT_TAG_PUSH;
        }
        *ret = TAKE_PTR(push);
        return 0;
}
