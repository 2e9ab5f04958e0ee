/* The credentials a fetch of a component's repository uses: its http(s) token or ssh deploy key from the
 * vault, and the ssh host key pinned for the server (source_host_keys, by "host:port"), which the first
 * successful ssh fetch pins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-internal.h"
#include "source-url.h"
#include "string-util.h"

int pipeline_ssh_host(const char *url, char *buf, size_t size) {
        const char *h = startswith(url, "ssh://") ? url + strlen("ssh://") : url, *at, *end;
        bool scheme = h != url;
        unsigned port = 22;

        if (source_url_classify(url) != SOURCE_URL_SSH)
                return -EINVAL;
        end = h + strcspn(h, scheme ? "/" : ":");
        at = memchr(h, '@', (size_t) (end - h));
        if (at)
                h = at + 1;
        if (scheme && *h == '[') { /* [v6]:port */
                const char *close = memchr(h, ']', (size_t) (end - h));
                if (!close)
                        return -EINVAL;
                if (close + 1 < end && close[1] == ':')
                        port = (unsigned) strtoul(close + 2, NULL, 10);
                end = close + 1;
        } else if (scheme) {
                const char *colon = memchr(h, ':', (size_t) (end - h));
                if (colon) {
                        port = (unsigned) strtoul(colon + 1, NULL, 10);
                        end = colon;
                }
        }
        if (end == h || port == 0 || port > 65535 ||
            snprintf(buf, size, "%.*s:%u", (int) (end - h), h, port) >= (int) size)
                return -EINVAL;
        return 0;
}

void source_creds_done(SourceCreds *c) {
        vault_secret_free(c->token, c->token_size);
        vault_secret_free(c->key, c->key_size);
        free(c->pinned);
        *c = (SourceCreds) {};
}

int source_creds_load(Pipeline *p, sqlite3 *db, int64_t component_id, const char *url, SourceCreds *c,
                      SourceAuth *ret_auth) {
        int r;

        *c = (SourceCreds) {};
        *ret_auth = (SourceAuth) {};
        if (p->cfg.vault && component_id > 0) {
                r = vault_component_secret_get(p->cfg.vault, db, component_id, VAULT_SECRET_GIT_TOKEN,
                                               &c->token, &c->token_size);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = vault_component_secret_get(p->cfg.vault, db, component_id, VAULT_SECRET_SSH_KEY, &c->key,
                                               &c->key_size);
                if (r < 0 && r != -ENOENT) {
                        source_creds_done(c);
                        return r;
                }
        }
        if (source_url_classify(url) == SOURCE_URL_SSH &&
            pipeline_ssh_host(url, c->host, sizeof c->host) >= 0) {
                r = model_source_host_key_get(db, c->host, &c->pinned);
                if (r < 0 && r != -ENOENT) {
                        source_creds_done(c);
                        return r;
                }
        }
        ret_auth->http_token = (const char *) c->token;
        ret_auth->ssh_private_key = (const char *) c->key;
        ret_auth->ssh_host_key = c->pinned;
        return 0;
}

int source_creds_pin(sqlite3 *db, SourceCreds *c, const GitMirror *m) {
        const char *seen = git_mirror_ssh_host_key(m);

        if (c->pinned || !seen || !c->host[0])
                return 0;
        return model_source_host_key_set(db, c->host, seen);
}
