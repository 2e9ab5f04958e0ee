/* The offline vulnerability database in slipway.db (migration 7): OSV advisories as imported, and the
 * (ecosystem, package) pairs each names for the scan's lookups. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Stores (replacing one of the same id) an advisory: its severity name, summary (may be NULL), document
 * (the OSV JSON), and the n (ecosystem base, name) pairs it affects.  Call inside a transaction. */
int model_vuln_put(sqlite3 *db, const char *id, const char *severity, const char *summary,
                   const char *document, const char *const *ecosystems, const char *const *names, size_t n);
/* The documents of every advisory naming (ecosystem, name), NULL-terminated in *ret (strv). */
int model_vuln_documents(sqlite3 *db, const char *ecosystem, const char *name, char ***ret);

typedef struct ModelVulnImport {
        int64_t id;
        char *source;
        int64_t entries, skipped, imported_at;
} ModelVulnImport;

void model_vuln_imports_free(ModelVulnImport *v, size_t n);
int model_vuln_import_record(sqlite3 *db, const char *source, int64_t entries, int64_t skipped);
/* Newest first. */
int model_vuln_imports_list(sqlite3 *db, ModelVulnImport **ret, size_t *ret_n);
int model_vuln_count(sqlite3 *db, int64_t *ret);
