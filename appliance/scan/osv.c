/* OSV advisories: a strict reader of the fields matching needs (osv.h), and the range evaluation the OSV
 * schema describes — events sorted by version, each introduced event opening the range and each fixed
 * (exclusive) or last_affected (inclusive) event closing it. */
#include "osv.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json-util.h"
#include "string-util.h"

static const char *const severity_names[_OSV_SEVERITY_MAX] = {
        [OSV_SEVERITY_UNKNOWN] = "UNKNOWN",   [OSV_SEVERITY_LOW] = "LOW",
        [OSV_SEVERITY_MEDIUM] = "MEDIUM",     [OSV_SEVERITY_HIGH] = "HIGH",
        [OSV_SEVERITY_CRITICAL] = "CRITICAL",
};

const char *osv_severity_to_string(OsvSeverity s) {
        return s >= 0 && s < _OSV_SEVERITY_MAX ? severity_names[s] : NULL;
}

int osv_severity_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "MODERATE") == 0)
                return OSV_SEVERITY_MEDIUM;
        for (int i = 0; i < _OSV_SEVERITY_MAX; i++)
                if (strcasecmp(s, severity_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static void affected_done(OsvAffected *a) {
        free(a->ecosystem);
        free(a->name);
        for (size_t i = 0; i < a->n_ranges; i++) {
                for (size_t k = 0; k < a->ranges[i].n_events; k++)
                        free(a->ranges[i].events[k].version);
                free(a->ranges[i].events);
        }
        free(a->ranges);
        for (size_t i = 0; i < a->n_versions; i++)
                free(a->versions[i]);
        free(a->versions);
}

OsvEntry *osv_entry_free(OsvEntry *e) {
        if (!e)
                return NULL;
        free(e->id);
        free(e->summary);
        for (size_t i = 0; i < e->n_affected; i++)
                affected_done(&e->affected[i]);
        free(e->affected);
        free(e);
        return NULL;
}

static int bad(char **ret_error, const char *fmt, const char *arg) {
        if (ret_error && asprintf(ret_error, fmt, arg) < 0)
                *ret_error = NULL;
        return -EBADMSG;
}

/* The severity: database_specific.severity (GitHub, and most ecosystems' converters), else the
 * affected entries' ecosystem_specific.severity or a Debian/Ubuntu "urgency"; UNKNOWN otherwise.
 * (CVSS vectors in "severity" are not scored here.) */
static OsvSeverity severity_of(json_t *doc) {
        json_t *a, *v;
        size_t i;
        int s;

        s = osv_severity_from_string(
                json_string_value(json_object_get(json_object_get(doc, "database_specific"), "severity")));
        if (s >= 0)
                return (OsvSeverity) s;
        json_array_foreach(json_object_get(doc, "affected"), i, a) {
                v = json_object_get(json_object_get(a, "ecosystem_specific"), "severity");
                if ((s = osv_severity_from_string(json_string_value(v))) >= 0)
                        return (OsvSeverity) s;
                v = json_object_get(json_object_get(a, "database_specific"), "severity");
                if ((s = osv_severity_from_string(json_string_value(v))) >= 0)
                        return (OsvSeverity) s;
        }
        return OSV_SEVERITY_UNKNOWN;
}

static int parse_range(json_t *r, VersionScheme scheme, OsvRange *ret, bool *ret_skip, char **ret_error) {
        const char *type;
        json_t *events, *e;
        size_t i;

        *ret_skip = false;
        if (!json_is_object(r) || json_get_string(r, "type", &type) < 0)
                return bad(ret_error, "A range of an affected package has no \"type\"%s.", "");
        if (!streq(type, "ECOSYSTEM") && !streq(type, "SEMVER")) {
                *ret_skip = true; /* GIT: commits, not versions */
                return 0;
        }
        if (json_get_array(r, "events", &events) < 0)
                return bad(ret_error, "A %s range has no \"events\" list.", type);
        if (json_array_size(events) > OSV_EVENTS_MAX)
                return -E2BIG;
        ret->events = calloc(json_array_size(events) ?: 1, sizeof *ret->events);
        if (!ret->events)
                return -ENOMEM;
        json_array_foreach(events, i, e) {
                static const char *const kinds[] = { "introduced", "fixed", "last_affected", "limit" };
                const char *key = NULL, *v = NULL;
                int kind = -1;

                if (!json_is_object(e) || json_object_size(e) != 1)
                        return bad(ret_error, "Each range event must be an object with one key%s.", "");
                for (int k = 0; k < 4; k++)
                        if (json_object_get(e, kinds[k])) {
                                kind = k;
                                key = kinds[k];
                        }
                if (kind < 0 || json_get_string(e, key, &v) < 0 || isempty(v))
                        return bad(ret_error,
                                   "A range event is not introduced, fixed, last_affected or limit with "
                                   "a version%s.",
                                   "");
                /* An event version the scheme cannot order would make the whole range meaningless. */
                if (!(kind == OSV_EVENT_INTRODUCED && streq(v, "0")) && !version_valid(scheme, v))
                        return bad(ret_error,
                                   "The range event version '%.64s' is not a version of its ecosystem.", v);
                ret->events[ret->n_events].kind = (OsvEventKind) kind;
                ret->events[ret->n_events].version = strdup(v);
                if (!ret->events[ret->n_events++].version)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_affected(json_t *a, OsvAffected *ret, bool *ret_skip, char **ret_error) {
        const char *ecosystem, *name;
        json_t *pkg, *ranges, *versions, *v;
        size_t i;
        int r;

        *ret_skip = false;
        if (!json_is_object(a) || json_get_object(a, "package", &pkg) < 0 ||
            json_get_string(pkg, "ecosystem", &ecosystem) < 0 || json_get_string(pkg, "name", &name) < 0 ||
            isempty(name))
                return bad(ret_error, "An affected entry has no package with an ecosystem and a name%s.",
                           "");
        ret->scheme = version_scheme_of_ecosystem(ecosystem);
        if ((int) ret->scheme < 0) {
                *ret_skip = true;
                return 0;
        }
        ret->ecosystem = strdup(ecosystem);
        ret->name = strdup(name);
        if (!ret->ecosystem || !ret->name)
                return -ENOMEM;
        ranges = json_object_get(a, "ranges");
        if (ranges && !json_is_array(ranges))
                return bad(ret_error, "\"ranges\" of %s must be a list.", name);
        if (json_array_size(ranges) > OSV_AFFECTED_MAX)
                return -E2BIG;
        ret->ranges = calloc(json_array_size(ranges) ?: 1, sizeof *ret->ranges);
        if (!ret->ranges)
                return -ENOMEM;
        json_array_foreach(ranges, i, v) {
                bool skip;
                r = parse_range(v, ret->scheme, &ret->ranges[ret->n_ranges], &skip, ret_error);
                if (r < 0) {
                        ret->n_ranges++; /* freed with the rest */
                        return r;
                }
                if (!skip)
                        ret->n_ranges++;
        }
        versions = json_object_get(a, "versions");
        if (versions && !json_is_array(versions))
                return bad(ret_error, "\"versions\" of %s must be a list.", name);
        if (json_array_size(versions) > OSV_VERSIONS_MAX)
                return -E2BIG;
        ret->versions = calloc(json_array_size(versions) ?: 1, sizeof *ret->versions);
        if (!ret->versions)
                return -ENOMEM;
        json_array_foreach(versions, i, v) {
                if (!json_is_string(v))
                        return bad(ret_error, "\"versions\" of %s must be strings.", name);
                ret->versions[ret->n_versions] = strdup(json_string_value(v));
                if (!ret->versions[ret->n_versions++])
                        return -ENOMEM;
        }
        return 0;
}

int osv_parse(const char *data, size_t size, OsvEntry **ret, char **ret_error) {
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;
        const char *id, *summary = NULL;
        json_t *affected, *a;
        size_t i;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (size > OSV_DOCUMENT_MAX)
                return -E2BIG;
        if (json_parse_buffer(data, size, &doc, NULL) < 0 || !json_is_object(doc))
                return bad(ret_error, "The advisory is not a JSON object%s.", "");
        if (json_get_string(doc, "id", &id) < 0 || isempty(id))
                return bad(ret_error, "The advisory has no \"id\"%s.", "");
        if (json_get_string_opt(doc, "summary", &summary) < 0)
                return bad(ret_error, "The \"summary\" of %s is not a string.", id);
        affected = json_object_get(doc, "affected");
        if (affected && !json_is_array(affected))
                return bad(ret_error, "The \"affected\" of %s is not a list.", id);
        if (json_array_size(affected) > OSV_AFFECTED_MAX)
                return -E2BIG;
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->id = strdup(id);
        e->summary = summary ? strdup(summary) : NULL;
        e->affected = calloc(json_array_size(affected) ?: 1, sizeof *e->affected);
        if (!e->id || (summary && !e->summary) || !e->affected)
                return -ENOMEM;
        e->severity = severity_of(doc);
        json_array_foreach(affected, i, a) {
                bool skip;
                r = parse_affected(a, &e->affected[e->n_affected], &skip, ret_error);
                if (r < 0 || !skip)
                        e->n_affected++;
                else {
                        affected_done(&e->affected[e->n_affected]);
                        e->affected[e->n_affected] = (OsvAffected) {};
                }
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

/* Events in version order; "0" (introduced: the beginning) before everything. */
static int cmp_events(const void *pa, const void *pb, void *userdata) {
        const OsvEvent *a = pa, *b = pb;
        VersionScheme sort_scheme = *(const VersionScheme *) userdata;
        bool za = a->kind == OSV_EVENT_INTRODUCED && streq(a->version, "0");
        bool zb = b->kind == OSV_EVENT_INTRODUCED && streq(b->version, "0");
        int c = 0;

        if (za || zb)
                return za == zb ? 0 : za ? -1 : 1;
        if (version_compare(sort_scheme, a->version, b->version, &c) < 0)
                return 0;
        return c;
}

int osv_affected_match(const OsvAffected *a, const char *version, bool *ret, char **ret_fixed) {
        bool affected = false;
        const char *fixed = NULL;
        int c;

        if (!version_valid(a->scheme, version))
                return -EINVAL;
        for (size_t i = 0; i < a->n_versions && !affected; i++)
                if (version_compare(a->scheme, version, a->versions[i], &c) >= 0 && c == 0)
                        affected = true;
        for (size_t i = 0; i < a->n_ranges && !affected; i++) {
                const OsvRange *r = &a->ranges[i];
                _cleanup_free_ OsvEvent *ev = malloc((r->n_events ?: 1) * sizeof *ev);
                bool in = false;

                if (!ev)
                        return -ENOMEM;
                memcpy(ev, r->events, r->n_events * sizeof *ev);
                VersionScheme scheme = a->scheme;
                qsort_r(ev, r->n_events, sizeof *ev, cmp_events, &scheme);
                fixed = NULL;
                for (size_t k = 0; k < r->n_events; k++) {
                        bool zero = ev[k].kind == OSV_EVENT_INTRODUCED && streq(ev[k].version, "0");
                        if (!zero && version_compare(a->scheme, version, ev[k].version, &c) < 0)
                                continue;
                        switch (ev[k].kind) {
                        case OSV_EVENT_INTRODUCED:
                                if (zero || c >= 0)
                                        in = true;
                                break;
                        case OSV_EVENT_FIXED:
                                if (c >= 0)
                                        in = false;
                                else if (in && !fixed)
                                        fixed = ev[k].version;
                                break;
                        case OSV_EVENT_LAST_AFFECTED:
                                if (c > 0)
                                        in = false;
                                break;
                        case OSV_EVENT_LIMIT:
                                if (c >= 0)
                                        in = false;
                                break;
                        }
                }
                affected = in;
        }
        *ret = affected;
        if (ret_fixed) {
                *ret_fixed = affected && fixed ? strdup(fixed) : NULL;
                if (affected && fixed && !*ret_fixed)
                        return -ENOMEM;
        }
        return 0;
}
