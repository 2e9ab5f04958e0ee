/* JSON helpers over jansson: cleanup, typed getters that fail with -EBADMSG on wrong types,
 * and bounded parsing of files and buffers. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "macro.h"

/* jansson >= 2.9 provides json_decrefp() for __attribute__((cleanup)). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Parse a buffer; on failure fills err (line/column/text) when given and returns -EBADMSG. */
int json_parse_buffer(const char *data, size_t size, json_t **ret, json_error_t *err);
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
