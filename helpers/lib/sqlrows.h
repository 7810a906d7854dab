/*
 * sqlrows.h: a statement's rows read into an array, for the modules that
 * own a SQLite database (the archive index, the orchestrator's state).
 */
#ifndef MIGRATE_SQLROWS_H
#define MIGRATE_SQLROWS_H

#include <stddef.h>

#include <sqlite3.h>

/* Fill the zeroed element `elem` from the statement's current row. */
typedef void (*sql_fill_fn)(sqlite3_stmt *s, void *elem);

/*
 * Step `s` to its end, each row into a new element of `size` bytes filled
 * by `fill`.  Returns the array (NULL when there is no row) with its count
 * in *nr_r, and in *rc_r the last sqlite3_step() code: SQLITE_DONE when
 * every row was read.  On any other code the array holds the rows read so
 * far, to be freed as usual.  `s` stays the caller's (reset or finalize).
 */
void *sql_rows(sqlite3_stmt *s, size_t size, sql_fill_fn fill, size_t *nr_r,
    int *rc_r);

#endif
