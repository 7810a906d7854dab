/*
 * sqlrows.h: a statement's rows read into an array, for the modules that
 * own a SQLite database (the archive index, the orchestrator's state).
 *
 * A row is described once, as the columns of the SELECT in order and the
 * field each goes to; the same description reads the rows and frees them.
 */
#ifndef MIGRATE_SQLROWS_H
#define MIGRATE_SQLROWS_H

#include <stddef.h>

#include <sqlite3.h>

enum sql_type {
	SQL_NUM,	/* an integer field of 1, 2, 4 or 8 bytes */
	SQL_REAL,	/* a double */
	SQL_STR,	/* a char * of its own; "" for NULL */
	SQL_STR_NULL,	/* the same, NULL for NULL */
	SQL_CHAR,	/* a char: the text's first byte, 0 for none */
	SQL_CHARS,	/* a char array: the text, cut to fit */
	SQL_SKIP,	/* none: the row's fill reads it */
};

struct sql_col {
	enum sql_type type;
	size_t off, size;	/* the field's */
};

#define SQL_COL(type, st, field) \
	{ (type), offsetof(st, field), sizeof(((st *)0)->field) }

struct sql_row {
	size_t size;			/* of an element */
	const struct sql_col *cols;	/* in the SELECT's order */
	size_t nr;
	/* what the columns cannot say (may be NULL): after them */
	void (*fill)(sqlite3_stmt *s, void *elem);
};

#define SQL_ROW(st, cols, fill) \
	{ sizeof(st), (cols), sizeof(cols) / sizeof((cols)[0]), (fill) }

/*
 * Step `s` to its end, each row into a new zeroed element.  Returns the
 * array (NULL when there is no row) with its count in *nr_r, and in *rc_r
 * the last sqlite3_step() code: SQLITE_DONE when every row was read.  On
 * any other code the array holds the rows read so far, to be freed as
 * usual.  `s` stays the caller's (reset or finalize).
 */
void *sql_rows(sqlite3_stmt *s, const struct sql_row *row, size_t *nr_r,
    int *rc_r);

/* Read the current row into `elem` (zeroed first). */
void sql_row_read(sqlite3_stmt *s, const struct sql_row *row, void *elem);

/* Free the strings of `nr` elements, then the array. */
void sql_rows_free(void *v, size_t nr, const struct sql_row *row);

/* Free the strings of one element, and zero it. */
void sql_row_clear(void *elem, const struct sql_row *row);

/*
 * sqlite3_exec() of `sql`, which sets a database's journal mode or makes
 * its schema, again for up to ten seconds while another process setting
 * up the same new database holds it: SQLite answers a change of journal
 * mode with SQLITE_BUSY at once, without the wait its busy timeout says.
 */
int sql_exec_setup(sqlite3 *db, const char *sql);

#endif
