/* Internal to the registry client: one libcurl easy handle per push (connections and TLS sessions reused
 * across its requests), requests that answer a 401 with what its challenge asks for (Basic, or a Bearer
 * token from the realm), and errors that say what the registry answered.  Invariant: no error text and no
 * log line carries the password or a token, and credentials go only to the registry's own URL. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "registry-client.h"

#define REGISTRY_CANCEL_CHECK_USEC (200U * 1000U) /* how often a transfer asks whether to stop */
#define REGISTRY_AUTH_TRIES 2                     /* answers to a 401 per request */

typedef struct RegistryResponse {
        long status;
        char reason[128];
        char www_authenticate[2048];
        char location[2048];
        char content_digest[DIGEST_STRING_MAX];
        char *body;
        size_t body_size;
} RegistryResponse;

typedef struct RegistryBody {
        int fd; /* -EBADF: data */
        const char *data;
        size_t size, offset;
} RegistryBody;

typedef struct RegistryClient {
        CURL *curl;
        const RegistryTarget *t;
        char base[REGISTRY_URL_MAX + 1]; /* the URL without a trailing '/' */
        char *auth;                      /* "Authorization: …" or NULL */
        RegistryChallenge challenge;     /* the last Bearer challenge */
        const char *repository;
        RegistryCancelFn cancel;
        void *userdata;
        uint64_t deadline; /* monotonic usec; 0: none */
        uint64_t last_check;
        bool cancelled;
        char errbuf[CURL_ERROR_SIZE];
} RegistryClient;

uint64_t registry_now_usec(void);
void registry_err_set(RegistryError *err, const char *fmt, ...) _printf_(2, 3);
/* The registry's refusal in err: its status and reason, and the error its body names. */
void registry_err_refused(RegistryError *err, const RegistryResponse *r);
char *registry_url_escape(const char *s);

/* Makes c's curl handle (c's other fields are set by the caller). */
int registry_client_start(RegistryClient *c, RegistryError *err);
void registry_client_done(RegistryClient *c);
void registry_response_done(RegistryResponse *r);

/* A request, answering a 401 with what its challenge asks for (at most REGISTRY_AUTH_TRIES times);
 * with_auth false sends no credentials (a URL elsewhere than the registry). */
int registry_request(RegistryClient *c, const char *method, const char *url, const char *content_type,
                     RegistryBody *body, bool with_auth, RegistryResponse *resp, RegistryError *err);
