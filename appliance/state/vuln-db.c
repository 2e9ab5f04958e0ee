/* vuln-db.h: the offline vulnerability database's rows. */
#include "vuln-db.h"

#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "sqlite-util.h"

int model_vuln_put(sqlite3 *db, const char *id, const char *severity, const char *summary,
                   const char *document, const char *const *ecosystems, const char *const *names, size_t n) {
        int r;

        r = sqlite_run(db, "DELETE FROM vulns WHERE id = ?1", SQL_ARGS(SQL_TEXT(id)));
        if (r >= 0)
                r = sqlite_run(
                        db, "INSERT INTO vulns(id, severity, summary, document) VALUES (?1, ?2, ?3, ?4)",
                        SQL_ARGS(SQL_TEXT(id), SQL_TEXT(severity), SQL_TEXT(summary), SQL_TEXT(document)));
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sqlite_run(
                        db,
                        "INSERT OR IGNORE INTO vuln_packages(vuln_id, ecosystem, name) VALUES (?1, ?2, ?3)",
                        SQL_ARGS(SQL_TEXT(id), SQL_TEXT(ecosystems[i]), SQL_TEXT(names[i])));
        return r < 0 ? r : 0;
}

int model_vuln_documents(sqlite3 *db, const char *ecosystem, const char *name, char ***ret) {
        return sqlite_list_strv(db,
                                "SELECT v.document FROM vuln_packages p JOIN vulns v ON v.id = p.vuln_id"
                                " WHERE p.ecosystem = ?1 AND p.name = ?2 ORDER BY v.id",
                                SQL_ARGS(SQL_TEXT(ecosystem), SQL_TEXT(name)), ret);
}

static const SqliteField import_fields[] = {
        SQL_FIELD(ModelVulnImport, id),          SQL_FIELD(ModelVulnImport, source),
        SQL_FIELD(ModelVulnImport, entries),     SQL_FIELD(ModelVulnImport, skipped),
        SQL_FIELD(ModelVulnImport, imported_at),
};
static const SqliteRowType import_row = SQL_ROW_TYPE(ModelVulnImport, import_fields);

void model_vuln_imports_free(ModelVulnImport *v, size_t n) {
        sqlite_rows_free(&import_row, v, n);
}

int model_vuln_import_record(sqlite3 *db, const char *source, int64_t entries, int64_t skipped) {
        return sqlite_run(
                db,
                "INSERT INTO vulndb_imports(source, entries, skipped, imported_at) VALUES (?1, ?2, ?3, ?4)",
                SQL_ARGS(SQL_TEXT(source), SQL_INT(entries), SQL_INT(skipped), SQL_INT(sqlite_now_sec())));
}

int model_vuln_imports_list(sqlite3 *db, ModelVulnImport **ret, size_t *ret_n) {
        return sqlite_list(
                db, &import_row,
                "SELECT id, source, entries, skipped, imported_at FROM vulndb_imports ORDER BY id DESC",
                SQL_NO_ARGS, ret, ret_n);
}

int model_vuln_count(sqlite3 *db, int64_t *ret) {
        return sqlite_get_int64(db, "SELECT count(*) FROM vulns", SQL_NO_ARGS, ret);
}
