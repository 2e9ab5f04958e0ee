/* The HTTP side of the registry client (registry-http.h) over libcurl: the transfer callbacks, the
 * cancel and deadline checks, Basic and Bearer auth, and the sentences for a transport error or a
 * refusal. */
#include "registry-http.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "json-util.h"
#include "string-util.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int registry_client_start(RegistryClient *c, RegistryError *err) {
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK) {
                registry_err_set(err, "libcurl cannot be initialised");
                return -EIO;
        }
        c->curl = curl_easy_init();
        if (!c->curl) {
                registry_err_set(err, "libcurl cannot be initialised");
                return -ENOMEM;
        }
        return 0;
}

uint64_t registry_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

void registry_err_set(RegistryError *err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
}


void registry_response_done(RegistryResponse *r) {
        free(r->body);
        *r = (RegistryResponse) {};
}


void registry_client_done(RegistryClient *c) {
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->auth) {
                explicit_bzero(c->auth, strlen(c->auth));
                free(c->auth);
        }
}

static size_t on_header(char *buf, size_t size, size_t n, void *userdata) {
        RegistryResponse *r = userdata;
        size_t len = size * n, k;
        char line[2048];

        k = MIN(len, sizeof line - 1);
        memcpy(line, buf, k);
        line[k] = 0;
        line[strcspn(line, "\r\n")] = 0;
        if (startswith(line, "HTTP/")) {
                /* A new response (after a 100 Continue): forget the previous one's headers. */
                const char *sp = strchr(line, ' ');
                r->www_authenticate[0] = r->location[0] = r->content_digest[0] = 0;
                r->reason[0] = 0;
                if (sp) {
                        sp = strchr(sp + 1, ' ');
                        if (sp)
                                snprintf(r->reason, sizeof r->reason, "%s", sp + 1);
                }
                return len;
        }
        char *colon = strchr(line, ':');
        if (!colon)
                return len;
        *colon = 0;
        const char *value = colon + 1 + strspn(colon + 1, " \t");
        if (!strcasecmp(line, "WWW-Authenticate")) {
                /* Prefer a Bearer challenge when a registry offers several. */
                if (!r->www_authenticate[0] || !strncasecmp(value, "Bearer", 6))
                        snprintf(r->www_authenticate, sizeof r->www_authenticate, "%s", value);
        } else if (!strcasecmp(line, "Location"))
                snprintf(r->location, sizeof r->location, "%s", value);
        else if (!strcasecmp(line, "Docker-Content-Digest"))
                snprintf(r->content_digest, sizeof r->content_digest, "%s", value);
        return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *userdata) {
        RegistryResponse *r = userdata;
        size_t len = size * n, room;
        char *b;

        room = r->body_size < REGISTRY_RESPONSE_MAX ? REGISTRY_RESPONSE_MAX - r->body_size : 0;
        if (room == 0)
                return len; /* the rest is dropped: only the head of an answer is read */
        b = realloc(r->body, r->body_size + MIN(len, room) + 1);
        if (!b)
                return 0;
        memcpy(b + r->body_size, buf, MIN(len, room));
        r->body = b;
        r->body_size += MIN(len, room);
        r->body[r->body_size] = 0;
        return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *userdata) {
        RegistryBody *b = userdata;
        size_t want = size * n;

        if (b->fd >= 0) {
                for (;;) {
                        ssize_t k = read(b->fd, buf, want);
                        if (k < 0 && errno == EINTR)
                                continue;
                        return k < 0 ? CURL_READFUNC_ABORT : (size_t) k;
                }
        }
        want = MIN(want, b->size - b->offset);
        memcpy(buf, b->data + b->offset, want);
        b->offset += want;
        return want;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
        RegistryClient *c = userdata;
        uint64_t now = registry_now_usec();

        if (!c->cancel || now - c->last_check < REGISTRY_CANCEL_CHECK_USEC)
                return 0;
        c->last_check = now;
        if (c->cancel(c->userdata)) {
                c->cancelled = true;
                return 1;
        }
        return 0;
}

