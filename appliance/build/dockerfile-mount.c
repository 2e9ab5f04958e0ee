/* RUN --mount specs: the csv fields (as Go's encoding/csv reads one record, which BuildKit uses), the options
 * each mount type takes (BuildKit's ParseMount) and their defaults. Invariant: errors say which option is
 * wrong and which ones the type takes; nothing here touches the file system. */
#include "dockerfile-mount.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "strbuf.h"
#include "string-util.h"

static const char *const mount_type_names[_DOCKERFILE_MOUNT_TYPE_MAX] = {
        [DOCKERFILE_MOUNT_BIND] = "bind",
        [DOCKERFILE_MOUNT_CACHE] = "cache",
        [DOCKERFILE_MOUNT_TMPFS] = "tmpfs",
        [DOCKERFILE_MOUNT_SECRET] = "secret",
};

static const char *const mount_sharing_names[_DOCKERFILE_MOUNT_SHARING_MAX] = {
        [DOCKERFILE_MOUNT_SHARED] = "shared",
        [DOCKERFILE_MOUNT_PRIVATE] = "private",
        [DOCKERFILE_MOUNT_LOCKED] = "locked",
};

const char *dockerfile_mount_type_to_string(DockerfileMountType t) {
        return t >= 0 && t < _DOCKERFILE_MOUNT_TYPE_MAX ? mount_type_names[t] : NULL;
}

DockerfileMountType dockerfile_mount_type_from_string(const char *s) {
        for (int t = 0; s && t < _DOCKERFILE_MOUNT_TYPE_MAX; t++)
                if (strcasecmp(s, mount_type_names[t]) == 0)
                        return (DockerfileMountType) t;
        return _DOCKERFILE_MOUNT_TYPE_INVALID;
}

const char *dockerfile_mount_sharing_to_string(DockerfileMountSharing s) {
        return s >= 0 && s < _DOCKERFILE_MOUNT_SHARING_MAX ? mount_sharing_names[s] : NULL;
}

DockerfileMountSharing dockerfile_mount_sharing_from_string(const char *s) {
        for (int k = 0; s && k < _DOCKERFILE_MOUNT_SHARING_MAX; k++)
                if (strcasecmp(s, mount_sharing_names[k]) == 0)
                        return (DockerfileMountSharing) k;
        return _DOCKERFILE_MOUNT_SHARING_INVALID;
}

void dockerfile_mount_done(DockerfileMount *m) {
        if (!m)
                return;
        free(m->target);
        free(m->source);
        free(m->from);
        free(m->id);
        *m = (DockerfileMount) {};
}

