/* Instances in slipway.db: the containers of a release, each with an address in .100–.254 of its
 * environment's /24 that no other active instance there holds.  Rows are owned by the caller. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_INSTANCE_ADDRESS_FIRST 100u
#define MODEL_INSTANCE_ADDRESS_LAST 254u

/* Instance states (instances.state). */
#define MODEL_INSTANCE_STARTING "starting"
#define MODEL_INSTANCE_READY "ready"
#define MODEL_INSTANCE_DRAINING "draining"
/* A superseded release's instance kept running, routed out, during its successor's bake window: the
 * traffic goes back to it when the new release fails.  Active (its address stays taken); not supervised. */
#define MODEL_INSTANCE_STANDBY "standby"
#define MODEL_INSTANCE_STOPPED "stopped"
#define MODEL_INSTANCE_FAILED "failed"

/* For the state layer's queries over instances aliased "i": the instance is active. */
#define MODEL_ACTIVE_INSTANCE_SQL "i.state NOT IN ('stopped', 'failed')"

typedef struct ModelInstance {
        int64_t id;
        int64_t release_id;
        char *address;
        char *netns;
        char *dir;
        char *state;
        unsigned restarts;
        int64_t created_at;
} ModelInstance;

void model_instance_done(ModelInstance *i);
void model_instances_free(ModelInstance *i, size_t n);

int model_instance_create(sqlite3 *db, int64_t release_id, const char *address, const char *netns,
                          const char *dir, const char *state, int64_t *ret_id);
int model_instance_get(sqlite3 *db, int64_t id, ModelInstance *ret);
int model_instance_set_state(sqlite3 *db, int64_t id, const char *state);
int model_instance_set_restarts(sqlite3 *db, int64_t id, unsigned restarts);
int model_instance_set_dir(sqlite3 *db, int64_t id, const char *dir);
int model_instance_list_by_release(sqlite3 *db, int64_t release_id, ModelInstance **ret, size_t *ret_n);
/* Instances not stopped or failed, oldest first (for adoption at daemon start). */
int model_instance_list_active(sqlite3 *db, ModelInstance **ret, size_t *ret_n);
/* The lowest .100–.254 of the environment's subnet that no active instance in it uses. */
int model_instance_allocate_address(sqlite3 *db, int64_t environment_id, char **ret);
/* The newest instance of the live release of (component, environment); -ENOENT when none. */
int model_instance_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelInstance *ret);
/* The newest instance of any release of (component, environment); -ENOENT when none. */
int model_instance_get_newest(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelInstance *ret);
int model_count_live_instances(sqlite3 *db, unsigned *ret);
/* Sets both at once (they derive from the id, known only after model_instance_create()). */
int model_instance_set_paths(sqlite3 *db, int64_t id, const char *netns, const char *dir);
/* restarts + 1, in the database (no read-modify-write race with another connection). */
int model_instance_count_restart(sqlite3 *db, int64_t id);

/* Lists by id.  Serving: ready instances of live releases (environment_id 0: of every environment). */
int model_instance_list_serving(sqlite3 *db, int64_t environment_id, ModelInstance **ret, size_t *ret_n);
/* Active instances of (component, environment) that belong to another release than except_release_id. */
int model_instance_list_active_of_target(sqlite3 *db, int64_t component_id, int64_t environment_id,
                                         int64_t except_release_id, ModelInstance **ret, size_t *ret_n);
int model_instance_list_active_of_project(sqlite3 *db, int64_t project_id, ModelInstance **ret,
                                          size_t *ret_n);
/* Every instance of the project's releases, whatever its state (their directories go with the project). */
int model_instance_list_of_project(sqlite3 *db, int64_t project_id, ModelInstance **ret, size_t *ret_n);
/* Active instances of releases in status (e.g. deploying, at recovery). */
int model_instance_list_active_by_release_status(sqlite3 *db, const char *status, ModelInstance **ret,
                                                 size_t *ret_n);
int model_instance_list_by_state(sqlite3 *db, const char *state, ModelInstance **ret, size_t *ret_n);
/* Instances stopped or failed. */
int model_instance_list_ended(sqlite3 *db, ModelInstance **ret, size_t *ret_n);