/* The registry's error document ({"errors":[{"code","message"}]}) or the status line as the reason. */
void registry_err_refused(RegistryError *err, const RegistryResponse *r) {
        _cleanup_json_ json_t *j = NULL;
        const char *code = NULL, *msg = NULL;
        char clean[256];
        size_t k = 0;

        if (r->body && r->body_size > 0 && json_parse_buffer(r->body, r->body_size, &j, NULL) >= 0) {
                json_t *e = json_array_get(json_object_get(j, "errors"), 0);
                code = json_string_value(json_object_get(e, "code"));
                msg = json_string_value(json_object_get(e, "message"));
                if (!code && !msg) /* token servers: {"details": "…"} or {"error": "…"} */
                        msg = json_string_value(json_object_get(j, "details"))
                                      ?: json_string_value(json_object_get(j, "error"));
        }
        /* Only printable ASCII of what a remote server said goes into our sentence. */
        for (const char *p = msg ?: ""; *p && k + 1 < sizeof clean; p++)
                clean[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        clean[k] = 0;
        while (k > 0 && (clean[k - 1] == '.' || clean[k - 1] == ' '))
                clean[--k] = 0;
        err->status = r->status;
        if (code && k > 0)
                registry_err_set(err, "%ld %.64s (%s)", r->status, code, clean);
        else if (code)
                registry_err_set(err, "%ld %.64s", r->status, code);
        else if (k > 0)
                registry_err_set(err, "%ld %.100s (%s)", r->status, r->reason[0] ? r->reason : "error",
                                 clean);
        else
                registry_err_set(err, "%ld %.100s", r->status, r->reason[0] ? r->reason : "error");
}

/* A transport failure as -errno and a reason. */
static int err_transport(RegistryClient *c, CURLcode rc, RegistryError *err) {
        const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

        err->status = 0;
        switch (rc) {
        case CURLE_ABORTED_BY_CALLBACK:
                registry_err_set(err, "the push was stopped");
                return -ECANCELED;
        case CURLE_OPERATION_TIMEDOUT:
                if (c->deadline && registry_now_usec() >= c->deadline) {
                        registry_err_set(err, "the build's time ran out during the push");
                        return -ETIME;
                }
                registry_err_set(err, "it did not answer in time (%s)", detail);
                return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
                registry_err_set(err, "its host name does not resolve (%s)", detail);
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                registry_err_set(err, "it cannot be reached (%s)", detail);
                return -ECONNREFUSED;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
                registry_err_set(err, "its TLS certificate cannot be verified (%s)", detail);
                return -EPERM;
        default:
                registry_err_set(err, "the connection failed (%s)", detail);
                return -EIO;
        }
}

/* One request; 0 when the registry answered (any status) with *resp filled. */
static int perform(RegistryClient *c, const char *method, const char *url, const char *content_type,
                   RegistryBody *body, bool with_auth, RegistryResponse *resp, RegistryError *err) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *h = NULL;
        CURL *k = c->curl;
        CURLcode rc;
        char ct[256];

        registry_response_done(resp);
        curl_easy_reset(k);
        c->errbuf[0] = 0;
        h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
        if (h && with_auth && c->auth)
                h = curl_slist_append(h, c->auth);
        if (h && content_type) {
                snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
                h = curl_slist_append(h, ct);
        }
        if (!h)
                return -ENOMEM;
        (void) curl_easy_setopt(k, CURLOPT_URL, url);
        (void) curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
        (void) curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
        (void) curl_easy_setopt(k, CURLOPT_USERAGENT, "slipway/" SLIPWAY_VERSION);
        (void) curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
        (void) curl_easy_setopt(k, CURLOPT_HEADERDATA, resp);
        (void) curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(k, CURLOPT_WRITEDATA, resp);
        (void) curl_easy_setopt(k, CURLOPT_NOPROGRESS, 0L);
        (void) curl_easy_setopt(k, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void) curl_easy_setopt(k, CURLOPT_XFERINFODATA, c);
        (void) curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, REGISTRY_CONNECT_TIMEOUT_SEC);
        (void) curl_easy_setopt(k, CURLOPT_LOW_SPEED_LIMIT, 1L);
        (void) curl_easy_setopt(k, CURLOPT_LOW_SPEED_TIME, REGISTRY_STALL_SEC);
        if (c->deadline) {
                uint64_t now = registry_now_usec();
                long ms = now < c->deadline ? (long) ((c->deadline - now) / 1000U) : 1L;
                (void) curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
        }
        if (c->t->insecure) {
                (void) curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 0L);
                (void) curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (c->t->ca_pem) {
                struct curl_blob blob = {
                        .data = (void *) c->t->ca_pem,
                        .len = strlen(c->t->ca_pem),
                        .flags = CURL_BLOB_COPY,
                };
                /* Only this CA: neither the system's bundle nor its directory. */
                (void) curl_easy_setopt(k, CURLOPT_CAPATH, NULL);
                if (curl_easy_setopt(k, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
                        registry_err_set(err, "libcurl cannot take the registry's CA from memory");
                        return -EOPNOTSUPP;
                }
        }
        if (streq(method, "HEAD"))
                (void) curl_easy_setopt(k, CURLOPT_NOBODY, 1L);
        else if (streq(method, "POST")) {
                (void) curl_easy_setopt(k, CURLOPT_POST, 1L);
                (void) curl_easy_setopt(k, CURLOPT_POSTFIELDS, "");
                (void) curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, 0L);
        } else if (streq(method, "PUT")) {
                (void) curl_easy_setopt(k, CURLOPT_UPLOAD, 1L);
                (void) curl_easy_setopt(k, CURLOPT_READFUNCTION, on_read);
                (void) curl_easy_setopt(k, CURLOPT_READDATA, body);
                (void) curl_easy_setopt(k, CURLOPT_INFILESIZE_LARGE, (curl_off_t) body->size);
        } else
                (void) curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
        rc = curl_easy_perform(k);
        if (rc != CURLE_OK) {
                if (c->cancelled)
                        rc = CURLE_ABORTED_BY_CALLBACK;
                return err_transport(c, rc, err);
        }
        (void) curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &resp->status);
        return 0;
}

