/* slipway.db = sqlite_open() + the migrations of schema.c; nothing else opens the database. */
#include "state.h"

#include "log.h"
#include "migrate.h"
#include "schema.h"
#include "sqlite-util.h"

int state_latest_version(void) {
        return (int) state_migrations_n;
}

int state_open(const char *path, sqlite3 **ret) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        const char *failed = NULL;
        int r;

        r = sqlite_open(path, &db);
        if (r < 0)
                return r;
        r = migrate_apply(db, state_migrations, state_migrations_n, &failed);
        if (r < 0)
                return log_debug_errno(r, "Migrating %s failed at '%s': %m", path, strempty(failed));
        *ret = TAKE_PTR(db);
        return 0;
}
