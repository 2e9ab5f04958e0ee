/* The steps of a build (pipeline-internal.h): fetch, checkout, descriptor, image, update and deploy (scan
 * and store are a line each in run_steps()).  Each says what it does into the build's log and fails with one
 * sentence. */
#include "pipeline-internal.h"

#include "scan-report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-db.h"
#include "component-db.h"
#include "component-spec.h"
#include "deploy-log-db.h"
#include "descriptor.h"
#include "digest.h"
#include "environment-db.h"
#include "fs-util.h"
#include "git-checkout.h"
#include "git-mirror.h"
#include "json-util.h"
#include "log.h"
#include "oci-store.h"
#include "path-util.h"
#include "project-db.h"
#include "release-create.h"
#include "release-db.h"
#include "source-url.h"
#include "sqlite-util.h"
#include "string-util.h"


/* Keeps what the descriptor said with the build (DIR/builds/<id>/descriptor.json) and each endpoint's
 * schema file (schemas/<endpoint>), read from the workspace without following a link out of it. */
static int keep_descriptor(Run *run) {
        const Descriptor *d = run->descriptor;
        _cleanup_json_ json_t *j = json_object(), *eps = json_array(), *cfgs = json_array();
        _cleanup_free_ char *schemas = NULL, *text = NULL, *path = NULL;
        _cleanup_close_ int work_fd = -EBADF;
        int r;

        if (!j || !eps || !cfgs)
                return -ENOMEM;
        r = build_dir_path(run->p, run->build.id, "schemas", &schemas);
        if (r < 0)
                return r;
        work_fd = open(run->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (work_fd < 0)
                return -errno;
        _cleanup_free_ char *work_real = realpath(run->work, NULL);
        if (!work_real)
                return -errno;
        for (size_t i = 0; i < d->n_endpoints; i++) {
                const DescriptorEndpoint *e = &d->endpoints[i];
                json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s?}", "name", e->name, "display_name",
                                      e->display_name, "port", (int) e->port, "base_path", e->base_path,
                                      "type", descriptor_endpoint_type_to_string(e->type), "schema_file",
                                      e->schema_file_path[0] ? e->schema_file_path : NULL);
                json_array_append_new(eps, o);
                if (!e->schema_file_path[0])
                        continue;
                _cleanup_free_ char *data = NULL, *target = NULL, *full = NULL, *real = NULL;
                const char *rel = e->schema_file_path;
                size_t size = 0;
                full = path_join(run->work, rel);
                if (!full)
                        return -ENOMEM;
                real = realpath(full, NULL);
                if (path_has_dotdot(rel) || rel[0] == '/' || !real || !path_below(real, work_real)) {
                        say(run, "endpoint %s: schema %s is not a file of the component; not kept", e->name,
                            rel);
                        continue;
                }
                r = read_full_file_at(work_fd, rel, PIPELINE_SCHEMA_MAX, &data, &size);
                if (r < 0) {
                        say(run, "endpoint %s: schema %s cannot be read (%s); not kept", e->name, rel,
                            strerror(-r));
                        continue;
                }
                if ((r = mkdir_p(schemas, 0750)) < 0 ||
                    (r = pipeline_schema_path(run->p->state_dir, run->build.id, e->name, &target)) < 0 ||
                    (r = write_file_atomic(target, data, size, 0640)) < 0)
                        return r;
                json_object_set_new(o, "schema_kept", json_true());
                say(run, "endpoint %s: schema %s kept (%zu bytes)", e->name, rel, size);
        }
        for (size_t i = 0; i < d->n_configs; i++) {
                const DescriptorConfig *c = &d->configs[i];
                json_array_append_new(cfgs, json_pack("{s:s,s:s,s:b,s:s?,s:b,s:s}", "name", c->name,
                                                      "display_name", c->display_name, "file", c->file,
                                                      "mount_path", c->file ? c->mount_path : NULL,
                                                      "required", c->required, "type",
                                                      descriptor_config_type_to_string(c->type)));
        }
        json_object_set_new(j, "file", json_string(descriptor_format_to_string(d->format)));
        json_object_set_new(j, "schema_version", json_string(d->schema_version));
        json_object_set(j, "endpoints", eps);
        json_object_set(j, "configurations", cfgs);
        json_object_set(j, "dependencies", d->dependencies ?: json_null());
        text = json_dumps(j, JSON_INDENT(2));
        if (!text || build_dir_path(run->p, run->build.id, PIPELINE_DESCRIPTOR_FILE, &path) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0640);
}

