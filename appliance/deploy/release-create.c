/* release_create(): every release a person asks for is made here, so deploy, promote, rollback and
 * `config set --deploy` check configurables, pin values and prune old releases the same way, in one
 * transaction.  A refusal names every missing value and the command that sets it, and writes nothing. */
#include "release-create.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec.h"
#include "config-value-db.h"
#include "instance-setup.h"
#include "log.h"
#include "release-db.h"
#include "release-values-db.h"
#include "sqlite-util.h"

void release_refusal_done(ReleaseRefusal *r) {
        if (!r)
                return;
        free(r->message);
        free(r->hint);
        for (size_t i = 0; i < r->n_missing; i++)
                free(r->missing[i]);
        free(r->missing);
        *r = (ReleaseRefusal) {};
}

static const char *origin_verb(const char *origin) {
        if (streq_ptr(origin, MODEL_RELEASE_ORIGIN_PROMOTE))
                return "promote";
        if (streq_ptr(origin, MODEL_RELEASE_ORIGIN_ROLLBACK))
                return "roll back";
        return "deploy";
}

static const ModelConfigValue *find_value(const ModelConfigValue *v, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].key, key) && !v[i].deleted)
                        return &v[i];
        return NULL;
}

/* A value fits a configurable when it has the configurable's kind: a file mounted at the declared path for
 * file=PATH, an environment variable otherwise. */
static bool value_fits(const SpecConfig *c, const ModelConfigValue *v) {
        if (c->file[0])
                return v->is_file && streq_ptr(v->file_path, c->file);
        return !v->is_file;
}

/* Fills *ret with every required configurable values[] does not satisfy; 0 when there is none, -ENOKEY
 * with the refusal filled otherwise. */
static int check_configurables(const ModelComponent *comp, const ModelEnvironment *env,
                               const ComponentSpec *spec, const char *origin, const ModelConfigValue *values,
                               size_t n_values, ReleaseRefusal *ret) {
        _cleanup_free_ char *names = NULL, *hint = NULL, *wrong = NULL;
        ReleaseRefusal ref = {};
        size_t n_wrong = 0;
        FILE *fn, *fh, *fw;
        size_t sn = 0, sh = 0, sw = 0;

        fn = open_memstream(&names, &sn);
        fh = open_memstream(&hint, &sh);
        fw = open_memstream(&wrong, &sw);
        if (!fn || !fh || !fw) {
                if (fn)
                        fclose(fn);
                if (fh)
                        fclose(fh);
                if (fw)
                        fclose(fw);
                return -ENOMEM;
        }
        for (size_t i = 0; i < spec->n_configs; i++) {
                const SpecConfig *c = &spec->configs[i];
                const ModelConfigValue *v = find_value(values, n_values, c->name);
                char **m;

                if (c->optional || (v && value_fits(c, v)))
                        continue;
                m = reallocarray(ref.missing, ref.n_missing + 1, sizeof *m);
                if (!m)
                        goto oom;
                ref.missing = m;
                if (!(ref.missing[ref.n_missing] = strdup(c->name)))
                        goto oom;
                ref.n_missing++;
                fprintf(fn, "%s%s", ref.n_missing > 1 ? ", " : "", c->name);
                fprintf(fh, "%sslipway config set %s/%s %s %s=VALUE%s%s%s", ref.n_missing > 1 ? "; " : "",
                        comp->project_name, comp->name, env->name, c->name, c->secret ? " --secret" : "",
                        c->file[0] ? " --file " : "", c->file);
                if (v) {
                        if (c->file[0] && v->is_file)
                                fprintf(fw, "%s%s is a file at %s, not at %s", n_wrong ? "; " : "", c->name,
                                        v->file_path ?: "?", c->file);
                        else if (c->file[0])
                                fprintf(fw, "%s%s is an environment variable, not a file at %s",
                                        n_wrong ? "; " : "", c->name, c->file);
                        else
                                fprintf(fw, "%s%s is a file, not an environment variable",
                                        n_wrong ? "; " : "", c->name);
                        n_wrong++;
                }
        }
        /* Each stream closed once, whatever the others did. */
        int closed = fclose(fn);
        closed = fclose(fh) < 0 ? -1 : closed;
        closed = fclose(fw) < 0 ? -1 : closed;
        if (closed < 0)
                goto oom_closed;
        if (ref.n_missing == 0)
                return 0;
        if (asprintf(
                    &ref.message,
                    "Cannot %s %s/%s %s %s: %s %zu required configurable%s without a%s value there: %s%s%s%s.",
                    origin_verb(origin), comp->project_name, comp->name,
                    streq(origin, MODEL_RELEASE_ORIGIN_ROLLBACK) ? "in" : "to", env->name,
                    streq(origin, MODEL_RELEASE_ORIGIN_ROLLBACK) ? "the release has" : "it has",
                    ref.n_missing, ref.n_missing == 1 ? "" : "s", n_wrong ? " fitting" : "", names,
                    n_wrong ? " (" : "", n_wrong ? wrong : "", n_wrong ? ")" : "") < 0 ||
            asprintf(&ref.hint, "Set %s with: %s; nothing was changed.", ref.n_missing == 1 ? "it" : "them",
                     hint) < 0)
                goto oom_closed;
        if (ret)
                *ret = ref;
        else
                release_refusal_done(&ref);
        return -ENOKEY;

oom:
        fclose(fn);
        fclose(fh);
        fclose(fw);
oom_closed:
        release_refusal_done(&ref);
        return -ENOMEM;
}

