/*
 * stateview.c: what the state holds, read for people and for finalize:
 * an account found by any of its names, its transitions and helper
 * runs, the failures grouped, the census of waves and states, the last
 * plan applied, the audit lines not yet committed, finalize's findings.
 * The only SQL outside state.c; nothing here changes an account.
 */
#include "compat.h"

#include <pthread.h>

#include <jansson.h>
#include <sqlite3.h>

#include "buf.h"
#include "log.h"
#include "sqlrows.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

/* One statement on the locked database; NULL when it cannot be made. */
static sqlite3_stmt *
prepare(struct state *s, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(state_lock_db(s), sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		log_warnx("state: %s", sqlite3_errmsg(state_lock_db(s)));
		state_unlock_db(s);
		return NULL;
	}
	return st;
}

static void
finish(struct state *s, sqlite3_stmt *st)
{
	sqlite3_finalize(st);
	state_unlock_db(s);
}

int
state_find_account(struct state *s, const char *name, struct account *a)
{
	sqlite3_stmt *q;
	char *addr = NULL;
	int n = 0;

	if (state_account(s, name, a) == 0)
		return 0;
	if (!(q = prepare(s, "SELECT account FROM accounts WHERE login = ?1"
	    " OR substr(account, 1, instr(account, '@') - 1) = ?1")))
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(q) == SQLITE_ROW && n++ == 0)
		addr = state_col_str(q, 0);
	finish(s, q);
	n = n == 1 && state_account(s, addr, a) == 0 ? 0 : -1;
	free(addr);
	return n;
}

/* The rows of `q` as an array of objects, a member per column under its
 * name, of its type; `q` is finished. */
static json_t *
rows_of(struct state *s, sqlite3_stmt *q)
{
	json_t *v = json_array(), *o, *x;
	int i;

	while (sqlite3_step(q) == SQLITE_ROW) {
		o = json_object();
		for (i = 0; i < sqlite3_column_count(q); i++) {
			switch (sqlite3_column_type(q, i)) {
			case SQLITE_INTEGER:
				x = json_integer(sqlite3_column_int64(q, i));
				break;
			case SQLITE_FLOAT:
				x = json_real(sqlite3_column_double(q, i));
				break;
			case SQLITE_NULL:
				x = json_null();
				break;
			default:
				x = json_string((const char *)
				    sqlite3_column_text(q, i));
			}
			json_object_set_new(o, sqlite3_column_name(q, i), x);
		}
		json_array_append_new(v, o);
	}
	finish(s, q);
	return v;
}

json_t *
state_json_rows(struct state *s, const char *sql, int64_t id)
{
	sqlite3_stmt *q;

	if (!(q = prepare(s, sql)))
		return json_array();
	if (id >= 0)
		sqlite3_bind_int64(q, 1, id);
	return rows_of(s, q);
}

json_t *
state_json_rows_text(struct state *s, const char *sql, int n,
    const char *const *params)
{
	sqlite3_stmt *q;
	int i;

	if (!(q = prepare(s, sql)))
		return json_array();
	for (i = 0; i < n; i++)
		sqlite3_bind_text(q, i + 1, params[i], -1, SQLITE_TRANSIENT);
	return rows_of(s, q);
}

json_t *
state_transitions(struct state *s, int64_t account_id)
{
	return state_json_rows(s, "SELECT ts, from_state AS \"from\","
	    " to_state AS \"to\", why, operator FROM transitions WHERE"
	    " account_id = ?1 ORDER BY id", account_id);
}

json_t *
state_runs(struct state *s, int64_t account_id)
{
	return state_json_rows(s, "SELECT helper, step, started,"
	    " ended - started AS seconds, exit, error FROM runs WHERE"
	    " account_id = ?1 ORDER BY id", account_id);
}

json_t *
state_shares_pending(struct state *s)
{
	return state_json_rows(s, "SELECT a.account, r.helper,"
	    " json_extract(r.done,"
	    " '$.shares.pending') AS pending, json_extract(r.done,"
	    " '$.shares.ready') AS ready FROM accounts a JOIN runs r ON r.id IN"
	    " (SELECT max(id) FROM runs WHERE account_id = a.id AND helper IN"
	    " ('jmap-push', 'dav-push') AND json_valid(done) AND"
	    " json_type(done, '$.shares') = 'object' GROUP BY helper) WHERE"
	    " a.in_plan AND json_array_length(r.done, '$.shares.pending') > 0"
	    " ORDER BY a.ord, r.helper DESC", -1);
}

