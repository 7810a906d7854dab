/*
 * stateres.c: what the state keeps of the resources an apply uses: the
 * archives (what each holds, the accounts that wait for disk room before
 * their pull and why, the archives `migrate prune` removed) and the
 * connections to the source (the window load.c adapts, at each change).
 */
#include "compat.h"

#include <jansson.h>

#include "log.h"
#include "now.h"
#include "state.h"
#include "state_int.h"

/*
 * Run `sql` with its parameters bound in order as `types` says: 'i' an
 * int64_t, 'd' a double, 's' a string (NULL for NULL).
 */
static int
run(struct state *s, const char *sql, const char *types, ...)
{
	struct db *db = state_lock_db(s);
	struct db_stmt *st;
	va_list ap;
	int rc = -1;

	if ((st = db_prepare(db, sql, 0))) {
		va_start(ap, types);
		db_bind_va(st, types, ap);
		va_end(ap);
		rc = db_step(st);
		db_finalize(st);
	}
	if (rc != DB_DONE)
		log_warnx("state: %s", db_errmsg(db));
	state_unlock_db(s);
	return rc == DB_DONE ? 0 : -1;
}

int
state_set_archived(struct state *s, struct account *a, int64_t messages,
    int64_t bytes)
{
	if (run(s, "UPDATE accounts SET messages = max(messages, ?2),"
	    " bytes = max(bytes, ?3) WHERE id = ?1", "iii", a->id, messages,
	    bytes) < 0)
		return -1;
	if (a->messages < messages)
		a->messages = messages;
	if (a->bytes < bytes)
		a->bytes = bytes;
	return 0;
}

int
state_set_waiting(struct state *s, const struct account *a, const char *why)
{
	return run(s, "UPDATE accounts SET waiting = ?2 WHERE id = ?1", "is",
	    a->id, why);
}

json_t *
state_waiting(struct state *s)
{
	return state_json_rows(s, "SELECT account, waiting FROM accounts"
	    " WHERE waiting IS NOT NULL AND in_plan <> 0 ORDER BY ord", -1);
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
	return run(s, "UPDATE accounts SET pruned = ?2 WHERE id = ?1", "id",
	    account_id, when);
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

int
state_add_connections(struct state *s, int conns, int ceiling,
    const char *why)
{
	return run(s, "INSERT INTO connections(ts, conns, ceiling, why)"
	    " VALUES(?1, ?2, ?3, ?4)", "diis", now_seconds(), (int64_t)conns,
	    (int64_t)ceiling, why);
}

json_t *
state_connections(struct state *s)
{
	json_t *rows = state_json_rows(s, "SELECT ts, conns, ceiling, why,"
	    " (SELECT count(*) FROM connections WHERE why LIKE 'cut%') AS"
	    " cuts FROM connections ORDER BY id DESC LIMIT 1", -1);
	json_t *last = json_incref(json_array_get(rows, 0));

	json_decref(rows);
	return last;
}
