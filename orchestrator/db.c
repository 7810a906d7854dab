/*
 * db.c: the state's database, whichever engine holds it (db.h).
 */
#include "compat.h"

#include <strings.h>

#include "db_int.h"
#include "log.h"
#include "xalloc.h"

int
db_where_is_url(const char *where)
{
	return !strncasecmp(where, "postgresql://", 13) ||
	    !strncasecmp(where, "postgres://", 11);
}

int
db_open(struct db **dbp, const char *where, struct buf *err)
{
	return db_where_is_url(where) ? dbpg_open(dbp, where, err) :
	    dbsqlite_open(dbp, where, err);
}

void
db_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

int
db_is_pg(const struct db *db)
{
	return db->pg;
}

const char *
db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

int
db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int
db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int
db_commit(struct db *db)
{
	return db->ops->commit(db);
}

void
db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

int
db_user_version(struct db *db)
{
	return db->ops->user_version(db);
}

int
db_migrate(struct db *db, const char *sql, int version)
{
	return db->ops->migrate(db, sql, version);
}

struct db_stmt *
db_prepare(struct db *db, const char *sql, int keep)
{
	return db->ops->prepare(db, sql, keep);
}

void
db_finalize(struct db_stmt *st)
{
	if (st)
		st->db->ops->finalize(st);
}

void
db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

void
db_bind_int(struct db_stmt *st, int i, int64_t v)
{
	st->db->ops->bind(st, i, DB_INT, v, 0, NULL);
}

void
db_bind_real(struct db_stmt *st, int i, double v)
{
	st->db->ops->bind(st, i, DB_REAL, 0, v, NULL);
}

void
db_bind_text(struct db_stmt *st, int i, const char *v)
{
	st->db->ops->bind(st, i, DB_TEXT, 0, 0, v);
}

void
db_bind_va(struct db_stmt *st, const char *types, va_list ap)
{
	int i;

	for (i = 0; types[i]; i++)
		switch (types[i]) {
		case 'i':
			db_bind_int(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'n':
			db_bind_int(st, i + 1, va_arg(ap, int));
			break;
		case 'd':
			db_bind_real(st, i + 1, va_arg(ap, double));
			break;
		default:
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		}
}

int
db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

int
db_send(struct db_stmt *st)
{
	return st->db->ops->send(st, 0);
}

int
db_send_counted(struct db_stmt *st)
{
	return st->db->ops->send(st, 1);
}

int64_t
db_changes(struct db_stmt *st)
{
	return st->db->ops->changes(st);
}

int
db_columns(struct db_stmt *st)
{
	return st->db->ops->columns(st);
}

const char *
db_col_name(struct db_stmt *st, int i)
{
	return st->db->ops->col_name(st, i);
}

enum db_type
db_col_type(struct db_stmt *st, int i)
{
	return st->db->ops->col_type(st, i);
}

int64_t
db_col_int(struct db_stmt *st, int i)
{
	return st->db->ops->col_int(st, i);
}

double
db_col_real(struct db_stmt *st, int i)
{
	return st->db->ops->col_real(st, i);
}

const char *
db_col_text(struct db_stmt *st, int i)
{
	return st->db->ops->col_text(st, i);
}

char *
db_col_str(struct db_stmt *st, int i)
{
	const char *t = db_col_text(st, i);

	return t ? xstrdup(t) : NULL;
}

json_t *
db_json_rows(struct db_stmt *st)
{
	json_t *v = json_array(), *o, *x;
	int i, rc;

	while ((rc = db_step(st)) == DB_ROW) {
		o = json_object();
		for (i = 0; i < db_columns(st); i++) {
			switch (db_col_type(st, i)) {
			case DB_INT:
				x = json_integer(db_col_int(st, i));
				break;
			case DB_REAL:
				x = json_real(db_col_real(st, i));
				break;
			case DB_NULL:
				x = json_null();
				break;
			default:
				x = json_string(db_col_text(st, i));
			}
			json_object_set_new(o, db_col_name(st, i), x);
		}
		json_array_append_new(v, o);
	}
	if (rc < 0)
		log_warnx("state: %s", db_errmsg(st->db));
	return v;
}
