/* Service addresses in slipway.db: one stable address per (component, environment) in .2–.99 of the
 * environment's /24, allocated on first use and never reused while the row exists. */
#include "service-address-db.h"

#include <errno.h>
#include <stdlib.h>

#include "environment-db.h"
#include "sqlite-util.h"

static const SqliteField service_address_fields[] = {
        SQL_FIELD(ModelServiceAddress, component_id),
        SQL_FIELD(ModelServiceAddress, component_name),
        SQL_FIELD(ModelServiceAddress, environment_id),
        SQL_FIELD(ModelServiceAddress, address),
};
static const SqliteRowType service_address_row = SQL_ROW_TYPE(ModelServiceAddress, service_address_fields);
SQL_DEFINE_ARRAY_FREE_FUNC(ModelServiceAddress, service_address_row, model_service_addresses_free);

int model_service_address_get(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        return sqlite_get(
                db, &sqlite_text_row,
                "SELECT address FROM service_addresses WHERE component_id = ?1 AND environment_id = ?2",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id)), ret);
}

/* Picks the lowest free address and records it; the caller holds the transaction. */
static int insert_service_address(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        _cleanup_free_ char *a = NULL;
        int r;

        r = model_environment_allocate_address(
                db, environment_id, "SELECT address FROM service_addresses WHERE environment_id = ?1",
                MODEL_SERVICE_ADDRESS_FIRST, MODEL_SERVICE_ADDRESS_LAST, &a);
        if (r < 0)
                return r;
        r = sqlite_run(
                db,
                "INSERT INTO service_addresses(component_id, environment_id, address) VALUES (?1, ?2, ?3)",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_TEXT(a)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int model_service_address_ensure(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        _cleanup_free_ char *a = NULL;
        int r;

        r = model_service_address_get(db, component_id, environment_id, ret);
        if (r != -ENOENT)
                return r;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_end(db, insert_service_address(db, component_id, environment_id, &a));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int model_service_address_list(sqlite3 *db, int64_t environment_id, ModelServiceAddress **ret,
                               size_t *ret_n) {
        return sqlite_list(
                db, &service_address_row,
                "SELECT sa.component_id, c.name, sa.environment_id, sa.address FROM service_addresses sa"
                " JOIN components c ON c.id = sa.component_id WHERE sa.environment_id = ?1"
                " ORDER BY c.name",
                SQL_ARGS(SQL_INT(environment_id)), ret, ret_n);
}
