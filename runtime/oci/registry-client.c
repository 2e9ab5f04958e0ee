/* Pushing a stored image to a registry over the OCI distribution API with libcurl (registry-client.h).  One
 * easy handle per push, so connections and TLS sessions are reused across its requests; a 401 is answered
 * once per request with the credentials its challenge asks for (Basic, or a Bearer token from the realm),
 * and no error text ever carries the password or a token. */
#include "registry-client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
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
#include "macro.h"
#include "string-util.h"
#include "strv.h"

#define REGISTRY_CANCEL_CHECK_USEC (200U * 1000U) /* how often a transfer asks whether to stop */
#define REGISTRY_AUTH_TRIES 2                     /* answers to a 401 per request */

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

_printf_(2, 3) static void err_set(RegistryError *err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
}

static int url_error(char **ret_error, const char *url, const char *why) {
        if (ret_error &&
            asprintf(ret_error, "The registry URL '%.*s' %s.", (int) REGISTRY_URL_MAX, url, why) < 0)
                *ret_error = NULL;
        return -EINVAL;
}

int registry_url_parse(const char *url, bool insecure, char **ret_authority, char **ret_error) {
        const char *host, *end, *port = NULL;
        size_t n;

        if (!url || !url[0])
                return url_error(ret_error, "", "is empty; give https://host[:port]");
        if (strlen(url) > REGISTRY_URL_MAX)
                return url_error(ret_error, url, "is too long");
        if (startswith(url, "https://"))
                host = url + strlen("https://");
        else if (startswith(url, "http://")) {
                if (!insecure)
                        return url_error(
                                ret_error, url,
                                "is plain HTTP; give https://, or add --insecure to allow plain HTTP "
                                "and unverified TLS");
                host = url + strlen("http://");
        } else
                return url_error(ret_error, url, "does not start with https:// (give https://host[:port])");
        n = strcspn(host, "/?#");
        end = host + n;
        if (*end && !streq(end, "/"))
                return url_error(ret_error, url,
                                 "has a path, query or fragment; give only https://host[:port], where the "
                                 "registry answers /v2/");
        if (memchr(host, '@', n))
                return url_error(ret_error, url,
                                 "carries a user name; give it with --username and the password on stdin");
        if (n == 0)
                return url_error(ret_error, url, "has no host");
        if (host[0] == '[') {
                const char *close = memchr(host, ']', n);
                if (!close || close == host + 1)
                        return url_error(ret_error, url, "has an unterminated IPv6 address");
                for (const char *p = host + 1; p < close; p++)
                        if (!isxdigit((unsigned char) *p) && *p != ':' && *p != '.')
                                return url_error(ret_error, url, "has an invalid IPv6 address");
                if (close + 1 < end && close[1] != ':')
                        return url_error(ret_error, url, "has something after its IPv6 address");
                port = close + 1 < end ? close + 2 : NULL;
        } else {
                const char *colon = memchr(host, ':', n);
                const char *hend = colon ?: end;
                if (hend == host)
                        return url_error(ret_error, url, "has no host");
                for (const char *p = host; p < hend; p++)
                        if (!isalnum((unsigned char) *p) && *p != '.' && *p != '-')
                                return url_error(ret_error, url,
                                                 "has a host name with characters DNS does not allow");
                port = colon ? colon + 1 : NULL;
        }
        if (port) {
                unsigned long v = 0;
                if (port == end)
                        return url_error(ret_error, url, "has an empty port");
                for (const char *p = port; p < end; p++) {
                        if (!isdigit((unsigned char) *p) || v > 65535)
                                return url_error(ret_error, url,
                                                 "has a port that is not a number from 1 to 65535");
                        v = v * 10 + (unsigned long) (*p - '0');
                }
                if (v < 1 || v > 65535)
                        return url_error(ret_error, url, "has a port that is not a number from 1 to 65535");
        }
        if (ret_authority) {
                char *a = strndup(host, n);
                if (!a)
                        return -ENOMEM;
                *ret_authority = a;
        }
        return 0;
}

/* A quoted-string or token value at *p into buf (size bytes, truncated), *p moved past it. */
static void challenge_value(const char **p, char *buf, size_t size) {
        size_t k = 0;
        const char *s = *p;

        if (*s == '"') {
                s++;
                for (; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        if (k + 1 < size)
                                buf[k++] = *s;
                }
                if (*s == '"')
                        s++;
        } else
                for (; *s && *s != ',' && !isspace((unsigned char) *s); s++)
                        if (k + 1 < size)
                                buf[k++] = *s;
        buf[k] = 0;
        *p = s;
}