/* "%XX" for every byte of s but unreserved ones, into a malloc'ed string. */
char *registry_url_escape(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(3 * n + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (isalnum(*p) || strchr("-._~", *p))
                        *o++ = (char) *p;
                else
                        o += sprintf(o, "%%%02X", *p);
        *o = 0;
        return out;
}

static int basic_header(const RegistryTarget *t, char **ret) {
        _cleanup_free_ char *plain = NULL;
        size_t n, cap;
        char *out;
        int r;

        if (asprintf(&plain, "%s:%s", t->username, t->password) < 0)
                return -ENOMEM;
        n = strlen(plain);
        cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) + strlen("Authorization: Basic ");
        out = malloc(cap);
        if (!out)
                r = -ENOMEM;
        else {
                strcpy(out, "Authorization: Basic ");
                sodium_bin2base64(out + strlen(out), cap - strlen(out), (const unsigned char *) plain, n,
                                  sodium_base64_VARIANT_ORIGINAL);
                *ret = out;
                r = 0;
        }
        explicit_bzero(plain, n);
        return r;
}

static void set_auth(RegistryClient *c, char *header) {
        if (c->auth) {
                explicit_bzero(c->auth, strlen(c->auth));
                free(c->auth);
        }
        c->auth = header;
}

/* GET realm?service=…&scope=… (with Basic credentials when there are some); the token becomes c->auth. */
static int fetch_token(RegistryClient *c, RegistryError *err) {
        _cleanup_free_ char *url = NULL, *service = NULL, *scope = NULL, *push = NULL, *push_scope = NULL,
                            *basic = NULL, *saved = NULL;
        _cleanup_(registry_response_done) RegistryResponse resp = {};
        _cleanup_json_ json_t *j = NULL;
        const char *token;
        char *header;
        int r;

        if (!startswith(c->challenge.realm, "https://") && !startswith(c->challenge.realm, "http://")) {
                err->status = 0;
                registry_err_set(err, "it asks for a token from '%.200s', which is not an http(s) URL",
                                 c->challenge.realm);
                return -EPROTO;
        }
        if (startswith(c->challenge.realm, "http://") && !c->t->insecure) {
                err->status = 0;
                registry_err_set(
                        err,
                        "it asks for a token over plain HTTP (%.200s); add the registry with --insecure to allow that",
                        c->challenge.realm);
                return -EPERM;
        }
        if (asprintf(&push, "repository:%s:pull,push", c->repository) < 0)
                return -ENOMEM;
        service = registry_url_escape(c->challenge.service);
        push_scope = registry_url_escape(push);
        scope = c->challenge.scope[0] && !streq(c->challenge.scope, push)
                        ? registry_url_escape(c->challenge.scope)
                        : strdup("");
        if (!service || !push_scope || !scope)
                return -ENOMEM;
        if (asprintf(&url, "%s%sservice=%s&scope=%s%s%s", c->challenge.realm,
                     strchr(c->challenge.realm, '?') ? "&" : "?", service, push_scope,
                     scope[0] ? "&scope=" : "", scope) < 0)
                return -ENOMEM;
        if (c->t->username && c->t->password) {
                r = basic_header(c->t, &basic);
                if (r < 0)
                        return r;
        }
        /* The realm gets the Basic credentials, never an earlier token. */
        saved = TAKE_PTR(c->auth);
        c->auth = TAKE_PTR(basic);
        r = perform(c, "GET", url, NULL, NULL, true, &resp, err);
        set_auth(c, TAKE_PTR(saved));
        if (r < 0)
                return r;
        if (resp.status != 200) {
                registry_err_refused(err, &resp);
                return -EPROTO;
        }
        if (!resp.body || json_parse_buffer(resp.body, resp.body_size, &j, NULL) < 0 ||
            !(token = json_string_value(json_object_get(j, "token"))
                              ?: json_string_value(json_object_get(j, "access_token"))) ||
            !token[0] || strpbrk(token, "\r\n")) {
                err->status = 0;
                registry_err_set(err, "its token service %.200s sent no token", c->challenge.realm);
                return -EPROTO;
        }
        if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;
        set_auth(c, header);
        return 0;
}

