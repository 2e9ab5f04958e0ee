/* The build context as `slipway image build` sends it: a tar made on the fly from a directory, filtered
 * by its .dockerignore on the client like Docker's CLI does.  Invariant: nothing outside the directory is
 * read (symlinks are sent as links, never followed) and the Dockerfile and .dockerignore are always sent. */
#pragma once

#include "http-client.h"

/* Writes dir as a tar (names relative to dir, owners 0:0, hardlinks kept) to conn's request body, leaving
 * out what dir/.dockerignore excludes except dockerfile (relative to dir) and .dockerignore.  Fills
 * *ret_error with one sentence on failure; -EBADMSG for a bad .dockerignore. */
int context_stream_to_conn(const char *dir, const char *dockerfile, HttpConn *conn, char **ret_error);
