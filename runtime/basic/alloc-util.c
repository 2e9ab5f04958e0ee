/* Growable arrays: capacity doubles from 8 elements, and never past what size_t can count in bytes. */
#include "alloc-util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"

int greedy_realloc(void **array, size_t *allocated, size_t need, size_t size) {
        size_t want;
        void *p;

        if (need <= *allocated)
                return 0;
        if (size == 0 || need > SIZE_MAX / size)
                return -ENOMEM;
        want = need <= SIZE_MAX / 2 / size ? MAX(need * 2, (size_t) 8) : need;
        if (want > SIZE_MAX / size)
                want = need;
        p = realloc(*array, want * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = want;
        return 0;
}
