/* Dockerfile instructions: one parser per instruction (FROM, RUN, ENV, COPY, HEALTHCHECK, ONBUILD…) and the
 * dispatch from keyword to parser. Invariant: every argument that is expanded later is syntax-checked
 * here, so errors point at the exact line and column; nothing is expanded yet. */
#include "dockerfile-instructions.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile-expand.h"
#include "dockerfile-flags.h"
#include "dockerfile-heredoc.h"
#include "dockerfile-lexer.h"
#include "duration.h"
#include "json-util.h"
#include "macro.h"
#include "string-util.h"

/* Takes s as in's argv when it is a JSON array of strings (the exec form: in->json_form). Returns 1 when it
 * was one, 0 when s is not valid JSON or not an array (Docker then uses the shell form), -EBADMSG for a JSON
 * array holding something other than strings. */
static int parse_json_argv(Parser *p, DockerfileInstruction *in, const char *kw, const char *s,
                           size_t offset) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        json_error_t jerr;
        size_t idx;
        json_t *v;
        int r;

        if (s[skip_space(s, strlen(s))] != '[')
                return 0;
        /* Nested deeper than JSON_DEPTH_MAX is not an array of strings either: the shell form. */
        if (json_parse_buffer(s, strlen(s), &j, &jerr) < 0 || !json_is_array(j))
                return 0;
        argv = calloc(1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        json_array_foreach(j, idx, v) {
                if (!json_is_string(v))
                        return parser_error(p, offset,
                                            "%s: when using JSON array syntax, arrays must be comprised of "
                                            "strings only; quote element %zu",
                                            kw, idx + 1);
                r = strv_extend(&argv, json_string_value(v));
                if (r < 0)
                        return r;
        }
        in->n_argv = json_array_size(j);
        in->argv = TAKE_PTR(argv);
        in->json_form = true;
        return 1;
}

/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: exec form when the text is a JSON array of strings,
 * shell form otherwise, as Docker does (with a warning when it looked like a JSON array). */
static int parse_maybe_json(Parser *p, DockerfileInstruction *in, const char *kw, const char *s,
                            size_t offset) {
        size_t lead = skip_space(s, strlen(s));
        int r;

        r = parse_json_argv(p, in, kw, s, offset);
        if (r != 0)
                return MIN(r, 0);
        if (s[lead] == '[') {
                r = parser_warning(p, offset + lead,
                                   "%s arguments start with '[' but are not a valid JSON array of strings; "
                                   "they are run as a shell command",
                                   kw);
                if (r < 0)
                        return r;
        }
        in->shell = strdup(s);
        return in->shell ? 0 : -ENOMEM;
}

