/*
 * db_int.h: what db.c asks of an engine (dbsqlite.c, dbpg.c).
 */
#ifndef MIGRATE_DB_INT_H
#define MIGRATE_DB_INT_H

#include "db.h"

struct db_ops {
	void (*close)(struct db *db);
	const char *(*errmsg)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	int (*user_version)(struct db *db);
	int (*migrate)(struct db *db, const char *sql, int version);
	struct db_stmt *(*prepare)(struct db *db, const char *sql, int keep);
	void (*finalize)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	/* `type` DB_INT (v), DB_REAL (d), DB_TEXT (t, NULL for NULL) */
	void (*bind)(struct db_stmt *st, int i, enum db_type type, int64_t v,
	    double d, const char *t);
	int (*step)(struct db_stmt *st);
	int (*send)(struct db_stmt *st, int counted);
	int64_t (*changes)(struct db_stmt *st);
	int (*columns)(struct db_stmt *st);
	const char *(*col_name)(struct db_stmt *st, int i);
	enum db_type (*col_type)(struct db_stmt *st, int i);
	int64_t (*col_int)(struct db_stmt *st, int i);
	double (*col_real)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
};

/* Every engine's connection and statement begin with these. */
struct db {
	const struct db_ops *ops;
	int pg;		/* PostgreSQL's */
};

struct db_stmt {
	struct db *db;
};

int dbsqlite_open(struct db **dbp, const char *path, struct buf *err);
int dbpg_open(struct db **dbp, const char *url, struct buf *err);

#endif
