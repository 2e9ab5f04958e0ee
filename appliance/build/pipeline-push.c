/* The push step (issue 13): the built image to the registry the project pushes to (project set --push-to) as
 * PROJECT/COMPONENT:<short commit>, through runtime/oci/registry-client.c, with the password from the vault.
 * The image is pinned while it is read, so gc cannot take its blobs; no sentence it writes carries the
 * password. */
#include "pipeline-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-db.h"
#include "distribution-db.h"
#include "image-catalog.h"
#include "project-db.h"
#include "registry-client.h"
#include "registry-db.h"
#include "string-util.h"

static bool push_cancel(void *userdata) {
        return stop_requested(userdata);
}

/* The artifacts attached to the image (its SBOM: pipeline-store.c) follow it, each by its digest, so the
 * registry's referrers API (or a client that asks for the SBOM's digest) finds them with the image.  A
 * registry that refuses one does not fail the build: the image is there, the step log says what was not. */
static void push_referrers(Run *run, const RegistryTarget *t, const char *repository, const char *registry) {
        ImageCatalog *cat = run->p->cfg.catalog;
        ModelManifest *v = NULL;
        size_t n = 0;

        if (model_manifests_referring(run->db, repository, run->digest, &v, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                RegistryPushResult res = {};
                RegistryError err = {};
                uint64_t now = now_usec();
                int r;

                r = registry_push(cat->store, v[i].digest, t, repository, v[i].digest, push_cancel, run,
                                  run->deadline > now ? run->deadline - now : 1, &res, &err);
                if (r < 0)
                        say(run, "registry %s did not take the %s referrer %s: %s", registry,
                            v[i].artifact_type ?: "artifact", v[i].digest,
                            err.message[0] ? err.message : strerror(-r));
                else
                        say(run, "referrer %s (%s) pushed with the image", v[i].digest,
                            v[i].artifact_type ?: "artifact");
        }
        model_manifests_free(v, n);
}

int step_push(Run *run, const char **ret_message, bool *ret_skipped) {
        _cleanup_(model_project_done) ModelProject proj = {};
        _cleanup_(model_registry_done) ModelRegistry reg = {};
        _cleanup_free_ char *authority = NULL, *repository = NULL, *shown = NULL, *pushed = NULL;
        ImageCatalog *cat = run->p->cfg.catalog;
        RegistryPushResult res = {};
        RegistryError err = {};
        uint8_t *password = NULL;
        size_t password_size = 0;
        const char *tag = run->commit.short_id;
        char bytes[32];
        uint64_t now = now_usec();
        int r;

        r = model_project_get_by_id(run->db, run->comp.project_id, &proj);
        if (r < 0)
                return fail(run, r, "Cannot read project %s: %s.", run->comp.project_name, strerror(-r));
        if (!proj.push_to) {
                *ret_message = "no registry to push to (slipway project set PROJECT --push-to REGISTRY)";
                say(run, "%s", *ret_message);
                *ret_skipped = true;
                return 0;
        }
        r = model_registry_get(run->db, proj.push_to, &reg);
        if (r < 0)
                return fail(run, r, "Cannot read registry %s, where project %s pushes to: %s.", proj.push_to,
                            proj.name, strerror(-r));
        if (asprintf(&repository, "%s/%s", run->comp.project_name, run->comp.name) < 0 ||
            asprintf(&shown, "%s:%s", repository, tag) < 0)
                return -ENOMEM;
        if (registry_url_parse(reg.url, reg.insecure, &authority, NULL) < 0)
                return fail(run, -EINVAL, "Registry %s has a URL Slipway cannot push to (%s); add it again.",
                            reg.name, reg.url);
        if (reg.ciphertext) {
                if (!run->p->cfg.vault)
                        return fail(run, -ENXIO,
                                    "The vault is not open, so the password of registry %s is not "
                                    "available.",
                                    reg.name);
                r = vault_registry_password(run->p->cfg.vault, &reg, &password, &password_size);
                if (r < 0)
                        return fail(run, r,
                                    "The password of registry %s cannot be decrypted; add the registry "
                                    "again with slipway registry add.",
                                    reg.name);
        }
        RegistryTarget t = {
                .url = reg.url,
                .username = reg.username,
                .password = (const char *) password,
                .ca_pem = reg.ca_pem,
                .insecure = reg.insecure,
        };
        if (!reg.username)
                t.password = NULL;
        say(run, "pushing %s to registry %s (%s%s%s)", shown, reg.name, reg.url, reg.username ? " as " : "",
            strempty(reg.username));
        r = image_catalog_pin(cat, run->digest);
        if (r < 0) {
                vault_secret_free(password, password_size);
                return fail(run, r,
                            "The image %s is no longer complete in the store, so it cannot be pushed.",
                            run->digest);
        }
        r = registry_push(cat->store, run->digest, &t, repository, tag, push_cancel, run,
                          run->deadline > now ? run->deadline - now : 1, &res, &err);
        if (r >= 0)
                push_referrers(run, &t, repository, reg.name);
        image_catalog_unpin(cat, run->digest);
        vault_secret_free(password, password_size);
        if (r == -ECANCELED || r == -ETIME) {
                if (run->timed_out || r == -ETIME) {
                        run->timed_out = true;
                        return -ETIME;
                }
                run->cancelled = true;
                return fail(run, -ECANCELED, "The build was cancelled.");
        }
        if (r < 0 && err.status > 0)
                return fail(run, r, "Registry %s refused the push of %s: %s.", reg.name, shown, err.message);
        if (r == -EPERM)
                return fail(run, r,
                            "Cannot push %s to registry %s: %s; add the registry with --ca-file giving the "
                            "CA that signed its certificate.",
                            shown, reg.name, err.message);
        if (r < 0)
                return fail(run, r, "Cannot push %s to registry %s at %s: %s.", shown, reg.name, reg.url,
                            err.message[0] ? err.message : strerror(-r));
        if (asprintf(&pushed, "%s/%s:%s@%s", authority, repository, tag, res.digest) < 0)
                return -ENOMEM;
        r = model_build_set_pushed_ref(run->db, run->build.id, pushed);
        if (r < 0)
                return fail(run, r, "Cannot record the pushed reference: %s.", strerror(-r));
        format_bytes(bytes, sizeof bytes, res.bytes_sent);
        say(run, "blobs: %u sent (%s), %u already in the registry", res.blobs_sent, bytes,
            res.blobs_present);
        say(run, "pushed %s", pushed);
        snprintf(run->step_message, sizeof run->step_message, "%s (%u blob(s) sent, %u already there)",
                 pushed, res.blobs_sent, res.blobs_present);
        *ret_message = run->step_message;
        return 0;
}
