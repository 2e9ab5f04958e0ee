/* Environments in slipway.db: a project's stages in promotion order, each with its own /24, bridge
 * and ingress port (allocation.h) and the settings a person may change.  Rows are owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocation.h"

/* Environments a project gets when none are named. */
#define MODEL_DEFAULT_ENVS "development,production"
/* At most this many environments per project. */
#define MODEL_ENVS_MAX 16u

typedef struct ModelEnvironment {
        int64_t id;
        int64_t project_id;
        char *project_name; /* filled by every getter */
        char *name;
        unsigned position;
        char *subnet; /* "10.213.N.0/24" */
        char *bridge;
        unsigned ingress_port;
        char *domain; /* NULL when none */
        bool egress;
        int64_t created_at;
        bool is_protected; /* a developer's promotion into it waits for an admin's approval */
} ModelEnvironment;

void model_environment_done(ModelEnvironment *e);
void model_environments_free(ModelEnvironment *e, size_t n);

/* What a person may set on an environment (at create or later); the rest is allocated. */
typedef struct ModelEnvironmentSettings {
        const char *domain;    /* NULL: unchanged (create: none); "": remove; else a valid domain */
        int egress;            /* -1: unchanged (create: off); 0 or 1 */
        unsigned ingress_port; /* 0: unchanged (create: next free from the base port) */
        int is_protected;      /* -1: unchanged (create: off); 0 or 1 */
} ModelEnvironmentSettings;

#define MODEL_ENVIRONMENT_SETTINGS_INIT ((ModelEnvironmentSettings) { .egress = -1, .is_protected = -1 })

/* Appends (after == NULL) or inserts after the named environment, shifting later positions.
 * Allocates subnet, bridge and (unless settings name one) the ingress port.  -EEXIST, -ENOENT (after
 * unknown), -EADDRNOTAVAIL (nothing free); a settings conflict as for model_environment_update().  settings may be NULL. */
int model_environment_create(sqlite3 *db, int64_t project_id, const char *name, const char *after,
                             const ModelAllocation *alloc, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret, ModelEnvironment *ret_conflict);
/* Changes an environment's settings in one transaction.  -EADDRINUSE: another environment listens on
 * that ingress port; -ENOTUNIQ: another environment has that domain (either way ret_conflict, when
 * given, is filled with it).  Validation of the values is the caller's. */
int model_environment_update(sqlite3 *db, int64_t environment_id, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret_conflict);
/* The same conflict check on its own (self: the environment being changed, 0 for a new one): 0 when
 * none, else -EADDRINUSE / -ENOTUNIQ with ret_conflict filled. */
int model_environment_settings_conflict(sqlite3 *db, int64_t self, const ModelEnvironmentSettings *st,
                                        ModelEnvironment *ret_conflict);
int model_environment_get(sqlite3 *db, int64_t project_id, const char *name, ModelEnvironment *ret);
int model_environment_get_by_id(sqlite3 *db, int64_t id, ModelEnvironment *ret);
int model_environment_list(sqlite3 *db, int64_t project_id, ModelEnvironment **ret, size_t *ret_n);
/* Every environment of every project (for the nft ruleset), by id. */
int model_environment_list_all(sqlite3 *db, ModelEnvironment **ret, size_t *ret_n);

/* Environments something runs in or is being deployed to (a deploying or live release, or an active
 * instance), leaving out those of exclude_project_id (0: none), by id.  Only these get a bridge. */
int model_environment_list_in_use(sqlite3 *db, int64_t exclude_project_id, ModelEnvironment **ret,
                                  size_t *ret_n);

/* For service-address-db.c and instance-db.c: the lowest address in first..last of the environment's
 * subnet that used_sql (?1 = environment id, column 0 = dotted quad) does not return.  ret: dotted
 * quad, caller frees; -EADDRNOTAVAIL when every one is taken. */
int model_environment_allocate_address(sqlite3 *db, int64_t environment_id, const char *used_sql,
                                       uint32_t first, uint32_t last, char **ret);