json_t *
state_failures(struct state *s)
{
	return state_json_rows(s, "SELECT coalesce(error_class, '?') AS class,"
	    " substr(replace(coalesce(error, ''), account, '<account>'), 1,"
	    " 160) AS reason, count(*) AS count, group_concat(account, ' ')"
	    " AS accounts FROM (SELECT * FROM accounts WHERE in_plan AND"
	    " state = 'failed' ORDER BY ord) GROUP BY 1, 2 ORDER BY 3 DESC, 1,"
	    " 2", -1);
}

/* Add `n` to the integer `key` of `o`. */
static void
add_to(json_t *o, const char *key, int64_t n)
{
	json_t *t = json_object_get(o, key);

	json_object_set_new(o, key, json_integer(n + (t ?
	    json_integer_value(t) : 0)));
}

json_t *
state_census(struct state *s)
{
	json_t *c = json_pack("{s:{}, s:{}, s:I, s:I, s:I, s:I, s:I}",
	    "waves", "totals", "accounts", (json_int_t)0, "messages",
	    (json_int_t)0, "bytes", (json_int_t)0, "anomalies",
	    (json_int_t)0, "left", (json_int_t)0);
	json_t *waves = json_object_get(c, "waves");
	sqlite3_stmt *q;

	if (!(q = prepare(s, "SELECT coalesce(wave, '-'), state, count(*),"
	    " sum(messages), sum(bytes), sum(anomalies) FROM accounts WHERE"
	    " in_plan GROUP BY 1, 2")))
		fatalx(EX_SOFTWARE, "state: cannot count the accounts");
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *wv = (const char *)sqlite3_column_text(q, 0);
		const char *sn = (const char *)sqlite3_column_text(q, 1);
		int64_t n = sqlite3_column_int64(q, 2);
		json_t *w;

		if (!(w = json_object_get(waves, wv)))
			json_object_set_new(waves, wv, w = json_object());
		json_object_set_new(w, sn, json_integer(n));
		add_to(json_object_get(c, "totals"), sn, n);
		add_to(c, "accounts", n);
		add_to(c, "messages", sqlite3_column_int64(q, 3));
		add_to(c, "bytes", sqlite3_column_int64(q, 4));
		add_to(c, "anomalies", sqlite3_column_int64(q, 5));
		if (strcmp(sn, "migrated") && strcmp(sn, "finalized") &&
		    strcmp(sn, "held") && strcmp(sn, "rolled_back"))
			add_to(c, "left", n);
	}
	finish(s, q);
	return c;
}

int
state_source_sample(struct state *s, int64_t *accounts, int64_t *bytes,
    double *seconds)
{
	json_t *v = state_json_rows(s, "SELECT count(*) AS accounts,"
	    " coalesce(sum(b.n), 0) AS bytes, coalesce(sum(m.n), 0) AS ms"
	    " FROM findings b JOIN findings m ON m.account_id = b.account_id"
	    " AND m.kind = 'sample-ms' WHERE b.kind = 'sample-bytes' AND"
	    " b.n > 0 AND m.n > 0", -1), *row = json_array_get(v, 0);

	*accounts = json_integer_value(json_object_get(row, "accounts"));
	*bytes = json_integer_value(json_object_get(row, "bytes"));
	*seconds = (double)json_integer_value(json_object_get(row, "ms")) /
	    1000;
	json_decref(v);
	return row ? 0 : -1;
}

/*
 * What the ETA is measured on: the accounts that reached migrated after
 * `since`, or when there are none, the last 20 that did.  A sample runs
 * from its first account's first copy to its last account's migration,
 * so accounts moved side by side count once.
 */
