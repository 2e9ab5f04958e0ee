/* Which git server sent a webhook delivery, told from its event header, and how the hook code reads request
 * headers (a lookup callback, so it needs no HTTP server).  Invariant: a request is attributed to exactly one
 * provider; Forgejo also sends Gitea's headers and both send GitHub's, so the most specific one wins. */
#pragma once

#include <errno.h>
#include <stddef.h>

typedef enum HookProvider {
        HOOK_PROVIDER_GITHUB,
        HOOK_PROVIDER_GITEA,
        HOOK_PROVIDER_FORGEJO,
        HOOK_PROVIDER_GITLAB,
        _HOOK_PROVIDER_MAX,
        _HOOK_PROVIDER_INVALID = -EINVAL,
} HookProvider;

/* "github", "gitea", "forgejo", "gitlab"; NULL for a value out of range. */
const char *hook_provider_to_string(HookProvider p);
HookProvider hook_provider_from_string(const char *s);

/* Returns the value of request header name (matched case-insensitively, as HTTP requires), or NULL when
 * the request has none.  Over civetweb: a two-line function returning mg_get_header(userdata, name), with
 * userdata the connection.  The value must stay valid while the hook functions run. */
typedef const char *(*HookHeaderLookup)(const void *userdata, const char *name);

typedef struct HookHeaders {
        HookHeaderLookup lookup;
        const void *userdata;
} HookHeaders;

/* A header as tests and the fuzz target give them: an array of these ended by { NULL, NULL }. */
typedef struct HookHeader {
        const char *name;
        const char *value;
} HookHeader;

/* HookHeaderLookup over a { NULL, NULL }-terminated HookHeader array (userdata); the first match wins. */
const char *hook_header_array_lookup(const void *userdata, const char *name);

/* The value of header name, or NULL. */
const char *hook_header(const HookHeaders *headers, const char *name);

/* The provider whose event header the request carries: X-Forgejo-Event, else X-Gitea-Event, else
 * X-Gitlab-Event, else X-GitHub-Event.  -EPROTONOSUPPORT (with one sentence in *ret_error) when it carries
 * none of them: the caller refuses the request (400). */
int hook_provider_detect(const HookHeaders *headers, HookProvider *ret, char **ret_error);

/* The name of the provider's event header: "X-GitHub-Event"; NULL for a value out of range. */
const char *hook_provider_event_header(HookProvider p);
