/* Webhook payloads: the JSON body of a push (or ping) from GitHub, Gitea, Forgejo or GitLab, reduced to the
 * one HookPush a build trigger needs.  Strict: a payload that does not have the documented shape is refused
 * with one sentence, never half-read; it is parsed only after hook_signature_verify() accepted it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "hook-provider.h"

/* Limits on the strings kept from a payload (the body itself is bounded by HOOK_BODY_MAX). */
#define HOOK_EVENT_NAME_MAX 64U   /* an event header's value: "push", "Tag Push Hook" */
#define HOOK_DELIVERY_ID_MAX 128U /* a delivery id: a UUID is 36 */
#define HOOK_REF_MAX 1024U        /* "refs/heads/…" */
#define HOOK_URL_MAX 2048U        /* clone and web URLs, "owner/name" */
#define HOOK_OID_HEX_MAX 64U      /* a commit id: 40 hex digits (SHA-1), 64 for SHA-256 repositories */

typedef enum HookEvent {
        HOOK_EVENT_PUSH,     /* a push to a ref outside refs/tags/ (branch set for refs/heads/) */
        HOOK_EVENT_TAG_PUSH, /* a push to refs/tags/… (GitHub and Gitea push events, GitLab Tag Push Hook) */
        HOOK_EVENT_PING,     /* GitHub's ping when the webhook is created: the caller answers 200 */
        HOOK_EVENT_OTHER, /* any other event (issues, create, Merge Request Hook…); its body is not read */
        _HOOK_EVENT_MAX,
        _HOOK_EVENT_INVALID = -EINVAL,
} HookEvent;

/* "push", "tag_push", "ping", "other". */
const char *hook_event_to_string(HookEvent e);
HookEvent hook_event_from_string(const char *s);

typedef struct HookPush {
        HookProvider provider;
        HookEvent event;
        char *event_name;  /* the event header's value as sent: "push", "Push Hook", "ping", "issues" */
        char *delivery_id; /* X-GitHub-Delivery, X-Gitea-Delivery, X-Forgejo-Delivery, or GitLab's
                            * Idempotency-Key (the same across retries), else X-Gitlab-Event-UUID;
                            * NULL when the request has none.  The caller's replay guard keys on it. */

        /* The rest is set for HOOK_EVENT_PUSH and HOOK_EVENT_TAG_PUSH, and NULL / empty / false otherwise. */
        char *ref;                         /* "refs/heads/main" */
        char *branch;                      /* "main": ref without "refs/heads/"; NULL for any other ref */
        char *tag;                         /* "v1.0": ref without "refs/tags/"; NULL for any other ref */
        char before[HOOK_OID_HEX_MAX + 1]; /* lowercase hex; all zeros when the push created the ref */
        char after[HOOK_OID_HEX_MAX + 1];  /* lowercase hex; all zeros when the push deleted the ref */
        bool created;                      /* before is all zeros */
        bool deleted;     /* after is all zeros: nothing to build (the caller answers 202) */
        char *repository; /* "owner/name" (GitLab: the project's path_with_namespace) */
        char *clone_url;  /* HTTP(S) clone URL: clone_url, GitLab git_http_url */
        char *ssh_url;    /* ssh_url, GitLab git_ssh_url; NULL when the payload has none */
        char *web_url;    /* html_url, GitLab web_url; NULL when the payload has none */
        char *pusher; /* who pushed (GitHub pusher.name, Gitea pusher.login, GitLab user_username) or NULL */
        /* The pushed head commit (head_commit, or the entry of commits[] whose id is after), when the
         * payload describes it; all NULL otherwise (a deletion, a GitLab tag push). */
        char *commit_message;
        char *commit_author_name;
        char *commit_author_email;
} HookPush;

/* Frees p and its strings; accepts NULL; returns NULL.  _cleanup_(hook_push_freep) for a local. */
HookPush *hook_push_free(HookPush *p);
void hook_push_freep(HookPush **p);

/* Reads a delivery of provider (hook_provider_detect()) with its headers and body of body_size bytes
 * (at most HOOK_BODY_MAX; the caller refuses more with 413).  The event comes from the provider's event
 * header; a push or ping body must be a JSON object (at most JSON_DEPTH_MAX deep, no duplicate keys) with
 * the fields the provider documents, of the documented types.  -EBADMSG with one sentence in *ret_error
 * (caller frees; may be NULL) for anything else; -ENOMEM. */
int hook_push_parse(HookProvider provider, const HookHeaders *headers, const char *body, size_t body_size,
                    HookPush **ret, char **ret_error);
