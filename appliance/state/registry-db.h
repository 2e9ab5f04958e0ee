/* Registries you own in slipway.db (issue 13): where the pipeline's push step copies a project's images.
 * The password's bytes are opaque here (appliance/vault seals and opens them); the caller validates names and
 * URLs.  Rows are owned by the caller (model_registry_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ModelRegistry {
        int64_t id;
        char *name;
        char *url;
        char *username; /* NULL: anonymous */
        char *ca_pem;   /* NULL: the system's CAs */
        bool insecure;
        int64_t key_version; /* 0: no password */
        uint8_t *nonce;
        size_t nonce_size;
        uint8_t *ciphertext; /* the sealed password; NULL: none */
        size_t ciphertext_size;
        int64_t created_at;
        unsigned projects; /* how many projects push to it */
} ModelRegistry;

void model_registry_done(ModelRegistry *r);
void model_registries_free(ModelRegistry *r, size_t n);

/* Inserts r (its id, created_at and projects are ignored); -EEXIST when the name is taken. */
int model_registry_insert(sqlite3 *db, const ModelRegistry *r);
int model_registry_get(sqlite3 *db, const char *name, ModelRegistry *ret); /* -ENOENT */
int model_registry_list(sqlite3 *db, ModelRegistry **ret, size_t *ret_n);  /* by name */
/* Deletes it; -ENOENT when unknown, -EBUSY while a project pushes to it. */
int model_registry_delete(sqlite3 *db, const char *name);
/* The names of the projects that push to it, by name. */
int model_registry_projects(sqlite3 *db, const char *name, char ***ret, size_t *ret_n);

/* Rotation: every registry whose password is sealed under key_version, and a row re-sealed. */
int model_registries_by_key_version(sqlite3 *db, int64_t key_version, ModelRegistry **ret, size_t *ret_n);
int model_registry_password_rewrap(sqlite3 *db, int64_t id, int64_t key_version, const uint8_t *nonce,
                                   size_t nonce_size, const uint8_t *ciphertext, size_t ciphertext_size);
