/* A bounded YAML tree built from libyaml's event stream, for files from a user's repository: anchors,
 * aliases, tags, complex keys, duplicate keys and a second document are refused, and nesting, node count
 * and scalar length are capped, so a hostile file costs at most YAML_TREE_NODES_MAX small nodes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define YAML_TREE_DEPTH_MAX 16u
#define YAML_TREE_NODES_MAX 4096u
#define YAML_TREE_SCALAR_MAX 4096u /* bytes */
#define YAML_TREE_MESSAGE_MAX 256u

typedef enum YamlTreeKind {
        YAML_TREE_SCALAR,
        YAML_TREE_SEQUENCE,
        YAML_TREE_MAPPING,
} YamlTreeKind;

typedef struct YamlTreeNode YamlTreeNode;
struct YamlTreeNode {
        YamlTreeKind kind;
        unsigned line, column;                      /* 1-based, where the node starts */
        char *value;                                /* scalars: NUL-terminated, no NUL inside */
        bool plain;                                 /* scalars: written without quotes or block style */
        YamlTreeNode *first, *last, *next, *parent; /* a mapping's children alternate key, value */
        size_t n_children;
};

typedef struct YamlTree {
        YamlTreeNode *root; /* NULL for an empty document */
        YamlTreeNode **nodes;
        size_t n_nodes, n_allocated;
} YamlTree;

typedef struct YamlTreeError {
        unsigned line, column;               /* 1-based */
        char message[YAML_TREE_MESSAGE_MAX]; /* one sentence */
} YamlTreeError;

/* 0 and *ret, or -EINVAL with *ret_error (where and why), or -ENOMEM. */
int yaml_tree_parse(const char *data, size_t size, YamlTree **ret, YamlTreeError *ret_error);
YamlTree *yaml_tree_free(YamlTree *t);
static inline void yaml_tree_freep(YamlTree **t) {
        yaml_tree_free(*t);
}

/* A plain scalar YAML reads as null: empty, "~" or "null". */
bool yaml_tree_is_null(const YamlTreeNode *n);
