/* Secrets left in an image: well-known patterns of private keys, cloud access keys and git forge tokens
 * in the files of an unpacked root (regular files only, links never followed, bounded in count and size).
 * A finding names the rule and the file, never the secret itself. */
#pragma once

#include <jansson.h>

#define SECRETS_FILES_MAX 200000U
#define SECRETS_FILE_MAX (1024U * 1024U) /* bytes of one file read */
#define SECRETS_FINDINGS_MAX 1000U

/* A JSON array of {"id": "secret:RULE:PATH", "kind": "secret", "rule", "file", "severity": "CRITICAL"} into
 * *ret. */
int secrets_scan_root(int root_fd, json_t **ret);

/* The rule that data matches first (its name), or NULL: for the unit tests and the fuzz target. */
const char *secrets_match(const char *data, size_t size);
