/* Growable arrays: an array pointer, a count the caller keeps and a capacity (in elements) beside it.
 * Growing doubles the capacity, so appending n elements costs O(n) copies in all. */
#pragma once

#include <stddef.h>

/* Makes room for at least need elements of size bytes in *array, whose capacity is *allocated.
 * 0 on success; -ENOMEM (also when need * size overflows) leaves *array and *allocated as they were. */
int greedy_realloc(void **array, size_t *allocated, size_t need, size_t size);

/* GREEDY_REALLOC(v, n_allocated, n + 1) before v[n++] = x; v is any typed pointer. */
#define GREEDY_REALLOC(array, allocated, need) \
        greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]))
