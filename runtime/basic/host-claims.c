/* Claims as symlinks under a flock: a symlink is created atomically and names its owner by itself, so a
 * claim needs no second file and survives a daemon's crash; /run makes every claim end with a reboot, after
 * which owners take theirs again.  Owner liveness is "its path exists", which is what outlives a daemon
 * (a state dir that stays is still owned even while no daemon runs for it). */
#include "host-claims.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"
#include "string-util.h"
#include "strv.h"

bool host_claim_name_valid(const char *name) {
        size_t l;

        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return false;
        l = strlen(name);
        if (l > HOST_CLAIM_NAME_MAX)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!ascii_isalnum(name[i]) && !strchr("._@-", name[i]))
                        return false;
        return true;
}

static bool owner_valid(const char *owner) {
        return owner && owner[0] == '/' && strlen(owner) < PATH_MAX;
}

int host_claims_lock(const char *dir) {
        _cleanup_close_ int fd = -EBADF;

        if (isempty(dir))
                return -EINVAL;
        fd = mkdir_p_open(dir, 0700);
        if (fd < 0)
                return fd;
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int host_claim_check(int dfd, const char *name, const char *owner) {
        char target[PATH_MAX];
        ssize_t n;

        if (!host_claim_name_valid(name) || !owner_valid(owner))
                return -EINVAL;
        n = readlinkat(dfd, name, target, sizeof(target) - 1);
        if (n < 0)
                return errno == EINVAL ? -EBADMSG : -errno; /* EINVAL: not a symlink */
        target[n] = 0;
        if (streq(target, owner))
                return 1;
        if (access(target, F_OK) < 0 && errno == ENOENT)
                return -ESTALE;
        return 0;
}

int host_claim_take(int dfd, const char *name, const char *owner) {
        int r;

        r = host_claim_check(dfd, name, owner);
        if (r >= 0)
                return r;
        if (r == -ESTALE) {
                if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
        } else if (r != -ENOENT)
                return r;
        if (symlinkat(owner, dfd, name) < 0)
                return -errno;
        return 1;
}

int host_claim_drop(int dfd, const char *name, const char *owner) {
        int r;

        r = host_claim_check(dfd, name, owner);
        if (r == -ENOENT || r == -ESTALE || r == 0)
                return 0;
        if (r < 0)
                return r;
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 1;
}

char **host_claims_list_free(char **l) {
        return strv_free(l);
}

int host_claims_list(int dfd, const char *owner, HostClaimsWhich which, char ***ret_names) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (!owner_valid(owner) || which < 0 || which >= _HOST_CLAIMS_WHICH_MAX)
                return -EINVAL;
        r = opendir_at(dfd, ".", &d);
        if (r < 0)
                return r;
        l = strv_new_empty();
        if (!l)
                return -ENOMEM;
        while ((de = readdir(d))) {
                if (!host_claim_name_valid(de->d_name))
                        continue;
                r = host_claim_check(dfd, de->d_name, owner);
                if (!((which == HOST_CLAIMS_MINE && r == 1) || (which == HOST_CLAIMS_OTHERS && r == 0)))
                        continue;
                r = strv_extend(&l, de->d_name);
                if (r < 0)
                        return r;
        }
        *ret_names = TAKE_PTR(l);
        return 0;
}

int host_claim_take_in(const char *dir, const char *name, const char *owner) {
        _cleanup_close_ int dfd = host_claims_lock(dir);

        if (dfd < 0)
                return dfd;
        return host_claim_take(dfd, name, owner);
}

int host_claim_drop_in(const char *dir, const char *name, const char *owner) {
        _cleanup_close_ int dfd = -EBADF;

        if (access(dir, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        dfd = host_claims_lock(dir);
        if (dfd < 0)
                return dfd;
        return host_claim_drop(dfd, name, owner);
}
