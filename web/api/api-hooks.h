/* The /hooks/ routing table of slipwayd (served without the admin token; each handler authenticates the
 * delivery itself) and its handler for git webhooks.  The routes' userdata is the ApiContext. */
#pragma once

#include <stddef.h>

#include "http-server.h"

/* Patterns are relative to /hooks/: "git/<star>" is POST /hooks/git/<id>. */
extern const HttpRoute hook_routes[];
extern const size_t hook_routes_n;

/* POST /hooks/git/<id>: a GitHub, Gitea, Forgejo or GitLab push → a queued build (api-hooks.c). */
int api_hook_git(HttpRequest *req);
