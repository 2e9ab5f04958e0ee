/* A git component's webhook and build switches over /api/v1 (P project, C component):
 *   GET  projects/P/components/C/webhook         {"project","component","id","url","secret","autobuild"};
 *        the id and the secret are made on the first call
 *   POST projects/P/components/C/webhook/rotate  a new secret (the id and so the URL stay), the same reply
 *   PUT  projects/P/components/C/autobuild       {"on": BOOL} → {"project","component","autobuild","autodeploy"}
 *   PUT  projects/P/components/C/autodeploy      the same
 * Invariant: only a component built from git has a webhook; its id and secret are 32 random bytes each (as
 * hex), the secret sealed in the vault and shown only to a holder of the admin token. */
#include "api.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "build-db.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "sqlite-util.h"

#define WEBHOOK_RANDOM_SIZE 32U
#define WEBHOOK_HEX_SIZE (2U * WEBHOOK_RANDOM_SIZE + 1U)

static const HttpJsonBody switch_body = {
        .what = "switch request",
        .fields = (const char *const[]) { "on", NULL },
        .example = "Send {\"on\": true} or {\"on\": false}.",
};

static void random_hex(char buf[static WEBHOOK_HEX_SIZE]) {
        unsigned char raw[WEBHOOK_RANDOM_SIZE];

        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(buf, WEBHOOK_HEX_SIZE, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
}

/* The scope of P/C, which must be built from git and the daemon must have a vault; has answered on failure. */
static int git_component_scope(HttpRequest *req, ApiScope *s) {
        ApiContext *ctx = req->userdata;
        char msg[256], hint[512];
        int r;

        r = api_scope_component(req, NULL, s);
        if (r < 0)
                return r;
        if (!s->component.source) {
                snprintf(msg, sizeof msg, "%s/%s is not built from git; only a git component has a webhook.",
                         s->project.name, s->component.name);
                snprintf(
                        hint, sizeof hint,
                        "Create a git component with POST /api/v1/projects/%s/components {\"name\": \"web\", "
                        "\"git\": URL, \"branch\": \"main\"}.",
                        s->project.name);
                http_reply_error(req->conn, 400, msg, hint);
                return api_replied(req, 400, -EINVAL);
        }
        if (!ctx->vault) {
                http_reply_error(req->conn, 503, "This daemon has no vault to keep webhook secrets in.",
                                 "Start slipwayd with its state directory.");
                return api_replied(req, 503, -ENXIO);
        }
        return 0;
}

/* The component's hook id, made on first use.  In one transaction, so two first calls agree on it. */
static int hook_id_get_or_make(sqlite3 *db, int64_t component_id, char **ret) {
        _cleanup_free_ char *id = NULL;
        char fresh[WEBHOOK_HEX_SIZE];
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = model_webhook_get(db, component_id, &id);
        if (r == -ENOENT) {
                random_hex(fresh);
                r = model_webhook_set(db, component_id, fresh);
                if (r >= 0)
                        id = strdup(fresh);
                if (r >= 0 && !id)
                        r = -ENOMEM;
        }
        r = sqlite_end(db, r);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(id);
        return 0;
}

/* Seals a new random secret for the component. */
static int secret_make(Vault *v, sqlite3 *db, int64_t component_id) {
        char fresh[WEBHOOK_HEX_SIZE];
        int r;

        random_hex(fresh);
        r = vault_component_secret_set(v, db, component_id, VAULT_SECRET_WEBHOOK, fresh, strlen(fresh));
        sodium_memzero(fresh, sizeof fresh);
        return r;
}

/* Answers {"project","component","id","url","secret","autobuild"}; makes what is missing (and with rotate a
 * new secret).  Two first calls at once may each seal a secret: both then read back the one that was kept. */
static int webhook_reply(HttpRequest *req, bool rotate) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_free_ char *id = NULL, *url = NULL;
        _cleanup_json_ json_t *j = NULL;
        uint8_t *secret = NULL;
        size_t secret_size = 0;
        int r;

        if (git_component_scope(req, &s) < 0)
                return req->status;
        r = hook_id_get_or_make(s.db, s.component.id, &id);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot make the webhook id");
        r = rotate ? -ENOENT
                   : vault_component_secret_get(ctx->vault, s.db, s.component.id, VAULT_SECRET_WEBHOOK,
                                                &secret, &secret_size);
        if (r == -ENOENT) {
                r = secret_make(ctx->vault, s.db, s.component.id);
                if (r >= 0)
                        r = vault_component_secret_get(ctx->vault, s.db, s.component.id,
                                                       VAULT_SECRET_WEBHOOK, &secret, &secret_size);
                if (r >= 0)
                        log_info("%s the webhook secret of %s/%s.", rotate ? "Rotated" : "Made",
                                 s.project.name, s.component.name);
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read or make the webhook secret");
        if (asprintf(&url, "%s/hooks/git/%s", ctx->api_url ?: "", id) < 0)
                url = NULL;
        j = json_pack("{s:s,s:s,s:s,s:s?,s:s#,s:b}", "project", s.project.name, "component",
                      s.component.name, "id", id, "url", url, "secret", (const char *) secret, secret_size,
                      "autobuild", s.component.autobuild);
        vault_secret_free(secret, secret_size);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_component_webhook(HttpRequest *req) {
        return webhook_reply(req, false);
}

int api_component_webhook_rotate(HttpRequest *req) {
        return webhook_reply(req, true);
}

/* PUT …/autobuild or …/autodeploy (segments[4]) with {"on": BOOL}. */
int api_component_switch(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *body = NULL;
        bool autobuild = streq(req->segments[4], "autobuild");
        json_t *on;
        int r;

        if (git_component_scope(req, &s) < 0 || http_request_read_json(req, &switch_body, &body) < 0)
                return req->status;
        on = json_object_get(body, "on");
        if (!json_is_boolean(on))
                return http_reply_error(req->conn, 400, "\"on\" must be true or false.",
                                        switch_body.example);
        r = (autobuild ? model_component_set_autobuild
                       : model_component_set_autodeploy)(s.db, s.component.id, json_is_true(on));
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot change the component");
        if (autobuild)
                s.component.autobuild = json_is_true(on);
        else
                s.component.autodeploy = json_is_true(on);
        log_info("%s is %s for %s/%s.", req->segments[4], json_is_true(on) ? "on" : "off", s.project.name,
                 s.component.name);
        return http_reply_json(req->conn, 200,
                               json_pack("{s:s,s:s,s:b,s:b}", "project", s.project.name, "component",
                                         s.component.name, "autobuild", s.component.autobuild, "autodeploy",
                                         s.component.autodeploy));
}
