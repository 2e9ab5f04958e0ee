/* Decoding the build secrets sent before the build context (see build-secrets.h).  Invariant: every buffer
 * that held a value or its base64 text is wiped before it is freed; messages name ids, never values. */
#include "build-secrets.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "string-util.h"

void build_secret_set_done(BuildSecretSet *s) {
        if (!s)
                return;
        for (size_t k = 0; k < s->n; k++) {
                if (s->secrets[k].data)
                        sodium_memzero((void *) s->secrets[k].data, s->secrets[k].size);
                free((void *) s->secrets[k].data);
                free((char *) s->secrets[k].id);
        }
        free(s->secrets);
        *s = (BuildSecretSet) {};
}

static int fail(char *msg, size_t msg_size, int r, const char *text) {
        snprintf(msg, msg_size, "%s", text);
        return r;
}

static bool id_is_valid(const char *id) {
        size_t n = strlen(id);

        if (n == 0 || n > 255)
                return false;
        for (size_t k = 0; k < n; k++)
                if ((unsigned char) id[k] < 0x20 || id[k] == 0x7f)
                        return false;
        return true;
}

static int decode(json_t *doc, BuildSecretSet *set, char *msg, size_t msg_size) {
        json_t *list = json_object_get(doc, "secrets"), *e;
        size_t idx;
        int r;

        if (!json_is_object(doc) || !json_is_array(list))
                return fail(msg, msg_size, -EBADMSG,
                            "The build secrets must be {\"secrets\": [{\"id\": …, \"value_base64\": …}]}.");
        if (json_array_size(list) > BUILD_SECRETS_MAX) {
                snprintf(msg, msg_size, "More than %u build secrets.", BUILD_SECRETS_MAX);
                return -EFBIG;
        }
        set->secrets = calloc(json_array_size(list) + 1, sizeof *set->secrets);
        if (!set->secrets)
                return -ENOMEM;
        json_array_foreach(list, idx, e) {
                const char *id = json_string_value(json_object_get(e, "id")),
                           *b64 = json_string_value(json_object_get(e, "value_base64"));
                BuildSecret *s = &set->secrets[set->n];
                size_t len, cap;
                uint8_t *data;

                if (!id || !b64 || !id_is_valid(id))
                        return fail(msg, msg_size, -EBADMSG,
                                    "Each build secret needs an \"id\" (1 to 255 printable bytes) and a "
                                    "\"value_base64\" string.");
                for (size_t j = 0; j < set->n; j++)
                        if (streq(set->secrets[j].id, id)) {
                                snprintf(msg, msg_size, "The build secret '%.64s' is given twice.", id);
                                return -EBADMSG;
                        }
                len = strlen(b64);
                if (len / 4U * 3U > BUILD_SECRET_SIZE_MAX + 2U) {
                        snprintf(msg, msg_size, "The build secret '%.64s' is larger than %u KiB.", id,
                                 BUILD_SECRET_SIZE_MAX >> 10);
                        return -EFBIG;
                }
                cap = len / 4U * 3U + 3U;
                data = malloc(cap);
                if (!data)
                        return -ENOMEM;
                s->id = strdup(id);
                s->data = data;
                set->n++;
                if (!s->id)
                        return -ENOMEM;
                r = sodium_base642bin(data, cap, b64, len, NULL, &s->size, NULL,
                                      sodium_base64_VARIANT_ORIGINAL);
                /* jansson frees its copy of the text without wiping it: wipe it here. */
                sodium_memzero((char *) b64, len);
                if (r < 0) {
                        snprintf(msg, msg_size, "The value of build secret '%.64s' is not base64.", id);
                        return -EBADMSG;
                }
                if (s->size > BUILD_SECRET_SIZE_MAX) {
                        snprintf(msg, msg_size, "The build secret '%.64s' is larger than %u KiB.", id,
                                 BUILD_SECRET_SIZE_MAX >> 10);
                        return -EFBIG;
                }
        }
        return 0;
}

int build_secrets_read(BuildContextReadFn read_fn, void *userdata, size_t length, BuildSecretSet *ret,
                       char *msg, size_t msg_size) {
        _cleanup_json_ json_t *doc = NULL;
        BuildSecretSet set = {};
        char *text;
        size_t got = 0;
        int r;

        if (length > BUILD_SECRETS_BODY_MAX) {
                snprintf(msg, msg_size, "The build secrets take more than %u bytes.",
                         BUILD_SECRETS_BODY_MAX);
                return -EFBIG;
        }
        text = malloc(length + 1);
        if (!text)
                return -ENOMEM;
        while (got < length) {
                ssize_t n = read_fn(userdata, text + got, length - got);

                if (n <= 0) {
                        sodium_memzero(text, got);
                        free(text);
                        return fail(msg, msg_size, n < 0 ? (int) n : -EPIPE,
                                    "The request body ended inside the build secrets.");
                }
                got += (size_t) n;
        }
        text[length] = '\0';
        r = json_parse_buffer(text, length, &doc, NULL);
        sodium_memzero(text, length);
        free(text);
        if (r < 0)
                return fail(msg, msg_size, r == -ENOMEM ? r : -EBADMSG,
                            "The build secrets are not valid JSON.");
        r = decode(doc, &set, msg, msg_size);
        if (r < 0) {
                build_secret_set_done(&set);
                return r;
        }
        *ret = set;
        return 0;
}
