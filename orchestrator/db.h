/*
 * db.h: the state's database, SQLite or PostgreSQL, behind one interface
 * (state.c and its files only).
 *
 * A statement is written once, in SQLite's words, with ?1...?n for its
 * parameters; the PostgreSQL engine makes them $1...$n, and the functions
 * of SQLite the state's queries use (json_extract, instr, group_concat,
 * scalar max and min...) exist in its schema (dbpg.c).  Integers stand for
 * booleans in both, so a query says "in_plan <> 0", never "in_plan".
 *
 * A connection is used by one thread at a time: the state's lock.
 */
#ifndef MIGRATE_DB_H
#define MIGRATE_DB_H

#include <stdarg.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

struct db;
struct db_stmt;

enum db_type { DB_NULL, DB_INT, DB_REAL, DB_TEXT };

/* a step's outcome */
#define DB_ROW	1
#define DB_DONE	0

/*
 * Open the database `where` names: a postgresql:// (or postgres://) URL,
 * or else the path of a SQLite file, made if it does not exist.
 */
int db_open(struct db **dbp, const char *where, struct buf *err);
void db_close(struct db *db);
int db_is_pg(const struct db *db);
/* The last error, for messages. */
const char *db_errmsg(struct db *db);

/* Statements without parameters, ';' between them. */
int db_exec(struct db *db, const char *sql);
/* A writer's transaction: SQLite's BEGIN IMMEDIATE; commit fails, and
 * rolls back, when a statement in it failed. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* The schema's version: PRAGMA user_version, or meta's row. */
int db_user_version(struct db *db);
/* In the transaction: set it, after the migration's `sql` ran. */
int db_migrate(struct db *db, const char *sql, int version);

/*
 * A statement; `keep` makes it last the connection's life (prepared once,
 * reset by db_reset()).  NULL when it cannot be made (db_errmsg()).
 */
struct db_stmt *db_prepare(struct db *db, const char *sql, int keep);
void db_finalize(struct db_stmt *st);
/* Unbind, and start again. */
void db_reset(struct db_stmt *st);
void db_bind_int(struct db_stmt *st, int i, int64_t v);
void db_bind_real(struct db_stmt *st, int i, double v);
void db_bind_text(struct db_stmt *st, int i, const char *v); /* NULL: NULL */
/* Bind ?1...?n in order as `types` says: 'i' an int64_t, 'n' an int, 'd'
 * a double, 's' a string (NULL for NULL). */
void db_bind_va(struct db_stmt *st, const char *types, va_list ap);
/* DB_ROW, DB_DONE, or -1 (db_errmsg()) */
int db_step(struct db_stmt *st);
/*
 * Step a statement that returns no row, and whose outcome may wait: in a
 * transaction, PostgreSQL sends it with the next ones, in one pipeline,
 * and a failure shows at the commit, which then fails; SQLite runs it
 * now.  0, or -1 (db_errmsg()).
 */
int db_send(struct db_stmt *st);
/* The same, and what it changed is kept for db_changes(), which reads
 * the pipeline if the commit has not: a guard's answer in the commit's
 * round trip. */
int db_send_counted(struct db_stmt *st);
/* Rows the last DB_DONE of an INSERT, UPDATE or DELETE changed. */
int64_t db_changes(struct db_stmt *st);

int db_columns(struct db_stmt *st);
const char *db_col_name(struct db_stmt *st, int i);
enum db_type db_col_type(struct db_stmt *st, int i);
int64_t db_col_int(struct db_stmt *st, int i);
double db_col_real(struct db_stmt *st, int i);
const char *db_col_text(struct db_stmt *st, int i);	/* NULL for NULL */
char *db_col_str(struct db_stmt *st, int i);	/* new; NULL for NULL */

/* Step to the end: each row an object, a member per column, of its
 * type; an error is logged.  The statement stays the caller's. */
json_t *db_json_rows(struct db_stmt *st);

/* Whether `where` is a PostgreSQL URL. */
int db_where_is_url(const char *where);

#endif
