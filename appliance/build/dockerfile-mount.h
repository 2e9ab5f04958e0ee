/* RUN --mount specs: BuildKit's comma-separated form (type=cache,target=/root/.cache,sharing=locked; a field
 * in double quotes may hold commas, "" is a quote) read into a DockerfileMount, and written back after
 * ARG/ENV expansion. Invariant: a spec that parses here names only options its type has, with valid values. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOCKERFILE_MOUNTS_MAX 32U       /* --mount flags on one RUN */
#define DOCKERFILE_MOUNT_SPEC_MAX 4096U /* bytes of one --mount value */
#define DOCKERFILE_MOUNT_FIELDS_MAX 32U /* key=value fields in one --mount value */
#define DOCKERFILE_MOUNT_ID_MAX 255U    /* bytes of a cache or secret id */
#define DOCKERFILE_MOUNT_TARGET_MAX 4095U

typedef enum DockerfileMountType {
        DOCKERFILE_MOUNT_BIND,
        DOCKERFILE_MOUNT_CACHE,
        DOCKERFILE_MOUNT_TMPFS,
        DOCKERFILE_MOUNT_SECRET,
        _DOCKERFILE_MOUNT_TYPE_MAX,
        _DOCKERFILE_MOUNT_TYPE_INVALID = -EINVAL,
} DockerfileMountType;

typedef enum DockerfileMountSharing {
        DOCKERFILE_MOUNT_SHARED,  /* every build uses the one directory at the same time */
        DOCKERFILE_MOUNT_PRIVATE, /* a build finding it in use gets a directory of its own */
        DOCKERFILE_MOUNT_LOCKED,  /* a build finding it in use waits */
        _DOCKERFILE_MOUNT_SHARING_MAX,
        _DOCKERFILE_MOUNT_SHARING_INVALID = -EINVAL,
} DockerfileMountSharing;

const char *dockerfile_mount_type_to_string(DockerfileMountType t);
DockerfileMountType dockerfile_mount_type_from_string(const char *s);
const char *dockerfile_mount_sharing_to_string(DockerfileMountSharing s);
DockerfileMountSharing dockerfile_mount_sharing_from_string(const char *s);

typedef struct DockerfileMount {
        DockerfileMountType type;
        char *target; /* as written (relative: below the WORKDIR); for a secret /run/secrets/<id> by default */
        char *source; /* bind: path in the context or in from; cache: path in from */
        char *from;   /* stage name or index, or image; NULL: the build context */
        char *id;     /* cache: defaults to target; secret: defaults to the target's base name */
        DockerfileMountSharing sharing;
        bool readonly; /* bind: true unless rw; cache: false unless ro */
        bool required; /* secret */
        uint64_t size; /* tmpfs: bytes, 0 = the kernel's default */
        bool has_mode, has_uid, has_gid;
        uint32_t mode, uid, gid;
} DockerfileMount;

void dockerfile_mount_done(DockerfileMount *m);

typedef enum DockerfileMountParseFlags {
        /* Before ARG/ENV expansion (at parse time): a value holding '$' is checked only after expansion. */
        DOCKERFILE_MOUNT_UNEXPANDED = 1 << 0,
} DockerfileMountParseFlags;

/* Parses spec. Returns 0 with *ret filled (defaults applied), or -EBADMSG with one sentence in err (what is
 * wrong and what is allowed), -ENOMEM. ret may be NULL (only check). */
int dockerfile_mount_parse(const char *spec, DockerfileMountParseFlags flags, DockerfileMount *ret,
                           char *err, size_t err_size);

/* The fields of spec (csv: quotes removed), NULL-terminated. -EBADMSG (err filled) for bad quoting or too many
 * fields. */
int dockerfile_mount_split(const char *spec, char ***ret, char *err, size_t err_size);
/* The fields joined into a spec again, each quoted when it holds a comma or a quote. */
int dockerfile_mount_join(char *const *fields, char **ret);
