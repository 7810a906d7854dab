/*
 * statedisk.c: what the state keeps of the archives' disk: the accounts
 * that wait for room before their pull and why, and the archives that
 * `migrate prune` removed.
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "state.h"
#include "state_int.h"

/* Run `sql` with ?1 the account's id, ?2 `text` and ?3 `x`. */
static int
update(struct state *s, const char *sql, int64_t id, const char *text,
    double x)
{
	sqlite3 *db = state_lock_db(s);
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, x);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE)
		log_warnx("state: %s", sqlite3_errmsg(db));
	state_unlock_db(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
state_set_waiting(struct state *s, const struct account *a, const char *why)
{
	return update(s, "UPDATE accounts SET waiting = ?2 WHERE id = ?1",
	    a->id, why, 0);
}

json_t *
state_waiting(struct state *s)
{
	return state_json_rows(s, "SELECT account, waiting FROM accounts"
	    " WHERE waiting IS NOT NULL AND in_plan ORDER BY ord", -1);
}

json_t *
state_prunable(struct state *s)
{
	return state_json_rows(s, "SELECT id, account, entered AS finalized"
	    " FROM accounts WHERE state = 'finalized' AND pruned IS NULL"
	    " ORDER BY entered, ord", -1);
}

int
state_set_pruned(struct state *s, int64_t account_id, double when)
{
	return update(s, "UPDATE accounts SET pruned = ?3 WHERE id = ?1",
	    account_id, NULL, when);
}

double
state_pruned(struct state *s, int64_t account_id)
{
	json_t *rows = state_json_rows(s, "SELECT pruned FROM accounts WHERE"
	    " id = ?1 AND pruned IS NOT NULL", account_id);
	double when = json_number_value(json_object_get(json_array_get(rows,
	    0), "pruned"));

	json_decref(rows);
	return when;
}
