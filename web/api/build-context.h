/* Build contexts on the daemon side: a tar stream (plain or gzip/bzip2/xz/zstd) extracted below a fresh
 * directory, then filtered with the context's .dockerignore like Docker does.  Invariant: extraction only
 * creates entries strictly below the target directory (names relative, no "..", never written through a
 * symlink, hardlinks only to names inside), owned by root, without setuid/setgid bits (as docker build
 * strips them from context files), within BUILD_CONTEXT_MAX bytes and BUILD_CONTEXT_ENTRIES_MAX entries. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BUILD_CONTEXT_MAX (8ULL * 1024U * 1024U * 1024U) /* bytes of a context, sent and unpacked */
#define BUILD_CONTEXT_ENTRIES_MAX 1000000U               /* files, dirs and links in one context */

/* Reads up to size bytes of the stream: > 0 bytes, 0 at its end, < 0 -errno. */
typedef ssize_t (*BuildContextReadFn)(void *userdata, void *buf, size_t size);

/* Extracts the tar read through read_fn into dir (existing, empty).  -EFBIG beyond the limits, -EBADMSG for
 * a bad or unsafe archive, -EPIPE when the stream breaks; *ret_error (when given) gets one sentence. */
int build_context_extract(BuildContextReadFn read_fn, void *userdata, const char *dir, char **ret_error);

/* Applies dir/.dockerignore (when present): removes every excluded entry except the Dockerfile (keep, a
 * relative name) and .dockerignore itself, which the builder still reads.  -EBADMSG with *ret_error for a
 * bad .dockerignore. */
int build_context_apply_dockerignore(const char *dir, const char *keep, char **ret_error);
