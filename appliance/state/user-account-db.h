/* Users of Slipway in slipway.db (issue 13): a name and a role ("admin", "developer" or "viewer").  The
 * migration makes the first user, admin; adding users (and their passwords) is issue 14's.  Rows are
 * owned by the caller (model_user_done/_free).  Not the build's user-db.h, which reads an image's /etc/passwd. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_USER_ADMIN "admin" /* the first user, owner of the bootstrap admin.token */

typedef struct ModelUser {
        int64_t id;
        char *name;
        char *role;
        int64_t created_at; /* seconds since the epoch */
} ModelUser;

void model_user_done(ModelUser *u);
void model_users_free(ModelUser *u, size_t n);

int model_user_get(sqlite3 *db, const char *name, ModelUser *ret); /* -ENOENT */
int model_user_list(sqlite3 *db, ModelUser **ret, size_t *ret_n);  /* by name */
