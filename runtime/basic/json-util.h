/* JSON helpers over jansson: cleanup, typed getters that fail with -EBADMSG on wrong types,
 * and bounded parsing of files and buffers: bounded in size by the caller, in nesting depth here. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "macro.h"

/* jansson >= 2.9 provides json_decrefp() for __attribute__((cleanup)). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* The deepest nesting of arrays and objects any JSON input may have.  jansson's parser (and json_dumps(),
 * json_deep_copy(), json_decref()) recurse once per level, and civetweb's handler threads have stacks of
 * 100 KiB (HTTP_WORKER_STACK_SIZE): a 2 KB body of 1,000 '[' overflowed them before this limit.  No format
 * Slipway reads (OCI manifests and configs, component specs, route tables, API bodies) nests beyond ~6. */
#define JSON_DEPTH_MAX 64U
/* For replies that embed a document parsed under JSON_DEPTH_MAX (image inspect wraps the config). */
#define JSON_REPLY_DEPTH_MAX (JSON_DEPTH_MAX + 8U)

/* The nesting depth of the JSON text (arrays and objects; brackets inside strings, escapes included, do not
 * count), without recursion.  It does not validate: for valid JSON, and for every prefix jansson accepts
 * before failing, the count is exact.  Returns the deepest level (0 for a scalar), or -ELOOP as soon as a
 * bracket opens level max + 1, with *ret_offset (when not NULL) that bracket's byte offset. */
int json_depth_scan(const char *data, size_t size, unsigned max, size_t *ret_offset);

/* Parse a buffer; on failure fills err (line/column/text) when given and returns -EBADMSG, or -ELOOP when
 * it nests deeper than JSON_DEPTH_MAX (err->text then says so).  Duplicate keys are refused. */
int json_parse_buffer(const char *data, size_t size, json_t **ret, json_error_t *err);
/* The same with another depth limit (at most JSON_REPLY_DEPTH_MAX for threads other than main). */
int json_parse_buffer_depth(const char *data, size_t size, unsigned depth_max, json_t **ret,
                            json_error_t *err);
int json_parse_file_at(int dir_fd, const char *path, size_t max_size, json_t **ret, json_error_t *err);

/* Getters: -ENOENT when absent, -EBADMSG when present with another type. */
int json_get_string(json_t *obj, const char *key, const char **ret);
int json_get_int(json_t *obj, const char *key, int64_t *ret);
int json_get_object(json_t *obj, const char *key, json_t **ret);
int json_get_array(json_t *obj, const char *key, json_t **ret);
/* Optional string: NULL when absent; -EBADMSG when present and not a string. */
int json_get_string_opt(json_t *obj, const char *key, const char **ret);

/* Compact, sorted-key serialisation (stable bytes for digests). Caller frees. */
char *json_dump_canonical(const json_t *j);
