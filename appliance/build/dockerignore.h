/* .dockerignore: Docker's pattern rules for leaving files of the build context out.
 * Patterns are cleaned like Go's filepath.Clean, matched against the whole slash-separated path relative
 * to the context root ('*' and '?' never cross '/', "**" crosses any number of directories), a pattern
 * that matches a directory matches everything below it, and the last matching pattern wins ('!' re-includes).
 *
 * The matcher is pure: it says whether a path is excluded. Like Docker, the builder still reads the
 * Dockerfile and .dockerignore themselves even when they are matched; a match only keeps them out of
 * COPY/ADD (and out of the context checksum). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dockerfile-parser.h"

#define DOCKERIGNORE_SIZE_MAX (1024U * 1024U)
#define DOCKERIGNORE_PATTERNS_MAX 10000U

typedef struct DockerIgnore DockerIgnore;

/* Parses .dockerignore text. One pattern per line; a line whose first character is '#' is a comment
 * (Docker only treats '#' in column 1 as a comment; " #x" is the pattern "#x"); blank lines are skipped;
 * leading and trailing whitespace is trimmed. Errors (-EBADMSG, -EFBIG) fill err with file and line. */
int dockerignore_parse(const char *data, size_t size, const char *filename, DockerIgnore **ret,
                       DockerfileError *err);
DockerIgnore *dockerignore_free(DockerIgnore *di);
/* Reads and parses dir/.dockerignore; without one, 0 and *ret NULL. On failure fills *ret_error with one
 * sentence that names the file as shown (NULL: its path); -EBADMSG for a bad or oversized file. */
int dockerignore_load(const char *dir, const char *shown, DockerIgnore **ret, char **ret_error);
static inline void dockerignore_freep(DockerIgnore **di) {
        dockerignore_free(*di);
}
#define _cleanup_dockerignore_free_ _cleanup_(dockerignore_freep)

/* True when relpath (relative to the context root, '/'-separated; a leading "./" or "/" is ignored) is
 * excluded from the context. is_dir does not change the answer (Docker's patterns have no directory-only
 * form: "build/" is cleaned to "build"); it is accepted so callers need not care. */
bool dockerignore_match(const DockerIgnore *di, const char *relpath, bool is_dir);

/* For context walkers: whether to look inside directory reldir. False only when the directory is excluded
 * and no '!' pattern starts with "reldir/" (Docker's rule; a '!' pattern with a wildcard in its leading
 * directories does not re-open an excluded directory). */
bool dockerignore_should_descend(const DockerIgnore *di, const char *reldir);

size_t dockerignore_n_patterns(const DockerIgnore *di);
/* Go's filepath.Clean on a '/'-separated path; "" becomes ".". Caller frees. */
char *dockerignore_clean_path(const char *path);
