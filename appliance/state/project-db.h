/* Projects in slipway.db (migration 3).  A project owns its environments and components; the caller
 * validates names (names.h).  Returned rows are owned by the caller (model_project_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "environment-db.h"

typedef struct ModelProject {
        int64_t id;
        char *name;
        int64_t created_at; /* seconds since the epoch */
        char *push_to;      /* the registry the pipeline pushes its images to; NULL: none */
        char *scan_fail_on; /* MODEL_SCAN_FAIL_ON_*: the findings that fail a build's scan step */
} ModelProject;

/* projects.scan_fail_on */
#define MODEL_SCAN_FAIL_ON_CRITICAL "critical"
#define MODEL_SCAN_FAIL_ON_HIGH "high"
#define MODEL_SCAN_FAIL_ON_NONE "none"
bool model_scan_fail_on_is_valid(const char *s);

void model_project_done(ModelProject *p);
void model_projects_free(ModelProject *p, size_t n);

/* Creates the project and its environments (in the given order) in one transaction.  -EEXIST when
 * the name is taken, -EADDRNOTAVAIL when no subnet or ingress port is left (-ENOSPC: the disk is full). */
int model_project_create(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                         const ModelAllocation *alloc, ModelProject *ret);
int model_project_get(sqlite3 *db, const char *name, ModelProject *ret); /* -ENOENT */
int model_project_get_by_id(sqlite3 *db, int64_t id, ModelProject *ret); /* -ENOENT */
int model_project_list(sqlite3 *db, ModelProject **ret, size_t *ret_n);  /* by name */
/* What `project set` changes: NULL leaves a setting as it is; push_to "" removes the registry.  -ENOENT
 * when the project is gone, -ENXIO when push_to names no registry, -EINVAL for an unknown scan_fail_on. */
typedef struct ModelProjectSettings {
        const char *push_to;
        const char *scan_fail_on;
} ModelProjectSettings;
int model_project_update(sqlite3 *db, int64_t project_id, const ModelProjectSettings *st);
/* Deletes the project and (by cascade) everything under it.  -ENOENT when unknown. */
int model_project_delete(sqlite3 *db, int64_t project_id);
/* Instances of the project's releases that are not stopped or failed. */
int model_project_count_live_instances(sqlite3 *db, int64_t project_id, unsigned *ret);
int model_count(sqlite3 *db, const char *table, unsigned *ret); /* projects|components|… */
