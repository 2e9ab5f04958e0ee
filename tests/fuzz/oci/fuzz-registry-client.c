/* libFuzzer target for what a registry (or a person) hands the push client: a WWW-Authenticate challenge and
 * a registry URL.  Neither parser may crash or read out of bounds; a parsed challenge's fields are terminated
 * within their buffers and a URL taken has an authority without '/', '@' or whitespace. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry-client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RegistryChallenge c;
        char *text, *authority = NULL, *error = NULL;

        if (size > 8192)
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (registry_challenge_parse(text, &c) >= 0 &&
            (strnlen(c.scheme, sizeof c.scheme) == sizeof c.scheme ||
             strnlen(c.realm, sizeof c.realm) == sizeof c.realm ||
             strnlen(c.service, sizeof c.service) == sizeof c.service ||
             strnlen(c.scope, sizeof c.scope) == sizeof c.scope))
                __builtin_trap();
        for (int insecure = 0; insecure < 2; insecure++) {
                if (registry_url_parse(text, insecure, &authority, &error) >= 0) {
                        if (!authority[0] || strpbrk(authority, "/@ \t\r\n?#"))
                                __builtin_trap();
                } else if (!error)
                        __builtin_trap();
                free(authority);
                free(error);
                authority = error = NULL;
        }
        free(text);
        return 0;
}
