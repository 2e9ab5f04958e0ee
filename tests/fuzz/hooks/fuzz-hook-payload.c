/* libFuzzer target: a webhook delivery ("Name: value" header lines, an empty line, the body) through
 * provider detection, the signature check and the push parser must never crash or read out of bounds, and
 * a push it accepts must hold what hook-payload.h promises (a refs/ ref, hex ids, flags that match them). */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hook-payload.h"
#include "hook-signature.h"
#include "macro.h"

/* The most header lines the target reads before the body. */
#define FUZZ_HEADERS_MAX 16U

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_oid(const char *s) {
        size_t n = strlen(s);

        return (n == 40 || n == HOOK_OID_HEX_MAX) && strspn(s, "0123456789abcdef") == n;
}

static void check_push(const HookPush *p, HookProvider provider) {
        assert(p->provider == provider);
        assert(p->event >= 0 && p->event < _HOOK_EVENT_MAX);
        assert(p->event_name && p->event_name[0] && strlen(p->event_name) <= HOOK_EVENT_NAME_MAX);
        assert(!p->delivery_id || (p->delivery_id[0] && strlen(p->delivery_id) <= HOOK_DELIVERY_ID_MAX));
        if (p->event != HOOK_EVENT_PUSH && p->event != HOOK_EVENT_TAG_PUSH) {
                assert(!p->ref && !p->branch && !p->tag && !p->clone_url && !p->after[0]);
                return;
        }
        assert(p->ref && strncmp(p->ref, "refs/", 5) == 0 && strlen(p->ref) <= HOOK_REF_MAX);
        assert((p->event == HOOK_EVENT_TAG_PUSH) == (strncmp(p->ref, "refs/tags/", 10) == 0));
        assert(!p->branch || streq(p->branch, p->ref + strlen("refs/heads/")));
        assert(!p->tag || streq(p->tag, p->ref + strlen("refs/tags/")));
        assert(!(p->branch && p->tag));
        assert(is_oid(p->before) && is_oid(p->after));
        assert(p->deleted == (strspn(p->after, "0") == strlen(p->after)));
        assert(p->created == (strspn(p->before, "0") == strlen(p->before)));
        assert(p->repository && p->repository[0] && p->clone_url && p->clone_url[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HookHeader headers[FUZZ_HEADERS_MAX + 1] = {};
        HookHeaders h = { hook_header_array_lookup, headers };
        char *copy, *line, *body, *error = NULL;
        size_t n = 0, body_size;
        HookProvider provider;
        HookPush *push = NULL;
        int r;

        if (size > HOOK_BODY_MAX)
                return 0;
        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = 0;

        /* header lines up to the first empty one; the rest, NULs and all, is the body */
        line = copy;
        body = copy + size;
        for (;;) {
                char *end = memchr(line, '\n', (size_t) (copy + size - line)), *colon;

                if (!end || end == line) {
                        body = end ? end + 1 : copy + size;
                        break;
                }
                *end = 0;
                colon = strchr(line, ':');
                if (colon && n < FUZZ_HEADERS_MAX) {
                        *colon = 0;
                        colon++;
                        while (*colon == ' ')
                                colon++;
                        headers[n++] = (HookHeader) { line, colon };
                }
                line = end + 1;
        }
        body_size = (size_t) (copy + size - body);

        if (hook_provider_detect(&h, &provider, &error) < 0) {
                assert(error && error[0]);
                goto out;
        }
        /* a refusal always says why; only a seed that knows the secret (GitLab's token) passes */
        r = hook_signature_verify(provider, &h, body, body_size, "fuzz-secret-1f0c", &error);
        assert(r == 0 || r == -ENOKEY || r == -EACCES);
        assert(r < 0 ? error && error[0] : !error);
        free(error);
        error = NULL;

        r = hook_push_parse(provider, &h, body, body_size, &push, &error);
        if (r < 0) {
                assert(r == -EBADMSG || r == -ENOMEM);
                assert(r == -ENOMEM || (error && error[0]));
                assert(!push);
        } else {
                assert(!error);
                check_push(push, provider);
        }
out:
        hook_push_free(push);
        free(error);
        free(copy);
        return 0;
}
