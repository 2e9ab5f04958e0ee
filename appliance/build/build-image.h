/* Stage state and image assembly: the JSON state of a stage (layers, config, history, shell), loading it
 * from a stored image, committing a directory as a new layer, mounting the layers, writing config+manifest.
 * Invariant: the state is plain JSON, so a cache row can hold it and restore it exactly. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "build-job.h"

/* state = {"layers":[{"digest","diffId","mediaType","size"}], "config":{Env,Cmd,…}, "history":[…],
 *          "shell":[…] or absent, "architecture", "os"} */
int build_state_new_scratch(json_t **ret);
int build_state_from_image(BuildContext *ctx, const char *manifest_digest, json_t **ret);

/* Appends a history entry (empty_layer when no layer was added). */
int build_state_add_history(BuildContext *ctx, json_t *state, const char *created_by, bool empty_layer);

/* Makes dir into a layer blob (gzip, clamped mtimes when SOURCE_DATE_EPOCH is set) and appends it. */
int build_state_commit_layer(BuildContext *ctx, json_t *state, const char *dir, bool overlay_whiteouts,
                             char ret_digest[static DIGEST_STRING_MAX]);

/* The layers' cache dirs (unpacked once, then reused as they are), bottom first; n may be 0. */
int build_state_layer_dirs(BuildContext *ctx, json_t *state, char ***ret, size_t *ret_n);

/* Mounts the state's layers at target: read-only (upper NULL) or with upper/work. */
int build_state_mount(BuildContext *ctx, json_t *state, const char *upper, const char *work,
                      const char *target);

/* Writes config and manifest blobs; returns the manifest digest. */
int build_state_write_image(BuildContext *ctx, json_t *state, char ret_digest[static DIGEST_STRING_MAX]);
