/* Users of Slipway in slipway.db: a name, a role ("admin", "developer" or "viewer") and a password hash
 * (crypto_pwhash_str; none: the user cannot log in to the console).  The first user, admin, is made by
 * the migrations.  Invariant: the last user whose role is admin is never removed.  Rows are owned by the
 * caller (model_user_done/_free); a row read back never carries the password hash.  Not the build's
 * user-db.h, which reads an image's /etc/passwd. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_USER_ADMIN "admin" /* the first user, owner of the bootstrap admin.token */

typedef struct ModelUser {
        int64_t id;
        char *name;
        char *role;
        int64_t created_at; /* seconds since the epoch */
        unsigned tokens;    /* how many API tokens it has */
        bool has_password;  /* false: it cannot log in */
} ModelUser;

void model_user_done(ModelUser *u);
void model_users_free(ModelUser *u, size_t n);

int model_user_get(sqlite3 *db, const char *name, ModelUser *ret); /* -ENOENT */
int model_user_list(sqlite3 *db, ModelUser **ret, size_t *ret_n);  /* by name */
/* A new user; password_hash may be NULL (no login).  -EEXIST when the name is taken, -EINVAL for an
 * unknown role. */
int model_user_create(sqlite3 *db, const char *name, const char *role, const char *password_hash,
                      ModelUser *ret);
/* Removes the user, its API tokens and its sessions, in one transaction; *ret (may be NULL) gets the row
 * as it was.  -ENOENT when there is none, -EBUSY when it is the last admin. */
int model_user_delete(sqlite3 *db, const char *name, ModelUser *ret);
/* Sets (or with NULL clears) the user's password hash.  -ENOENT when there is no such user. */
int model_user_set_password(sqlite3 *db, const char *name, const char *password_hash);
/* The user's password hash into *ret (caller frees), and *ret_user the row.  -ENOENT when there is no
 * such user, -ENOKEY when it has no password. */
int model_user_password_hash(sqlite3 *db, const char *name, ModelUser *ret_user, char **ret);
