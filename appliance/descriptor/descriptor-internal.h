/* What the descriptor's parts share: filling a DescriptorError, and the spec endpoints a descriptor declares
 * (descriptor-spec.c), which the parser also needs to check x-slipway's health checks against. */
#pragma once

#include "descriptor.h"

/* Fills e (when not NULL) with file, line, column (0: the whole file), the sentence and its text form; returns
 * -EINVAL. */
int descriptor_error_set(DescriptorError *e, const char *file, unsigned line, unsigned column,
                         const char *msg);
/* Defaults plus d's endpoints, through component_spec_from_json (the endpoint rules live there). */
int descriptor_spec_endpoints(const Descriptor *d, size_t n_endpoints, ComponentSpec *ret, char **ret_error);