int registry_challenge_parse(const char *header, RegistryChallenge *ret) {
        RegistryChallenge c = {};
        const char *p = header;
        size_t n;

        if (!header)
                return -EINVAL;
        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n == 0 || n >= sizeof c.scheme)
                return -EINVAL;
        memcpy(c.scheme, p, n);
        p += n;
        for (;;) {
                char name[32], ignored[8];
                p += strspn(p, " \t,");
                if (!*p)
                        break;
                n = strcspn(p, "= \t,");
                if (n == 0 || p[n] != '=') {
                        /* a token68 or garbage: skip to the next parameter */
                        p += n ? n : 1;
                        continue;
                }
                snprintf(name, sizeof name, "%.*s", (int) MIN(n, sizeof name - 1), p);
                p += n + 1;
                if (!strcasecmp(name, "realm"))
                        challenge_value(&p, c.realm, sizeof c.realm);
                else if (!strcasecmp(name, "service"))
                        challenge_value(&p, c.service, sizeof c.service);
                else if (!strcasecmp(name, "scope"))
                        challenge_value(&p, c.scope, sizeof c.scope);
                else
                        challenge_value(&p, ignored, sizeof ignored);
        }
        *ret = c;
        return 0;
}

typedef struct Response {
        long status;
        char reason[128];
        char www_authenticate[2048];
        char location[2048];
        char content_digest[DIGEST_STRING_MAX];
        char *body;
        size_t body_size;
} Response;

static void response_done(Response *r) {
        free(r->body);
        *r = (Response) {};
}

typedef struct Body {
        int fd; /* -EBADF: data */
        const char *data;
        size_t size, offset;
} Body;

typedef struct Client {
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
} Client;

static void client_done(Client *c) {
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->auth) {
                explicit_bzero(c->auth, strlen(c->auth));
                free(c->auth);
        }
}

