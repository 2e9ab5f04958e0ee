/* A client of the OCI distribution API (libcurl) that pushes one stored image to a registry: only the blobs
 * the registry lacks (HEAD first), each as a monolithic upload (POST, then PUT ?digest=), then the manifest
 * under its own media type.  Auth: none, Basic, or the Bearer token flow a 401 asks for.  It knows HTTP and
 * the distribution API, nothing of projects or sqlite; it never puts the password into an error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "oci-store.h"

/* Limits on what a person gives a registry and on what a registry answers. */
#define REGISTRY_URL_MAX 512U
#define REGISTRY_USERNAME_MAX 256U
#define REGISTRY_PASSWORD_MAX 4096U
#define REGISTRY_CA_PEM_MAX (256U * 1024U)
#define REGISTRY_RESPONSE_MAX (64U * 1024U) /* an error document or a token; the rest is dropped */
#define REGISTRY_CONNECT_TIMEOUT_SEC 30L
#define REGISTRY_STALL_SEC 60L /* a transfer under 1 byte/s for this long fails */

/* A registry URL: https://host[:port] (or http:// when insecure), nothing after the authority but "/".  On
 * success *ret_authority (may be NULL) is "host[:port]" as written, for references; else -EINVAL and
 * *ret_error, one sentence saying what is wrong and what to give. */
int registry_url_parse(const char *url, bool insecure, char **ret_authority, char **ret_error);

typedef struct RegistryTarget {
        const char *url;                 /* checked by registry_url_parse() */
        const char *username, *password; /* both NULL: anonymous */
        const char *ca_pem; /* the CA(s) its certificate is checked against; NULL: the system's */
        bool insecure;      /* plain http allowed, TLS not verified */
} RegistryTarget;

/* Why a push failed.  With status > 0 the registry answered and refused; message is then "STATUS CODE
 * (its message)" as the registry said it, e.g. "401 UNAUTHORIZED (authentication required)"; with status 0
 * it was not reached or the TLS handshake failed, and message says why. */
typedef struct RegistryError {
        long status;
        char message[512];
} RegistryError;

typedef struct RegistryPushResult {
        unsigned blobs_sent, blobs_present; /* config and layers */
        uint64_t bytes_sent;
        char digest[DIGEST_STRING_MAX]; /* the manifest's */
} RegistryPushResult;

/* Asked now and then during a push; true stops it (-ECANCELED). */
typedef bool (*RegistryCancelFn)(void *userdata);

/* Pushes the image manifest `digest` of store (its config and layers) to t as repository:tag.  The caller
 * keeps the blobs from going away meanwhile (a pin).  timeout_usec bounds the whole push (0: none).
 * -ECANCELED when cancel said so, -ETIME on the timeout, -EPROTO when the registry refused (err->status),
 * -EHOSTUNREACH / -ECONNREFUSED / -EPERM (TLS) when it was not reached, -EBADMSG for a manifest that is
 * not an image manifest. */
int registry_push(OciStore *store, const char *digest, const RegistryTarget *t, const char *repository,
                  const char *tag, RegistryCancelFn cancel, void *userdata, uint64_t timeout_usec,
                  RegistryPushResult *ret, RegistryError *err);

/* The parameters of a WWW-Authenticate challenge (exposed for the unit test): scheme "Basic" or "Bearer"
 * into scheme, and realm, service and scope (each "" when absent).  -EINVAL when it cannot be read. */
typedef struct RegistryChallenge {
        char scheme[16];
        char realm[REGISTRY_URL_MAX];
        char service[256];
        char scope[512];
} RegistryChallenge;
int registry_challenge_parse(const char *header, RegistryChallenge *ret);
