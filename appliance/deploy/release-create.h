/* The one way a release is made (deploy, promote, rollback, config set --deploy): in one transaction it
 * checks the spec's required configurables against the values the release would pin, pins them, writes the
 * pending release, and prunes what keep_releases no longer keeps.  A refusal creates nothing. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "component-db.h"
#include "environment-db.h"

/* Why release_create() refused: one sentence and the commands that fix it, and the names concerned. */
typedef struct ReleaseRefusal {
        char *message;
        char *hint;
        char **missing; /* configurables without a (fitting) value, in the spec's order */
        size_t n_missing;
} ReleaseRefusal;

void release_refusal_done(ReleaseRefusal *r);

/* Creates a pending release of comp in env with image digest and spec_json (the spec snapshot the release
 * runs with), origin MODEL_RELEASE_ORIGIN_* and source_release_id (0: none).  Its values: pinned_value_ids
 * (a rollback: exactly those rows), or with pinned_value_ids NULL the environment's current effective values
 * for the component (its own, else the project-wide ones).
 * Refusals, with *ret_refusal filled and nothing written:
 *   -ENOKEY   a required configurable of the spec has no value among them, or one of the wrong kind (a
 *             configurable declared file=PATH needs a file value mounted at PATH; any other an environment
 *             variable); every such name is listed with the `slipway config set` command that sets it;
 *   -ESTALE   a pinned value row no longer exists.
 * -EINVAL when spec_json is not a valid spec.  Afterwards the releases of (comp, env) beyond the spec's
 * keep_releases are deleted (never the live one, a pending or deploying one, or one with an active instance)
 * with their instances' directories, and value versions of env that are not the newest of their slot and
 * that no remaining release pins.  ret_id and ret_refusal may be NULL. */
int release_create(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env, const char *digest,
                   const char *spec_json, const char *origin, int64_t source_release_id,
                   const int64_t *pinned_value_ids, size_t n_pinned, int64_t *ret_id,
                   ReleaseRefusal *ret_refusal);

/* release_create() with one more write in the same transaction: then(db, release_id, userdata) runs once
 * the release and its pinned values are written; when it fails nothing is written and its error is
 * returned.  (An approved promotion records the release it made this way.) */
typedef int (*ReleaseCreateThen)(sqlite3 *db, int64_t release_id, void *userdata);
int release_create_then(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                        const char *digest, const char *spec_json, const char *origin,
                        int64_t source_release_id, const int64_t *pinned_value_ids, size_t n_pinned,
                        ReleaseCreateThen then, void *userdata, int64_t *ret_id,
                        ReleaseRefusal *ret_refusal);

/* The configurables check of release_create() alone, writing nothing: 0 when spec_json's required
 * configurables all have a fitting value among env's current ones for comp, -ENOKEY with *ret_refusal
 * filled (may be NULL) as release_create() fills it otherwise, -EINVAL for an invalid spec. */
int release_check(sqlite3 *db, const ModelComponent *comp, const ModelEnvironment *env,
                  const char *spec_json, const char *origin, ReleaseRefusal *ret_refusal);
