/* Service addresses in slipway.db: the stable address of a component in an environment (what other
 * components reach it by, via /etc/hosts), in .2–.99 of the environment's /24. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_SERVICE_ADDRESS_FIRST 2u
#define MODEL_SERVICE_ADDRESS_LAST 99u

typedef struct ModelServiceAddress {
        int64_t component_id;
        char *component_name;
        int64_t environment_id;
        char *address; /* dotted quad */
} ModelServiceAddress;

void model_service_addresses_free(ModelServiceAddress *a, size_t n);

/* The stable address of (component, environment), allocating the lowest free .2–.99 on first use.
 * ret: dotted quad, caller frees. */
int model_service_address_ensure(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret);
int model_service_address_get(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret);
/* All service addresses of an environment with component names (for /etc/hosts), by component name. */
int model_service_address_list(sqlite3 *db, int64_t environment_id, ModelServiceAddress **ret,
                               size_t *ret_n);
