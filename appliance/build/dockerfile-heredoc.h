/* Dockerfile heredocs (BuildKit's syntax 1.4+, "Here-Documents"): which words of RUN, COPY and ADD open one,
 * reading their bodies from the lines after the instruction, and the shell command a RUN with heredocs runs.
 * The rules are BuildKit's frontend/dockerfile parser and dockerfile2llb, read and re-implemented. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dockerfile-ast.h"

#define DOCKERFILE_HEREDOCS_MAX 64U /* heredocs in one instruction */

/* Where a RUN's #! heredoc script is bound in the container (BuildKit's path), read-only, never in a layer. */
#define DOCKERFILE_HEREDOC_PIPES_DIR "/dev/pipes"

/* Is word a heredoc opener, [FD]<<[-][blanks]DELIM with DELIM one shell word holding no '<'? Returns 1 with
 * the delimiter (quotes and escapes removed, allocated), whether the body expands (no quote in DELIM) and
 * whether it is <<-; 0 when it is none, -ENOMEM. Any of the ret_ may be NULL. */
int dockerfile_heredoc_parse_word(const char *word, char **ret_name, bool *ret_expand, bool *ret_chomp);

/* s with the leading tabs of each of its lines removed (what <<- does). NULL when out of memory. */
char *dockerfile_heredoc_chomp(const char *s);

/* What RUN (shell form) hands to its shell. Without heredocs: the command as written. When the command is
 * exactly one heredoc (RUN <<EOT): its body (tabs stripped for <<-) is the script; a body starting with "#!"
 * is instead returned in *ret_script, to be written to DOCKERFILE_HEREDOC_PIPES_DIR/NAME (0755) and the
 * command is that path. Otherwise (RUN cat <<EOF >f, RUN python3 <<EOF, several heredocs): the command
 * followed by each body and its delimiter line, so the shell gives each heredoc to its command's stdin.
 * *ret_script is NULL when there is no script file. */
int dockerfile_run_command(const DockerfileInstruction *i, char **ret_command, char **ret_script);

/* Internal to the parser (dockerfile-instructions.c): finds the heredocs of the instruction text at offset
 * of the current logical line, reads their bodies from the lines that follow it and attaches them to in
 * (RUN: all of them; COPY/ADD: the heredoc sources, taken out of argv). Appends "\n" BODY NAME of each to
 * *trigger_tail (may be NULL), which is how an ONBUILD trigger keeps them. */
typedef struct Parser Parser;
typedef struct StrBuf StrBuf;
int parser_read_heredocs(Parser *p, DockerfileInstruction *in, size_t offset, StrBuf *trigger_tail);
