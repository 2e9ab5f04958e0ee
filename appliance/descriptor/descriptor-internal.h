/* What the descriptor's parts share: filling a DescriptorError, and the spec endpoints a descriptor declares
 * (descriptor-spec.c), which the parser also needs to check x-slipway's health checks against. */
#pragma once

#include "descriptor.h"
#include "macro.h"
#include "yaml-tree.h"

/* Fills e (when not NULL) with file, line, column (0: the whole file), the sentence and its text form; returns
 * -EINVAL. */
int descriptor_error_set(DescriptorError *e, const char *file, unsigned line, unsigned column,
                         const char *msg);
/* Defaults plus d's endpoints, through component_spec_from_json (the endpoint rules live there). */
int descriptor_spec_endpoints(const Descriptor *d, size_t n_endpoints, ComponentSpec *ret, char **ret_error);

/* --- descriptor-fields.c: reading one mapping's fields, each refusal placed at its node */

typedef struct DescriptorCtx {
        Descriptor *d;
        DescriptorError *error;
} DescriptorCtx;

typedef struct DescriptorField {
        const char *key;
        const YamlTreeNode *key_node, *value; /* NULL when absent or null */
} DescriptorField;

/* Fills the error at node at (NULL: line 1) with the formatted sentence; returns -EINVAL. */
int descriptor_fail(DescriptorCtx *c, const YamlTreeNode *at, const char *fmt, ...) _printf_(3, 4);
/* A sentence from the spec checks (component-spec.c, config-names.c), placed at node at; frees msg. */
int descriptor_fail_spec(DescriptorCtx *c, const YamlTreeNode *at, char *msg);
/* Takes the pairs of mapping m into fields (a NULL-key-terminated table), refusing keys not in it. */
int descriptor_take_fields(DescriptorCtx *c, const YamlTreeNode *m, const char *what,
                           DescriptorField *fields);
/* A scalar of fewer than size bytes without control characters, copied into buf. */
int descriptor_get_text(DescriptorCtx *c, const DescriptorField *f, char *buf, size_t size);
/* A plain decimal integer: 0 and *ret, or -EINVAL (not a number, or above UINT64_MAX / 10). */
int descriptor_scalar_uint(const YamlTreeNode *v, uint64_t *ret);
int descriptor_get_uint(DescriptorCtx *c, const DescriptorField *f, uint64_t min, uint64_t max,
                        uint64_t *ret);
int descriptor_get_bool(DescriptorCtx *c, const DescriptorField *f, bool *ret);
/* A duration ("2s", "500ms", "1m30s") in milliseconds, within min_ms..max_ms. */
int descriptor_get_duration(DescriptorCtx *c, const DescriptorField *f, uint64_t min_ms, uint64_t max_ms,
                            uint32_t *ret);
int descriptor_expect_sequence(DescriptorCtx *c, const DescriptorField *f);

/* --- descriptor-extension.c: x-slipway (health, resources, bake), after the endpoints were read */
int descriptor_parse_extension(DescriptorCtx *c, const DescriptorField *xf);
