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
