/* slipwayd's OCI registry (the distribution API at /v2/, registry.c): HttpServerConfig.registry_handler,
 * with the ApiContext as the request's userdata. */
#pragma once

#include "http-server.h"

int registry_handle(HttpRequest *req);