bool dockerfile_source_is_remote(const char *s) {
        static const char *const prefixes[] = { "http://", "https://", "git://", "ssh://", "git@" };

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* ---- per-instruction parsers: kw is the instruction's keyword (as errors name it), s its arguments after
 * the flags, at offset base of the logical line ---- */

static int parse_from(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = split_blanks(s, base, &w);
        if (r < 0)
                return r;
        if (w.n == 3 && strcasecmp(w.words[1].text, "AS") == 0) {
                char *name = w.words[2].text;

                for (char *c = name; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                if (!islower((unsigned char) name[0]) ||
                    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name))
                        return parser_error(p, w.words[2].offset,
                                            "FROM: invalid stage name '%s'; a name starts with a letter and "
                                            "contains only letters, digits, '-', '_' and '.'",
                                            name);
                in->stage_name = TAKE_PTR(w.words[2].text);
        } else if (w.n != 1)
                return parser_error(p, w.n > 0 ? w.words[w.n - 1].offset : in->column - 1,
                                    "FROM requires either one argument (the base image) or three "
                                    "(image AS name)");
        r = check_expandable(p, kw, w.words[0].text, w.words[0].offset);
        if (r < 0)
                return r;
        in->argv = calloc(2, sizeof(char *));
        if (!in->argv)
                return -ENOMEM;
        in->argv[0] = TAKE_PTR(w.words[0].text);
        in->n_argv = 1;
        return 0;
}

static int argv_from_words(DockerfileInstruction *in, WordList *w) {
        in->argv = calloc(w->n + 1, sizeof(char *));
        if (!in->argv)
                return -ENOMEM;
        for (size_t i = 0; i < w->n; i++)
                in->argv[i] = TAKE_PTR(w->words[i].text);
        in->n_argv = w->n;
        return 0;
}

static int parse_run_like(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        const char *network;

        if (dockerfile_instruction_get_flag(in, "network", &network) >= 0 && !streq(network, "none") &&
            !streq(network, "default"))
                return parser_error(p, base,
                                    "RUN --network=%s is not supported; build steps run without network "
                                    "access (use --network=none or leave the flag out)",
                                    network);
        if (isempty(s + skip_space(s, strlen(s))))
                return parser_error(p, base,
                                    "%s requires at least one argument, e.g. %s [\"executable\", \"arg\"]",
                                    kw, kw);
        return parse_maybe_json(p, in, kw, s, base);
}

/* SHELL takes only the exec form, with at least one word. */
static int parse_shell(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        int r;

        r = parse_json_argv(p, in, kw, s, base);
        if (r == 0)
                return parser_error(p, base,
                                    "%s requires the arguments in JSON form, e.g. %s [\"/bin/sh\", \"-c\"]",
                                    kw, kw);
        if (r > 0 && in->n_argv == 0)
                return parser_error(
                        p, base, "%s requires at least one argument, e.g. %s [\"/bin/sh\", \"-c\"]", kw, kw);
        return MIN(r, 0);
}

static int add_pair(DockerfileInstruction *in, const char *name, size_t name_len, const char *value) {
        return dockerfile_name_value_add(&in->pairs, &in->n_pairs, name, name_len, value);
}

/* ENV and LABEL's legacy form: the first blank-separated word (key) is the key, the rest of the line the
 * value. */
static int parse_legacy_pair(Parser *p, DockerfileInstruction *in, const char *kw, const char *key,
                             const char *s, size_t base) {
        size_t k = 0, v;
        int r;

        while (s[k] && !is_blank(s[k]))
                k++;
        v = k;
        while (s[v] && is_blank(s[v]))
                v++;
        if (!s[v])
                return parser_error(p, base, "%s %s: missing value; write %s %s=value", kw, key, kw, key);
        r = check_expandable(p, kw, key, base);
        if (r < 0)
                return r;
        r = check_expandable(p, kw, s + v, base + v);
        if (r < 0)
                return r;
        return add_pair(in, s, k, s + v);
}

/* ENV and LABEL: "k=v k2='v 2'…" (or the legacy "KEY value…"); ARG: "NAME" or "NAME=default", one or more.
 * Names and values are checked left to right. */
static int parse_pairs(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        bool is_arg = in->kind == DOCKERFILE_ARG;
        int r;

        r = split_words_quoted(s, base, p->df->escape, &w);
        if (r < 0)
                return r;
        if (w.n == 0)
                return parser_error(p, base, "%s requires at least one argument, e.g. %s %s", kw, kw,
                                    is_arg ? "NAME or ARG NAME=default" : "name=value");
        if (!is_arg && !strchr(w.words[0].text, '='))
                return parse_legacy_pair(p, in, kw, w.words[0].text, s, base);

        for (size_t i = 0; i < w.n; i++) {
                char *eq = strchr(w.words[i].text, '=');

                if (!eq && !is_arg)
                        return parser_error(p, w.words[i].offset,
                                            "%s: can't find '=' in '%s'; expected name=value", kw,
                                            w.words[i].text);
                if (eq == w.words[i].text)
                        return parser_error(p, w.words[i].offset, "%s: name before '=' must not be empty",
                                            kw);
                if (eq)
                        *eq = 0;
                r = check_expandable(p, kw, w.words[i].text, w.words[i].offset);
                if (r < 0)
                        return r;
                if (eq) {
                        r = check_expandable(p, kw, eq + 1,
                                             w.words[i].offset + (size_t) (eq + 1 - w.words[i].text));
                        if (r < 0)
                                return r;
                }
                r = add_pair(in, w.words[i].text, strlen(w.words[i].text), eq ? eq + 1 : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* COPY, ADD and VOLUME: the exec form's strings or the blank-separated words into argv, each syntax-checked
 * for expansion (a JSON string's errors point at the array). A heredoc source (<<EOF) is taken out of argv
 * once its body is read (dockerfile-heredoc.c). */
static int parse_paths(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = parse_json_argv(p, in, kw, s, base);
        if (r < 0)
                return r;
        if (r > 0) {
                for (size_t i = 0; i < in->n_argv; i++) {
                        r = check_expandable(p, kw, in->argv[i], base);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        r = split_blanks(s, base, &w);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w.n; i++) {
                r = check_expandable(p, kw, w.words[i].text, w.words[i].offset);
                if (r < 0)
                        return r;
        }
        return argv_from_words(in, &w);
}

static int parse_copy_add(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        int r;

        r = parse_paths(p, in, kw, s, base);
        if (r < 0)
                return r;
        if (in->n_argv < 2)
                return parser_error(p, base,
                                    "%s requires at least two arguments (source… destination), but %s "
                                    "given",
                                    kw, in->n_argv == 0 ? "none was" : "only one was");
        if (in->kind == DOCKERFILE_ADD)
                for (size_t i = 0; i + 1 < in->n_argv; i++) {
                        const char *a = in->argv[i];

                        if (*a == '"' || *a == '\'')
                                a++;
                        if (dockerfile_source_is_remote(a))
                                return parser_error(p, base, DOCKERFILE_ADD_URL_MESSAGE);
                }
        /* --chmod is checked with the flags (copy-chmod.c), so its error points at the flag. */
        return 0;
}

static int parse_volume(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        int r;

        r = parse_paths(p, in, kw, s, base);
        if (r < 0)
                return r;
        if (in->n_argv == 0)
                return parser_error(p, base, "%s requires at least one argument, e.g. %s /data", kw, kw);
        for (size_t i = 0; i < in->n_argv; i++)
                if (isempty(in->argv[i]))
                        return parser_error(p, base, "%s: a volume path can not be an empty string", kw);
        return 0;
}

/* port, port/proto, or a range first-last[/proto]. */
static bool expose_port_valid(const char *s) {
        char *end;
        unsigned long a, b;
        const char *slash = strchr(s, '/');

        if (slash && !streq(slash + 1, "tcp") && !streq(slash + 1, "udp") && !streq(slash + 1, "sctp") &&
            strcasecmp(slash + 1, "tcp") != 0 && strcasecmp(slash + 1, "udp") != 0 &&
            strcasecmp(slash + 1, "sctp") != 0)
                return false;
        if (!isdigit((unsigned char) *s))
                return false;
        a = strtoul(s, &end, 10);
        if (a == 0 || a > 65535)
                return false;
        if (*end == '-') {
                if (!isdigit((unsigned char) end[1]))
                        return false;
                b = strtoul(end + 1, &end, 10);
                if (b < a || b > 65535)
                        return false;
        }
        return *end == 0 || end == slash;
}

bool dockerfile_expose_port_is_valid(const char *s) {
        return expose_port_valid(s);
}

/* One EXPOSE word: syntax-checked for expansion; a literal one (no $ or quotes) must be a port or a range. */
static int check_expose_word(Parser *p, const char *kw, const Word *word) {
        int r;

        r = check_expandable(p, kw, word->text, word->offset);
        if (r < 0)
                return r;
        if (!strchr(word->text, '$') && !strchr(word->text, '"') && !strchr(word->text, '\'') &&
            !expose_port_valid(word->text))
                return parser_error(
                        p, word->offset,
                        "%s: invalid port '%s'; expected PORT, PORT/PROTOCOL or FIRST-LAST/PROTOCOL "
                        "with a port from 1 to 65535 and protocol tcp, udp or sctp",
                        kw, word->text);
        return 0;
}

static int parse_expose(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        if (!*s)
                return parser_error(p, base, "%s requires at least one argument, e.g. %s 8080/tcp", kw, kw);
        r = split_blanks(s, base, &w);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w.n; i++) {
                r = check_expose_word(p, kw, &w.words[i]);
                if (r < 0)
                        return r;
        }
        return argv_from_words(in, &w);
}

/* WORKDIR, USER, STOPSIGNAL, MAINTAINER: the rest of the line is one value (MAINTAINER's is never expanded). */
static const char *const string_examples[_DOCKERFILE_INSTRUCTION_MAX] = {
        [DOCKERFILE_WORKDIR] = "/app",
        [DOCKERFILE_USER] = "app:app",
        [DOCKERFILE_STOPSIGNAL] = "SIGTERM",
        [DOCKERFILE_MAINTAINER] = "name@example.com",
};

static int parse_string(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        int r;

        if (!*s)
                return parser_error(p, base, "%s requires exactly one argument, e.g. %s %s", kw, kw,
                                    string_examples[in->kind]);
        if (in->kind != DOCKERFILE_MAINTAINER) {
                r = check_expandable(p, kw, s, base);
                if (r < 0)
                        return r;
        }
        in->shell = strdup(s);
        return in->shell ? 0 : -ENOMEM;
}

static int parse_healthcheck(Parser *p, DockerfileInstruction *in, const char *kw, const char *s,
                             size_t base) {
        const struct {
                const char *name;
                uint64_t *ns;
        } durations[] = {
                { "interval", &in->healthcheck.interval_ns },
                { "timeout", &in->healthcheck.timeout_ns },
                { "start-period", &in->healthcheck.start_period_ns },
                { "start-interval", &in->healthcheck.start_interval_ns },
        };
        size_t k = 0, rest;
        const char *v;

        in->healthcheck.retries = -1;
        while (s[k] && !is_blank(s[k]))
                k++;
        if (k == 0)
                return parser_error(p, base, "HEALTHCHECK requires an argument: CMD command… or NONE");
        rest = k + skip_space(s + k, strlen(s + k));
        if (k == 4 && strncasecmp(s, "NONE", 4) == 0) {
                if (in->n_flags > 0 || s[rest])
                        return parser_error(p, base, "HEALTHCHECK NONE takes no arguments or flags");
                in->healthcheck.none = true;
                return 0;
        }
        if (k != 3 || strncasecmp(s, "CMD", 3) != 0)
                return parser_error(p, base,
                                    "HEALTHCHECK: unknown type '%.*s'; expected CMD command… or NONE",
                                    (int) MIN(k, (size_t) 64), s);
        if (!s[rest])
                return parser_error(p, base + k, "HEALTHCHECK CMD: missing command after CMD");

        for (size_t d = 0; d < ELEMENTSOF(durations); d++) {
                uint64_t ns;

                if (dockerfile_instruction_get_flag(in, durations[d].name, &v) < 0)
                        continue;
                if (duration_parse(v, &ns) < 0)
                        return parser_error(p, base,
                                            "HEALTHCHECK: invalid --%s=%s; expected a duration such as "
                                            "30s, 1m30s or 500ms",
                                            durations[d].name, v);
                if (ns > 0 && ns < 1000000ULL)
                        return parser_error(p, base,
                                            "HEALTHCHECK: --%s=%s is shorter than the minimum of 1ms",
                                            durations[d].name, v);
                *durations[d].ns = ns;
        }
        if (dockerfile_instruction_get_flag(in, "retries", &v) >= 0) {
                char *end;
                long n;

                errno = 0;
                n = strtol(v, &end, 10);
                if (errno != 0 || *end || end == v || n > INT32_MAX || n < INT32_MIN)
                        return parser_error(p, base, "HEALTHCHECK: invalid --retries=%s; expected a number",
                                            v);
                if (n < 0)
                        return parser_error(p, base, "HEALTHCHECK: --retries can not be negative");
                in->healthcheck.retries = (int) n;
        }
        return parse_maybe_json(p, in, "HEALTHCHECK CMD", s + rest, base + rest);
}

static int parse_onbuild(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *sub = NULL;
        int r;

        if (!*s)
                return parser_error(p, base, "ONBUILD requires an instruction, e.g. ONBUILD COPY . /app");
        sub = calloc(1, sizeof *sub);
        if (!sub)
                return -ENOMEM;
        strbuf_done(&p->trigger_tail);
        r = parse_instruction(p, sub, base, true);
        if (r < 0)
                return r;
        /* A trigger with heredocs keeps their bodies after it, as BuildKit stores it in the image. */
        if (asprintf(&in->trigger, "%s%s", s, strempty(p->trigger_tail.data)) < 0) {
                in->trigger = NULL;
                return -ENOMEM;
        }
        strbuf_done(&p->trigger_tail);
        in->end_line = sub->end_line;
        in->onbuild = TAKE_PTR(sub);
        return 0;
}

static unsigned edit_distance(const char *a, const char *b) {
        unsigned prev[32], cur[32];
        size_t la = strlen(a), lb = strlen(b);

        if (la >= 31 || lb >= 31)
                return UINT32_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned sub = prev[j - 1] + (toupper((unsigned char) a[i - 1]) != b[j - 1]);

                        cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), sub);
                }
                memcpy(prev, cur, sizeof cur);
        }
        return prev[lb];
}

static int unknown_instruction(Parser *p, const char *kw, size_t offset) {
        const char *best = NULL;
        unsigned best_d = 3;
        char list[256] = "";
        size_t used = 0;

        for (int k = 0; k < _DOCKERFILE_INSTRUCTION_MAX; k++) {
                unsigned d = edit_distance(kw, dockerfile_instruction_to_string(k));

                if (d < best_d) {
                        best_d = d;
                        best = dockerfile_instruction_to_string(k);
                }
                used += snprintf(list + used, sizeof list - MIN(used, sizeof list), "%s%s", k ? ", " : "",
                                 dockerfile_instruction_to_string(k));
                used = MIN(used, sizeof list);
        }
        if (best)
                return parser_error(p, offset,
                                    "unknown instruction '%.64s' (did you mean %s?); expected one of %s", kw,
                                    best, list);
        return parser_error(p, offset, "unknown instruction '%.64s'; expected one of %s", kw, list);
}

typedef int (*InstructionParser)(Parser *p, DockerfileInstruction *in, const char *kw, const char *s,
                                 size_t base);

static const InstructionParser instruction_parsers[_DOCKERFILE_INSTRUCTION_MAX] = {
        [DOCKERFILE_ADD] = parse_copy_add,
        [DOCKERFILE_ARG] = parse_pairs,
        [DOCKERFILE_CMD] = parse_run_like,
        [DOCKERFILE_COPY] = parse_copy_add,
        [DOCKERFILE_ENTRYPOINT] = parse_run_like,
        [DOCKERFILE_ENV] = parse_pairs,
        [DOCKERFILE_EXPOSE] = parse_expose,
        [DOCKERFILE_FROM] = parse_from,
        [DOCKERFILE_HEALTHCHECK] = parse_healthcheck,
        [DOCKERFILE_LABEL] = parse_pairs,
        [DOCKERFILE_MAINTAINER] = parse_string,
        [DOCKERFILE_ONBUILD] = parse_onbuild,
        [DOCKERFILE_RUN] = parse_run_like,
        [DOCKERFILE_SHELL] = parse_shell,
        [DOCKERFILE_STOPSIGNAL] = parse_string,
        [DOCKERFILE_USER] = parse_string,
        [DOCKERFILE_VOLUME] = parse_volume,
        [DOCKERFILE_WORKDIR] = parse_string,
};


/* Parses the instruction starting at kw_offset of the current logical line into in. */
int parse_instruction(Parser *p, DockerfileInstruction *in, size_t kw_offset, bool trigger) {
        const char *text = p->ll.text.data, *kwname, *args;
        _cleanup_free_ char *kw = NULL;
        size_t k = kw_offset, args_offset = 0;
        int kind, r;

        while (text[k] && !is_space(text[k]))
                k++;
        kw = strndup(text + kw_offset, k - kw_offset);
        if (!kw)
                return -ENOMEM;
        logical_line_position(&p->ll, kw_offset, &in->line, &in->column);
        in->end_line = p->ll.last_line;
        in->original = strdup(text + kw_offset);
        if (!in->original)
                return -ENOMEM;

        kind = dockerfile_instruction_from_string(kw);
        if (kind < 0)
                return unknown_instruction(p, kw, kw_offset);
        in->kind = kind;
        kwname = dockerfile_instruction_to_string(kind);
        if (trigger &&
            (kind == DOCKERFILE_ONBUILD || kind == DOCKERFILE_FROM || kind == DOCKERFILE_MAINTAINER))
                return parser_error(p, kw_offset, "%s isn't allowed as an ONBUILD trigger", kwname);

        while (text[k] && is_space(text[k]))
                k++;
        r = parse_flags(p, in, kwname, text + k, k, &args_offset);
        if (r < 0)
                return r;
        args_offset += k;
        args = text + args_offset;

        assert(instruction_parsers[kind]);
        r = instruction_parsers[kind](p, in, kwname, args, args_offset);
        if (r < 0)
                return r;
        if (kind == DOCKERFILE_RUN || kind == DOCKERFILE_COPY || kind == DOCKERFILE_ADD)
                return parser_read_heredocs(p, in, kw_offset, trigger ? &p->trigger_tail : NULL);
        return 0;
}