int
state_rate_sample(struct state *s, double since, struct rate_sample *r)
{
	sqlite3_stmt *q;
	int pass;

	memset(r, 0, sizeof(*r));
	for (pass = 0; pass < 2 && !r->accounts; pass++) {
		if (!(q = prepare(s, "SELECT count(*), coalesce(sum(bytes), 0),"
		    " min(began), max(finished) FROM (SELECT a.bytes,"
		    " c.ts AS began, a.finished FROM accounts a JOIN"
		    " (SELECT account_id, min(ts) AS ts FROM transitions"
		    " WHERE to_state = 'copying' GROUP BY account_id) c"
		    " ON c.account_id = a.id WHERE a.finished > ?1"
		    " ORDER BY a.finished DESC LIMIT ?2)")))
			return -1;
		sqlite3_bind_double(q, 1, pass ? 0 : since);
		sqlite3_bind_int(q, 2, pass ? 20 : -1);
		if (sqlite3_step(q) == SQLITE_ROW) {
			r->accounts = sqlite3_column_int64(q, 0);
			r->bytes = sqlite3_column_int64(q, 1);
			r->from = sqlite3_column_double(q, 2);
			r->to = sqlite3_column_double(q, 3);
			r->recent = !pass;
		}
		finish(s, q);
	}
	return 0;
}

/*
 * What is left, by wave: {WAVE: {"accounts", "bytes", "unsized"}} of the
 * plan's accounts not yet migrated (nor held or rolled back).  An
 * account weighs what the assessment counted, or what it pulled if that
 * is more; "unsized" are those with neither.  *mean_r is what a sized
 * account of the plan weighs on average.
 */
json_t *
state_left(struct state *s, double *mean_r)
{
	json_t *w = json_object();
	sqlite3_stmt *q;

	*mean_r = 0;
	if (!(q = prepare(s, "SELECT coalesce(wave, '-'), count(*),"
	    " coalesce(sum(max(coalesce(assessed_bytes, 0), bytes)), 0),"
	    " sum(assessed_bytes IS NULL AND bytes = 0) FROM accounts"
	    " WHERE in_plan AND state NOT IN ('migrated', 'finalized',"
	    " 'held', 'rolled_back') GROUP BY 1")))
		return w;
	while (sqlite3_step(q) == SQLITE_ROW)
		json_object_set_new(w, (const char *)sqlite3_column_text(q, 0),
		    json_pack("{s:I, s:I, s:I}", "accounts", (json_int_t)
		    sqlite3_column_int64(q, 1), "bytes", (json_int_t)
		    sqlite3_column_int64(q, 2), "unsized", (json_int_t)
		    sqlite3_column_int64(q, 3)));
	finish(s, q);
	if (!(q = prepare(s, "SELECT coalesce(avg(max(coalesce(assessed_bytes,"
	    " 0), bytes)), 0) FROM accounts WHERE in_plan AND"
	    " (assessed_bytes IS NOT NULL OR bytes > 0)")))
		return w;
	if (sqlite3_step(q) == SQLITE_ROW)
		*mean_r = sqlite3_column_double(q, 0);
	finish(s, q);
	return w;
}

/* What the assessment counted of one account: -1 when it did not. */
void
state_assessed(struct state *s, int64_t account_id, int64_t *messages_r,
    int64_t *bytes_r)
{
	sqlite3_stmt *q;

	*messages_r = *bytes_r = -1;
	if (!(q = prepare(s, "SELECT assessed_messages, assessed_bytes FROM"
	    " accounts WHERE id = ?1 AND assessed_bytes IS NOT NULL")))
		return;
	sqlite3_bind_int64(q, 1, account_id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*messages_r = sqlite3_column_int64(q, 0);
		*bytes_r = sqlite3_column_int64(q, 1);
	}
	finish(s, q);
}

int
state_last_plan(struct state *s, struct plan_rev *r)
{
	sqlite3_stmt *q;
	int found = 0;

	memset(r, 0, sizeof(*r));
	if (!(q = prepare(s, "SELECT id, sha256, path, datetime(applied,"
	    " 'unixepoch', 'localtime') FROM plans ORDER BY id DESC LIMIT 1")))
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW) {
		r->id = sqlite3_column_int(q, 0);
		r->sha256 = state_col_str(q, 1);
		r->path = state_col_str(q, 2);
		r->applied = state_col_str(q, 3);
		found = 1;
	}
	finish(s, q);
	return found;
}

