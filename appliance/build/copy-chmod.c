/* COPY/ADD --chmod parsing and application: chmod(1)'s grammar, clauses [ugoa]*([-+=]([rwxXst]*|[ugo]))+ or
 * [-+=]OCTAL separated by commas, or a bare octal mode. Invariant: copy_chmod_apply() is pure; it reads only
 * the entry's mode and whether it is a directory. */
#include "copy-chmod.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static mode_t who_bits(char c) {
        switch (c) {
        case 'u':
                return S_ISUID | S_IRWXU;
        case 'g':
                return S_ISGID | S_IRWXG;
        case 'o':
                return S_ISVTX | S_IRWXO;
        case 'a':
                return 07777;
        default:
                return 0;
        }
}

static mode_t perm_bits(char c) {
        switch (c) {
        case 'r':
                return 0444;
        case 'w':
                return 0222;
        case 'x':
                return 0111;
        case 's':
                return S_ISUID | S_ISGID;
        case 't':
                return S_ISVTX;
        default:
                return 0;
        }
}

static bool is_octal_digit(char c) {
        return c >= '0' && c <= '7';
}

static int fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

int copy_chmod_parse(const char *spec, CopyChmod *ret, const char **ret_reason) {
        CopyChmod c = {};
        const char *p = spec;
        size_t n = spec ? strlen(spec) : 0;

        if (n == 0)
                return fail(ret_reason, "it is empty");
        if (n > COPY_CHMOD_SPEC_MAX)
                return fail(ret_reason, "it is too long");
        if (strspn(spec, "01234567") == n) {
                unsigned long m = 0;

                for (; *p; p++) {
                        m = (m << 3) | (unsigned long) (*p - '0');
                        if (m > 07777)
                                return fail(ret_reason, "an octal mode is at most 7777");
                }
                *ret = (CopyChmod) { .mode = (mode_t) m };
                return 0;
        }

        c.symbolic = true;
        for (;;) {
                mode_t who = 0;
                bool any_action = false;

                for (; *p && strchr("ugoa", *p); p++)
                        who |= who_bits(*p);
                while (*p == '+' || *p == '-' || *p == '=') {
                        CopyChmodAction a = { .who = who ?: 07777, .op = *p++ };

                        if (c.n_actions >= COPY_CHMOD_ACTIONS_MAX)
                                return fail(ret_reason, "it has too many clauses");
                        if (is_octal_digit(*p)) {
                                if (who != 0)
                                        return fail(ret_reason,
                                                    "an octal operand cannot follow u, g, o or a");
                                for (; is_octal_digit(*p); p++) {
                                        a.perm = (a.perm << 3) | (mode_t) (*p - '0');
                                        if (a.perm > 07777)
                                                return fail(ret_reason, "an octal mode is at most 7777");
                                }
                        } else if (*p && strchr("ugo", *p))
                                a.copy_from = *p++;
                        else
                                for (; *p && strchr("rwxXst", *p); p++) {
                                        if (*p == 'X')
                                                a.x_if = true;
                                        else
                                                a.perm |= perm_bits(*p);
                                }
                        c.actions[c.n_actions++] = a;
                        any_action = true;
                }
                if (!any_action)
                        return fail(ret_reason, *p && *p != ','
                                                        ? "expected u, g, o or a followed by +, - or ="
                                                        : "a clause has no +, - or =");
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return fail(ret_reason, "a permission must be one of r, w, x, X, s or t");
                p++;
        }
        *ret = c;
        return 0;
}

/* The permissions class (u, g or o) has in mode, repeated for all three classes (as g=u reads them). */
static mode_t class_perms(mode_t mode, char cls) {
        unsigned shift = cls == 'u' ? 6 : cls == 'g' ? 3 : 0;
        mode_t bits = (mode >> shift) & 07;

        return bits << 6 | bits << 3 | bits;
}

mode_t copy_chmod_apply(const CopyChmod *c, mode_t mode, bool is_dir) {
        mode &= 07777;
        if (!c->symbolic)
                return c->mode & 07777;
        for (size_t k = 0; k < c->n_actions; k++) {
                const CopyChmodAction *a = &c->actions[k];
                mode_t value = a->copy_from ? class_perms(mode, a->copy_from) : a->perm;

                /* X reads the mode as the earlier clauses left it, as GNU chmod does. */
                if (a->x_if && (is_dir || (mode & 0111)))
                        value |= 0111;
                value &= a->who;
                switch (a->op) {
                case '+':
                        mode |= value;
                        break;
                case '-':
                        mode &= ~value;
                        break;
                default:
                        mode = (mode & ~a->who) | value;
                }
        }
        return mode & 07777;
}