int step_fetch(Run *run, GitMirror **ret_mirror) {
        Pipeline *p = run->p;
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        SourceError err = {};
        int kind = source_url_classify(run->src.url);
        int r;

        if (kind < 0)
                return fail(run, -EINVAL, "The component's git URL is not one Slipway can fetch.");
        if ((kind == SOURCE_URL_PATH || kind == SOURCE_URL_FILE) && p->local_root) {
                const char *path = kind == SOURCE_URL_FILE ? run->src.url + strlen("file://") : run->src.url;
                if (!path_below(path, p->local_root))
                        return fail(run, -EPERM,
                                    "The repository %s is outside %s, the only place local "
                                    "repositories are read from.",
                                    path, p->local_root);
        }
        SourceCreds creds;
        SourceAuth auth;
        r = source_creds_load(p, run->db, run->comp.id, run->src.url, &creds, &auth);
        if (r < 0)
                return fail(run, r, "The component's git credentials cannot be opened: %s.", strerror(-r));
        pthread_mutex_lock(&p->mirror_lock);
        r = git_mirror_open(p->git_dir, run->src.url, &auth, &m, &err);
        if (r >= 0) {
                say(run, "fetching %s from %s",
                    run->build.commit_sha ? run->build.commit_sha : run->src.branch,
                    git_mirror_url_shown(m));
                if (run->build.commit_sha)
                        r = git_mirror_resolve_commit(m, run->build.commit_sha, &run->commit, &err);
                else {
                        r = git_mirror_fetch(m, run->src.branch, &err);
                        if (r >= 0)
                                r = git_mirror_resolve_branch(m, run->src.branch, &run->commit, &err);
                }
        }
        pthread_mutex_unlock(&p->mirror_lock);
        if (r >= 0 && creds.host[0] && !creds.pinned && git_mirror_ssh_host_key(m))
                say(run, "pinned the ssh host key of %s: %s", creds.host, git_mirror_ssh_host_key(m));
        if (r >= 0)
                (void) source_creds_pin(run->db, &creds, m);
        source_creds_done(&creds);
        if (r < 0)
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The fetch failed.",
                            err.hint[0] ? " " : "", err.hint);
        say(run, "commit %s: %s (%s)", run->commit.id, run->commit.subject ?: "",
            run->commit.author_name ?: "unknown author");
        if (!run->build.commit_sha || strlen(run->build.commit_sha) != strlen(run->commit.id) ||
            !run->build.commit_subject) {
                _cleanup_free_ char *author = NULL;
                if (asprintf(&author, "%s <%s>", run->commit.author_name ?: "",
                             run->commit.author_email ?: "") < 0)
                        return -ENOMEM;
                r = model_build_set_commit(run->db, run->build.id, run->commit.id, run->commit.subject,
                                           author, run->commit.author_time);
                if (r == -EEXIST || r == -EBUSY)
                        return fail(run, r, "Commit %s of this component is already built or being built.",
                                    run->commit.short_id);
                if (r < 0)
                        return fail(run, r, "Cannot record the commit: %s.", strerror(-r));
        }
        *ret_mirror = TAKE_PTR(m);
        return 0;
}

int step_checkout(Run *run, GitMirror *m) {
        SourceCheckoutLimits limits = { SOURCE_CHECKOUT_FILES_MAX, SOURCE_CHECKOUT_BYTES_MAX };
        SourceCheckoutResult res = {};
        SourceError err = {};
        int r;

        r = mkdir_p(run->work, 0700);
        if (r < 0)
                return fail(run, r, "Cannot create the workspace %s: %s.", run->work, strerror(-r));
        r = git_checkout_commit(m, run->commit.id, run->src.dir[0] ? run->src.dir : NULL, run->work, &limits,
                                &res, &err);
        if (r < 0)
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The checkout failed.",
                            err.hint[0] ? " " : "", err.hint);
        say(run, "checked out %" PRIu64 " files in %" PRIu64 " directories (%" PRIu64 " bytes)%s%s",
            res.n_files, res.n_dirs, res.n_bytes, res.n_submodules_skipped ? "; submodules skipped: " : "",
            res.first_submodule);
        return 0;
}

