/* Dockerfile AST: global ARGs and build stages of instructions, arguments exactly as written (quotes and
 * $VARs intact, continuations joined), and the error struct every Dockerfile module fills.
 * Invariant: an instruction owns all its strings; dockerfile_instruction_copy() shares nothing. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOCKERFILE_ERROR_FILE_MAX 256U
#define DOCKERFILE_ERROR_MESSAGE_MAX 512U

/* Where and what: line and column are 1-based; line 0 means "the whole file". */
typedef struct DockerfileError {
        char file[DOCKERFILE_ERROR_FILE_MAX];
        unsigned line;
        unsigned column;
        char message[DOCKERFILE_ERROR_MESSAGE_MAX];
} DockerfileError;

typedef enum DockerfileInstructionKind {
        DOCKERFILE_ADD,
        DOCKERFILE_ARG,
        DOCKERFILE_CMD,
        DOCKERFILE_COPY,
        DOCKERFILE_ENTRYPOINT,
        DOCKERFILE_ENV,
        DOCKERFILE_EXPOSE,
        DOCKERFILE_FROM,
        DOCKERFILE_HEALTHCHECK,
        DOCKERFILE_LABEL,
        DOCKERFILE_MAINTAINER,
        DOCKERFILE_ONBUILD,
        DOCKERFILE_RUN,
        DOCKERFILE_SHELL,
        DOCKERFILE_STOPSIGNAL,
        DOCKERFILE_USER,
        DOCKERFILE_VOLUME,
        DOCKERFILE_WORKDIR,
        _DOCKERFILE_INSTRUCTION_MAX,
        _DOCKERFILE_INSTRUCTION_INVALID = -EINVAL,
} DockerfileInstructionKind;

const char *dockerfile_instruction_to_string(DockerfileInstructionKind k);
/* Case-insensitive, as Docker reads keywords. */
DockerfileInstructionKind dockerfile_instruction_from_string(const char *s);

/* A name with an optional value: an instruction's --name=value flag (value NULL for a bare --name; the name
 * without the dashes, lower-case as written: Docker's flags are case-sensitive), or an ENV/LABEL pair or ARG
 * declaration as written, quotes intact (value NULL: an ARG without default). */
typedef struct DockerfileNameValue {
        char *name;
        char *value;
} DockerfileNameValue;

typedef struct DockerfileHealthcheck {
        bool none;            /* HEALTHCHECK NONE */
        uint64_t interval_ns; /* 0 = not given (image default) */
        uint64_t timeout_ns;
        uint64_t start_period_ns;
        uint64_t start_interval_ns;
        int retries; /* -1 = not given */
} DockerfileHealthcheck;

/* A here-document of RUN, COPY or ADD: "<<NAME" (or <<-NAME, <<"NAME", <<'NAME') in the instruction, its body
 * the physical lines after it up to a line NAME. */
typedef struct DockerfileHeredoc {
        char *name;    /* the delimiter, quotes removed */
        char *content; /* the body lines with their line ends; for COPY/ADD with <<- leading tabs stripped */
        bool expand;   /* the delimiter was not quoted: COPY/ADD expand ARG/ENV in the body */
        bool chomp;    /* <<-: leading tabs of body lines (and of the closing line) are dropped */
        unsigned line; /* where the << is */
        unsigned column;
        unsigned body_line; /* first physical line of the body */
} DockerfileHeredoc;

typedef struct DockerfileInstruction DockerfileInstruction;

struct DockerfileInstruction {
        DockerfileInstructionKind kind;
        unsigned line;     /* first physical line (1-based) */
        unsigned column;   /* column of the keyword */
        unsigned end_line; /* last physical line of the logical line */
        char *original;    /* the logical line as written, continuations joined */

        DockerfileNameValue *flags;
        size_t n_flags;

        /* RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK CMD: exec form (json_form, argv) or shell form (shell).
         * FROM/EXPOSE: whitespace-separated words in argv. COPY/ADD/VOLUME: argv from the JSON array
         * (json_form) or from whitespace-separated words. For COPY/ADD the last argv entry is the
         * destination. WORKDIR/USER/STOPSIGNAL/MAINTAINER: the whole argument text in shell. */
        bool json_form;
        char **argv;
        size_t n_argv;
        char *shell;

        /* RUN (shell form): every heredoc of the line in order, the shell gets them (dockerfile-heredoc.h).
         * COPY/ADD: the heredoc sources in order; they are not in argv, which keeps the context sources and
         * the destination. */
        DockerfileHeredoc *heredocs;
        size_t n_heredocs;

        /* ENV, LABEL, ARG. */
        DockerfileNameValue *pairs;
        size_t n_pairs;

        /* FROM: name after AS (lower-cased, validated), or NULL. */
        char *stage_name;

        DockerfileHealthcheck healthcheck;

        /* ONBUILD: the trigger as written (e.g. "RUN make") and its parsed form (validated now, run when the
         * image is used as a base). */
        char *trigger;
        DockerfileInstruction *onbuild;
};

typedef struct DockerfileStage {
        size_t index;
        char *name;     /* lower-cased AS name, or NULL */
        char *base;     /* image expression as written (may contain $ARGs) */
        char *platform; /* --platform as written, or NULL */
        DockerfileInstruction from;
        DockerfileInstruction *instructions; /* after FROM */
        size_t n_instructions;
} DockerfileStage;

typedef struct Dockerfile {
        char *filename;
        char escape;  /* '\\' or '`' */
        char *syntax; /* "# syntax=" directive, or NULL; recorded only */

        DockerfileInstruction *global_args; /* ARG instructions before the first FROM */
        size_t n_global_args;

        DockerfileStage *stages;
        size_t n_stages;

        /* Things Docker accepts but a person probably did not mean (a CMD that looks like a broken JSON
         * array, empty continuation lines). The build goes on; callers show them. */
        DockerfileError *warnings;
        size_t n_warnings;
} Dockerfile;

Dockerfile *dockerfile_free(Dockerfile *df);
static inline void dockerfile_freep(Dockerfile **df) {
        dockerfile_free(*df);
}
#define _cleanup_dockerfile_free_ _cleanup_(dockerfile_freep)

void dockerfile_instruction_done(DockerfileInstruction *i);
DockerfileInstruction *dockerfile_instruction_free(DockerfileInstruction *i);
static inline void dockerfile_instruction_freep(DockerfileInstruction **i) {
        dockerfile_instruction_free(*i);
}
int dockerfile_instruction_copy(const DockerfileInstruction *i, DockerfileInstruction *ret);

/* Appends name (its first name_len bytes) and value (NULL: none) to the *n entries of *array; on failure
 * *array and *n are as they were. */
int dockerfile_name_value_add(DockerfileNameValue **array, size_t *n, const char *name, size_t name_len,
                              const char *value);

/* Appends a copy of h (its strings duplicated) to the *n entries of *array; on failure both are as they were. */
int dockerfile_heredoc_add(DockerfileHeredoc **array, size_t *n, const DockerfileHeredoc *h);
void dockerfile_heredocs_free(DockerfileHeredoc *h, size_t n);

/* The value of a flag (NULL for a bare flag); -ENOENT when absent. */
int dockerfile_instruction_get_flag(const DockerfileInstruction *i, const char *name, const char **ret);

/* "file:line:column: message" (or "file: message" for line 0) into buf. Returns buf. */
const char *dockerfile_error_format(const DockerfileError *e, char *buf, size_t size);

/* Internal helper shared with dockerfile-expand.c and dockerfile-stages.c: fill err printf-style. */
void dockerfile_error_set(DockerfileError *err, const char *file, unsigned line, unsigned column,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
