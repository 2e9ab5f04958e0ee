/* Provider names, header lookup and provider detection for webhook deliveries.  Detection looks for the
 * most specific event header first, because Forgejo sends Gitea's and GitHub's headers too, and Gitea
 * sends GitHub's. */
#include "hook-provider.h"

#include <assert.h>
#include <strings.h>

#include "macro.h"
#include "string-util.h"

static const char *const provider_names[_HOOK_PROVIDER_MAX] = {
        [HOOK_PROVIDER_GITHUB] = "github",
        [HOOK_PROVIDER_GITEA] = "gitea",
        [HOOK_PROVIDER_FORGEJO] = "forgejo",
        [HOOK_PROVIDER_GITLAB] = "gitlab",
};

static const char *const event_headers[_HOOK_PROVIDER_MAX] = {
        [HOOK_PROVIDER_GITHUB] = "X-GitHub-Event",
        [HOOK_PROVIDER_GITEA] = "X-Gitea-Event",
        [HOOK_PROVIDER_FORGEJO] = "X-Forgejo-Event",
        [HOOK_PROVIDER_GITLAB] = "X-Gitlab-Event",
};

/* The order detection tries: the most specific first. */
static const HookProvider detect_order[] = {
        HOOK_PROVIDER_FORGEJO,
        HOOK_PROVIDER_GITEA,
        HOOK_PROVIDER_GITLAB,
        HOOK_PROVIDER_GITHUB,
};

const char *hook_provider_to_string(HookProvider p) {
        if (p < 0 || p >= _HOOK_PROVIDER_MAX)
                return NULL;
        return provider_names[p];
}

HookProvider hook_provider_from_string(const char *s) {
        if (!s)
                return _HOOK_PROVIDER_INVALID;
        for (HookProvider p = 0; p < _HOOK_PROVIDER_MAX; p++)
                if (streq(provider_names[p], s))
                        return p;
        return _HOOK_PROVIDER_INVALID;
}

const char *hook_provider_event_header(HookProvider p) {
        if (p < 0 || p >= _HOOK_PROVIDER_MAX)
                return NULL;
        return event_headers[p];
}

const char *hook_header_array_lookup(const void *userdata, const char *name) {
        for (const HookHeader *h = userdata; h && h->name; h++)
                if (strcasecmp(h->name, name) == 0)
                        return h->value;
        return NULL;
}

const char *hook_header(const HookHeaders *headers, const char *name) {
        assert(headers && headers->lookup && name);
        return headers->lookup(headers->userdata, name);
}

int hook_provider_detect(const HookHeaders *headers, HookProvider *ret, char **ret_error) {
        assert(headers && ret);

        for (size_t i = 0; i < ELEMENTSOF(detect_order); i++)
                if (hook_header(headers, event_headers[detect_order[i]])) {
                        *ret = detect_order[i];
                        return 0;
                }
        return errmsg_set(ret_error, -EPROTONOSUPPORT,
                          "The request has none of the event headers X-GitHub-Event, X-Gitea-Event, "
                          "X-Forgejo-Event or X-Gitlab-Event, so it is not a webhook from a git server "
                          "Slipway knows.");
}
