/* Pushing a stored image to a registry over the OCI distribution API (registry-client.h): the URL and
 * challenge parsers, then the push itself — the version check, each blob the registry lacks (HEAD, then
 * POST + PUT), the manifest last.  The HTTP side (libcurl, auth, error sentences) is registry-http.c. */
#include "registry-client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json-util.h"
#include "macro.h"
#include "registry-http.h"
#include "string-util.h"
#include "strv.h"

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

/* The URL an upload continues at: the Location of the POST, relative to the registry or absolute. */
static int upload_url(RegistryClient *c, const char *location, const char *digest, char **ret,
                      bool *ret_same) {
        _cleanup_free_ char *d = registry_url_escape(digest);
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

static int push_blob(RegistryClient *c, OciStore *store, const char *digest, bool *ret_sent,
                     uint64_t *ret_size, RegistryError *err) {
        _cleanup_(registry_response_done) RegistryResponse resp = {};
        _cleanup_free_ char *url = NULL, *put = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t size = 0;
        bool same = true;
        int r;

        if (asprintf(&url, "%s/v2/%s/blobs/%s", c->base, c->repository, digest) < 0)
                return -ENOMEM;
        r = registry_request(c, "HEAD", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                return r;
        if (resp.status == 200 || resp.status == 307 || resp.status == 302) {
                *ret_sent = false;
                *ret_size = 0;
                return 0;
        }
        if (resp.status != 404) {
                registry_err_refused(err, &resp);
                return -EPROTO;
        }
        free(url);
        if (asprintf(&url, "%s/v2/%s/blobs/uploads/", c->base, c->repository) < 0)
                return -ENOMEM;
        r = registry_request(c, "POST", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 202 || !resp.location[0]) {
                registry_err_refused(err, &resp);
                return -EPROTO;
        }
        r = upload_url(c, resp.location, digest, &put, &same);
        if (r == -EPROTO) {
                err->status = 0;
                registry_err_set(err, "it answered an upload with the Location '%.200s', which is not a URL",
                                 resp.location);
                return r;
        }
        if (r < 0)
                return r;
        r = oci_store_open_blob(store, digest, &fd, &size);
        if (r < 0) {
                err->status = 0;
                registry_err_set(err, "the blob %s cannot be read from the store (%s)", digest,
                                 strerror(-r));
                return r;
        }
        RegistryBody body = { .fd = fd, .size = size };
        r = registry_request(c, "PUT", put, "application/octet-stream", &body, same, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 201) {
                registry_err_refused(err, &resp);
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
        _cleanup_(registry_response_done) RegistryResponse resp = {};
        _cleanup_free_ char *data = NULL, *url = NULL, *error = NULL;
        _cleanup_strv_free_ char **blobs = NULL;
        _cleanup_json_ json_t *m = NULL;
        RegistryPushResult res = {};
        const char *media_type;
        size_t size = 0, n = 0;
        RegistryClient c = {
                .t = t,
                .repository = repository,
                .cancel = cancel,
                .userdata = userdata,
                .deadline = timeout_usec ? registry_now_usec() + timeout_usec : 0,
        };
        int r;

        *err = (RegistryError) {};
        if (registry_url_parse(t->url, t->insecure, NULL, &error) < 0) {
                registry_err_set(err, "%s", error ?: "its URL is not valid");
                return -EINVAL;
        }
        snprintf(c.base, sizeof c.base, "%s", t->url);
        if (endswith(c.base, "/"))
                c.base[strlen(c.base) - 1] = 0;
        r = oci_store_read_blob(store, digest, OCI_MANIFEST_MAX, &data, &size);
        if (r < 0) {
                registry_err_set(err, "the image's manifest cannot be read from the store (%s)",
                                 strerror(-r));
                return r;
        }
        r = json_parse_buffer(data, size, &m, NULL);
        if (r >= 0)
                r = manifest_blobs(m, &media_type, &blobs, &n);
        if (r < 0) {
                registry_err_set(err, "the image's manifest is not an image manifest Slipway pushes");
                return r == -ENOMEM ? r : -EBADMSG;
        }
        r = registry_client_start(&c, err);
        if (r < 0)
                return r;
        /* The API version check: where a registry says which auth it wants. */
        if (asprintf(&url, "%s/v2/", c.base) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = registry_request(&c, "GET", url, NULL, NULL, true, &resp, err);
        if (r < 0)
                goto out;
        if (resp.status != 200) {
                registry_err_refused(err, &resp);
                r = -EPROTO;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                bool sent = false;
                uint64_t bytes = 0;

                if (cancel && cancel(userdata)) {
                        registry_err_set(err, "the push was stopped");
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
        RegistryBody body = { .fd = -EBADF, .data = data, .size = size };
        r = registry_request(&c, "PUT", url, media_type, &body, true, &resp, err);
        if (r < 0)
                goto out;
        if (resp.status != 201 && resp.status != 200) {
                registry_err_refused(err, &resp);
                r = -EPROTO;
                goto out;
        }
        if (resp.content_digest[0] && !streq(resp.content_digest, digest)) {
                err->status = 0;
                registry_err_set(err, "it stored the manifest as %s, not as %s", resp.content_digest,
                                 digest);
                r = -EBADMSG;
                goto out;
        }
        snprintf(res.digest, sizeof res.digest, "%s", digest);
        *ret = res;
        r = 0;
out:
        registry_client_done(&c);
        return r;
}
