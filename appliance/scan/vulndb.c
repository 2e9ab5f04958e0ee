/* vulndb.h: OSV import and SBOM matching over slipway.db's vulns tables. */
#include "vulndb.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "sqlite-util.h"
#include "string-util.h"
#include "vuln-db.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);

/* "Debian:12" → "Debian" in buf. */
static const char *ecosystem_base(const char *e, char *buf, size_t size) {
        size_t n = strcspn(e, ":");

        snprintf(buf, size, "%.*s", (int) n, e);
        return buf;
}

static int store(sqlite3 *db, const char *data, size_t size, VulndbImportResult *res) {
        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;
        _cleanup_free_ char *error = NULL, *doc = NULL;
        const char *ecos[OSV_AFFECTED_MAX], *names[OSV_AFFECTED_MAX];
        char bases[OSV_AFFECTED_MAX][32];
        int r;

        r = osv_parse(data, size, &e, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || e->n_affected == 0) {
                res->skipped++;
                return 0;
        }
        for (size_t i = 0; i < e->n_affected; i++) {
                ecos[i] = ecosystem_base(e->affected[i].ecosystem, bases[i], sizeof bases[i]);
                names[i] = e->affected[i].name;
        }
        doc = strndup(data, size);
        if (!doc)
                return -ENOMEM;
        r = model_vuln_put(db, e->id, osv_severity_to_string(e->severity), e->summary, doc, ecos, names,
                           e->n_affected);
        if (r < 0)
                return r;
        if ((uint64_t) ++res->entries > VULNDB_ENTRIES_MAX)
                return -E2BIG;
        return 0;
}

static int import_locked(sqlite3 *db, struct archive *a, VulndbImportResult *res, char **ret_error) {
        struct archive_entry *entry;
        _cleanup_free_ char *buf = malloc(OSV_DOCUMENT_MAX);
        int r;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                r = archive_read_next_header(a, &entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        if (asprintf(ret_error, "The archive cannot be read: %s.",
                                     archive_error_string(a) ?: "?") < 0)
                                *ret_error = NULL;
                        return -EBADMSG;
                }
                const char *name = archive_entry_pathname(entry);
                if (archive_entry_filetype(entry) != AE_IFREG || !name || !endswith(name, ".json"))
                        continue;
                if (archive_entry_size_is_set(entry) &&
                    archive_entry_size(entry) > (la_int64_t) OSV_DOCUMENT_MAX) {
                        res->skipped++;
                        continue;
                }
                size_t n = 0;
                for (;;) {
                        la_ssize_t k = archive_read_data(a, buf + n, OSV_DOCUMENT_MAX - n);
                        if (k < 0) {
                                if (asprintf(ret_error, "%s in the archive cannot be read: %s.", name,
                                             archive_error_string(a) ?: "?") < 0)
                                        *ret_error = NULL;
                                return -EBADMSG;
                        }
                        if (k == 0 || (n += (size_t) k) == OSV_DOCUMENT_MAX)
                                break;
                }
                r = store(db, buf, n, res);
                if (r < 0)
                        return r;
        }
        if (res->entries == 0) {
                *ret_error = strdup("The archive holds no OSV advisory (no *.json member in OSV's shape).");
                return -EBADMSG;
        }
        return 0;
}

int vulndb_import(sqlite3 *db, int fd, const char *source, VulndbImportResult *ret, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        VulndbImportResult res = {};
        int r;

        *ret_error = NULL;
        if (!a)
                return -ENOMEM;
        archive_read_support_format_zip(a);
        archive_read_support_format_tar(a);
        archive_read_support_filter_all(a);
        if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
                if (asprintf(ret_error, "The file is not a zip or tar archive: %s.",
                             archive_error_string(a) ?: "?") < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = import_locked(db, a, &res, ret_error);
        if (r >= 0)
                r = model_vuln_import_record(db, source, res.entries, res.skipped);
        r = sqlite_end(db, r);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

int vulndb_match(sqlite3 *db, const Sbom *s, json_t **ret, VulndbCounts *ret_counts) {
        _cleanup_json_ json_t *arr = json_array();
        VulndbCounts counts = {};
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_components; i++) {
                const SbomComponent *c = &s->components[i];
                bool by_source = streq(c->ecosystem, "Debian") || streq(c->ecosystem, "Alpine");
                const char *lookup = by_source && c->source ? c->source : c->name;
                char **docs = NULL;

                r = model_vuln_documents(db, c->ecosystem, lookup, &docs);
                if (r < 0)
                        return r;
                for (size_t d = 0; docs[d]; d++) {
                        _cleanup_(osv_entry_freep) OsvEntry *e = NULL;
                        if (osv_parse(docs[d], strlen(docs[d]), &e, NULL) < 0)
                                continue;
                        for (size_t k = 0; k < e->n_affected; k++) {
                                const OsvAffected *a = &e->affected[k];
                                _cleanup_free_ char *fixed = NULL;
                                char base[32];
                                bool hit = false;
                                if (!streq(ecosystem_base(a->ecosystem, base, sizeof base), c->ecosystem) ||
                                    !streq(a->name, lookup) ||
                                    osv_affected_match(a, c->version, &hit, &fixed) < 0 || !hit)
                                        continue;
                                json_array_append_new(
                                        arr, json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s?,s:s,s:s?,s:s?}", "id",
                                                       e->id, "package", c->name, "source",
                                                       by_source ? c->source : NULL, "ecosystem",
                                                       c->ecosystem, "installed", c->version, "fixed", fixed,
                                                       "severity", osv_severity_to_string(e->severity),
                                                       "summary", e->summary, "purl", c->purl));
                                counts.total++;
                                counts.by_severity[e->severity]++;
                                break; /* one finding per advisory and package */
                        }
                }
                for (size_t d = 0; docs[d]; d++)
                        free(docs[d]);
                free(docs);
        }
        *ret = TAKE_PTR(arr);
        if (ret_counts)
                *ret_counts = counts;
        return 0;
}
