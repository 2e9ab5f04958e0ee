/* The /api/v1 handlers of slipwayd and the context they share.  Handlers validate input, call the
 * appliance layer and translate its errors into {"error","hint"} with the right HTTP status. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "builder.h"
#include "http-server.h"
#include "image-catalog.h"

typedef struct ApiContext {
        ImageCatalog *catalog;
        OciStore *store;
        Builder *builder;         /* NULL: builds are refused with 503 */
        const char *state_dir;
        const char *tmp_dir;      /* uploads land here before import */
        const char *api_url;
        pid_t pid;
        /* Wakes the engine's event loop after an intent row was written (may be NULL). */
        void (*wake_engine)(void *userdata);
        void *wake_userdata;
} ApiContext;

extern const HttpRoute api_routes[];
extern const size_t api_routes_n;

/* Sends err (when filled) or a generic message for r; returns the status sent. */
int api_reply_error(HttpRequest *req, int r, const OciError *err, const char *what);

/* Handlers, one file per area. */
int api_status(HttpRequest *req);
int api_images_list(HttpRequest *req);
int api_image_inspect(HttpRequest *req);
int api_image_remove(HttpRequest *req);
int api_image_import(HttpRequest *req);
int api_image_export(HttpRequest *req);
int api_images_gc(HttpRequest *req);
int api_image_unpack(HttpRequest *req);
int api_image_build(HttpRequest *req);
int api_image_build_cancel(HttpRequest *req);
/* slipwayd stopping: cancels every running build and waits (at most timeout_usec) until each client has got
 * its final line; civetweb drops writes once it is stopping. */
void api_builds_stop(uint64_t timeout_usec);
