/* Reading one mapping of a descriptor: its keys against a table, and typed scalars, each refusal naming the
 * file, line and column of the node it is about. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "descriptor-internal.h"
#include "duration.h"
#include "string-util.h"

_printf_(3, 4) int descriptor_fail(DescriptorCtx *c, const YamlTreeNode *at, const char *fmt, ...) {
        char msg[DESCRIPTOR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return descriptor_error_set(c->error, c->d->file, at ? at->line : 1, at ? at->column : 1, msg);
}

/* A sentence from the spec checks (component-spec.c, config-names.c), placed at node at. */
int descriptor_fail_spec(DescriptorCtx *c, const YamlTreeNode *at, char *msg) {
        int r = descriptor_fail(c, at, "%s", msg ?: "The value is not valid.");
        free(msg);
        return r;
}

/* Takes the pairs of mapping m into fields (a NULL-key-terminated table), refusing keys not in it. */
int descriptor_take_fields(DescriptorCtx *c, const YamlTreeNode *m, const char *what,
                           DescriptorField *fields) {
        if (m->kind != YAML_TREE_MAPPING)
                return descriptor_fail(c, m, "%s must be a mapping of keys to values.", what);
        for (const YamlTreeNode *k = m->first; k && k->next; k = k->next->next) {
                DescriptorField *f = fields;
                for (; f->key; f++)
                        if (streq(f->key, k->value))
                                break;
                if (!f->key) {
                        char known[256] = "";
                        for (DescriptorField *g = fields; g->key; g++) {
                                if (g != fields)
                                        strncat(known, ", ", sizeof known - strlen(known) - 1);
                                strncat(known, g->key, sizeof known - strlen(known) - 1);
                        }
                        return descriptor_fail(c, k, "Unknown field '%.64s' in %s; the known ones are %s.",
                                               k->value, what, known);
                }
                f->key_node = k;
                f->value = yaml_tree_is_null(k->next) ? NULL : k->next;
        }
        return 0;
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

/* A scalar of fewer than size bytes without control characters, copied into buf. */
int descriptor_get_text(DescriptorCtx *c, const DescriptorField *f, char *buf, size_t size) {
        const YamlTreeNode *v = f->value;

        if (v->kind != YAML_TREE_SCALAR)
                return descriptor_fail(c, v, "'%s' must be text, not a list or mapping.", f->key);
        if (strlen(v->value) >= size)
                return descriptor_fail(c, v, "'%s' is longer than %zu bytes.", f->key, size - 1);
        if (has_control(v->value))
                return descriptor_fail(c, v, "'%s' contains a control character.", f->key);
        strcpy(buf, v->value);
        return 0;
}

/* A plain decimal integer: 0 and *ret, or -EINVAL (not a number, or above UINT64_MAX / 10). */
int descriptor_scalar_uint(const YamlTreeNode *v, uint64_t *ret) {
        uint64_t n = 0;

        if (v->kind != YAML_TREE_SCALAR || !v->plain || !v->value[0])
                return -EINVAL;
        for (const char *p = v->value; *p; p++) {
                if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 1)
                        return -EINVAL;
                n = n * 10 + (uint64_t) (*p - '0');
        }
        *ret = n;
        return 0;
}

int descriptor_get_uint(DescriptorCtx *c, const DescriptorField *f, uint64_t min, uint64_t max,
                        uint64_t *ret) {
        uint64_t v;

        if (descriptor_scalar_uint(f->value, &v) < 0)
                return descriptor_fail(c, f->value, "'%s' must be a whole number between %llu and %llu.",
                                       f->key, (unsigned long long) min, (unsigned long long) max);
        if (v < min || v > max)
                return descriptor_fail(c, f->value, "'%s' is %s; use %llu..%llu.", f->key, f->value->value,
                                       (unsigned long long) min, (unsigned long long) max);
        *ret = v;
        return 0;
}

int descriptor_get_bool(DescriptorCtx *c, const DescriptorField *f, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False",
                                                                                     "FALSE" };
        const YamlTreeNode *v = f->value;

        for (size_t i = 0; v->kind == YAML_TREE_SCALAR && v->plain && i < ELEMENTSOF(yes); i++) {
                if (streq(v->value, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(v->value, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return descriptor_fail(c, v, "'%s' must be true or false (without quotes).", f->key);
}

/* A duration ("2s", "500ms", "1m30s") in milliseconds, within min_ms..max_ms. */
int descriptor_get_duration(DescriptorCtx *c, const DescriptorField *f, uint64_t min_ms, uint64_t max_ms,
                            uint32_t *ret) {
        uint64_t ns;

        if (f->value->kind != YAML_TREE_SCALAR || duration_parse(f->value->value, &ns) < 0)
                return descriptor_fail(c, f->value, "'%s' must be a duration like 2s, 500ms or 1m30s.",
                                       f->key);
        if (ns / NSEC_PER_MSEC < min_ms || ns / NSEC_PER_MSEC > max_ms)
                return descriptor_fail(c, f->value, "'%s' is %s; use %llu ms to %llu s.", f->key,
                                       f->value->value, (unsigned long long) min_ms,
                                       (unsigned long long) (max_ms / 1000));
        *ret = (uint32_t) (ns / NSEC_PER_MSEC);
        return 0;
}

int descriptor_expect_sequence(DescriptorCtx *c, const DescriptorField *f) {
        if (f->value->kind != YAML_TREE_SEQUENCE)
                return descriptor_fail(c, f->value, "'%s' must be a list (lines starting with '- ').",
                                       f->key);
        return 0;
}