/* The value rows the release will pin: the given ids, or the environment's effective values. */
static int load_values(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                       const int64_t *pinned, size_t n_pinned, ModelConfigValue **ret, size_t *ret_n,
                       ReleaseRefusal *ret_refusal) {
        ModelConfigValue *v;
        int r;

        if (!pinned)
                return model_config_effective(db, env->id, comp->id, ret, ret_n);
        v = calloc(n_pinned ?: 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_pinned; i++) {
                r = model_config_value_get(db, pinned[i], &v[i]);
                if (r == -ENOENT) {
                        model_config_values_free(v, i);
                        if (ret_refusal &&
                            (asprintf(&ret_refusal->message,
                                      "A value version this release would run with in %s no longer exists "
                                      "(value %lld).",
                                      env->name, (long long) pinned[i]) < 0 ||
                             !(ret_refusal->hint =
                                       strdup("Roll back to a newer release (see 'slipway releases'), "
                                              "or deploy with the current values."))))
                                return -ENOMEM;
                        return -ESTALE;
                }
                if (r < 0) {
                        model_config_values_free(v, i);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n_pinned;
        return 0;
}

static int create_in_transaction(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                                 const char *digest, const char *spec_json, const ComponentSpec *spec,
                                 const char *origin, int64_t source_release_id, const int64_t *pinned,
                                 size_t n_pinned, ReleaseCreateThen then, void *userdata, int64_t *ret_id,
                                 char ***ret_dirs, size_t *ret_n_dirs, ReleaseRefusal *ret_refusal) {
        ModelConfigValue *values = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        size_t n_values = 0;
        int64_t id;
        int r;

        r = load_values(db, comp, env, pinned, n_pinned, &values, &n_values, ret_refusal);
        if (r < 0)
                return r;
        r = check_configurables(comp, env, spec, origin, values, n_values, ret_refusal);
        if (r < 0)
                goto finish;
        ids = calloc(n_values ?: 1, sizeof *ids);
        if (!ids) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_values; i++)
                ids[i] = values[i].id;
        r = model_release_create_from(db, comp->id, env->id, digest, spec_json, origin, source_release_id,
                                      &id);
        if (r < 0)
                goto finish;
        r = model_release_values_pin(db, id, ids, n_values);
        if (r < 0)
                goto finish;
        if (then && (r = then(db, id, userdata)) < 0)
                goto finish;
        r = model_release_prune(db, comp->id, env->id, spec->keep_releases, ret_dirs, ret_n_dirs);
        if (r < 0)
                goto finish;
        r = model_config_values_prune(db, env->id);
        if (r < 0) {
                sqlite_rows_free(&sqlite_text_row, *ret_dirs, *ret_n_dirs);
                *ret_dirs = NULL;
                *ret_n_dirs = 0;
                goto finish;
        }
        *ret_id = id;
        r = 0;
finish:
        model_config_values_free(values, n_values);
        return r;
}

int release_check(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                  const char *spec_json, const char *origin, ReleaseRefusal *ret_refusal) {
        _cleanup_free_ char *error = NULL;
        ModelConfigValue *values = NULL;
        size_t n_values = 0;
        ComponentSpec spec;
        int r;

        r = component_spec_parse(spec_json, &spec, &error);
        if (r < 0)
                return r;
        r = load_values(db, comp, env, NULL, 0, &values, &n_values, ret_refusal);
        if (r < 0)
                return r;
        r = check_configurables(comp, env, &spec, origin, values, n_values, ret_refusal);
        model_config_values_free(values, n_values);
        return r;
}

int release_create(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env, const char *digest,
                   const char *spec_json, const char *origin, int64_t source_release_id,
                   const int64_t *pinned_value_ids, size_t n_pinned, int64_t *ret_id,
                   ReleaseRefusal *ret_refusal) {
        return release_create_then(db, comp, env, digest, spec_json, origin, source_release_id,
                                   pinned_value_ids, n_pinned, NULL, NULL, ret_id, ret_refusal);
}

int release_create_then(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                        const char *digest, const char *spec_json, const char *origin,
                        int64_t source_release_id, const int64_t *pinned_value_ids, size_t n_pinned,
                        ReleaseCreateThen then, void *userdata, int64_t *ret_id,
                        ReleaseRefusal *ret_refusal) {
        _cleanup_free_ char *error = NULL;
        ReleaseRefusal refusal = {};
        ComponentSpec spec;
        char **dirs = NULL;
        size_t n_dirs = 0;
        int64_t id = 0;
        int r;

        r = component_spec_parse(spec_json, &spec, &error);
        if (r < 0)
                return r;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = create_in_transaction(db, comp, env, digest, spec_json, &spec, origin, source_release_id,
                                  pinned_value_ids, n_pinned, then, userdata, &id, &dirs, &n_dirs, &refusal);
        r = sqlite_end(db, r);
        if (r < 0) {
                sqlite_rows_free(&sqlite_text_row, dirs, n_dirs);
                if (ret_refusal && refusal.message)
                        *ret_refusal = refusal;
                else
                        release_refusal_done(&refusal);
                return r;
        }
        /* The pruned releases' instances were stopped; their directories (logs, overlay upper) go now. */
        for (size_t i = 0; i < n_dirs; i++) {
                int k = instance_setup_remove(dirs[i]);
                if (k < 0)
                        log_debug_errno(k, "Cannot remove %s of a pruned release: %m", dirs[i]);
        }
        sqlite_rows_free(&sqlite_text_row, dirs, n_dirs);
        if (ret_id)
                *ret_id = id;
        return 0;
}