int step_descriptor(Run *run, const char **ret_message) {
        _cleanup_close_ int fd = open(run->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DescriptorError err = {};
        int r;

        if (fd < 0)
                return fail(run, -errno, "Cannot open the workspace: %m.");
        r = descriptor_load(fd, NULL, &run->descriptor, &err);
        if (r == -ENOENT) {
                *ret_message = "no .choreo descriptor: the component's own settings are used";
                say(run, "%s", *ret_message);
                return 0;
        }
        if (r < 0)
                return fail(run, r, "%s", err.text[0] ? err.text : "The descriptor cannot be read.");
        say(run, "%s: %zu endpoint(s), %zu configurable(s)",
            descriptor_format_to_string(run->descriptor->format), run->descriptor->n_endpoints,
            run->descriptor->n_configs);
        r = keep_descriptor(run);
        if (r < 0)
                return fail(run, r, "Cannot keep the descriptor with the build: %s.", strerror(-r));
        *ret_message = descriptor_format_to_string(run->descriptor->format);
        return 0;
}

/* The component's build secrets, opened from the vault for one build: BuildOptions.secrets points into
 * vals; run_secrets_done() wipes the plaintext whichever way the step ends. */
typedef struct RunSecrets {
        VaultValue *vals;
        BuildSecret *secrets;
        size_t n;
} RunSecrets;

_Static_assert(VAULT_BUILD_SECRETS_MAX <= BUILD_SECRETS_MAX,
               "the vault keeps more secrets than a build takes");
_Static_assert(VAULT_VALUE_MAX <= BUILD_SECRET_SIZE_MAX,
               "the vault keeps larger secrets than a build takes");

static void run_secrets_done(RunSecrets *s) {
        vault_values_free(s->vals, s->n);
        free(s->secrets);
        *s = (RunSecrets) {};
}

static int run_secrets_load(Run *run, RunSecrets *ret) {
        _cleanup_free_ char *error = NULL, *names = NULL;
        _cleanup_(run_secrets_done) RunSecrets s = {};
        size_t len = 0;
        FILE *f;
        int r;

        if (!run->p->cfg.vault)
                return 0;
        r = vault_build_secrets_open(run->p->cfg.vault, run->db, run->comp.id, &s.vals, &s.n, &error);
        if (r < 0)
                return fail(run, r, "%s",
                            error ?: "The component's build secrets cannot be opened from the vault.");
        if (s.n == 0)
                return 0;
        s.secrets = calloc(s.n, sizeof *s.secrets);
        f = open_memstream(&names, &len);
        if (!s.secrets || !f) {
                if (f)
                        fclose(f);
                return -ENOMEM;
        }
        for (size_t i = 0; i < s.n; i++) {
                s.secrets[i] = (BuildSecret) { .id = s.vals[i].key,
                                               .data = s.vals[i].data,
                                               .size = s.vals[i].size };
                fprintf(f, "%s%s", i > 0 ? ", " : "", s.vals[i].key);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        /* Names only: the values never reach the log. */
        say(run, "build secrets from the vault: %s", names);
        *ret = TAKE_STRUCT(s);
        return 0;
}

/* The builder's sentence for a required secret that is not set names the command that sets it with a
 * placeholder for the component (it does not know it): here it is this one. */
static void name_component(Run *run, BuildError *err) {
        static const char placeholder[] = "config set PROJECT/COMP --build ";
        char *at = strstr(err->message, placeholder), buf[sizeof err->message];

        if (!at)
                return;
        snprintf(buf, sizeof buf, "%.*sconfig set %s/%s --build %s", (int) (at - err->message), err->message,
                 run->comp.project_name, run->comp.name, at + strlen(placeholder));
        memcpy(err->message, buf, sizeof buf);
}

int step_image(Run *run) {
        _cleanup_free_ char *df = path_join(run->work, run->src.dockerfile);
        _cleanup_(run_secrets_done) RunSecrets secrets = {};
        BuildResult res = {};
        BuildError err = {};
        struct stat st;
        int r;

        if (!df)
                return -ENOMEM;
        if (stat(df, &st) < 0 || !S_ISREG(st.st_mode))
                return fail(run, -ENOENT, "There is no Dockerfile at %s%s%s in commit %s.", run->src.dir,
                            run->src.dir[0] ? "/" : "", run->src.dockerfile, run->commit.short_id);
        if (asprintf(&run->ref, "%s/%s:%s", run->comp.project_name, run->comp.name, run->commit.short_id) <
            0)
                return -ENOMEM;
        /* The commit and repository (without credentials) it was built from, as OCI annotations say. */
        _cleanup_free_ char *l_rev = NULL, *l_src = NULL, *l_comp = NULL, *shown = NULL;
        if (source_url_redact(run->src.url, &shown) < 0 ||
            asprintf(&l_rev, "org.opencontainers.image.revision=%s", run->commit.id) < 0 ||
            asprintf(&l_src, "org.opencontainers.image.source=%s", shown) < 0 ||
            asprintf(&l_comp, "dev.slipway.component=%s/%s", run->comp.project_name, run->comp.name) < 0)
                return -ENOMEM;
        char *labels[] = { l_rev, l_src, l_comp, NULL };
        r = run_secrets_load(run, &secrets);
        if (r < 0)
                return r;
        BuildOptions opts = {
                .context_dir = run->work,
                .labels = labels,
                .dockerfile = run->src.dockerfile,
                .tag = run->ref,
                .log_fd = run->pipe_w,
                .timeout_usec = run->deadline > now_usec() ? run->deadline - now_usec() : 1,
                .job = run->running.job,
                .secrets = secrets.secrets,
                .n_secrets = secrets.n,
        };
        r = builder_run(run->p->cfg.builder, &opts, NULL, &res, &err);
        run_secrets_done(&secrets); /* the plaintext is wiped as soon as the build is over */
        if (r == -ECANCELED) {
                run->cancelled = true;
                return fail(run, r, "The build was cancelled.");
        }
        if (r == -ETIME) {
                run->timed_out = true;
                return r;
        }
        if (r < 0) {
                name_component(run, &err);
                /* The builder wrote its error into the log: the reason is kept, not said twice. */
                if (err.line > 0)
                        return fail_logged(run, r, "%s:%u: %s%s%s",
                                           err.file[0] ? err.file : run->src.dockerfile, err.line,
                                           err.message, err.hint[0] ? " " : "", err.hint);
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The image build failed.",
                            err.hint[0] ? " " : "", err.hint);
        }
        memcpy(run->digest, res.digest, sizeof run->digest);
        free(run->ref);
        run->ref = res.ref ? strdup(res.ref) : NULL;
        build_result_done(&res);
        return 0;
}

/* The image's SBOM (CycloneDX 1.5) from its unpacked layers, kept as DIR/builds/<id>/sbom.json, and the scan
 * (scan-report.h: findings against the imported OSV database, secrets per layer, checks) as scan.json.  The
 * policy at the project's threshold (run->scan_fail_on; NULL: critical) decides whether the build fails,
 * after the build context's .slipwayignore / .trivyignore waivers; every finding is kept either way. */
int step_scan(Run *run, const char **ret_message) {
        _cleanup_(scan_report_done) ScanReport rep = {};
        _cleanup_(scan_ignore_done) ScanIgnore ignore = {};
        _cleanup_free_ char *tmp = path_join(run->work, ".slipway-sbom"), *path = NULL, *text = NULL,
                            *scan_path = NULL, *scan_text = NULL;
        static _Thread_local char message[256];
        ScanFailOn fail_on;
        OciError err = {};
        json_t *f;
        size_t i;
        int r;

        /* The project's threshold (project set --scan-fail-on), read as the step starts. */
        if (!run->scan_fail_on) {
                _cleanup_(model_project_done) ModelProject proj = {};

                if (model_project_get_by_id(run->db, run->comp.project_id, &proj) >= 0 && proj.scan_fail_on)
                        run->scan_fail_on = TAKE_PTR(proj.scan_fail_on);
        }
        fail_on = scan_fail_on_from_setting(run->scan_fail_on);

        if (!tmp || build_dir_path(run->p, run->build.id, PIPELINE_SBOM_FILE, &path) < 0 ||
            build_dir_path(run->p, run->build.id, PIPELINE_SCAN_FILE, &scan_path) < 0)
                return -ENOMEM;
        if (fail_on < 0)
                return fail(run, -EINVAL,
                            "The project's scan threshold '%s' is not critical, high or none; set it with "
                            "'slipway project set %s --scan-fail-on critical'.",
                            run->scan_fail_on, run->comp.project_name);
        _cleanup_close_ int work_fd = open(run->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = work_fd < 0 ? -errno : scan_ignore_load(work_fd, &ignore);
        if (r == -EFBIG || r == -E2BIG)
                return fail(
                        run, r,
                        "The build context's .slipwayignore or .trivyignore is too large (at most %u ids "
                        "in %u KiB); keep one id per line.",
                        SCAN_IGNORE_IDS_MAX, SCAN_IGNORE_FILE_MAX / 1024U);
        if (r < 0)
                return fail(run, r, "The build context's .slipwayignore cannot be read: %s.", strerror(-r));
        if (ignore.n_ids > 0)
                say(run, "%zu id(s) waived by the build context's ignore file(s)", ignore.n_ids);
        r = scan_report_make(run->p->cfg.catalog, run->db, run->digest, run->ref ?: run->digest, tmp,
                             &ignore, fail_on, &rep, &err);
        if (r < 0)
                return fail(run, r, "%s", err.message[0] ? err.message : "The image cannot be scanned.");
        text = json_dumps(rep.bom, JSON_INDENT(2));
        if (!text)
                return -ENOMEM;
        r = write_file_atomic(path, text, strlen(text), 0640);
        if (r < 0)
                return fail(run, r, "Cannot keep the SBOM with the build: %s.", strerror(-r));
        json_array_foreach(json_object_get(rep.doc, "findings"), i, f) {
                const char *fixed = json_string_value(json_object_get(f, "fixed"));
                say(run, "finding %s %s: %s %s%s%s%s%s", json_string_value(json_object_get(f, "severity")),
                    json_string_value(json_object_get(f, "id")),
                    json_string_value(json_object_get(f, "package")),
                    json_string_value(json_object_get(f, "installed")), fixed ? " (fixed in " : "",
                    strempty(fixed), fixed ? ")" : "",
                    json_is_true(json_object_get(f, "waived")) ? " [waived]" : "");
        }
        json_array_foreach(json_object_get(rep.doc, "checks"), i, f) {
                bool secret = streq_ptr(json_string_value(json_object_get(f, "kind")), "secret");
                const char *layer = json_string_value(json_object_get(f, "layer"));
                say(run, "finding %s %s%s%s%s%s", json_string_value(json_object_get(f, "severity")),
                    json_string_value(json_object_get(f, "id")), layer ? " in layer " : "", strempty(layer),
                    secret ? " (the secret itself is not shown)" : "",
                    json_is_true(json_object_get(f, "waived")) ? " [waived]" : "");
        }
        scan_text = json_dumps(rep.doc, JSON_INDENT(2));
        if (!scan_text)
                return -ENOMEM;
        r = write_file_atomic(scan_path, scan_text, strlen(scan_text), 0640);
        if (r < 0)
                return fail(run, r, "Cannot keep the scan with the build: %s.", strerror(-r));
        if (rep.advisories == 0)
                snprintf(
                        message, sizeof message,
                        "SBOM: %zu component(s), CycloneDX 1.5; %u secret(s); no vulnerability database imported",
                        rep.n_components, rep.n_secrets);
        else
                snprintf(message, sizeof message,
                         "SBOM: %zu component(s); %u finding(s): %u critical, %u high, %u medium, %u low; "
                         "%u secret(s)",
                         rep.n_components, rep.counts.total, rep.counts.by_severity[OSV_SEVERITY_CRITICAL],
                         rep.counts.by_severity[OSV_SEVERITY_HIGH],
                         rep.counts.by_severity[OSV_SEVERITY_MEDIUM],
                         rep.counts.by_severity[OSV_SEVERITY_LOW], rep.n_secrets);
        say(run, "%s (slipway build sbom %" PRId64 ")", message, run->build.id);
        say(run, "policy: fail on %s: %s", scan_fail_on_to_string(fail_on),
            rep.verdict.fail ? "the build fails" : "passed");
        if (rep.verdict.fail)
                return fail(run, -EPERM, "%s See 'slipway build show %" PRId64 "'.", rep.verdict.reason,
                            run->build.id);
        *ret_message = message;
        return 0;
}

/* A component with no endpoint (none given, none in a descriptor): each TCP port the built image exposes is
 * a public endpoint "port-N", and a readiness check left at the process default checks the first one. */
static int endpoints_from_image(Run *run, ComponentSpec *spec) {
        ImageCatalog *cat = run->p->cfg.catalog;
        _cleanup_json_ json_t *img = NULL, *j = NULL, *eps = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        json_t *exposed, *v;
        const char *key;
        OciError err = {};
        int r;

        if (!cat || !cat->store)
                return 0;
        image_catalog_read_lock(cat);
        r = oci_store_image_inspect(cat->store, run->digest, &img, &err);
        image_catalog_read_unlock(cat);
        if (r < 0)
                return 0; /* no config to read: the spec stays as it is */
        exposed = json_object_get(json_object_get(json_object_get(img, "config"), "config"), "ExposedPorts");
        eps = json_array();
        if (!eps)
                return -ENOMEM;
        json_object_foreach(exposed, key, v) {
                char *end, name[16];
                unsigned long port = strtoul(key, &end, 10);
                if (end == key || port == 0 || port > 65535 || (*end && !streq(end, "/tcp")) ||
                    json_array_size(eps) >= SPEC_ENDPOINTS_MAX)
                        continue;
                snprintf(name, sizeof name, "port-%lu", port);
                json_array_append_new(eps, json_pack("{s:s,s:i}", "name", name, "port", (int) port));
        }
        if (json_array_size(eps) == 0)
                return 0;
        text = component_spec_format(spec);
        if (!text || json_parse_buffer(text, strlen(text), &j, NULL) < 0)
                return -ENOMEM;
        json_object_set(j, "endpoints", eps);
        if (spec->readiness.kind == HEALTH_PROCESS)
                json_object_del(j, "health");
        r = component_spec_from_json(j, spec, &error);
        if (r < 0)
                return fail(run, r, "The image's exposed ports do not make endpoints: %s",
                            error ?: "invalid");
        say(run, "endpoints from the ports the image exposes: %zu", spec->n_endpoints);
        return 0;
}

int step_update(Run *run, const char **ret_message) {
        _cleanup_free_ char *cur_err = NULL, *json = NULL;
        DescriptorError derr = {};
        ComponentSpec cur, desc;
        int r;

        r = component_spec_parse(run->comp.spec, &cur, &cur_err);
        if (r < 0)
                return fail(run, r, "The component's spec cannot be read: %s", cur_err ?: "invalid");
        if (!run->descriptor) {
                if (cur.n_endpoints > 0) {
                        *ret_message = "no descriptor: the spec is unchanged";
                        return 0;
                }
                r = endpoints_from_image(run, &cur);
                if (r < 0)
                        return r;
                if (cur.n_endpoints == 0) {
                        *ret_message = "no descriptor and no exposed port: the spec is unchanged";
                        return 0;
                }
                *ret_message = "endpoints from the ports the image exposes";
                goto save;
        }
        r = descriptor_to_spec(run->descriptor, &desc, &derr);
        if (r < 0)
                return fail(run, r, "%s",
                            derr.text[0] ? derr.text : "The descriptor does not map to a spec.");
        if (desc.n_endpoints > 0) {
                memcpy(cur.endpoints, desc.endpoints, sizeof cur.endpoints);
                cur.n_endpoints = desc.n_endpoints;
        }
        memcpy(cur.configs, desc.configs, sizeof cur.configs);
        cur.n_configs = desc.n_configs;
        if (run->descriptor->has_extension) {
                cur.readiness = desc.readiness;
                cur.liveness = desc.liveness;
                cur.deploy_timeout_ms = desc.deploy_timeout_ms;
                cur.memory_bytes = desc.memory_bytes;
                cur.cpus_milli = desc.cpus_milli;
                cur.pids = desc.pids;
                cur.bake_ms = desc.bake_ms;
                cur.bake_max_5xx_percent = desc.bake_max_5xx_percent;
        }
        if (cur.n_endpoints == 0 && (r = endpoints_from_image(run, &cur)) < 0)
                return r;
save:
        json = component_spec_format(&cur);
        if (!json)
                return -ENOMEM;
        r = model_component_update(run->db, run->comp.id, run->comp.image_ref, json);
        if (r < 0)
                return fail(run, r, "Cannot save the component's spec: %s.", strerror(-r));
        free(run->comp.spec);
        run->comp.spec = TAKE_PTR(json);
        if (run->descriptor) {
                say(run,
                    "endpoints and configurables taken from the descriptor (%zu endpoint(s), %zu "
                    "configurable(s))",
                    cur.n_endpoints, cur.n_configs);
                *ret_message = "endpoints and configurables from the descriptor";
        }
        return 0;
}

int step_deploy(Run *run) {
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        ModelEnvironment *envs = NULL;
        size_t n_envs = 0;
        int64_t release_id = 0;
        uint64_t until;
        int r;

        r = model_environment_list(run->db, run->comp.project_id, &envs, &n_envs);
        if (r < 0 || n_envs == 0) {
                model_environments_free(envs, n_envs);
                return fail(run, r < 0 ? r : -ENOENT, "Project %s has no environment to deploy to.",
                            run->comp.project_name);
        }
        say(run, "deploying %s to %s", run->ref ?: run->digest, envs[0].name);
        r = release_create(run->db, &run->comp, &envs[0], run->digest, run->comp.spec,
                           MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &release_id, &refusal);
        model_environments_free(envs, n_envs);
        if (r < 0)
                return fail(run, r, "%s%s%s", refusal.message ?: "The release cannot be created.",
                            refusal.hint ? " " : "", refusal.hint ?: "");
        (void) model_build_set_release(run->db, run->build.id, release_id);
        model_deploy_log_appendf(run->db, release_id, "deploy of build %" PRId64 " (%s) requested",
                                 run->build.id, run->ref ?: run->digest);
        if (run->p->cfg.wake_engine)
                run->p->cfg.wake_engine(run->p->cfg.wake_userdata);
        until = now_usec() + PIPELINE_DEPLOY_WAIT_USEC;
        for (;;) {
                ModelRelease rel = {};
                struct timespec ts = { 0, 20 * 1000 * 1000 };

                r = model_release_get(run->db, release_id, &rel);
                if (r < 0)
                        return fail(run, r, "The release %" PRId64 " is gone.", release_id);
                if (streq(rel.status, MODEL_RELEASE_LIVE)) {
                        say(run, "release %" PRId64 " is live", release_id);
                        model_release_done(&rel);
                        return 0;
                }
                if (!streq(rel.status, MODEL_RELEASE_PENDING) &&
                    !streq(rel.status, MODEL_RELEASE_DEPLOYING)) {
                        r = fail(run, -EIO, "Release %" PRId64 " ended %s: %s", release_id, rel.status,
                                 rel.reason ?: "see slipway releases");
                        model_release_done(&rel);
                        return r;
                }
                model_release_done(&rel);
                if (now_usec() > until)
                        return fail(run, -ETIME, "Release %" PRId64 " did not go live in time.", release_id);
                if (stop_requested(run) && !run->timed_out)
                        return fail(run, -ECANCELED, "The build was cancelled while its release deployed.");
                nanosleep(&ts, NULL);
        }
}

/* Asked when the build began, or since (build --deploy of a commit being built), or auto-deploy is on now. */
bool want_deploy(Run *run) {
        ModelBuild b = {};
        ModelComponent c = {};
        bool want = run->build.deploy || run->comp.autodeploy;

        if (!want && model_build_get(run->db, run->build.id, &b) >= 0)
                want = b.deploy;
        model_build_done(&b);
        if (!want && model_component_get_by_id(run->db, run->comp.id, &c) >= 0)
                want = c.autodeploy;
        model_component_done(&c);
        return want;
}
