/* JSON helpers.  The typed getters are the only way input JSON is read, so a wrong type is always
 * -EBADMSG and never a NULL dereference further on. */
#include "json-util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fs-util.h"

int json_depth_scan(const char *data, size_t size, unsigned max, size_t *ret_offset) {
        unsigned depth = 0, deepest = 0;
        bool in_string = false;

        for (size_t i = 0; i < size; i++) {
                char c = data[i];

                if (in_string) {
                        if (c == '\\')
                                i++; /* the escaped character (or \uXXXX's 'u') never ends the string */
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                switch (c) {
                case '"':
                        in_string = true;
                        break;
                case '[':
                case '{':
                        if (++depth > max) {
                                if (ret_offset)
                                        *ret_offset = i;
                                return -ELOOP;
                        }
                        deepest = MAX(deepest, depth);
                        break;
                case ']':
                case '}':
                        /* A stray closer makes jansson fail right there; it never lowers the count below 0. */
                        if (depth > 0)
                                depth--;
                        break;
                }
        }
        return (int) deepest;
}

/* Fills err as jansson would for the bracket at offset that nests too deep. */
static void depth_error(json_error_t *err, const char *data, size_t offset, unsigned max) {
        int line = 1, column = 0;

        for (size_t i = 0; i <= offset; i++) {
                if (data[i] == '\n') {
                        line++;
                        column = 0;
                } else
                        column++;
        }
        *err = (json_error_t) { .line = line, .column = column, .position = (int) offset + 1 };
        snprintf(err->source, sizeof err->source, "<buffer>");
        snprintf(err->text, sizeof err->text, "nested deeper than %u levels", max);
}

int json_parse_buffer_depth(const char *data, size_t size, unsigned depth_max, json_t **ret,
                            json_error_t *err) {
        json_error_t local;
        size_t offset = 0;
        json_t *j;

        if (json_depth_scan(data, size, depth_max, &offset) < 0) {
                depth_error(err ? err : &local, data, offset, depth_max);
                return -ELOOP;
        }
        j = json_loadb(data, size, JSON_REJECT_DUPLICATES, err ? err : &local);
        if (!j)
                return -EBADMSG;
        *ret = j;
        return 0;
}

int json_parse_buffer(const char *data, size_t size, json_t **ret, json_error_t *err) {
        return json_parse_buffer_depth(data, size, JSON_DEPTH_MAX, ret, err);
}

int json_parse_file_at(int dir_fd, const char *path, size_t max_size, json_t **ret, json_error_t *err) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file_at(dir_fd, path, max_size, &data, &size);
        if (r < 0) {
                /* Callers print err for any failure: say why the file could not be read. */
                if (err) {
                        *err = (json_error_t) {};
                        snprintf(err->source, sizeof err->source, "%s", path);
                        snprintf(err->text, sizeof err->text, "%s", strerror(-r));
                }
                return r;
        }
        return json_parse_buffer(data, size, ret, err);
}

/* The member key of obj when it has the given type, stored in *ret as the public getter's type says: a
 * string's const char *, an integer's int64_t, or the json_t * of an object or array.  -ENOENT when absent,
 * -EBADMSG for another type; *ret is written on success only. */
static int json_get_typed(json_t *obj, const char *key, json_type type, void *ret) {
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

        if (!v)
                return -ENOENT;
        if (json_typeof(v) != type)
                return -EBADMSG;
        switch (type) {
        case JSON_STRING:
                *(const char **) ret = json_string_value(v);
                break;
        case JSON_INTEGER:
                *(int64_t *) ret = json_integer_value(v);
                break;
        default:
                *(json_t **) ret = v;
        }
        return 0;
}

int json_get_string(json_t *obj, const char *key, const char **ret) {
        return json_get_typed(obj, key, JSON_STRING, ret);
}

int json_get_string_opt(json_t *obj, const char *key, const char **ret) {
        int r = json_get_string(obj, key, ret);

        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

int json_get_int(json_t *obj, const char *key, int64_t *ret) {
        return json_get_typed(obj, key, JSON_INTEGER, ret);
}

int json_get_object(json_t *obj, const char *key, json_t **ret) {
        return json_get_typed(obj, key, JSON_OBJECT, ret);
}

int json_get_array(json_t *obj, const char *key, json_t **ret) {
        return json_get_typed(obj, key, JSON_ARRAY, ret);
}

char *json_dump_canonical(const json_t *j) {
        return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
