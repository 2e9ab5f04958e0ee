/* Build secrets as they travel with POST /api/v1/images/build?secrets=N: the body's first N bytes are
 * {"secrets":[{"id":"ID","value_base64":"…"}]} and the build context tar follows.  Invariant: the values are
 * only ever in this process's memory, wiped when freed — never on disk, in a log line or in an error. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "build-context.h"
#include "builder.h"

/* The most the JSON of BUILD_SECRETS_MAX secrets of BUILD_SECRET_SIZE_MAX bytes each can take. */
#define BUILD_SECRETS_BODY_MAX (BUILD_SECRETS_MAX * ((BUILD_SECRET_SIZE_MAX / 3U + 1U) * 4U + 512U) + 64U)

typedef struct BuildSecretSet {
        BuildSecret *secrets;
        size_t n;
} BuildSecretSet;

/* Reads exactly length bytes through read_fn and decodes them.  -EBADMSG (msg: one sentence naming the
 * problem, never a value) for bad JSON, a bad id, a duplicate id or a value that is not base64; -EFBIG past
 * BUILD_SECRETS_MAX secrets or BUILD_SECRET_SIZE_MAX bytes in one; -EPIPE when the body ends early. */
int build_secrets_read(BuildContextReadFn read_fn, void *userdata, size_t length, BuildSecretSet *ret,
                       char *msg, size_t msg_size);
/* Wipes and frees the values. */
void build_secret_set_done(BuildSecretSet *s);
