/*
 * dbsqlite.c: the state in a SQLite file, the default (db.h).
 */
#include "compat.h"

#include <sqlite3.h>

#include "db_int.h"
#include "log.h"
#include "sqlrows.h"
#include "xalloc.h"

struct sdb {
	struct db db;
	sqlite3 *h;
};

struct sstmt {
	struct db_stmt st;
	sqlite3_stmt *h;
	int64_t changes;
};

#define H(db)	(((struct sdb *)(db))->h)
#define S(st)	(((struct sstmt *)(st))->h)

static void
sq_close(struct db *db)
{
	sqlite3_close(H(db));
	free(db);
}

static const char *
sq_errmsg(struct db *db)
{
	return sqlite3_errmsg(H(db));
}

static int
sq_exec(struct db *db, const char *sql)
{
	return sqlite3_exec(H(db), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 :
	    -1;
}

static int
sq_begin(struct db *db)
{
	return sq_exec(db, "BEGIN IMMEDIATE");
}

static int
sq_commit(struct db *db)
{
	if (sq_exec(db, "COMMIT") == 0)
		return 0;
	log_warnx("state: cannot commit: %s", sqlite3_errmsg(H(db)));
	sq_exec(db, "ROLLBACK");
	return -1;
}

static void
sq_rollback(struct db *db)
{
	sq_exec(db, "ROLLBACK");
}

static int
sq_user_version(struct db *db)
{
	sqlite3_stmt *st;
	int have = 0;

	if (sqlite3_prepare_v2(H(db), "PRAGMA user_version", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return have;
}

static int
sq_migrate(struct db *db, const char *sql, int version)
{
	char *set = xasprintf("%s; PRAGMA user_version = %d", sql, version);
	int rc = sq_exec(db, set);

	free(set);
	return rc;
}

static struct db_stmt *
sq_prepare(struct db *db, const char *sql, int keep)
{
	struct sstmt *st = xcalloc(1, sizeof(*st));

	st->st.db = db;
	if (sqlite3_prepare_v3(H(db), sql, -1, keep ?
	    SQLITE_PREPARE_PERSISTENT : 0, &st->h, NULL) != SQLITE_OK) {
		free(st);
		return NULL;
	}
	return &st->st;
}

static void
sq_finalize(struct db_stmt *st)
{
	sqlite3_finalize(S(st));
	free(st);
}

static void
sq_reset(struct db_stmt *st)
{
	sqlite3_reset(S(st));
	sqlite3_clear_bindings(S(st));
}

static void
sq_bind(struct db_stmt *st, int i, enum db_type type, int64_t v, double d,
    const char *t)
{
	switch (type) {
	case DB_INT:
		sqlite3_bind_int64(S(st), i, v);
		break;
	case DB_REAL:
		sqlite3_bind_double(S(st), i, d);
		break;
	default:
		sqlite3_bind_text(S(st), i, t, -1, SQLITE_TRANSIENT);
	}
}

static int
sq_step(struct db_stmt *st)
{
	switch (sqlite3_step(S(st))) {
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		((struct sstmt *)st)->changes = sqlite3_changes(H(st->db));
		return DB_DONE;
	default:
		return -1;
	}
}

static int
sq_send(struct db_stmt *st, int counted)
{
	(void)counted;	/* it runs now */
	return sq_step(st) < 0 ? -1 : 0;
}

static int64_t
sq_changes(struct db_stmt *st)
{
	return ((struct sstmt *)st)->changes;
}

static int
sq_columns(struct db_stmt *st)
{
	return sqlite3_column_count(S(st));
}

static const char *
sq_col_name(struct db_stmt *st, int i)
{
	return sqlite3_column_name(S(st), i);
}

static enum db_type
sq_col_type(struct db_stmt *st, int i)
{
	switch (sqlite3_column_type(S(st), i)) {
	case SQLITE_INTEGER:
		return DB_INT;
	case SQLITE_FLOAT:
		return DB_REAL;
	case SQLITE_NULL:
		return DB_NULL;
	default:
		return DB_TEXT;
	}
}

static int64_t
sq_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(S(st), i);
}

static double
sq_col_real(struct db_stmt *st, int i)
{
	return sqlite3_column_double(S(st), i);
}

static const char *
sq_col_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(S(st), i);
}

static const struct db_ops sqlite_ops = {
	sq_close, sq_errmsg, sq_exec, sq_begin, sq_commit, sq_rollback,
	sq_user_version, sq_migrate, sq_prepare, sq_finalize, sq_reset,
	sq_bind, sq_step, sq_send, sq_changes, sq_columns, sq_col_name, sq_col_type,
	sq_col_int, sq_col_real, sq_col_text,
};

int
dbsqlite_open(struct db **dbp, const char *path, struct buf *err)
{
	struct sdb *s = xcalloc(1, sizeof(*s));

	s->db.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open '%s': %s", path,
		    s->h ? sqlite3_errmsg(s->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->h, 10000);
	if (sql_exec_setup(s->h, "PRAGMA journal_mode = WAL;"
	    " PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON") !=
	    SQLITE_OK) {
		buf_addf(err, "'%s': %s", path, sqlite3_errmsg(s->h));
		goto fail;
	}
	*dbp = &s->db;
	return 0;
fail:
	sq_close(&s->db);
	return -1;
}
