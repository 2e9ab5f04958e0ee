/* Dockerfile lexer (internal to the parser): the Parser state, logical lines with their map back to
 * physical positions, error/warning reporting with line and column, and word splitting. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dockerfile-ast.h"
#include "macro.h"
#include "strbuf.h"

/* Maps byte offsets of a logical line back to physical line and column. */
typedef struct Segment {
        size_t offset;
        unsigned line;
        unsigned column;
} Segment;

typedef struct LogicalLine {
        StrBuf text;
        Segment *segs;
        size_t n_segs;
        size_t allocated;
        unsigned first_line;
        unsigned last_line;
        bool empty_continuation;
} LogicalLine;

typedef struct Parser {
        Dockerfile *df;
        const char *data;
        size_t size;
        size_t pos;
        unsigned line; /* number of the last physical line read */
        bool directives_done;
        bool seen_escape, seen_syntax, seen_check;
        LogicalLine ll; /* the logical line being parsed */
        DockerfileError *err;
        unsigned n_instructions;
        StrBuf trigger_tail; /* the heredoc bodies of the ONBUILD trigger being parsed */
} Parser;

/* A piece of the logical line: text plus its offset in the logical line (for error positions). */
typedef struct Word {
        char *text;
        size_t offset;
} Word;

typedef struct WordList {
        Word *words;
        size_t n;
        size_t allocated;
} WordList;

/* Go's unicode.IsSpace over ASCII, which is what Docker trims. */
static inline bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Docker splits words on [\t\v\f\r ]. */
static inline bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static inline size_t skip_space(const char *s, size_t len) {
        size_t i = 0;

        while (i < len && is_space(s[i]))
                i++;
        return i;
}

/* Grows *array (of *allocated elements of size) so that one more element fits, doubling. */
static inline int grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t want;
        void *p;

        if (n < *allocated)
                return 0;
        want = MAX(*allocated * 2, (size_t) 8);
        p = realloc(*array, want * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = want;
        return 0;
}

/* The reader */
void logical_line_done(LogicalLine *ll);
int logical_line_add(LogicalLine *ll, const char *s, size_t n, unsigned line, unsigned column);
void logical_line_position(const LogicalLine *ll, size_t offset, unsigned *ret_line, unsigned *ret_column);
/* Reads the next logical line into p->ll. Returns 1 when one was read, 0 at end of file. */
int parser_read_logical(Parser *p);

/* Fill p->err for the position offset of the current logical line; return -EBADMSG. */
int parser_error(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a warning (capped at DOCKERFILE_WARNINGS_MAX, further ones are counted in the last). */
int parser_warning(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void word_list_done(WordList *l);
int word_list_add(WordList *l, const char *s, size_t n, size_t offset);
/* Split at runs of blanks, no quote handling (Docker's parseStringsWhitespaceDelimited). */
int split_blanks(const char *s, size_t base, WordList *ret);
/* Split at unquoted whitespace keeping quotes and escapes in the words (Docker's parseWords). */
int split_words_quoted(const char *s, size_t base, char escape, WordList *ret);

/* Syntax-checks s (a word that is expanded later) and reports a bad one at its position as "what: …". */
int check_expandable(Parser *p, const char *what, const char *s, size_t offset);
