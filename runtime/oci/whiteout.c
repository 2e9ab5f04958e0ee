/* OCI whiteout handling.  Invariant: a whiteout only ever removes or hides entries below the
 * directory fd it is given (which the caller resolved inside the root), and in flat mode never an
 * entry recorded as created by the same layer (OCI image spec, "Whiteouts"). */
#include "whiteout.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fs-util.h"
#include "macro.h"
#include "path-confine.h"
#include "string-util.h"

int whiteout_classify(const char *basename, WhiteoutKind *ret_kind, const char **ret_target) {
        const char *t;

        if (!startswith(basename, WHITEOUT_PREFIX)) {
                *ret_kind = WHITEOUT_NONE;
                return 0;
        }
        if (streq(basename, WHITEOUT_OPAQUE_NAME)) {
                *ret_kind = WHITEOUT_OPAQUE;
                return 0;
        }
        if (startswith(basename, WHITEOUT_PREFIX WHITEOUT_PREFIX)) {
                *ret_kind = WHITEOUT_META;
                return 0;
        }
        t = basename + strlen(WHITEOUT_PREFIX);
        if (isempty(t) || streq(t, ".") || streq(t, "..") || strchr(t, '/'))
                return -EBADMSG;
        *ret_kind = WHITEOUT_FILE;
        if (ret_target)
                *ret_target = t;
        return 0;
}

static uint64_t path_hash(const char *s) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 1099511628211ULL;
        return h;
}

static char **layer_paths_slot(char **slots, size_t n_slots, const char *path) {
        size_t i = path_hash(path) & (n_slots - 1);

        while (slots[i] && !streq(slots[i], path))
                i = (i + 1) & (n_slots - 1);
        return &slots[i];
}

static int layer_paths_grow(LayerPaths *p) {
        size_t n = p->n_slots ? p->n_slots * 2 : 256;
        char **slots = calloc(n, sizeof(char *));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_slots; i++)
                if (p->slots[i])
                        *layer_paths_slot(slots, n, p->slots[i]) = p->slots[i];
        free(p->slots);
        p->slots = slots;
        p->n_slots = n;
        return 0;
}

static int layer_paths_add_one(LayerPaths *p, const char *path, size_t len) {
        _cleanup_free_ char *copy = strndup(path, len);
        char **slot;
        int r;

        if (!copy)
                return -ENOMEM;
        if ((p->n_used + 1) * 2 > p->n_slots) {
                r = layer_paths_grow(p);
                if (r < 0)
                        return r;
        }
        slot = layer_paths_slot(p->slots, p->n_slots, copy);
        if (*slot)
                return 0;
        *slot = TAKE_PTR(copy);
        p->n_used++;
        return 1;
}

int layer_paths_add(LayerPaths *p, const char *path) {
        int r;

        if (isempty(path))
                return 0;
        /* The path itself, then its ancestors until one is already known. */
        for (size_t len = strlen(path);;) {
                r = layer_paths_add_one(p, path, len);
                if (r <= 0)
                        return r;
                while (len > 0 && path[len - 1] != '/')
                        len--;
                if (len == 0)
                        return 0;
                len--; /* drop the slash */
        }
}

bool layer_paths_contains(const LayerPaths *p, const char *path) {
        if (p->n_slots == 0)
                return false;
        return *layer_paths_slot(p->slots, p->n_slots, path) != NULL;
}

void layer_paths_clear(LayerPaths *p) {
        for (size_t i = 0; i < p->n_slots; i++)
                free(p->slots[i]);
        free(p->slots);
        *p = (LayerPaths) {};
}

int whiteout_apply_overlay(int parent_fd, WhiteoutKind kind, const char *target) {
        struct stat st;

        switch (kind) {
        case WHITEOUT_FILE:
                /* Anything already at that name came from this same layer and stays visible. */
                if (fstatat(parent_fd, target, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return 0;
                if (mknodat(parent_fd, target, S_IFCHR | 0000, makedev(0, 0)) < 0)
                        return -errno;
                return 0;
        case WHITEOUT_OPAQUE:
                if (fsetxattr(parent_fd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                        return -errno;
                return 0;
        default:
                return 0;
        }
}

static bool keep_created(const char *path, void *userdata) {
        return layer_paths_contains(userdata, path);
}

int whiteout_apply_flat(int parent_fd, const char *parent_path, WhiteoutKind kind, const char *target,
                        const LayerPaths *created) {
        switch (kind) {
        case WHITEOUT_FILE: {
                _cleanup_free_ char *path =
                        isempty(parent_path) ? strdup(target) : path_join(parent_path, target);
                if (!path)
                        return -ENOMEM;
                if (layer_paths_contains(created, path))
                        return 0;
                return rm_rf_at(parent_fd, target, 0);
        }
        case WHITEOUT_OPAQUE:
                return confine_prune_at(parent_fd, parent_path, keep_created, (void *) created);
        default:
                return 0;
        }
}
