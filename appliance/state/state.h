/* Opening slipway.db: the file, its pragmas and all migrations up to the latest schema. */
#pragma once

#include <sqlite3.h>

/* Opens path and migrates it to the latest schema.  -EPROTONOSUPPORT when the file comes from a
 * newer slipwayd. */
int state_open(const char *path, sqlite3 **ret);
int state_latest_version(void);
