/* The master key file: $CREDENTIALS_DIRECTORY/slipway-master-key (a systemd credential) when it exists,
 * else STATE_DIR/master.key.  Either holds 32 raw bytes or 64 hex digits (and a newline), and must not be
 * readable by group or others.  The key lives in sodium_malloc'ed (locked, guarded) memory. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VAULT_MASTER_KEY_SIZE 32U
#define VAULT_MASTER_KEY_FILE "master.key"
#define VAULT_CREDENTIAL_NAME "slipway-master-key"
/* More than this in a key file is not a key. */
#define VAULT_KEY_FILE_MAX 256U

/* The path the master key is read from; *ret is malloc'ed. */
int vault_master_key_path(const char *state_dir, char **ret);
/* Reads the master key from path into a sodium_malloc'ed VAULT_MASTER_KEY_SIZE buffer (free it with
 * sodium_free).  -ENOENT when the file is missing; -EPERM when group or others may read it; -EBADMSG when it
 * holds something else; always with *ret_error, one sentence naming path and what to do. */
int vault_master_key_load(const char *path, uint8_t **ret_key, char **ret_error);
