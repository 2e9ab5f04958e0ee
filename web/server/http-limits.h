/* Limits on what an HTTP client may send to slipwayd.  Every one is enforced with a clear error. */
#pragma once

#define HTTP_REQUEST_HEADER_MAX 16384U                  /* request line + headers */
#define HTTP_JSON_BODY_MAX (1024U * 1024U)              /* JSON request bodies */
#define HTTP_UPLOAD_MAX (64ULL * 1024U * 1024U * 1024U) /* streamed image uploads */
#define HTTP_PATH_SEGMENTS_MAX 8U                       /* /api/v1/a/b/c… */
#define HTTP_PATH_SEGMENT_MAX 1024U                     /* one decoded segment (a ref is ≤ 255) */
#define HTTP_QUERY_VALUE_MAX 1024U
#define HTTP_SERVER_THREADS "8"
#define HTTP_IO_BUFFER (256U * 1024U) /* bounded copy buffer for streams */
/* civetweb 1.15 as Debian builds it (USE_STACK_SIZE) gives each handler thread a stack of this size, with no
 * runtime option to change it.  Handlers bound their recursion to fit: JSON input nests at most
 * JSON_DEPTH_MAX levels (json-util.h).  test-http-json-body checks both on a live worker. */
#define HTTP_WORKER_STACK_SIZE (100U * 1024U)

/* Webhook deliveries: served without the bearer token (each handler authenticates the delivery by its
 * signature); the API gate forwards only plain POST paths under it. */
#define HTTP_HOOKS_PREFIX "/hooks/"
/* The OCI distribution API (web/registry/). */
#define HTTP_REGISTRY_PREFIX "/v2/"
/* Every registry answer carries these; the API gate's own blob answers (api-gate-blob.c) too, with the
 * registry's sentence for a missing blob, so that both answer alike. */
#define HTTP_REGISTRY_HEADERS "Docker-Distribution-API-Version: registry/2.0\r\n"
#define HTTP_REGISTRY_BLOB_UNKNOWN_MESSAGE "The store has no blob of that digest."
/* The web console (web/console/): GET and HEAD of "/" and of files under this prefix are served without
 * credentials (the page then logs in); the API gate forwards only plain names there. */
#define HTTP_CONSOLE_PREFIX "/console/"
