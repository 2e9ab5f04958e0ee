/* Service addresses in slipway.db: one stable address per (component, environment) in .2–.99 of the
 * environment's /24, allocated on first use and never reused while the row exists. */
#include "service-address-db.h"

#include <errno.h>
#include <stdlib.h>

#include "environment-db.h"
#include "sqlite-util.h"

void model_service_addresses_free(ModelServiceAddress *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].component_name);
                free(a[i].address);
        }
        free(a);
}

int model_service_address_get(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(
                db, "SELECT address FROM service_addresses WHERE component_id = ?1 AND environment_id = ?2",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        return sqlite_column_strdup(s, 0, ret);
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
        r = model_environment_allocate_address(
                db, environment_id, "SELECT address FROM service_addresses WHERE environment_id = ?1",
                MODEL_SERVICE_ADDRESS_FIRST, MODEL_SERVICE_ADDRESS_LAST, &a);
        if (r < 0)
                goto fail;
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db,
                                   "INSERT INTO service_addresses(component_id, environment_id, address)"
                                   " VALUES (?1, ?2, ?3)",
                                   &s);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(s, 1, component_id);
                sqlite3_bind_int64(s, 2, environment_id);
                sqlite3_bind_text(s, 3, a, -1, SQLITE_STATIC);
                r = sqlite_step_done(s);
                if (r < 0)
                        goto fail;
        }
        r = sqlite_commit(db);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(a);
        return 0;
fail:
        sqlite_rollback(db);
        return r;
}

int model_service_address_list(sqlite3 *db, int64_t environment_id, ModelServiceAddress **ret,
                               size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        ModelServiceAddress *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(
                db,
                "SELECT sa.component_id, c.name, sa.environment_id, sa.address FROM service_addresses sa"
                " JOIN components c ON c.id = sa.component_id WHERE sa.environment_id = ?1"
                " ORDER BY c.name",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, environment_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                ModelServiceAddress *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                v[n] = (ModelServiceAddress) {
                        .component_id = sqlite3_column_int64(s, 0),
                        .environment_id = sqlite3_column_int64(s, 2),
                };
                n++;
                if ((r = sqlite_column_strdup(s, 1, &v[n - 1].component_name)) < 0 ||
                    (r = sqlite_column_strdup(s, 3, &v[n - 1].address)) < 0)
                        goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        model_service_addresses_free(v, n);
        return r;
}
