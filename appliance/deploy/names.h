/* Names of projects, environments and components: DNS labels ([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)
 * so they fit host names, paths and /etc/hosts.  Validation explains what is wrong in one sentence. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 63

bool name_is_valid(const char *s);
/* 0 when valid; otherwise -EINVAL and, when ret_error is given, a one-sentence message naming `what`
 * ("project", "environment", "component") that the caller frees. */
int name_validate(const char *what, const char *s, char **ret_error);

#define DOMAIN_MAX_LEN 200 /* leaves room for "<component>." in front, within DNS's 253 */

/* An environment's domain: dot-separated DNS labels (lower case), e.g. "dev.example.com".  0 when valid;
 * otherwise -EINVAL and, when ret_error is given, a one-sentence message the caller frees. */
int domain_validate(const char *s, char **ret_error);

/* A registry's name (issue 13): [a-z0-9][a-z0-9._-]{0,62}.  0 when valid; otherwise -EINVAL and, when
 * ret_error is given, a one-sentence message the caller frees. */
#define REGISTRY_NAME_MAX_LEN 63
int registry_name_validate(const char *s, char **ret_error);

/* A user's name (issue 14): the same rule as a registry's and an API token's, [a-z0-9][a-z0-9._-]{0,62}. */
#define USER_NAME_MAX_LEN 63
int user_name_validate(const char *s, char **ret_error);
