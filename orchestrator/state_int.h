/*
 * state_int.h: for the state's own files (state.c, stateview.c,
 * statereport.c, stateres.c) only:
 * the database under the state's lock, and a column as a string.
 */
#ifndef MIGRATE_STATE_INT_H
#define MIGRATE_STATE_INT_H

#include <jansson.h>
#include <sqlite3.h>

struct state;

/* The database, with the state's lock taken; state_unlock_db() gives it
 * back. */
sqlite3 *state_lock_db(struct state *s);
void state_unlock_db(struct state *s);

/* The rows of `sql` (?1 bound to `id` unless it is negative) as an array
 * of objects, a member per column under its name, of its type. */
json_t *state_json_rows(struct state *s, const char *sql, int64_t id);
/* The same with the strings `params` (NULL for NULL) bound to ?1...?n. */
json_t *state_json_rows_text(struct state *s, const char *sql, int n,
    const char *const *params);

/* Column `i` as a new string, NULL for NULL. */
char *state_col_str(sqlite3_stmt *st, int i);

#endif
