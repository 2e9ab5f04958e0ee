/* Typed queries over migration 3's tables (projects, environments, components, service addresses,
 * releases, instances, deploy log).  Every function is one statement or one transaction; names are
 * validated by the caller (names.h).  Returned rows are owned by the caller (model_*_done/free). */
#pragma once

#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "subnet-pool.h"

/* Environments a project gets when none are named. */
#define MODEL_DEFAULT_ENVS "development,production"
#define MODEL_INGRESS_BASE_PORT_DEFAULT 8080u
/* At most this many environments per project, and ingress ports base .. base+MODEL_INGRESS_PORTS_MAX-1. */
#define MODEL_ENVS_MAX 16u
#define MODEL_INGRESS_PORTS_MAX 1000u
/* Service addresses live in .2–.99 of an environment's /24; instance addresses in .100–.254. */
#define MODEL_SERVICE_ADDRESS_FIRST 2u
#define MODEL_SERVICE_ADDRESS_LAST 99u
#define MODEL_INSTANCE_ADDRESS_FIRST 100u
#define MODEL_INSTANCE_ADDRESS_LAST 254u

/* Release statuses (releases.status). */
#define MODEL_RELEASE_PENDING "pending"
#define MODEL_RELEASE_DEPLOYING "deploying"
#define MODEL_RELEASE_LIVE "live"
#define MODEL_RELEASE_FAILED "failed"
#define MODEL_RELEASE_SUPERSEDED "superseded"

/* Instance states (instances.state). */
#define MODEL_INSTANCE_STARTING "starting"
#define MODEL_INSTANCE_READY "ready"
#define MODEL_INSTANCE_DRAINING "draining"
#define MODEL_INSTANCE_STOPPED "stopped"
#define MODEL_INSTANCE_FAILED "failed"

typedef struct ModelProject {
        int64_t id;
        char *name;
        int64_t created_at; /* seconds since the epoch */
} ModelProject;

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
} ModelEnvironment;

typedef struct ModelComponent {
        int64_t id;
        int64_t project_id;
        char *project_name;
        char *name;
        char *image_ref; /* NULL when none */
        char *spec;      /* JSON, see component-spec.h */
        int64_t created_at;
} ModelComponent;

typedef struct ModelRelease {
        int64_t id;
        int64_t component_id;
        int64_t environment_id;
        char *environment_name;
        char *image_digest;
        char *spec;
        char *status;
        char *reason; /* NULL when none */
        int64_t created_at;
        int64_t finished_at; /* 0 while not finished */
} ModelRelease;

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

typedef struct ModelServiceAddress {
        int64_t component_id;
        char *component_name;
        int64_t environment_id;
        char *address; /* dotted quad */
} ModelServiceAddress;

typedef struct ModelLogLine {
        int64_t at; /* microseconds since the epoch */
        char *line;
} ModelLogLine;

void model_project_done(ModelProject *p);
void model_projects_free(ModelProject *p, size_t n);
void model_environment_done(ModelEnvironment *e);
void model_environments_free(ModelEnvironment *e, size_t n);
void model_component_done(ModelComponent *c);
void model_components_free(ModelComponent *c, size_t n);
void model_release_done(ModelRelease *r);
void model_releases_free(ModelRelease *r, size_t n);
void model_instance_done(ModelInstance *i);
void model_instances_free(ModelInstance *i, size_t n);
void model_service_addresses_free(ModelServiceAddress *a, size_t n);
void model_log_lines_free(ModelLogLine *l, size_t n);

/* ---- allocation (exposed for tests) ---- */
/* The lowest /24 of pool overlapping no environment and none of host[]. */
int model_allocate_subnet(sqlite3 *db, const NetSubnet *pool, const NetSubnet *host, size_t n_host,
                          NetSubnet *ret);
/* base + the lowest index no environment uses; -ENOSPC after MODEL_INGRESS_PORTS_MAX. */
int model_allocate_ingress_port(sqlite3 *db, unsigned base, unsigned *ret);
/* Tests: use these instead of net_host_subnets() when creating environments. */
void model_set_host_subnets(const NetSubnet *s, size_t n);

/* ---- projects ---- */
/* Creates the project and its environments (in the given order) in one transaction.  -EEXIST when
 * the name is taken, -ENOSPC when no subnet or ingress port is left. */
