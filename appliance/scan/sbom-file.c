/* Bounded reads of an image's files.  Invariant: a file is read through an fd opened inside the root and
 * never beyond the caller's limit, whatever its size claims. */
#include "sbom-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "macro.h"
#include "path-confine.h"

int sbom_read_fd(int fd, size_t max, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size < 0 || (unsigned long long) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        /* At most the stat size: a file that grows meanwhile is cut there, never read past max. */
        n = loop_read(fd, buf, (size_t) st.st_size);
        if (n < 0)
                return (int) n;
        buf[n] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = (size_t) n;
        return 0;
}

int sbom_read_in_root(int root_fd, const char *path, size_t max, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = confine_open(root_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        return sbom_read_fd(fd, max, ret_data, ret_size);
}

int sbom_read_and_parse(int root_fd, Sbom *s, const char *path,
                        int (*parse)(Sbom *s, const char *data, size_t size, const char *path),
                        size_t *skipped) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = sbom_read_in_root(root_fd, path, SBOM_DB_FILE_MAX, &data, &size);
        if (r == -ENOENT)
                return 0;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (*skipped)++;
                return 0;
        }
        r = parse(s, data, size, path);
        if (r < 0)
                return r;
        *skipped += (size_t) r;
        return 0;
}
