/* Reading a one-value file: the value is the first line, an empty one is an error (a half-written file
 * must not be taken for a value). */
#include "first-line.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "macro.h"

int read_first_line(const char *dir, const char *name, size_t max, char **ret) {
        _cleanup_free_ char *p = path_join(dir, name), *data = NULL;
        size_t size;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, p, max, &data, &size);
        if (r < 0)
                return r;
        data[strcspn(data, "\r\n")] = 0;
        if (isempty(data))
                return -EBADMSG;
        *ret = TAKE_PTR(data);
        return 0;
}