int model_project_create(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                         unsigned ingress_base_port, ModelProject *ret);
int model_project_get(sqlite3 *db, const char *name, ModelProject *ret); /* -ENOENT */
int model_project_list(sqlite3 *db, ModelProject **ret, size_t *ret_n);  /* by name */
/* Deletes the project and (by cascade) everything under it.  -ENOENT when unknown. */
int model_project_delete(sqlite3 *db, int64_t project_id);
/* Instances of the project's releases that are not stopped or failed. */
int model_project_count_live_instances(sqlite3 *db, int64_t project_id, unsigned *ret);
int model_count(sqlite3 *db, const char *table, unsigned *ret); /* projects|components|… */
int model_count_live_instances(sqlite3 *db, unsigned *ret);

/* ---- environments ---- */
/* What a person may set on an environment (at create or later); the rest is allocated. */
typedef struct ModelEnvironmentSettings {
        const char *domain;    /* NULL: unchanged (create: none); "": remove; else a valid domain */
        int egress;            /* -1: unchanged (create: off); 0 or 1 */
        unsigned ingress_port; /* 0: unchanged (create: next free from the base port) */
} ModelEnvironmentSettings;

#define MODEL_ENVIRONMENT_SETTINGS_INIT ((ModelEnvironmentSettings){.egress = -1})

/* Appends (after == NULL) or inserts after the named environment, shifting later positions.
 * Allocates subnet, bridge and (unless settings name one) the ingress port.  -EEXIST, -ENOENT (after
 * unknown), -ENOSPC; a settings conflict as for model_environment_update().  settings may be NULL. */
int model_environment_create(sqlite3 *db, int64_t project_id, const char *name, const char *after,
                             unsigned ingress_base_port, const ModelEnvironmentSettings *settings,
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

/* ---- components ---- */
int model_component_create(sqlite3 *db, int64_t project_id, const char *name, const char *image_ref,
                           const char *spec_json, ModelComponent *ret); /* -EEXIST */
int model_component_get(sqlite3 *db, int64_t project_id, const char *name, ModelComponent *ret);
int model_component_get_by_id(sqlite3 *db, int64_t id, ModelComponent *ret);
int model_component_list(sqlite3 *db, int64_t project_id, ModelComponent **ret, size_t *ret_n);
/* Resolves "project" and "component" names in one go; -ENOENT with *ret_missing set to "project" or
 * "component" (static strings) saying which one is unknown. */
int model_component_lookup(sqlite3 *db, const char *project, const char *component, ModelComponent *ret,
                           const char **ret_missing);

/* ---- service addresses ---- */
/* The stable address of (component, environment), allocating the lowest free .2–.99 on first use.
 * ret: dotted quad, caller frees. */
int model_service_address_ensure(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret);
int model_service_address_get(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret);
/* All service addresses of an environment with component names (for /etc/hosts), by component name. */
int model_service_address_list(sqlite3 *db, int64_t environment_id, ModelServiceAddress **ret,
                               size_t *ret_n);

/* ---- releases ---- */
/* A new release in status "pending"; ret_id may be NULL. */
int model_release_create(sqlite3 *db, int64_t component_id, int64_t environment_id, const char *image_digest,
                         const char *spec_json, int64_t *ret_id);
int model_release_get(sqlite3 *db, int64_t id, ModelRelease *ret);
/* Sets status and reason (NULL clears it); finished_at is set for live, failed and superseded. */
int model_release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason);
/* Newest first; environment_id 0 = every environment. */
int model_release_list(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease **ret,
                       size_t *ret_n);
/* Every release in a status (e.g. pending, for the engine's reconcile), oldest first. */
int model_release_list_by_status(sqlite3 *db, const char *status, ModelRelease **ret, size_t *ret_n);
/* The newest live release of (component, environment); -ENOENT when none. */
int model_release_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease *ret);

/* ---- instances ---- */
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

/* ---- deploy log ---- */
int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line);
int model_deploy_log_appendf(sqlite3 *db, int64_t release_id, const char *fmt, ...) _printf_(3, 4);
int model_deploy_log_list(sqlite3 *db, int64_t release_id, ModelLogLine **ret, size_t *ret_n);

/* The gc roots releases add are listed by release_image_digests() (appliance/state/image-db.h). */
