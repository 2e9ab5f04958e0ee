/* Unit tests for release_create(): configurables checked against the values a release would pin (every
 * missing name listed with its command, a file configurable needs a file value at its path), nothing written
 * on a refusal, exact pins for a rollback, pruning of releases beyond keep_releases and of unpinned old value
 * versions, against a real sqlite file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-value-db.h"
#include "fs-util.h"
#include "model.h"
#include "release-create.h"
#include "release-values-db.h"
#include "sqlite-util.h"
#include "state.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-release-create-XXXXXX";

#define SPEC                                                                        \
        "{\"configs\":[{\"name\":\"DB_URL\"},{\"name\":\"TOKEN\",\"secret\":true}," \
        "{\"name\":\"TLS\",\"file\":\"/etc/tls.pem\"},{\"name\":\"OPT\",\"optional\":true}],\"keep_releases\":2}"

static int64_t put(sqlite3 *db, const ModelEnvironment *env, int64_t comp_id, const char *key,
                   const char *file) {
        ModelConfigValue v = {
                .project_id = env->project_id,
                .environment_id = env->id,
                .component_id = comp_id,
                .key = (char *) key,
                .is_file = file != NULL,
                .file_path = (char *) file,
                .size = 1,
                .ciphertext = (uint8_t *) "x",
                .ciphertext_size = 1,
        };
        int64_t id;

        CHECK(model_config_next_version(db, env->id, comp_id, key, &v.version) == 0);
        CHECK(model_config_value_insert(db, &v, &id) == 0);
        return id;
}

static int value_get(sqlite3 *db, int64_t id) {
        ModelConfigValue v = {};
        int r = model_config_value_get(db, id, &v);
        model_config_value_done(&v);
        return r;
}

static unsigned count(sqlite3 *db, const char *sql) {
        unsigned n;
        CHECK(sqlite_count(db, sql, SQL_NO_ARGS, &n) == 0);
        return n;
}

int main(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *path = NULL;
        char *envs[] = { "development", "production" };
        ModelAllocation al = { .ingress_base_port = 8080, .bridge_prefix = "swb" };
        ModelProject p = {};
        ModelEnvironment prod = {};
        ModelComponent c = {};
        ModelRelease rel = {};
        ReleaseRefusal ref = {};
        int64_t id, first, *ids = NULL;
        size_t n;

        CHECK(mkdtemp(tmpdir));
        CHECK(asprintf(&path, "%s/slipway.db", tmpdir) > 0);
        CHECK(state_open(path, &db) == 0);
        CHECK(model_project_create(db, "shop", envs, 2, &al, &p) == 0);
        CHECK(model_environment_get(db, p.id, "production", &prod) == 0);
        CHECK(model_component_create(db, p.id, "web", "busybox:latest", SPEC, &c) == 0);

        /* Nothing set: every required one is named, with the command that sets it; nothing is written. */
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &id,
                             &ref) == -ENOKEY);
        CHECK(ref.n_missing == 3 && streq(ref.missing[0], "DB_URL") && streq(ref.missing[1], "TOKEN") &&
              streq(ref.missing[2], "TLS"));
        CHECK(strstr(ref.message, "Cannot deploy shop/web to production") &&
              strstr(ref.message, "DB_URL, TOKEN, TLS"));
        CHECK(strstr(ref.hint, "slipway config set shop/web production DB_URL=VALUE;"));
        CHECK(strstr(ref.hint, "slipway config set shop/web production TOKEN=VALUE --secret;"));
        CHECK(strstr(ref.hint, "slipway config set shop/web production TLS=VALUE --file /etc/tls.pem"));
        CHECK(!strstr(ref.hint, "OPT"));
        release_refusal_done(&ref);
        CHECK(count(db, "SELECT count(*) FROM releases") == 0);

        /* DB_URL of the component, TOKEN project-wide, TLS as an environment variable: TLS is refused. */
        int64_t db_url = put(db, &prod, c.id, "DB_URL", NULL);
        int64_t token = put(db, &prod, 0, "TOKEN", NULL);
        int64_t tls_env = put(db, &prod, c.id, "TLS", NULL);
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_PROMOTE, 0, NULL, 0, &id,
                             &ref) == -ENOKEY);
        CHECK(ref.n_missing == 1 && streq(ref.missing[0], "TLS"));
        CHECK(strstr(ref.message, "Cannot promote") &&
              strstr(ref.message, "environment variable, not a file"));
        release_refusal_done(&ref);
        /* A file at another path does not do either. */
        int64_t tls_other = put(db, &prod, c.id, "TLS", "/etc/other.pem");
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, NULL,
                             &ref) == -ENOKEY);
        CHECK(strstr(ref.message, "a file at /etc/other.pem, not at /etc/tls.pem"));
        release_refusal_done(&ref);
        CHECK(count(db, "SELECT count(*) FROM releases") == 0);

        /* The file at its path: the release pins exactly the three effective values. */
        int64_t tls = put(db, &prod, c.id, "TLS", "/etc/tls.pem");
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0,
                             &first, &ref) == 0);
        CHECK(!ref.message);
        CHECK(model_release_value_ids(db, first, &ids, &n) == 0 && n == 3);
        CHECK(ids[0] == db_url && ids[1] == token && ids[2] == tls);
        free(ids);
        CHECK(model_release_get(db, first, &rel) == 0 && streq(rel.status, "pending") &&
              streq(rel.origin, "deploy"));
        model_release_done(&rel);
        /* The older TLS versions nobody pins are gone; the pinned and newest stay. */
        CHECK(value_get(db, tls_env) == -ENOENT);
        CHECK(value_get(db, tls_other) == -ENOENT);
        CHECK(count(db, "SELECT count(*) FROM config_values") == 3);
        CHECK(model_release_set_status(db, first, MODEL_RELEASE_SUPERSEDED, NULL) == 0);

        /* A new DB_URL version; then a rollback to the first release pins the old one exactly. */
        int64_t db_url2 = put(db, &prod, c.id, "DB_URL", NULL);
        CHECK(model_release_value_ids(db, first, &ids, &n) == 0 && n == 3);
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_ROLLBACK, first, ids, n,
                             &id, &ref) == 0);
        free(ids);
        CHECK(model_release_value_ids(db, id, &ids, &n) == 0 && n == 3 && ids[0] == db_url);
        free(ids);
        CHECK(model_release_get(db, id, &rel) == 0 && streq(rel.origin, "rollback") &&
              rel.source_release_id == first);
        model_release_done(&rel);
        CHECK(model_release_set_status(db, id, MODEL_RELEASE_LIVE, NULL) == 0);
        /* An empty pin set is not "the current values": the spec's required ones are missing then. */
        int64_t none = 0;
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_ROLLBACK, first, &none,
                             0, NULL, &ref) == -ENOKEY);
        CHECK(strstr(ref.message, "Cannot roll back shop/web in production: the release has 3"));
        release_refusal_done(&ref);
        /* A pinned row that no longer exists. */
        int64_t gone = 987654;
        CHECK(release_create(db, &c, &prod, "sha256:aa", SPEC, MODEL_RELEASE_ORIGIN_ROLLBACK, first, &gone,
                             1, NULL, &ref) == -ESTALE);
        CHECK(ref.message && strstr(ref.message, "no longer exists"));
        release_refusal_done(&ref);

        /* keep_releases 2: the first (superseded) goes once two newer exist; the live one stays. */
        CHECK(count(db, "SELECT count(*) FROM releases") == 2);
        CHECK(release_create(db, &c, &prod, "sha256:bb", SPEC, MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &id,
                             NULL) == 0);
        CHECK(count(db, "SELECT count(*) FROM releases") == 2);
        CHECK(model_release_get(db, first, &rel) == -ENOENT);
        /* DB_URL v1 is still pinned by the live rollback; v2 is the newest. */
        CHECK(value_get(db, db_url) == 0);
        CHECK(value_get(db, db_url2) == 0);
        /* A pending release is never pruned either: three exist now (live, pending, pending). */
        CHECK(release_create(db, &c, &prod, "sha256:cc", SPEC, MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, NULL,
                             NULL) == 0);
        CHECK(count(db, "SELECT count(*) FROM releases") == 3);

        /* A spec that is not valid is refused before anything. */
        CHECK(release_create(db, &c, &prod, "sha256:cc", "{\"keep_releases\":0}",
                             MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, NULL, NULL) == -EINVAL);

        model_component_done(&c);
        model_environment_done(&prod);
        model_project_done(&p);
        CHECK(rm_rf(tmpdir) == 0);
        printf("test-release-create: ok\n");
        return 0;
}
