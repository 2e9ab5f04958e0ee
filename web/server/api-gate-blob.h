/* The API gate's own answer to registry blob reads, GET and HEAD of /v2/NAME/blobs/DIGEST (api-gate.c calls
 * it once the head check let the request in): the status, headers and error bodies of the registry's handler
 * (web/registry/registry.c) byte for byte, the body sent with sendfile(2) straight from the blob's file.
 * Invariant: anything this file is not sure to answer exactly as the registry would goes on to civetweb. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api-gate.h"
#include "digest.h"

#define GATE_BLOB_HEAD_MAX 1024U                     /* the answer's head; what the registry sends fits */
#define GATE_BLOB_RANGE_DIGITS_MAX 18U               /* per number of "bytes=A-B"; longer: civetweb's */
#define GATE_BLOB_SENDFILE_MAX (16U * 1024U * 1024U) /* per sendfile(2) call, so one client never hogs */

/* A blob read the gate answers itself. */
typedef struct GateBlobRequest {
        bool head; /* HEAD: the GET's status and headers, no body */
        char digest[DIGEST_STRING_MAX];
        bool range;                    /* "Range: bytes=FROM-[TO]" */
        uint64_t range_from, range_to; /* range_to UINT64_MAX: to the end */
        bool close;                    /* closed after the answer: asked for, or HTTP/1.0 */
} GateBlobRequest;

/* True when the head buf[0..len), which api_gate_check_head() let through as chk, is one the gate answers:
 * method GET or HEAD; origin-form target exactly /v2/NAME/blobs/DIGEST (NAME per
 * oci_repository_name_valid(), DIGEST per digest_is_valid(), no query); no body, no Expect, no Upgrade; a
 * Host header on HTTP/1.1; at most one Range header, and that one "bytes=FROM-" or "bytes=FROM-TO" in
 * digits.  Anything else (manifests, uploads, multiple ranges, a malformed name) is false: civetweb's. */
bool api_gate_blob_match(const char *buf, size_t len, const GateHeadCheck *chk, GateBlobRequest *ret);

/* One answer on its way out: the head, then [offset, end) of the blob's file. */
typedef struct GateBlobReply {
        int status; /* 200, 206, 404 or 416 */
        int fd;     /* the blob while it has body bytes to send, else -EBADF */
        char head[GATE_BLOB_HEAD_MAX];
        size_t head_len, head_sent;
        const char *body;     /* a static error document (404 of a GET), else NULL */
        size_t body_len;      /* of body */
        uint64_t offset, end; /* what is left of the file (or of body) to send */
        uint64_t sent;        /* bytes written to the client so far, head included */
} GateBlobReply;

/* Opens req's blob in blobs_fd (the store's blobs/sha256 directory) and makes the answer the registry gives:
 * 200 (with ETag) or 206, 416 for a range past the end, 404 BLOB_UNKNOWN when the store has no such file.
 * The file stays open in ret, so a gc that unlinks it meanwhile does not cut the body short.  -ENOMEM or
 * -ENOBUFS only when the head cannot be made; then ret is untouched. */
int gate_blob_reply_init(int blobs_fd, const GateBlobRequest *req, GateBlobReply *ret);
/* Writes what the non-blocking socket takes now: 1 when the whole answer is out, 0 when the socket is full
 * (wait for EPOLLOUT and call again), -errno when the client is gone. */
int gate_blob_reply_send(GateBlobReply *r, int sock);
void gate_blob_reply_done(GateBlobReply *r);
