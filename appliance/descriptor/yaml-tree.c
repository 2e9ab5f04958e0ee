/* The bounded YAML loader (yaml-tree.h).  It never expands anything: aliases are refused where they
 * appear, so "billion laughs" ends at its first '*', and every node counts against one fixed budget. */
#include "yaml-tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "alloc-util.h"
#include "macro.h"

static void yaml_parser_deletep(yaml_parser_t *p) {
        yaml_parser_delete(p);
}

_printf_(3, 4) static int tree_fail(YamlTreeError *e, const yaml_mark_t *m, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return -EINVAL;
        e->line = m ? (unsigned) m->line + 1 : 1;
        e->column = m ? (unsigned) m->column + 1 : 1;
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

YamlTree *yaml_tree_free(YamlTree *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_nodes; i++) {
                free(t->nodes[i]->value);
                free(t->nodes[i]);
        }
        free(t->nodes);
        free(t);
        return NULL;
}

bool yaml_tree_is_null(const YamlTreeNode *n) {
        return n && n->kind == YAML_TREE_SCALAR && n->plain &&
               (n->value[0] == 0 || streq(n->value, "~") || streq(n->value, "null") ||
                streq(n->value, "Null") || streq(n->value, "NULL"));
}

static int node_new(YamlTree *t, YamlTreeKind kind, const yaml_mark_t *m, YamlTreeNode **ret,
                    YamlTreeError *e) {
        YamlTreeNode *n;

        if (t->n_nodes >= YAML_TREE_NODES_MAX)
                return tree_fail(e, m, "The file has more than %u YAML nodes; a descriptor needs far fewer.",
                                 YAML_TREE_NODES_MAX);
        if (GREEDY_REALLOC(t->nodes, t->n_allocated, t->n_nodes + 1) < 0)
                return -ENOMEM;
        n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->kind = kind;
        n->line = (unsigned) m->line + 1;
        n->column = (unsigned) m->column + 1;
        t->nodes[t->n_nodes++] = n;
        *ret = n;
        return 0;
}

/* Appends n under parent (NULL: n is the root); a mapping's keys must be scalars, each once. */
static int node_attach(YamlTree *t, YamlTreeNode *parent, YamlTreeNode *n, YamlTreeError *e) {
        yaml_mark_t m = { .line = n->line - 1, .column = n->column - 1 };

        if (!parent) {
                t->root = n;
                return 0;
        }
        if (parent->kind == YAML_TREE_MAPPING && parent->n_children % 2 == 0) {
                if (n->kind != YAML_TREE_SCALAR)
                        return tree_fail(e, &m, "A mapping key must be plain text, not a list or mapping.");
                for (YamlTreeNode *k = parent->first; k; k = k->next ? k->next->next : NULL)
                        if (streq(k->value, n->value))
                                return tree_fail(e, &m,
                                                 "The key '%.64s' appears twice in this mapping (first on "
                                                 "line %u); keep one.",
                                                 n->value, k->line);
        }
        n->parent = parent;
        if (parent->last)
                parent->last->next = n;
        else
                parent->first = n;
        parent->last = n;
        parent->n_children++;
        return 0;
}

static int check_props(const yaml_char_t *anchor, const yaml_char_t *tag, const yaml_mark_t *m,
                       YamlTreeError *e) {
        if (anchor)
                return tree_fail(
                        e, m, "YAML anchors (&%.32s) are not accepted in a descriptor; write the value out.",
                        (const char *) anchor);
        if (tag)
                return tree_fail(e, m, "YAML tags (%.32s) are not accepted in a descriptor; remove the tag.",
                                 (const char *) tag);
        return 0;
}

int yaml_tree_parse(const char *data, size_t size, YamlTree **ret, YamlTreeError *ret_error) {
        _cleanup_(yaml_parser_deletep) yaml_parser_t parser = {};
        _cleanup_(yaml_tree_freep) YamlTree *t = NULL;
        YamlTreeNode *open = NULL;
        unsigned depth = 0, documents = 0;
        bool done = false;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, size);
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;

        while (!done && r >= 0) {
                yaml_event_t ev;
                YamlTreeNode *n = NULL;

                if (!yaml_parser_parse(&parser, &ev)) {
                        if (parser.error == YAML_MEMORY_ERROR)
                                return -ENOMEM;
                        return tree_fail(ret_error, &parser.problem_mark,
                                         "The file is not valid YAML: %s%s%s.",
                                         parser.problem ?: "parse error", parser.context ? " " : "",
                                         parser.context ?: "");
                }
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (documents++ > 0)
                                r = tree_fail(ret_error, &ev.start_mark,
                                              "The file holds more than one YAML document; keep one.");
                        break;
                case YAML_ALIAS_EVENT:
                        r = tree_fail(
                                ret_error, &ev.start_mark,
                                "YAML aliases (*%.32s) are not accepted in a descriptor; write the value "
                                "out.",
                                (const char *) ev.data.alias.anchor);
                        break;
                case YAML_SCALAR_EVENT:
                        r = check_props(ev.data.scalar.anchor, ev.data.scalar.tag, &ev.start_mark,
                                        ret_error);
                        if (r < 0)
                                break;
                        if (ev.data.scalar.length > YAML_TREE_SCALAR_MAX) {
                                r = tree_fail(ret_error, &ev.start_mark, "A value is longer than %u bytes.",
                                              YAML_TREE_SCALAR_MAX);
                                break;
                        }
                        if (memchr(ev.data.scalar.value, 0, ev.data.scalar.length)) {
                                r = tree_fail(ret_error, &ev.start_mark,
                                              "A value contains a NUL character.");
                                break;
                        }
                        r = node_new(t, YAML_TREE_SCALAR, &ev.start_mark, &n, ret_error);
                        if (r < 0)
                                break;
                        n->value = strndup((const char *) ev.data.scalar.value, ev.data.scalar.length);
                        if (!n->value) {
                                r = -ENOMEM;
                                break;
                        }
                        n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        r = node_attach(t, open, n, ret_error);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT: {
                        bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
                        r = check_props(seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor,
                                        seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag,
                                        &ev.start_mark, ret_error);
                        if (r < 0)
                                break;
                        if (++depth > YAML_TREE_DEPTH_MAX) {
                                r = tree_fail(ret_error, &ev.start_mark,
                                              "The YAML nests deeper than %u levels; a descriptor needs far "
                                              "fewer.",
                                              YAML_TREE_DEPTH_MAX);
                                break;
                        }
                        r = node_new(t, seq ? YAML_TREE_SEQUENCE : YAML_TREE_MAPPING, &ev.start_mark, &n,
                                     ret_error);
                        if (r < 0)
                                break;
                        r = node_attach(t, open, n, ret_error);
                        open = n;
                        break;
                }
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        open = open ? open->parent : NULL;
                        break;
                default:
                        break;
                }
                yaml_event_delete(&ev);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}
