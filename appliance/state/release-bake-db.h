/* A release's bake window record (releases.bake): the JSON the deployer writes while and after it watches
 * a new release with the previous one on standby.  The state layer stores it and finds releases by its
 * "state"; what the fields mean is the deployer's (appliance/deploy/deployer-bake.c). */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* releases.bake's "state". */
#define MODEL_BAKE_BAKING "baking"           /* the window is open: the previous instances stand by */
#define MODEL_BAKE_PASSED "passed"           /* the window ended without a failure */
#define MODEL_BAKE_ROLLED_BACK "rolled-back" /* a failure swapped the traffic back to the previous release */
#define MODEL_BAKE_FAILED "failed"           /* a failure with nothing left to roll back to: kept live */
#define MODEL_BAKE_INTERRUPTED "interrupted" /* slipwayd stopped during the window; the release stays live */
#define MODEL_BAKE_OFF "off"                 /* no window (none set, or no previous instance) */

/* Replaces the release's bake record (json: a JSON object as text, NULL clears it). */
int model_release_set_bake(sqlite3 *db, int64_t release_id, const char *json);
/* The ids of the releases whose bake record says MODEL_BAKE_BAKING, oldest first (malloc'ed, NULL when
 * none). */
int model_release_list_baking(sqlite3 *db, int64_t **ret_ids, size_t *ret_n);
