/* slipwayd's state directory: creation, the one-daemon lock, and first-start initialisation.
 * Invariant: master.key and admin.token are born whole with mode 0600 (write_file_atomic), and only
 * the process holding DIR/slipwayd.lock touches DIR. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define STATE_MASTER_KEY_SIZE 32U
#define STATE_TOKEN_BYTES 32U /* hex-encoded into admin.token */
#define STATE_TOKEN_MAX 1024U /* what we accept when reading a token file back */

/* Creates DIR (0700) when missing; returns its absolute path. */
int state_dir_prepare(const char *dir, char **ret_abs);

/* Takes DIR/slipwayd.lock and writes our pid into it.  -EBUSY when another process holds it;
 * then *ret_holder is that pid (0 when unknown).  The fd must stay open for the daemon's life. */
int state_dir_lock(const char *dir, int *ret_fd, pid_t *ret_holder);

/* Creates master.key, admin.token and the sub-directories when missing.  *ret_initialised is true
 * when this was the directory's first start. */
int state_dir_init(const char *dir, bool *ret_initialised);

/* A state dir's id: STATE_ID_LEN lower-case hex digits in DIR/state-id, made once at random.  It names
 * what the state dir owns host-wide (its nft table, its bridges), so it must stay when the directory is
 * moved or reached through another path: a hash of the path would not. */
#define STATE_ID_LEN 6U
/* Reads DIR/state-id, creating it on first use; -EBADMSG when the file holds something else. */
int state_dir_id(const char *dir, char ret[static STATE_ID_LEN + 1]);

/* Reads DIR/admin.token (first line). */
int state_dir_read_token(const char *dir, char **ret);

/* Empties DIR/tmp: uploads a previous run left behind. */
int state_dir_clean_tmp(const char *dir);

/* Writes DIR/api.url ("http://ADDR:PORT\n", 0600). */
int state_dir_write_api_url(const char *dir, const char *url);