static int set_error(char *err, size_t err_size, const char *fmt, ...) _printf_(3, 4);
static int set_error(char *err, size_t err_size, const char *fmt, ...) {
        va_list ap;

        if (err && err_size > 0) {
                va_start(ap, fmt);
                vsnprintf(err, err_size, fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

int dockerfile_mount_split(const char *spec, char ***ret, char *err, size_t err_size) {
        _cleanup_strv_free_ char **fields = calloc(1, sizeof(char *));
        size_t i = 0, n = 0;
        int r;

        if (!fields)
                return -ENOMEM;
        for (;;) {
                _cleanup_(strbuf_done) StrBuf f = {};

                if (++n > DOCKERFILE_MOUNT_FIELDS_MAX)
                        return set_error(err, err_size, "RUN --mount has more than %u options.",
                                         DOCKERFILE_MOUNT_FIELDS_MAX);
                if (spec[i] == '"') {
                        for (i++;; i++) {
                                if (!spec[i])
                                        return set_error(err, err_size,
                                                         "RUN --mount: a quoted option has no closing \"; "
                                                         "write a quote inside quotes as \"\".");
                                if (spec[i] == '"' && spec[i + 1] == '"') {
                                        i++;
                                } else if (spec[i] == '"') {
                                        i++;
                                        break;
                                }
                                r = strbuf_append_char(&f, spec[i]);
                                if (r < 0)
                                        return r;
                        }
                        if (spec[i] && spec[i] != ',')
                                return set_error(err, err_size,
                                                 "RUN --mount: text follows a quoted option; separate "
                                                 "options with commas.");
                } else
                        for (; spec[i] && spec[i] != ','; i++) {
                                if (spec[i] == '"')
                                        return set_error(err, err_size,
                                                         "RUN --mount: a \" may only start an option; quote "
                                                         "the whole option and double the quote (\"\").");
                                r = strbuf_append_char(&f, spec[i]);
                                if (r < 0)
                                        return r;
                        }
                r = strv_extend(&fields, f.data ?: "");
                if (r < 0)
                        return r;
                if (!spec[i])
                        break;
                i++; /* the comma */
        }
        *ret = TAKE_PTR(fields);
        return 0;
}

int dockerfile_mount_join(char *const *fields, char **ret) {
        _cleanup_(strbuf_done) StrBuf b = {};
        int r = 0;

        for (size_t k = 0; fields[k]; k++) {
                const char *f = fields[k];
                bool quote = strpbrk(f, ",\"") || f[0] == ' ';

                if (k > 0 && (r = strbuf_append_char(&b, ',')) < 0)
                        return r;
                if (!quote) {
                        r = strbuf_append_str(&b, f);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = strbuf_append_char(&b, '"');
                for (const char *c = f; r >= 0 && *c; c++)
                        r = *c == '"' ? strbuf_append_str(&b, "\"\"") : strbuf_append_char(&b, *c);
                if (r >= 0)
                        r = strbuf_append_char(&b, '"');
                if (r < 0)
                        return r;
        }
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* Which mount types take an option. */
#define T_BIND (1U << DOCKERFILE_MOUNT_BIND)
#define T_CACHE (1U << DOCKERFILE_MOUNT_CACHE)
#define T_TMPFS (1U << DOCKERFILE_MOUNT_TMPFS)
#define T_SECRET (1U << DOCKERFILE_MOUNT_SECRET)
#define T_ALL (T_BIND | T_CACHE | T_TMPFS | T_SECRET)

typedef enum MountKey {
        KEY_TYPE,
        KEY_TARGET,
        KEY_SOURCE,
        KEY_FROM,
        KEY_ID,
        KEY_SHARING,
        KEY_MODE,
        KEY_UID,
        KEY_GID,
        KEY_RO,
        KEY_RW,
        KEY_REQUIRED,
        KEY_SIZE,
} MountKey;

typedef struct MountOption {
        const char *name;
        MountKey key;
        unsigned types;
        bool shown; /* listed in "it takes …" (aliases are not) */
} MountOption;

static const MountOption mount_options[] = {
        { "type", KEY_TYPE, T_ALL, false },
        { "target", KEY_TARGET, T_ALL, true },
        { "dst", KEY_TARGET, T_ALL, false },
        { "destination", KEY_TARGET, T_ALL, false },
        { "source", KEY_SOURCE, T_BIND | T_CACHE, true },
        { "src", KEY_SOURCE, T_BIND | T_CACHE, false },
        { "from", KEY_FROM, T_BIND | T_CACHE, true },
        { "id", KEY_ID, T_CACHE | T_SECRET, true },
        { "sharing", KEY_SHARING, T_CACHE, true },
        { "mode", KEY_MODE, T_CACHE | T_SECRET, true },
        { "uid", KEY_UID, T_CACHE | T_SECRET, true },
        { "gid", KEY_GID, T_CACHE | T_SECRET, true },
        { "ro", KEY_RO, T_BIND | T_CACHE, true },
        { "readonly", KEY_RO, T_BIND | T_CACHE, false },
        { "rw", KEY_RW, T_BIND | T_CACHE, true },
        { "readwrite", KEY_RW, T_BIND | T_CACHE, false },
        { "required", KEY_REQUIRED, T_SECRET, true },
        { "size", KEY_SIZE, T_TMPFS, true },
};

static void format_options(DockerfileMountType t, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t k = 0; k < ELEMENTSOF(mount_options) && used < size; k++)
                if (mount_options[k].shown && (mount_options[k].types & (1U << t)))
                        used += (size_t) snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                                  mount_options[k].name);
}

/* Go's strconv.ParseBool, which BuildKit uses. */
static int parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

        for (size_t k = 0; k < ELEMENTSOF(yes); k++) {
                if (streq(v, yes[k])) {
                        *ret = true;
                        return 0;
                }
                if (streq(v, no[k])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_u32(const char *v, int base, uint32_t max, uint32_t *ret) {
        unsigned long long n;
        char *end;

        if (!v[0] ||
            !(base == 8 ? strspn(v, "01234567") == strlen(v) : strspn(v, "0123456789") == strlen(v)))
                return -EINVAL;
        errno = 0;
        n = strtoull(v, &end, base);
        if (errno || *end || n > max)
                return -ERANGE;
        *ret = (uint32_t) n;
        return 0;
}

/* docker's units.RAMInBytes: "64m", "1.5g", "512KiB", "4096"; binary multiples. */
static int parse_size(const char *v, uint64_t *ret) {
        static const char units[] = "kmgtp";
        const char *p = v, *u;
        long double n;
        char *end;
        int shift = 0;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        while (isdigit((unsigned char) *p) || (*p == '.' && isdigit((unsigned char) p[1])))
                p++;
        errno = 0;
        n = strtold(v, &end);
        if (errno || end != p)
                return -EINVAL;
        if (*p == ' ')
                p++;
        if (*p && (u = strchr(units, tolower((unsigned char) *p)))) {
                shift = 10 * (int) (u - units + 1);
                p++;
        }
        if (*p == 'i' || *p == 'I')
                p++;
        if (*p == 'b' || *p == 'B')
                p++;
        if (*p)
                return -EINVAL;
        n *= (long double) (1ULL << shift);
        if (n >= 18446744073709551615.0L)
                return -ERANGE;
        *ret = (uint64_t) n;
        return 0;
}

/* Go's path.Base: the last element, trailing slashes dropped ("/" for a path of slashes). */
static char *base_name(const char *path) {
        size_t end = strlen(path), start;

        while (end > 1 && path[end - 1] == '/')
                end--;
        if (end == 0)
                return strdup(".");
        if (end == 1 && path[0] == '/')
                return strdup("/");
        for (start = end; start > 0 && path[start - 1] != '/'; start--)
                ;
        return strndup(path + start, end - start);
}

static int set_string(char **dst, const char *v) {
        char *c = strdup(v);

        if (!c)
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

/* The type named by the first type= field (BuildKit reads options in order; finding the type first lets
 * type= come anywhere). *ret_unknown: it holds a variable, so type-specific checks wait for the expansion. */
static int find_type(char *const *fields, DockerfileMountParseFlags flags, DockerfileMountType *ret,
                     bool *ret_unknown, char *err, size_t err_size) {
        *ret = DOCKERFILE_MOUNT_BIND;
        *ret_unknown = false;
        for (size_t k = 0; fields[k]; k++) {
                const char *eq = strchr(fields[k], '=');
                DockerfileMountType t;

                if (!eq || (size_t) (eq - fields[k]) != 4 || strncasecmp(fields[k], "type", 4) != 0)
                        continue;
                if ((flags & DOCKERFILE_MOUNT_UNEXPANDED) && strchr(eq + 1, '$')) {
                        *ret_unknown = true;
                        return 0;
                }
                if (strcasecmp(eq + 1, "ssh") == 0)
                        return set_error(err, err_size,
                                         "RUN --mount=type=ssh is not supported: builds run without network "
                                         "access; use type=secret for a credential the step needs.");
                t = dockerfile_mount_type_from_string(eq + 1);
                if (t < 0)
                        return set_error(err, err_size,
                                         "RUN --mount: unknown type '%.64s'; expected bind, cache, tmpfs or "
                                         "secret.",
                                         eq + 1);
                *ret = t;
        }
        return 0;
}

static int apply_option(DockerfileMount *m, const MountOption *o, const char *name, const char *v, char *err,
                        size_t err_size) {
        bool b;
        int r;

        switch (o->key) {
        case KEY_TYPE:
                return 0; /* find_type() */
        case KEY_TARGET:
                if (!v[0])
                        return set_error(err, err_size, "RUN --mount: %s is empty; give a path.", name);
                if (strlen(v) > DOCKERFILE_MOUNT_TARGET_MAX)
                        return set_error(err, err_size, "RUN --mount: %s is longer than %u bytes.", name,
                                         DOCKERFILE_MOUNT_TARGET_MAX);
                return set_string(&m->target, v);
        case KEY_SOURCE:
                return set_string(&m->source, v);
        case KEY_FROM:
                if (!v[0])
                        return set_error(err, err_size,
                                         "RUN --mount: from is empty; name a stage or an image.");
                return set_string(&m->from, v);
        case KEY_ID:
                if (strlen(v) > DOCKERFILE_MOUNT_ID_MAX)
                        return set_error(err, err_size, "RUN --mount: the id is longer than %u bytes.",
                                         DOCKERFILE_MOUNT_ID_MAX);
                return v[0] ? set_string(&m->id, v) : 0;
        case KEY_SHARING:
                r = dockerfile_mount_sharing_from_string(v);
                if (r < 0)
                        return set_error(err, err_size,
                                         "RUN --mount: invalid sharing=%.64s; expected shared, private or "
                                         "locked.",
                                         v);
                m->sharing = (DockerfileMountSharing) r;
                return 0;
        case KEY_MODE:
                if (parse_u32(v, 8, 07777, &m->mode) < 0)
                        return set_error(err, err_size,
                                         "RUN --mount: invalid mode=%.64s; expected an octal mode such as "
                                         "0755.",
                                         v);
                m->has_mode = true;
                return 0;
        case KEY_UID:
        case KEY_GID:
                if (parse_u32(v, 10, UINT32_MAX - 1, o->key == KEY_UID ? &m->uid : &m->gid) < 0)
                        return set_error(
                                err, err_size,
                                "RUN --mount: invalid %s=%.64s; expected a numeric id such as 1000.", name,
                                v);
                if (o->key == KEY_UID)
                        m->has_uid = true;
                else
                        m->has_gid = true;
                return 0;
        case KEY_RO:
        case KEY_RW:
        case KEY_REQUIRED:
                if (v && parse_bool(v, &b) < 0)
                        return set_error(err, err_size,
                                         "RUN --mount: invalid %s=%.64s; expected true or false.", name, v);
                if (!v)
                        b = true;
                if (o->key == KEY_REQUIRED)
                        m->required = b;
                else
                        m->readonly = o->key == KEY_RO ? b : !b;
                return 0;
        case KEY_SIZE:
                if (parse_size(v, &m->size) < 0)
                        return set_error(err, err_size,
                                         "RUN --mount: invalid size=%.64s; expected bytes or a size such as "
                                         "64m or 1g.",
                                         v);
                return 0;
        }
        return -EINVAL;
}

int dockerfile_mount_parse(const char *spec, DockerfileMountParseFlags flags, DockerfileMount *ret,
                           char *err, size_t err_size) {
        _cleanup_(dockerfile_mount_done) DockerfileMount m = {};
        _cleanup_strv_free_ char **fields = NULL;
        bool type_unknown, ro_given = false;
        char allowed[192];
        int r;

        if (strlen(spec) > DOCKERFILE_MOUNT_SPEC_MAX)
                return set_error(err, err_size, "RUN --mount is longer than %u bytes.",
                                 DOCKERFILE_MOUNT_SPEC_MAX);
        r = dockerfile_mount_split(spec, &fields, err, err_size);
        if (r < 0)
                return r;
        r = find_type(fields, flags, &m.type, &type_unknown, err, err_size);
        if (r < 0)
                return r;
        format_options(m.type, allowed, sizeof allowed);

        for (size_t k = 0; fields[k]; k++) {
                _cleanup_free_ char *name = NULL;
                const char *eq = strchr(fields[k], '='), *v = eq ? eq + 1 : NULL;
                const MountOption *o = NULL;

                name = strndup(fields[k], eq ? (size_t) (eq - fields[k]) : strlen(fields[k]));
                if (!name)
                        return -ENOMEM;
                for (char *c = name; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                for (size_t j = 0; j < ELEMENTSOF(mount_options); j++)
                        if (streq(mount_options[j].name, name))
                                o = &mount_options[j];
                if (!name[0])
                        return set_error(err, err_size,
                                         "RUN --mount: an option is empty; write options as key=value "
                                         "separated by single commas.");
                if (!o) {
                        if (type_unknown)
                                return set_error(
                                        err, err_size,
                                        "RUN --mount: unknown option '%.64s'; expected type, target, "
                                        "source, from, id, sharing, mode, uid, gid, ro, rw, "
                                        "required or size.",
                                        name);
                        return set_error(err, err_size,
                                         "RUN --mount: unknown option '%.64s' for type=%s; it takes %s.",
                                         name, dockerfile_mount_type_to_string(m.type), allowed);
                }
                if (!type_unknown && !(o->types & (1U << m.type)))
                        return set_error(err, err_size,
                                         "RUN --mount: type=%s takes no '%s' option; it takes %s.",
                                         dockerfile_mount_type_to_string(m.type), name, allowed);
                if (!v && o->key != KEY_RO && o->key != KEY_RW && o->key != KEY_REQUIRED)
                        return set_error(err, err_size,
                                         "RUN --mount: option '%.64s' needs a value (%s=VALUE).", name,
                                         name);
                if (o->key == KEY_RO || o->key == KEY_RW)
                        ro_given = true;
                if (v && (flags & DOCKERFILE_MOUNT_UNEXPANDED) && strchr(v, '$')) {
                        /* Checked once expanded; keep a placeholder so that the defaults below see it. */
                        if (o->key == KEY_TARGET || o->key == KEY_ID || o->key == KEY_FROM ||
                            o->key == KEY_SOURCE) {
                                r = set_string(o->key == KEY_TARGET ? &m.target
                                               : o->key == KEY_ID   ? &m.id
                                               : o->key == KEY_FROM ? &m.from
                                                                    : &m.source,
                                               v);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                r = apply_option(&m, o, name, v, err, err_size);
                if (r < 0)
                        return r;
        }

        if (!ro_given)
                m.readonly = m.type == DOCKERFILE_MOUNT_BIND;
        if (type_unknown) {
                if (ret)
                        *ret = TAKE_STRUCT(m);
                return 0;
        }
        switch (m.type) {
        case DOCKERFILE_MOUNT_SECRET:
                if (!m.id && !m.target)
                        return set_error(err, err_size,
                                         "RUN --mount: type=secret needs an id or a target, e.g. "
                                         "type=secret,id=npmrc.");
                if (!m.id) {
                        m.id = base_name(m.target);
                        if (!m.id)
                                return -ENOMEM;
                }
                if (!m.target) {
                        _cleanup_free_ char *b = base_name(m.id);

                        if (!b || asprintf(&m.target, "/run/secrets/%s", b) < 0) {
                                m.target = NULL;
                                return -ENOMEM;
                        }
                }
                if (!m.has_mode) {
                        m.mode = 0400;
                        m.has_mode = true;
                }
                break;
        case DOCKERFILE_MOUNT_CACHE:
                if (!m.target)
                        return set_error(err, err_size,
                                         "RUN --mount: type=cache needs a target, e.g. "
                                         "type=cache,target=/root/.cache.");
                if (!m.id && (r = set_string(&m.id, m.target)) < 0)
                        return r;
                if (!m.has_mode) {
                        m.mode = 0755;
                        m.has_mode = true;
                }
                break;
        default:
                if (!m.target)
                        return set_error(err, err_size,
                                         "RUN --mount: type=%s needs a target, e.g. target=/mnt.",
                                         dockerfile_mount_type_to_string(m.type));
                break;
        }
        if (ret)
                *ret = TAKE_STRUCT(m);
        return 0;
}
