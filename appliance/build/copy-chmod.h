/* COPY/ADD --chmod: an octal mode (applied as is to every file and directory copied) or a chmod(1) symbolic
 * one (u+x, go-w, a=r, u=rwX,go=rX, g=u, +x), parsed once and applied to each entry's own mode.
 * Invariant: a parsed CopyChmod never yields bits outside 07777. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define COPY_CHMOD_SPEC_MAX 128U   /* characters of a --chmod value */
#define COPY_CHMOD_ACTIONS_MAX 32U /* "+x", "=u" … steps of a symbolic --chmod */
#define COPY_CHMOD_EXPECTED "expected an octal mode such as 0755 or a symbolic one such as u=rwX,go=rX"

typedef struct CopyChmodAction {
        mode_t who;     /* the bits this action may touch (u: 04700, g: 02070, o: 01007, a or none: 07777) */
        char op;        /* '+', '-' or '=' */
        mode_t perm;    /* r w x s t bits (or an octal operand), before masking with who */
        bool x_if;      /* X: execute only for directories and entries that already have an x bit */
        char copy_from; /* 'u', 'g', 'o': the permissions that class has now (g=u), else 0 */
} CopyChmodAction;

typedef struct CopyChmod {
        bool symbolic;
        mode_t mode; /* octal form */
        CopyChmodAction actions[COPY_CHMOD_ACTIONS_MAX];
        size_t n_actions;
} CopyChmod;

/* Parses a --chmod value. On -EINVAL *ret_reason (when not NULL) says what is wrong in a few words, static. */
int copy_chmod_parse(const char *spec, CopyChmod *ret, const char **ret_reason);

/* The mode (permission bits of mode, 07777) an entry gets: the octal mode, or the symbolic actions applied
 * in order, as chmod(1) does with umask 0 (a build has no umask of its user: "+x" is "a+x"). */
mode_t copy_chmod_apply(const CopyChmod *c, mode_t mode, bool is_dir);
