/*
 * mapsqlite.c: the mapping store in a small SQLite file of its own, the
 * default engine (mapping_int.h).
 */
#include "compat.h"

#include <sqlite3.h>

#include "buf.h"
#include "mapping_int.h"
#include "sqlrows.h"
#include "xalloc.h"

struct mapsqlite {
	struct mapping m;
	sqlite3 *db;
	int no_uidls;		/* a reader of a store older than POP3 ids */
};

#define DB(m)	(((struct mapsqlite *)(m))->db)

static const char schema[] =
	"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS routes(identifier TEXT PRIMARY KEY,"
	"  account TEXT NOT NULL, route TEXT NOT NULL"
	"  CHECK (route IN ('source', 'destination')),"
	"  version INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
	/* a migrated account's POP3 ids: the destination's, and the
	 * source's for the same message (pop3-uidl(8)) */
	"CREATE TABLE IF NOT EXISTS pop3_uidls(account TEXT NOT NULL,"
	"  dest TEXT NOT NULL, src TEXT NOT NULL, PRIMARY KEY(account, dest))"
	"  WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('version', 0);"
	"INSERT OR IGNORE INTO meta VALUES('format', 1);";

static int
db_error(struct mapping *m, const char *what, struct buf *err)
{
	buf_addf(err, "mapping store: %s: %s", what, sqlite3_errmsg(DB(m)));
	return -1;
}

