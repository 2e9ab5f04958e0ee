/* Dockerfile instruction flags (--from=, --chown=, --mount=…): which instruction takes which flag, and
 * the reader of the leading --flags. Invariant: a flag is stored only when its instruction knows it;
 * flags Docker has and Slipway refuses fail with their reason. */
#include "dockerfile-flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile-instructions.h"
#include "dockerfile-lexer.h"
#include "dockerfile-mount.h"
#include "macro.h"
#include "string-util.h"

/* ---- flags ---- */

typedef enum FlagKind {
        FLAG_VALUE,   /* --name=value required */
        FLAG_BOOL,    /* --name or --name=true|false */
        FLAG_REFUSED, /* known to Docker, refused by Slipway with a reason */
        FLAG_MOUNT,   /* RUN --mount=SPEC: repeatable, the spec checked by dockerfile_mount_parse() */
} FlagKind;

typedef struct FlagSpec {
        const char *name;
        FlagKind kind;
        const char *reason;
} FlagSpec;

static const FlagSpec from_flags[] = { { "platform", FLAG_VALUE } };
static const FlagSpec run_flags[] = {
        { "network", FLAG_VALUE },
        { "mount", FLAG_MOUNT },
        { "security", FLAG_REFUSED,
          "RUN --security is not supported; build steps always run unprivileged in a sandbox" },
};
static const FlagSpec copy_flags[] = {
        { "from", FLAG_VALUE },
        { "chown", FLAG_VALUE },
        { "chmod", FLAG_VALUE },
        { "link", FLAG_BOOL },
        { "parents", FLAG_REFUSED, "COPY --parents is not supported; copy each directory explicitly" },
        { "exclude", FLAG_REFUSED, "--exclude is not supported; use .dockerignore to leave files out" },
};
static const FlagSpec add_flags[] = {
        { "chown", FLAG_VALUE },
        { "chmod", FLAG_VALUE },
        { "link", FLAG_BOOL },
        { "checksum", FLAG_REFUSED, DOCKERFILE_ADD_URL_MESSAGE },
        { "keep-git-dir", FLAG_REFUSED, DOCKERFILE_ADD_URL_MESSAGE },
        { "exclude", FLAG_REFUSED, "--exclude is not supported; use .dockerignore to leave files out" },
};
static const FlagSpec healthcheck_flags[] = {
        { "interval", FLAG_VALUE },       { "timeout", FLAG_VALUE }, { "start-period", FLAG_VALUE },
        { "start-interval", FLAG_VALUE }, { "retries", FLAG_VALUE },
};

static void flag_specs(DockerfileInstructionKind k, const FlagSpec **ret, size_t *ret_n) {
#define SPECS(a)                        \
        do {                            \
                *ret = a;               \
                *ret_n = ELEMENTSOF(a); \
                return;                 \
        } while (0)
        switch (k) {
        case DOCKERFILE_FROM:
                SPECS(from_flags);
        case DOCKERFILE_RUN:
                SPECS(run_flags);
        case DOCKERFILE_COPY:
                SPECS(copy_flags);
        case DOCKERFILE_ADD:
                SPECS(add_flags);
        case DOCKERFILE_HEALTHCHECK:
                SPECS(healthcheck_flags);
        default:
                *ret = NULL;
                *ret_n = 0;
        }
#undef SPECS
}

static void format_flag_names(DockerfileInstructionKind k, char *buf, size_t size) {
        const FlagSpec *specs;
        size_t n, used = 0;

        flag_specs(k, &specs, &n);
        buf[0] = 0;
        for (size_t i = 0; i < n && used < size; i++)
                if (specs[i].kind != FLAG_REFUSED)
                        used += snprintf(buf + used, size - used, "%s--%s", used ? ", " : "", specs[i].name);
}

/* A --mount=SPEC (one of at most DOCKERFILE_MOUNTS_MAX): its options are checked now, values holding
 * variables once they are expanded (dockerfile-scope.c); errors point at the flag. */
