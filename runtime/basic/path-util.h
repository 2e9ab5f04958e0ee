/* Relative paths that stay below their root: the one check for tar entry names, build-context names and
 * layer entries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True when name is not empty, not absolute and has no ".." component ("a..b" is fine). Such a name,
 * joined to a directory, cannot name anything outside it lexically (symlinks are the caller's part). */
bool path_is_safe_relative(const char *name);

/* Normalises a relative name: drops "." components, duplicate and trailing slashes ("./a//b/" → "a/b";
 * "./" → ""). Returns -EINVAL for an empty name, -ENAMETOOLONG beyond max_len bytes, -EXDEV for an
 * absolute name or any ".." component. *ret is malloc'ed. */
int path_normalize_relative(const char *name, size_t max_len, char **ret);
