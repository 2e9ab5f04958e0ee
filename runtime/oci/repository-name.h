/* Repository names as slipway's registry accepts them at /v2/NAME/…: the registry's routing and the API
 * gate (which answers blob reads itself) share this one check, so both agree on which paths name a
 * repository. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define OCI_REPOSITORY_NAME_MAX 255U

/* True for name[0..len): path components of [a-z0-9]+ joined by one of '.', '_', '-' (inside a
 * component) or '/', at most OCI_REPOSITORY_NAME_MAX bytes. */
bool oci_repository_name_valid(const char *name, size_t len);