static int
has_table(struct mapping *m, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(DB(m), "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = ?1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK)
		found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static void
sq_close(struct mapping *m)
{
	sqlite3_close(DB(m));
	free(m);
}

static int64_t
sq_version(struct mapping *m)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(DB(m), "SELECT value FROM meta"
	    " WHERE key = 'version'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Write one row unless it already says so, with the version this
 * transaction will bump the store to.
 */
static int
sq_put_route(struct mapping *m, const char *id, const char *account,
    enum route r, int *changed, struct buf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(DB(m), "INSERT INTO routes(identifier,"
	    " account, route, version, updated) VALUES(?1, ?2, ?3,"
	    " (SELECT value + 1 FROM meta WHERE key = 'version'),"
	    " strftime('%s', 'now')) ON CONFLICT(identifier) DO UPDATE SET"
	    " account = ?2, route = ?3, version = excluded.version,"
	    " updated = excluded.updated"
	    " WHERE route != ?3 OR account != ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, route_name(r), -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(m, "cannot write a route", err);
	if (sqlite3_changes(DB(m)) > 0)
		++*changed;
	return 0;
}

static int
sq_bump(struct mapping *m, struct buf *err)
{
	if (sqlite3_exec(DB(m), "UPDATE meta SET value = value + 1"
	    " WHERE key = 'version'", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(m, "cannot count", err);
	return 0;
}

static int
sq_get_default(struct mapping *m, enum route *r, struct buf *err)
{
	sqlite3_stmt *st;
	int rc, ret = 1;

	if (sqlite3_prepare_v2(DB(m), "SELECT value FROM meta"
	    " WHERE key = 'default'", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = route_parse((const char *)sqlite3_column_text(st, 0), r);
	else if (rc != SQLITE_DONE)
		ret = db_error(m, "cannot read the default route", err);
	sqlite3_finalize(st);
	return ret;
}

static int
sq_put_default(struct mapping *m, enum route r, struct buf *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(DB(m), "INSERT OR REPLACE INTO meta"
	    " VALUES('default', ?1)", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, route_name(r), -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(m, "cannot write the default route", err);
	return 0;
}

static int
sq_begin(struct mapping *m, struct buf *err)
{
	if (sqlite3_exec(DB(m), "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_error(m, "cannot begin", err);
	return 0;
}

static int
sq_end(struct mapping *m, int ok, struct buf *err)
{
	if (!ok) {
		sqlite3_exec(DB(m), "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(DB(m), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(m, "cannot commit", err);
		sqlite3_exec(DB(m), "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static int
sq_put_uidls(struct mapping *m, const char *acc, const char *const *dest,
    const char *const *src, size_t nr, struct buf *err)
{
	sqlite3_stmt *s = NULL;
	int ok;
	size_t i;

	ok = sqlite3_prepare_v2(DB(m), "DELETE FROM pop3_uidls WHERE account"
	    " = ?1", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, acc, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	s = NULL;
	if (ok)
		ok = sqlite3_prepare_v2(DB(m), "INSERT OR REPLACE INTO"
		    " pop3_uidls(account, dest, src) VALUES(?1, ?2, ?3)", -1,
		    &s, NULL) == SQLITE_OK;
	for (i = 0; ok && i < nr; i++) {
		ok = sqlite3_bind_text(s, 1, acc, -1, SQLITE_STATIC) ==
		    SQLITE_OK && sqlite3_bind_text(s, 2, dest[i], -1,
		    SQLITE_STATIC) == SQLITE_OK && sqlite3_bind_text(s, 3,
		    src[i], -1, SQLITE_STATIC) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_DONE;
		sqlite3_reset(s);
	}
	if (!ok)
		db_error(m, "cannot record the POP3 ids", err);
	sqlite3_finalize(s);
	return ok ? 0 : -1;
}

static int
sq_uidls(struct mapping *m, const char *id, struct uidl_pair **pairs_r,
    size_t *nr_r, struct buf *err)
{
	struct uidl_pair *v = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc;

	if (((struct mapsqlite *)m)->no_uidls)
		return 0;
	/* an identifier without a row is its own account (the default
	 * route); BINARY order is strcmp(3)'s, for bsearch(3) */
	if (sqlite3_prepare_v2(DB(m), "SELECT dest, src FROM pop3_uidls"
	    " WHERE account = coalesce((SELECT account FROM routes"
	    " WHERE identifier = ?1), ?1) ORDER BY dest", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr].dest = xstrdup((const char *)sqlite3_column_text(st, 0));
		v[nr++].src = xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		uidl_pairs_free(v, nr);
		return db_error(m, "cannot read the POP3 ids", err);
	}
	*pairs_r = v;
	*nr_r = nr;
	return 0;
}

static int
sq_rows(struct mapping *m, struct row **rows_r, size_t *nr_r,
    struct buf *err)
{
	struct row *rows = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(DB(m), "SELECT identifier, account, route"
	    " FROM routes ORDER BY identifier", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		row_add(&rows, &nr, &alloc,
		    (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rows_free(rows, nr);
		return db_error(m, "cannot read the routes", err);
	}
	*rows_r = rows;
	*nr_r = nr;
	return 0;
}

static int
sq_lookup(struct mapping *m, const char *id, enum route *r, struct buf *err)
{
	sqlite3_stmt *st;
	int rc, ret = 1;

	if (sqlite3_prepare_v2(DB(m), "SELECT route FROM routes"
	    " WHERE identifier = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = route_parse((const char *)sqlite3_column_text(st, 0),
		    r) < 0 ? -1 : 0;
	else if (rc != SQLITE_DONE)
		ret = db_error(m, "cannot look up", err);
	sqlite3_finalize(st);
	return ret;
}

static const struct mapping_ops sqlite_ops = {
	.close = sq_close, .begin = sq_begin, .end = sq_end,
	.version = sq_version, .bump = sq_bump, .lookup = sq_lookup,
	.put_route = sq_put_route, .rows = sq_rows,
	.get_default = sq_get_default, .put_default = sq_put_default,
	.put_uidls = sq_put_uidls, .uidls = sq_uidls, .tell = NULL,
};

/*
 * A writer makes the schema and keeps the WAL files when it closes
 * (SQLITE_FCNTL_PERSIST_WAL), so that a reader that may not write the
 * store or its directory, migrate-proxy once it has dropped root, can
 * still open it: a read-only connection to a WAL database needs its
 * -wal and -shm files to exist.  A reader never writes, not even the
 * schema; a store from before pop3_uidls simply has no pairs.
 */
int
mapsqlite_open(struct mapping **mp, const char *path, int create,
    struct buf *err)
{
	struct mapsqlite *s = xcalloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_NOMUTEX, persist = 1;

	s->m.ops = &sqlite_ops;
	flags |= create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	    SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open the mapping store '%s': %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->m);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (create && (sqlite3_file_control(s->db, "main",
	    SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK ||
	    sql_exec_setup(s->db, schema) != SQLITE_OK)) {
		buf_addf(err, "'%s': ", path);
		db_error(&s->m, "cannot set up", err);
		sq_close(&s->m);
		return -1;
	}
	s->no_uidls = !create && !has_table(&s->m, "pop3_uidls");
	*mp = &s->m;
	return 0;
}
