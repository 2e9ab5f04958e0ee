/* scan-ignore.h: the waiver files of a build context, read without following a link out of it. */
#include "scan-ignore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"
#include "strv.h"

void scan_ignore_done(ScanIgnore *ig) {
        if (!ig)
                return;
        strv_free_n(ig->ids, ig->n_ids);
        *ig = (ScanIgnore) {};
}

static int ignore_add(ScanIgnore *ig, const char *id, size_t n) {
        char **ids;

        if (ig->n_ids >= SCAN_IGNORE_IDS_MAX)
                return -E2BIG;
        ids = realloc(ig->ids, (ig->n_ids + 1) * sizeof *ids);
        if (!ids)
                return -ENOMEM;
        ig->ids = ids;
        ids[ig->n_ids] = strndup(id, n);
        if (!ids[ig->n_ids])
                return -ENOMEM;
        ig->n_ids++;
        return 0;
}

int scan_ignore_parse(ScanIgnore *ig, const char *data, size_t size) {
        const char *end = data + size;
        int r;

        for (const char *line = data; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                const char *stop = nl ?: end, *p = line, *q;

                while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r'))
                        p++;
                q = p;
                while (q < stop && *q != ' ' && *q != '\t' && *q != '\r' && *q != '#' && *q != '\0')
                        q++;
                if (q > p && *p != '#' && (size_t) (q - p) <= SCAN_IGNORE_ID_MAX) {
                        r = ignore_add(ig, p, (size_t) (q - p));
                        if (r < 0)
                                return r;
                }
                line = nl ? nl + 1 : end;
        }
        return 0;
}

static int load_one(int dir_fd, const char *name, ScanIgnore *ig) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        /* A link is not followed: the file is the context's own or it is not read. */
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT || errno == ELOOP ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        if ((uint64_t) st.st_size > SCAN_IGNORE_FILE_MAX)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        return scan_ignore_parse(ig, buf, len);
}

int scan_ignore_load(int dir_fd, ScanIgnore *ig) {
        static const char *const files[] = { ".slipwayignore", ".trivyignore" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                r = load_one(dir_fd, files[i], ig);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool scan_ignore_has(const ScanIgnore *ig, const char *id) {
        if (!ig || !id)
                return false;
        for (size_t i = 0; i < ig->n_ids; i++)
                if (strcmp(ig->ids[i], id) == 0)
                        return true;
        return false;
}
