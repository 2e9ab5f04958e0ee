/* The ids a build context waives: .slipwayignore (or Trivy's .trivyignore) at its top, one id per line, '#'
 * starting a comment, anything after the id on its line ignored (Trivy's "exp:DATE").  Bounded in bytes read
 * and ids kept; a missing file waives nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SCAN_IGNORE_FILE_MAX (1024U * 1024U) /* bytes of one ignore file read */
#define SCAN_IGNORE_IDS_MAX 10000U           /* ids kept from all ignore files */
#define SCAN_IGNORE_ID_MAX 4200U             /* bytes of one id (a secret's id carries a path) */

typedef struct ScanIgnore {
        char **ids;
        size_t n_ids;
} ScanIgnore;

void scan_ignore_done(ScanIgnore *ig);

/* Appends the ids of one file's bytes; lines longer than SCAN_IGNORE_ID_MAX are skipped.  -E2BIG past
 * SCAN_IGNORE_IDS_MAX, -ENOMEM. */
int scan_ignore_parse(ScanIgnore *ig, const char *data, size_t size);

/* Reads .slipwayignore and .trivyignore of the directory dir_fd (either may be missing).  -EFBIG when one is
 * larger than SCAN_IGNORE_FILE_MAX, -E2BIG, -ENOMEM, or the -errno of a file that exists but cannot be read. */
int scan_ignore_load(int dir_fd, ScanIgnore *ig);

/* id is listed (ig may be NULL: nothing is). */
bool scan_ignore_has(const ScanIgnore *ig, const char *id);