static size_t on_header(char *buf, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
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
        Response *r = userdata;
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
        Body *b = userdata;
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
        Client *c = userdata;
        uint64_t now = now_usec();

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
static void err_refused(RegistryError *err, const Response *r) {
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
                err_set(err, "%ld %.64s (%s)", r->status, code, clean);
        else if (code)
                err_set(err, "%ld %.64s", r->status, code);
        else if (k > 0)
                err_set(err, "%ld %.100s (%s)", r->status, r->reason[0] ? r->reason : "error", clean);
        else
                err_set(err, "%ld %.100s", r->status, r->reason[0] ? r->reason : "error");
}

/* A transport failure as -errno and a reason. */
static int err_transport(Client *c, CURLcode rc, RegistryError *err) {
        const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

        err->status = 0;
        switch (rc) {
        case CURLE_ABORTED_BY_CALLBACK:
                err_set(err, "the push was stopped");
                return -ECANCELED;
        case CURLE_OPERATION_TIMEDOUT:
                if (c->deadline && now_usec() >= c->deadline) {
                        err_set(err, "the build's time ran out during the push");
                        return -ETIME;
                }
                err_set(err, "it did not answer in time (%s)", detail);
                return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
                err_set(err, "its host name does not resolve (%s)", detail);
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                err_set(err, "it cannot be reached (%s)", detail);
                return -ECONNREFUSED;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
                err_set(err, "its TLS certificate cannot be verified (%s)", detail);
                return -EPERM;
        default:
                err_set(err, "the connection failed (%s)", detail);
                return -EIO;
        }
}

/* One request; 0 when the registry answered (any status) with *resp filled. */
static int perform(Client *c, const char *method, const char *url, const char *content_type, Body *body,
                   bool with_auth, Response *resp, RegistryError *err) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *h = NULL;
        CURL *k = c->curl;
        CURLcode rc;
        char ct[256];

        response_done(resp);
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
                uint64_t now = now_usec();
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
                        err_set(err, "libcurl cannot take the registry's CA from memory");
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
static char *url_escape(const char *s) {
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

static void set_auth(Client *c, char *header) {
        if (c->auth) {
                explicit_bzero(c->auth, strlen(c->auth));
                free(c->auth);
        }
        c->auth = header;
}

/* GET realm?service=…&scope=… (with Basic credentials when there are some); the token becomes c->auth. */
static int fetch_token(Client *c, RegistryError *err) {
        _cleanup_free_ char *url = NULL, *service = NULL, *scope = NULL, *push = NULL, *push_scope = NULL,
                            *basic = NULL, *saved = NULL;
        _cleanup_(response_done) Response resp = {};
        _cleanup_json_ json_t *j = NULL;
        const char *token;
        char *header;
        int r;

        if (!startswith(c->challenge.realm, "https://") && !startswith(c->challenge.realm, "http://")) {
                err->status = 0;
                err_set(err, "it asks for a token from '%.200s', which is not an http(s) URL",
                        c->challenge.realm);
                return -EPROTO;
        }
        if (startswith(c->challenge.realm, "http://") && !c->t->insecure) {
                err->status = 0;
                err_set(err,
                        "it asks for a token over plain HTTP (%.200s); add the registry with --insecure to allow that",
                        c->challenge.realm);
                return -EPERM;
        }
        if (asprintf(&push, "repository:%s:pull,push", c->repository) < 0)
                return -ENOMEM;
        service = url_escape(c->challenge.service);
        push_scope = url_escape(push);
        scope = c->challenge.scope[0] && !streq(c->challenge.scope, push) ? url_escape(c->challenge.scope)
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
                err_refused(err, &resp);
                return -EPROTO;
        }
        if (!resp.body || json_parse_buffer(resp.body, resp.body_size, &j, NULL) < 0 ||
            !(token = json_string_value(json_object_get(j, "token"))
                              ?: json_string_value(json_object_get(j, "access_token"))) ||
            !token[0] || strpbrk(token, "\r\n")) {
                err->status = 0;
                err_set(err, "its token service %.200s sent no token", c->challenge.realm);
                return -EPROTO;
        }
        if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;
        set_auth(c, header);
        return 0;
}

/* A request, answering a 401 with what its challenge asks for (at most REGISTRY_AUTH_TRIES times). */
static int request(Client *c, const char *method, const char *url, const char *content_type, Body *body,
                   bool with_auth, Response *resp, RegistryError *err) {
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

/* The URL an upload continues at: the Location of the POST, relative to the registry or absolute. */
static int upload_url(Client *c, const char *location, const char *digest, char **ret, bool *ret_same) {
        _cleanup_free_ char *d = url_escape(digest);
        const char *sep = strchr(location, '?') ? "&" : "?";

        if (!d)
                return -ENOMEM;
        if (location[0] == '/') {
                *ret_same = true;
                return asprintf(ret, "%s%s%sdigest=%s", c->base, location, sep, d) < 0 ? -ENOMEM : 0;
        }
        if (!startswith(location, "https://") && !startswith(location, "http://"))
                return -EPROTO;
        /* Credentials go only to the registry itself, not to wherever it points. */
        *ret_same = startswith(location, c->base) && strchr("/?", location[strlen(c->base)]);
        return asprintf(ret, "%s%sdigest=%s", location, sep, d) < 0 ? -ENOMEM : 0;
}

static int push_blob(Client *c, OciStore *store, const char *digest, bool *ret_sent, uint64_t *ret_size,
                     RegistryError *err) {
        _cleanup_(response_done) Response resp = {};
        _cleanup_free_ char *url = NULL, *put = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t size = 0;
        bool same = true;
        int r;

        if (asprintf(&url, "%s/v2/%s/blobs/%s", c->base, c->repository, digest) < 0)
                return -ENOMEM;
        r = request(c, "HEAD", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                return r;
        if (resp.status == 200 || resp.status == 307 || resp.status == 302) {
                *ret_sent = false;
                *ret_size = 0;
                return 0;
        }
        if (resp.status != 404) {
                err_refused(err, &resp);
                return -EPROTO;
        }
        free(url);
        if (asprintf(&url, "%s/v2/%s/blobs/uploads/", c->base, c->repository) < 0)
                return -ENOMEM;
        r = request(c, "POST", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 202 || !resp.location[0]) {
                err_refused(err, &resp);
                return -EPROTO;
        }
        r = upload_url(c, resp.location, digest, &put, &same);
        if (r == -EPROTO) {
                err->status = 0;
                err_set(err, "it answered an upload with the Location '%.200s', which is not a URL",
                        resp.location);
                return r;
        }
        if (r < 0)
                return r;
        r = oci_store_open_blob(store, digest, &fd, &size);
        if (r < 0) {
                err->status = 0;
                err_set(err, "the blob %s cannot be read from the store (%s)", digest, strerror(-r));
                return r;
        }
        Body body = { .fd = fd, .size = size };
        r = request(c, "PUT", put, "application/octet-stream", &body, same, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 201) {
                err_refused(err, &resp);
                return -EPROTO;
        }
        *ret_sent = true;
        *ret_size = size;
        return 0;
}

/* The config and layer digests of an image manifest, and its media type. */
static int manifest_blobs(json_t *m, const char **ret_media_type, char ***ret_digests, size_t *ret_n) {
        const char *mt = json_string_value(json_object_get(m, "mediaType"));
        json_t *layers = json_object_get(m, "layers"), *l;
        const char *config = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
        _cleanup_strv_free_ char **d = NULL;
        size_t n = 0, i;

        if (mt && !streq(mt, OCI_MEDIA_TYPE_MANIFEST) && !streq(mt, DOCKER_MEDIA_TYPE_MANIFEST))
                return -EBADMSG;
        if (!config || !digest_is_valid(config) || !json_is_array(layers))
                return -EBADMSG;
        d = calloc(json_array_size(layers) + 2, sizeof *d);
        if (!d)
                return -ENOMEM;
        if (!(d[n++] = strdup(config)))
                return -ENOMEM;
        json_array_foreach(layers, i, l) {
                const char *ld = json_string_value(json_object_get(l, "digest"));
                bool seen = false;
                if (!ld || !digest_is_valid(ld))
                        return -EBADMSG;
                for (size_t k = 0; k < n; k++)
                        seen = seen || streq(d[k], ld);
                if (!seen && !(d[n++] = strdup(ld)))
                        return -ENOMEM;
        }
        *ret_media_type = mt ?: OCI_MEDIA_TYPE_MANIFEST;
        *ret_digests = TAKE_PTR(d);
        *ret_n = n;
        return 0;
}

int registry_push(OciStore *store, const char *digest, const RegistryTarget *t, const char *repository,
                  const char *tag, RegistryCancelFn cancel, void *userdata, uint64_t timeout_usec,
                  RegistryPushResult *ret, RegistryError *err) {
        _cleanup_(response_done) Response resp = {};
        _cleanup_free_ char *data = NULL, *url = NULL, *error = NULL;
        _cleanup_strv_free_ char **blobs = NULL;
        _cleanup_json_ json_t *m = NULL;
        RegistryPushResult res = {};
        const char *media_type;
        size_t size = 0, n = 0;
        Client c = {
                .t = t,
                .repository = repository,
                .cancel = cancel,
                .userdata = userdata,
                .deadline = timeout_usec ? now_usec() + timeout_usec : 0,
        };
        int r;

        *err = (RegistryError) {};
        if (registry_url_parse(t->url, t->insecure, NULL, &error) < 0) {
                err_set(err, "%s", error ?: "its URL is not valid");
                return -EINVAL;
        }
        snprintf(c.base, sizeof c.base, "%s", t->url);
        if (endswith(c.base, "/"))
                c.base[strlen(c.base) - 1] = 0;
        r = oci_store_read_blob(store, digest, OCI_MANIFEST_MAX, &data, &size);
        if (r < 0) {
                err_set(err, "the image's manifest cannot be read from the store (%s)", strerror(-r));
                return r;
        }
        r = json_parse_buffer(data, size, &m, NULL);
        if (r >= 0)
                r = manifest_blobs(m, &media_type, &blobs, &n);
        if (r < 0) {
                err_set(err, "the image's manifest is not an image manifest Slipway pushes");
                return r == -ENOMEM ? r : -EBADMSG;
        }
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK) {
                err_set(err, "libcurl cannot be initialised");
                return -EIO;
        }
        c.curl = curl_easy_init();
        if (!c.curl) {
                err_set(err, "libcurl cannot be initialised");
                return -ENOMEM;
        }
        /* The API version check: where a registry says which auth it wants. */
        if (asprintf(&url, "%s/v2/", c.base) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = request(&c, "GET", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                goto out;
        if (resp.status != 200) {
                err_refused(err, &resp);
                r = -EPROTO;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                bool sent = false;
                uint64_t bytes = 0;

                if (cancel && cancel(userdata)) {
                        err_set(err, "the push was stopped");
                        r = -ECANCELED;
                        goto out;
                }
                r = push_blob(&c, store, blobs[i], &sent, &bytes, err);
                if (r < 0)
                        goto out;
                if (sent) {
                        res.blobs_sent++;
                        res.bytes_sent += bytes;
                } else
                        res.blobs_present++;
        }
        free(url);
        if (asprintf(&url, "%s/v2/%s/manifests/%s", c.base, repository, tag) < 0) {
                r = -ENOMEM;
                goto out;
        }
        Body body = { .fd = -EBADF, .data = data, .size = size };
        r = request(&c, "PUT", url, media_type, &body, true, &resp, err);
        if (r < 0)
                goto out;
        if (resp.status != 201 && resp.status != 200) {
                err_refused(err, &resp);
                r = -EPROTO;
                goto out;
        }
        if (resp.content_digest[0] && !streq(resp.content_digest, digest)) {
                err->status = 0;
                err_set(err, "it stored the manifest as %s, not as %s", resp.content_digest, digest);
                r = -EBADMSG;
                goto out;
        }
        snprintf(res.digest, sizeof res.digest, "%s", digest);
        *ret = res;
        r = 0;
out:
        client_done(&c);
        return r;
}