static int check_mount_flag(Parser *p, const DockerfileInstruction *in, const char *kw, const char *spec,
                            size_t offset) {
        char err[DOCKERFILE_ERROR_MESSAGE_MAX - 16];
        size_t n = 0;
        int r;

        for (size_t k = 0; k < in->n_flags; k++)
                n += streq(in->flags[k].name, "mount");
        if (n >= DOCKERFILE_MOUNTS_MAX)
                return parser_error(p, offset, "%s: more than %u --mount flags", kw, DOCKERFILE_MOUNTS_MAX);
        r = dockerfile_mount_parse(spec, DOCKERFILE_MOUNT_UNEXPANDED, NULL, err, sizeof err);
        if (r == -EBADMSG)
                return parser_error(p, offset, "%s", err);
        return r;
}

/* Leading --flags of an instruction (Docker's extractBuilderFlags: quotes removed, '\' escapes, "--"
 * ends the flags). Returns the offset in s where the arguments start. */
int parse_flags(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base,
                size_t *ret_rest) {
        size_t i = 0;
        int r;

        for (;;) {
                _cleanup_(strbuf_done) StrBuf word = {};
                const FlagSpec *specs, *spec = NULL;
                size_t start, n_specs;
                char quote = 0, *eq;
                bool blank_ok = false;

                while (s[i] && is_space(s[i]))
                        i++;
                if (s[i] != '-' || s[i + 1] != '-')
                        break;
                start = i;
                for (; s[i]; i++) {
                        char c = s[i];

                        if (!quote && is_space(c))
                                break;
                        if (!quote && (c == '\'' || c == '"')) {
                                quote = c;
                                blank_ok = true;
                                continue;
                        }
                        if (quote && c == quote) {
                                quote = 0;
                                continue;
                        }
                        if (c == '\\') {
                                if (!s[i + 1])
                                        continue;
                                c = s[++i];
                        }
                        r = strbuf_append_char(&word, c);
                        if (r < 0)
                                return r;
                }
                if (!word.data && !blank_ok)
                        continue;
                if (streq(strempty(word.data), "--"))
                        break;

                eq = strchr(word.data, '=');
                if (eq)
                        *eq = 0;
                flag_specs(in->kind, &specs, &n_specs);
                for (size_t k = 0; k < n_specs; k++)
                        if (streq(specs[k].name, word.data + 2))
                                spec = &specs[k];
                if (!spec) {
                        char names[128];

                        format_flag_names(in->kind, names, sizeof names);
                        if (names[0])
                                return parser_error(p, base + start, "%s: unknown flag '%s'; expected %s",
                                                    kw, word.data, names);
                        return parser_error(p, base + start, "%s: unknown flag '%s'; %s takes no flags", kw,
                                            word.data, kw);
                }
                if (spec->kind == FLAG_REFUSED)
                        return parser_error(p, base + start, "%s", spec->reason);
                if ((spec->kind == FLAG_VALUE || spec->kind == FLAG_MOUNT) && (!eq || eq[1] == 0))
                        return parser_error(p, base + start, "%s: flag '%s' requires a value, e.g. %s=VALUE",
                                            kw, word.data, word.data);
                if (spec->kind == FLAG_BOOL && eq && strcasecmp(eq + 1, "true") != 0 &&
                    strcasecmp(eq + 1, "false") != 0)
                        return parser_error(p, base + start, "%s: flag '%s' expects true or false, not '%s'",
                                            kw, word.data, eq + 1);
                if (spec->kind == FLAG_MOUNT) {
                        r = check_mount_flag(p, in, kw, eq + 1, base + start);
                        if (r < 0)
                                return r;
                } else if (dockerfile_instruction_get_flag(in, word.data + 2, NULL) >= 0)
                        return parser_error(p, base + start, "%s: flag '%s' given twice", kw, word.data);
                if (eq && (spec->kind == FLAG_VALUE || spec->kind == FLAG_MOUNT)) {
                        r = check_expandable(p, kw, eq + 1, base + start);
                        if (r < 0)
                                return r;
                }
                r = dockerfile_name_value_add(&in->flags, &in->n_flags, word.data + 2, strlen(word.data + 2),
                                              eq ? eq + 1 : NULL);
                if (r < 0)
                        return r;
        }
        *ret_rest = i;
        return 0;
}
