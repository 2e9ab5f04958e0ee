/* Webhook authentication: a delivery is accepted only when it proves knowledge of the component's secret —
 * GitHub's X-Hub-Signature-256 and Gitea's/Forgejo's X-Gitea-Signature/X-Forgejo-Signature (HMAC-SHA256 of
 * the raw body), GitLab's X-Gitlab-Token (the secret itself).  Fails closed; every comparison is constant-time. */
#pragma once

#include <stddef.h>

#include "hook-provider.h"

/* The largest webhook body the caller reads (and so signs and parses); past it the caller answers 413.
 * A push payload is a few KiB per commit (GitHub lists at most 2,048, GitLab 20, with their changed paths):
 * 4 MiB holds any push worth building from a webhook, while GitHub's own 25 MiB cap would let each of the
 * server's threads hold 25 MiB before the signature is even checked. */
#define HOOK_BODY_MAX (4U * 1024U * 1024U)

/* HMAC-SHA256 as the signature headers carry it: 32 bytes, 64 hex digits. */
#define HOOK_SIGNATURE_SIZE 32U
#define HOOK_SIGNATURE_HEX_LEN (2U * HOOK_SIGNATURE_SIZE)

/* Verifies the delivery (body of body_size bytes, as received, and its headers) against secret, a
 * NUL-terminated non-empty string, using the signature header of provider.  Returns:
 *   0                 the delivery is authentic;
 *   -ENOKEY           the request has no signature header (or only GitHub's SHA-1 X-Hub-Signature): 401;
 *   -EACCES           the signature is malformed or does not match, or the token is wrong: 401;
 *   -EPROTONOSUPPORT  provider is not one Slipway knows: the caller refuses the request;
 *   -EINVAL           secret is NULL or empty: a programming error, never treated as "no check".
 * All but -EINVAL put one sentence in *ret_error (caller frees; may be NULL).  The caller reads at most
 * HOOK_BODY_MAX bytes and verifies before it parses the body. */
int hook_signature_verify(HookProvider provider, const HookHeaders *headers, const void *body,
                          size_t body_size, const char *secret, char **ret_error);

/* Parses exactly HOOK_SIGNATURE_HEX_LEN hex digits (either case; nothing before or after) of len bytes
 * into ret.  -EBADMSG for anything else. */
int hook_signature_from_hex(const char *hex, size_t len, unsigned char ret[HOOK_SIGNATURE_SIZE]);