void
plan_rev_release(struct plan_rev *r)
{
	free(r->sha256);
	free(r->path);
	free(r->applied);
	memset(r, 0, sizeof(*r));
}

char *
state_items_text(struct state *s, int64_t account_id, json_t **obj_r)
{
	struct buf b = BUF_INIT;
	sqlite3_stmt *st;
	json_t *o = json_object();

	if ((st = prepare(s, account_id ? "SELECT kind, count FROM items"
	    " WHERE account_id = ?1 ORDER BY kind" : "SELECT kind,"
	    " sum(count) FROM items GROUP BY kind ORDER BY kind"))) {
		sqlite3_bind_int64(st, 1, account_id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(st,
			    0);
			int64_t n = sqlite3_column_int64(st, 1);

			buf_addf(&b, "%s%" PRId64 " %s", b.len ? ", " : "", n,
			    k);
			json_object_set_new(o, k, json_integer(n));
		}
		finish(s, st);
	}
	if (obj_r)
		*obj_r = o;
	else
		json_decref(o);
	return buf_detach(&b, NULL);
}

static const struct sql_col audit_cols[] = {
	SQL_COL(SQL_NUM, struct audit_line, id),
	SQL_COL(SQL_STR_NULL, struct audit_line, kind),
	SQL_COL(SQL_STR_NULL, struct audit_line, line),
};
static const struct sql_row audit_row =
    SQL_ROW(struct audit_line, audit_cols, NULL);

int
state_audit_pending(struct state *s, size_t max, struct audit_line **v_r,
    size_t *nr_r)
{
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;

	*v_r = NULL;
	*nr_r = 0;
	if ((st = prepare(s, "SELECT id, kind, line FROM audit_queue ORDER"
	    " BY id LIMIT ?1"))) {
		sqlite3_bind_int64(st, 1, (int64_t)max);
		*v_r = sql_rows(st, &audit_row, nr_r, &rc);
		finish(s, st);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

int
state_finalize_was_ok(struct state *s, const char *what)
{
	sqlite3_stmt *st;
	int ok = -1;

	if (!(st = prepare(s, "SELECT ok FROM finalize_items WHERE"
	    " what = ?1")))
		return -1;
	sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = sqlite3_column_int(st, 0);
	finish(s, st);
	return ok;
}

int
state_finalize_set(struct state *s, json_t *items)
{
	sqlite3 *db = state_lock_db(s);
	sqlite3_stmt *st;
	json_t *it;
	size_t i;
	int ret = 0;

	if (sqlite3_exec(db, "BEGIN; DELETE FROM finalize_items", NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(db, "INSERT INTO"
	    " finalize_items(what, ok, detail, time) VALUES(?1, ?2, ?3, ?4)",
	    -1, &st, NULL) != SQLITE_OK) {
		log_warnx("state: cannot record what finalize found: %s",
		    sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		state_unlock_db(s);
		return -1;
	}
	json_array_foreach(items, i, it) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, json_string_value(json_object_get(it,
		    "what")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, json_is_true(json_object_get(it,
		    "ok")));
		sqlite3_bind_text(st, 3, json_string_value(json_object_get(it,
		    "detail")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE)
			ret = -1;
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, ret ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		ret = -1;
	state_unlock_db(s);
	return ret;
}

json_t *
state_finalize_items(struct state *s)
{
	sqlite3_stmt *st;
	json_t *v = NULL;

	if (!(st = prepare(s, "SELECT what, ok, detail, time FROM"
	    " finalize_items ORDER BY what = 'accounts' DESC, what")))
		return NULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!v)
			v = json_array();
		json_array_append_new(v, json_pack("{s:s, s:b, s:s, s:I}",
		    "what", sqlite3_column_text(st, 0), "ok",
		    sqlite3_column_int(st, 1), "detail",
		    sqlite3_column_text(st, 2), "time",
		    (json_int_t)sqlite3_column_int64(st, 3)));
	}
	finish(s, st);
	return v;
}

void
audit_lines_free(struct audit_line *v, size_t nr)
{
	sql_rows_free(v, nr, &audit_row);
}
