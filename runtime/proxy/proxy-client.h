/* Client side of the slipway-proxy control socket (DIR/proxy.sock): one JSON request line, one JSON
 * reply line.  Used by the slipway-proxy CLI and by slipwayd. */
#pragma once

#include <jansson.h>

#define PROXY_REPLY_MAX (16U * 1024U * 1024U)

/* Sends req and waits for the reply (no timeout: --wait-drained may take the drain timeout).
 * Returns 0 with *ret_reply set, -ECONNREFUSED/-ENOENT when no proxy runs for state_dir, -EBADMSG
 * for a garbled reply. */
int proxy_control_call(const char *state_dir, json_t *req, json_t **ret_reply);

/* Human-readable renderings of route-list and stats replies. */
void proxy_print_routes(json_t *reply);
void proxy_print_stats(json_t *reply);
