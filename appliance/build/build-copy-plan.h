/* COPY/ADD planning (the sources of one instruction, resolved and checksummed before the cache lookup) and
 * the helpers the execution shares with it. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "build-job.h"

#define COPY_SOURCES_MAX 10000U /* files one COPY may match */
#define COPY_DEPTH_MAX 256U     /* directory nesting one COPY descends */

typedef struct CopySource {
        char *rel;   /* cleaned path inside the source root ("." for the root) */
        char *shown; /* as the user wrote it / the glob matched, for messages */
} CopySource;

struct CopyPlan {
        char *root; /* the source root path */
        int root_fd;
        char *mount;      /* our read-only overlay of a stage or image, or NULL (the context) */
        bool keep_owners; /* --from: owners are kept; from the context they become root */
        CopySource *sources;
        size_t n_sources;
};

typedef struct CopyPlan CopyPlan;

/* from_state: the --from stage's state (NULL: the context, or an image named by --from, resolved here).
 * Returns the checksum of the sources (hex string) for the cache key. */
int build_copy_prepare(BuildContext *ctx, json_t *from_state, const DockerfileInstruction *i, CopyPlan **ret,
                       char **ret_checksum);
/* openat2(root_fd, rel, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|extra_resolve). */
int copy_open_in_root(int root_fd, const char *rel, int flags, uint64_t extra_resolve);
/* A new fd with flags on what fd (often O_PATH) refers to. */
int copy_reopen(int fd, int flags);
/* The target of the symlink fd (O_PATH, not following) refers to, NUL-terminated. */
int copy_read_link(int fd, char **ret);
/* Calls fn for each entry of the directory dir_fd but "." and "..", in name order, with an O_PATH fd that does
 * not follow, its stat and parent_rel joined with its name (the name alone where parent_rel is empty).
 * Stops at and returns the first error. */
typedef int (*CopyChildFunc)(int fd, const struct stat *st, const char *name, const char *rel,
                             void *userdata);
int copy_for_each_child(int dir_fd, const char *parent_rel, CopyChildFunc fn, void *userdata);
/* "COPY", "ADD", or "RUN --mount" (a bind source planned like a COPY source). */
const char *copy_kind_name(const DockerfileInstruction *i);
CopyPlan *copy_plan_free(CopyPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CopyPlan *, copy_plan_free);
