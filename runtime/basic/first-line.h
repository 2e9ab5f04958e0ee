/* Small settings files that hold one value on their first line (a URL, a token), as the daemon writes them
 * into its state directory and the CLI reads them back. */
#pragma once

#include <stddef.h>

/* Reads dir/name (at most max bytes) and returns its first line without the line break in *ret.
 * -EBADMSG when that line is empty; -EFBIG when the file is larger than max; -errno from reading. */
int read_first_line(const char *dir, const char *name, size_t max, char **ret);
