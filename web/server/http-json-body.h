/* The one decode path of JSON request bodies: read under a size limit, parsed under JSON_DEPTH_MAX, an
 * object whose top-level fields are all known.  Each refusal is one sentence saying what is wrong and,
 * for a limit, which: 413 for size, 400 for the rest, with the route's example body as the hint. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "http-server.h"

typedef struct HttpJsonBody {
        const char *what;          /* the request as errors name it: "project create request" */
        size_t max;                /* the most bytes the body may have; 0: HTTP_JSON_BODY_MAX */
        const char *const *fields; /* the top-level fields it may have, NULL-terminated */
        const char *example;       /* the hint of every refusal: a body that works */
} HttpJsonBody;

/* Decodes data as spec says into a JSON object.  On failure *ret_error (caller frees) gets one sentence and
 * the result is -EBADMSG (not JSON), -ELOOP (nested deeper than JSON_DEPTH_MAX) or -EINVAL (not an object, or
 * a field spec does not know).  Size is the reader's business. */
int http_json_body_decode(const HttpJsonBody *spec, const char *data, size_t size, json_t **ret,
                          char **ret_error);

/* Reads req's body (at most spec->max bytes) and decodes it.  On failure it has answered (413 past the
 * limit, 400 otherwise), sets req->status and returns -errno; a handler then returns req->status. */
int http_request_read_json(HttpRequest *req, const HttpJsonBody *spec, json_t **ret);
