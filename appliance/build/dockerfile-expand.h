/* Docker's variable substitution ($VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}, ${VAR-d}, ${VAR+a},
 * ${VAR:?msg}, quotes, escapes) and the per-stage scope of ENV and ARG values it is evaluated in.
 * Expansion is applied to exactly the instructions Docker applies it to; RUN, CMD, ENTRYPOINT, SHELL,
 * HEALTHCHECK and ONBUILD pass through untouched (their shell expands at run time). */
#pragma once

#include "dockerfile-parser.h"
#include "dockerfile-scope.h"

/* Variables are looked up first in env, then in args; both are NULL-terminated vectors of "NAME=VALUE"
 * (set) or "NAME" (declared but without a value, i.e. unset), the last entry for a name wins.
 * On bad syntax or ${VAR:?…} of an unset variable returns -EBADMSG and fills err with column = byte offset
 * of the problem in word + 1 (line 0; callers that know the line overwrite it). */
int dockerfile_expand_word(const char *word, char escape, char *const *env, char *const *args, char **ret,
                           DockerfileError *err);
/* Like dockerfile_expand_word() but splits the result into words at unquoted whitespace, including
 * whitespace produced by unquoted expansions (as EXPOSE $PORTS does). */
int dockerfile_expand_words(const char *word, char escape, char *const *env, char *const *args, char ***ret,
                            DockerfileError *err);
/* A COPY/ADD heredoc body: $VAR and ${VAR…} expanded, '\\' escapes the next character, quotes are plain text
 * (BuildKit's rule), at most DOCKERFILE_HEREDOC_EXPANSION_MAX bytes. Errors as dockerfile_expand_word()
 * (column = byte offset in body + 1). */
int dockerfile_expand_heredoc(const char *body, char *const *env, char *const *args, char **ret,
                              DockerfileError *err);
/* Its syntax check without variables, as dockerfile_check_word(). */
int dockerfile_check_heredoc(const char *body, size_t *ret_offset, char *msg, size_t msg_size);
/* Syntax check without any variables: quotes terminated, ${} well formed. On error returns -EBADMSG,
 * the byte offset of the problem in *ret_offset and a message in msg. */
int dockerfile_check_word(const char *word, char escape, size_t *ret_offset, char *msg, size_t msg_size);