/* A request, answering a 401 with what its challenge asks for (at most REGISTRY_AUTH_TRIES times). */
int registry_request(RegistryClient *c, const char *method, const char *url, const char *content_type,
                     RegistryBody *body, bool with_auth, RegistryResponse *resp, RegistryError *err) {
        int r;

        for (int tries = 0;; tries++) {
                RegistryChallenge ch;

                if (body && body->fd >= 0 && lseek(body->fd, 0, SEEK_SET) < 0)
                        return -errno;
                if (body)
                        body->offset = 0;
                r = perform(c, method, url, content_type, body, with_auth, resp, err);
                if (r < 0 || resp->status != 401 || !with_auth || tries >= REGISTRY_AUTH_TRIES)
                        return r;
                if (registry_challenge_parse(resp->www_authenticate, &ch) < 0)
                        return 0;
                if (!strcasecmp(ch.scheme, "Bearer")) {
                        c->challenge = ch;
                        r = fetch_token(c, err);
                        if (r < 0)
                                return r;
                } else if (!strcasecmp(ch.scheme, "Basic")) {
                        char *h = NULL;
                        if (!c->t->username || !c->t->password ||
                            (c->auth && startswith(c->auth, "Authorization: Basic")))
                                return 0; /* nothing (else) to offer: the 401 stands */
                        r = basic_header(c->t, &h);
                        if (r < 0)
                                return r;
                        set_auth(c, h);
                } else
                        return 0;
        }
}
