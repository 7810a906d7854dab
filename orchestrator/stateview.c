/*
 * stateview.c: what the state holds, read for people and for finalize:
 * an account found by any of its names, its transitions and helper
 * runs, the failures grouped, the census of waves and states, the last
 * plan applied, the audit lines not yet committed, finalize's findings.
 * The only SQL outside state.c; nothing here changes an account (the
 * census's rows are folded, each group's sums unchanged).
 */
#include "compat.h"

#include <pthread.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

/* One statement on the locked database; NULL when it cannot be made. */
static struct db_stmt *
prepare(struct state *s, const char *sql)
{
	struct db *db = state_lock_db(s);
	struct db_stmt *st = db_prepare(db, sql, 0);

	if (!st) {
		log_warnx("state: %s", db_errmsg(db));
		state_unlock_db(s);
	}
	return st;
}

static void
finish(struct state *s, struct db_stmt *st)
{
	db_finalize(st);
	state_unlock_db(s);
}

int
state_accounts_in(struct state *s, unsigned states, struct account **v_r,
    size_t *nr_r)
{
	struct buf sql = BUF_INIT;
	struct account *v = NULL;
	struct db_stmt *q;
	size_t nr = 0, alloc = 0;
	const char *sep = "";
	int st, rc = -1;

	buf_adds(&sql, "SELECT id, account, login, wave, state FROM accounts"
	    " WHERE in_plan <> 0 AND state IN (");
	for (st = 0; st < ST_NR; st++)
		if (states & (1u << st)) {
			buf_addf(&sql, "%s'%s'", sep, state_name(st));
			sep = ", ";
		}
	buf_adds(&sql, *sep ? ") ORDER BY ord" : "NULL)");
	if ((q = prepare(s, sql.buf))) {
		while ((rc = db_step(q)) == DB_ROW) {
			if (nr == alloc) {
				alloc = alloc ? 2 * alloc : 16;
				v = xreallocarray(v, alloc, sizeof(*v));
			}
			memset(&v[nr], 0, sizeof(v[nr]));
			v[nr].id = db_col_int(q, 0);
			v[nr].account = db_col_str(q, 1);
			v[nr].login = db_col_str(q, 2);
			v[nr].wave = db_col_str(q, 3);
			state_parse(db_col_text(q, 4), &v[nr++].state);
		}
		finish(s, q);
	}
	buf_release(&sql);
	*v_r = v;
	*nr_r = nr;
	return rc == DB_DONE ? 0 : -1;
}

int
state_find_account(struct state *s, const char *name, struct account *a)
{
	struct db_stmt *q;
	char *addr = NULL;
	int n = 0;

	if (state_account(s, name, a) == 0)
		return 0;
	if (!(q = prepare(s, "SELECT account FROM accounts WHERE login = ?1"
	    " OR substr(account, 1, instr(account, '@') - 1) = ?1")))
		return -1;
	db_bind_text(q, 1, name);
	while (db_step(q) == DB_ROW && n++ == 0)
		addr = db_col_str(q, 0);
	finish(s, q);
	n = n == 1 && state_account(s, addr, a) == 0 ? 0 : -1;
	free(addr);
	return n;
}

/* The rows of `q` as db_json_rows() makes them; `q` is finished. */
static json_t *
rows_of(struct state *s, struct db_stmt *q)
{
	json_t *v = db_json_rows(q);

	finish(s, q);
	return v;
}

json_t *
state_json_rows(struct state *s, const char *sql, int64_t id)
{
	struct db_stmt *q;

	if (!(q = prepare(s, sql)))
		return json_array();
	if (id >= 0)
		db_bind_int(q, 1, id);
	return rows_of(s, q);
}

json_t *
state_json_rows_text(struct state *s, const char *sql, int n,
    const char *const *params)
{
	struct db_stmt *q;
	int i;

	if (!(q = prepare(s, sql)))
		return json_array();
	for (i = 0; i < n; i++)
		db_bind_text(q, i + 1, params[i]);
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
	struct db_stmt *st;
	int any = 1;

	/* most states have no push that says of shares: that index's
	 * first row says so without planning what follows (5 ms for a new
	 * connection to PostgreSQL, at each status) */
	if ((st = prepare(s, "SELECT count(*) FROM (SELECT 1 FROM runs WHERE"
	    " done LIKE '%\"shares\"%' LIMIT 1) AS x"))) {
		any = db_step(st) != DB_ROW || db_col_int(st, 0) > 0;
		finish(s, st);
	}
	if (!any)
		return json_array();
	/* each account's last push that says of its shares, by the index
	 * of those runs (migration 0011: its very LIKE) */
	return state_json_rows(s, "SELECT a.account, a.home, r.helper,"
	    " json_extract(r.done, '$.shares.pending') AS pending,"
	    " json_extract(r.done, '$.shares.ready') AS ready FROM (SELECT"
	    " account_id, helper, max(id) AS id FROM runs WHERE done LIKE"
	    " '%\"shares\"%' AND helper IN ('jmap-push', 'dav-push') AND"
	    " json_valid(done) AND json_type(done, '$.shares') = 'object'"
	    " GROUP BY account_id, helper) AS m JOIN runs r ON r.id = m.id"
	    " JOIN accounts a ON a.id = m.account_id WHERE a.in_plan <> 0"
	    " AND json_array_length(r.done, '$.shares.pending') > 0"
	    " ORDER BY a.ord, r.helper DESC", -1);
}

json_t *
state_failures(struct state *s)
{
	return state_json_rows(s, "SELECT coalesce(error_class, '?') AS class,"
	    " substr(replace(coalesce(error, ''), account, '<account>'), 1,"
	    " 160) AS reason, count(*) AS count, group_concat(account, ' ')"
	    " AS accounts FROM (SELECT * FROM accounts WHERE in_plan <> 0 AND"
	    " state = 'failed' ORDER BY ord) AS f GROUP BY 1, 2 ORDER BY 3"
	    " DESC, 1, 2", -1);
}

/* Add `n` to the integer `key` of `o`. */
static void
add_to(json_t *o, const char *key, int64_t n)
{
	json_t *t = json_object_get(o, key);

	json_object_set_new(o, key, json_integer(n + (t ?
	    json_integer_value(t) : 0)));
}

/* What is left of wave `wv`: `n` accounts of state `sn`, which weigh
 * `size` bytes, `unsized` of them neither assessed nor pulled. */
static void
add_left(json_t *left, const char *wv, int64_t n, int64_t size,
    int64_t unsized)
{
	json_t *w = json_object_get(left, wv);

	if (!w)
		json_object_set_new(left, wv, w = json_pack("{s:I, s:I, s:I}",
		    "accounts", (json_int_t)0, "bytes", (json_int_t)0,
		    "unsized", (json_int_t)0));
	add_to(w, "accounts", n);
	add_to(w, "bytes", size);
	add_to(w, "unsized", unsized);
}

/*
 * An account weighs what the assessment counted, or what it pulled if
 * that is more; one with neither is unsized.  Counted in the census's
 * reading of the accounts: status reads them once for both.
 */
#define SIZE "max(coalesce(assessed_bytes, 0), bytes)"
#define UNSIZED "assessed_bytes IS NULL AND bytes = 0"

/* Add `n` to `key` (holds, homes) of worker `name` in `holders`. */
static void
add_holder(json_t *holders, const char *name, const char *key, int64_t n)
{
	json_t *w;

	if (!name)
		return;
	if (!(w = json_object_get(holders, name)))
		json_object_set_new(holders, name, w = json_pack("{s:I, s:I}",
		    "holds", (json_int_t)0, "homes", (json_int_t)0));
	add_to(w, key, n);
}

/*
 * The accounts that last reached migrated, after ?1, as a rate sample
 * (state.h): count, bytes, first copy, last migration.  The last
 * RECENT_MAX of them at most, found by when they finished: a sample
 * large enough for a rate, and a few rows read however many migrated.
 */
#define RECENT_MAX "1000"
#define RECENT "SELECT count(*), sum(bytes), min(copy_began), max(finished)" \
	" FROM (SELECT bytes, copy_began, finished FROM accounts WHERE" \
	" finished > ?1 AND copy_began IS NOT NULL AND in_plan <> 0" \
	" ORDER BY finished DESC LIMIT " RECENT_MAX ") AS r"

/* What the sample of RECENT says, in `r`; -1 if it cannot be read. */
static int
read_recent(struct state *s, double since, struct rate_sample *r)
{
	struct db_stmt *q;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!(q = prepare(s, RECENT)))
		return -1;
	db_bind_real(q, 1, since);
	if ((rc = db_step(q)) == DB_ROW && db_col_int(q, 0)) {
		r->accounts = db_col_int(q, 0);
		r->bytes = db_col_int(q, 1);
		r->from = db_col_real(q, 2);
		r->to = db_col_real(q, 3);
		r->recent = 1;
	}
	finish(s, q);
	return rc == DB_ROW ? 0 : -1;
}

/*
 * The census by wave, state, owner and home: on PostgreSQL, the sums
 * the apply's statements keep in `census` (migration 16), since
 * counting the accounts themselves beside the apply's writers takes
 * seconds; on SQLite, counted.
 */
#define GROUPS_KEPT "SELECT wave, state, sum(n), sum(messages), sum(bytes)," \
	" sum(anomalies), sum(sized), sum(unsized), owner, home FROM census" \
	" GROUP BY 1, 2, owner, home HAVING sum(n) <> 0 ORDER BY 1, 2"
#define GROUPS_COUNTED "SELECT coalesce(wave, '-'), state, count(*)," \
	" sum(messages), sum(bytes), sum(anomalies), sum(" SIZE ")," \
	" sum(CASE WHEN " UNSIZED " THEN 1 ELSE 0 END), owner, home" \
	" FROM accounts WHERE in_plan <> 0 GROUP BY 1, 2, owner, home" \
	" ORDER BY 1, 2"

/*
 * The census's rows, each statement's own, folded into one per group,
 * so that those summed at each reading stay few; and the table vacuumed,
 * so that it stays as small as what it holds.  Two folds that meet wait
 * for each other: a row deleted is summed once.
 */
#define FOLD "WITH d AS (DELETE FROM census RETURNING *) INSERT INTO" \
	" census SELECT wave, state, owner, home, sum(n), sum(messages)," \
	" sum(bytes), sum(anomalies), sum(sized), sum(unsized) FROM d" \
	" GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 OR sum(messages) <> 0" \
	" OR sum(bytes) <> 0 OR sum(anomalies) <> 0 OR sum(sized) <> 0" \
	" OR sum(unsized) <> 0"

int
state_census_fold(struct state *s)
{
	struct db *db;
	int ret = 0;

	if (!state_shared(s))
		return 0;
	/* alone, out of the lane's group: VACUUM must be */
	db = state_lock_db(s);
	if (state_commit_locked(s) < 0)
		ret = -1;
	else if (db_exec(db, FOLD) < 0 || db_exec(db, "VACUUM census") < 0) {
		log_warnx("state: cannot fold the census: %s", db_errmsg(db));
		ret = -1;
	}
	state_unlock_db(s);
	return ret;
}

/* Add row `q` of the census, GROUPS_*, to `c` and to m's `left` and
 * `holders`, and to what sized accounts weigh. */
static void
add_group(json_t *c, struct db_stmt *q, json_t *left, json_t *holders,
    double *sized, double *nsized)
{
	const char *wv = db_col_text(q, 0), *sn = db_col_text(q, 1);
	int64_t n = db_col_int(q, 2);
	json_t *waves = json_object_get(c, "waves"), *w;

	if (!(w = json_object_get(waves, wv)))
		json_object_set_new(waves, wv, w = json_object());
	add_to(w, sn, n);
	add_holder(holders, db_col_text(q, 8), "holds", n);
	add_holder(holders, db_col_text(q, 9), "homes", n);
	add_to(json_object_get(c, "totals"), sn, n);
	add_to(c, "accounts", n);
	add_to(c, "messages", db_col_int(q, 3));
	add_to(c, "bytes", db_col_int(q, 4));
	add_to(c, "anomalies", db_col_int(q, 5));
	*sized += db_col_real(q, 6);
	*nsized += (double)(n - db_col_int(q, 7));
	if (strcmp(sn, "migrated") && strcmp(sn, "finalized") &&
	    strcmp(sn, "held") && strcmp(sn, "rolled_back")) {
		add_to(c, "left", n);
		add_left(left, wv, n, db_col_int(q, 6), db_col_int(q, 7));
	}
}

/* One reading of the census for all that status counts of the accounts,
 * and one of the rate's sample: what status costs the apply it runs
 * beside. */
json_t *
state_census(struct state *s, struct census_more *m)
{
	json_t *c = json_pack("{s:{}, s:{}, s:I, s:I, s:I, s:I, s:I}",
	    "waves", "totals", "accounts", (json_int_t)0, "messages",
	    (json_int_t)0, "bytes", (json_int_t)0, "anomalies",
	    (json_int_t)0, "left", (json_int_t)0);
	json_t *left = json_object(), *holders = json_object();
	struct db_stmt *q;
	double sized = 0, nsized = 0;

	if (!(q = prepare(s, state_shared(s) ? GROUPS_KEPT : GROUPS_COUNTED)))
		fatalx(EX_SOFTWARE, "state: cannot count the accounts");
	while (db_step(q) == DB_ROW)
		add_group(c, q, left, holders, &sized, &nsized);
	finish(s, q);
	if (m && read_recent(s, m->since, &m->recent) < 0)
		fatalx(EX_SOFTWARE, "state: cannot read the rate's sample");
	if (m) {
		m->mean = nsized > 0 ? sized / nsized : 0;
		m->left = left;
		m->holders = holders;
	} else {
		json_decref(left);
		json_decref(holders);
	}
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

int
state_rate_last(struct state *s, struct rate_sample *r)
{
	struct db_stmt *q;

	memset(r, 0, sizeof(*r));
	if (!(q = prepare(s, "SELECT count(*), coalesce(sum(bytes), 0),"
	    " min(copy_began), max(finished) FROM (SELECT bytes, copy_began,"
	    " finished FROM accounts WHERE finished > 0 AND copy_began IS NOT"
	    " NULL ORDER BY finished DESC LIMIT 20) AS x")))
		return -1;
	if (db_step(q) == DB_ROW) {
		r->accounts = db_col_int(q, 0);
		r->bytes = db_col_int(q, 1);
		r->from = db_col_real(q, 2);
		r->to = db_col_real(q, 3);
	}
	finish(s, q);
	return 0;
}

/* What the assessment counted of one account: -1 when it did not. */
void
state_assessed(struct state *s, int64_t account_id, int64_t *messages_r,
    int64_t *bytes_r)
{
	struct db_stmt *q;

	*messages_r = *bytes_r = -1;
	if (!(q = prepare(s, "SELECT assessed_messages, assessed_bytes FROM"
	    " accounts WHERE id = ?1 AND assessed_bytes IS NOT NULL")))
		return;
	db_bind_int(q, 1, account_id);
	if (db_step(q) == DB_ROW) {
		*messages_r = db_col_int(q, 0);
		*bytes_r = db_col_int(q, 1);
	}
	finish(s, q);
}

int
state_last_plan(struct state *s, struct plan_rev *r)
{
	struct db_stmt *q;
	int found = 0;

	memset(r, 0, sizeof(*r));
	if (!(q = prepare(s, "SELECT id, sha256, path, datetime(applied,"
	    " 'unixepoch', 'localtime') FROM plans ORDER BY id DESC LIMIT 1")))
		return 0;
	if (db_step(q) == DB_ROW) {
		r->id = db_col_int(q, 0);
		r->sha256 = db_col_str(q, 1);
		r->path = db_col_str(q, 2);
		r->applied = db_col_str(q, 3);
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
	struct db_stmt *st;
	json_t *o = json_object();

	if ((st = prepare(s, account_id ? "SELECT kind, count FROM items"
	    " WHERE account_id = ?1 ORDER BY kind" : "SELECT kind,"
	    " sum(count) FROM items GROUP BY kind ORDER BY kind"))) {
		db_bind_int(st, 1, account_id);
		while (db_step(st) == DB_ROW) {
			const char *k = db_col_text(st,
			    0);
			int64_t n = db_col_int(st, 1);

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

int
state_audit_pending(struct state *s, size_t max, struct audit_line **v_r,
    size_t *nr_r)
{
	struct audit_line *v = NULL;
	struct db_stmt *st;
	size_t nr = 0;
	int rc = -1;

	if ((st = prepare(s, "SELECT id, kind, line FROM audit_queue ORDER"
	    " BY id LIMIT ?1"))) {
		db_bind_int(st, 1, (int64_t)max);
		v = xcalloc(max ? max : 1, sizeof(*v));
		while (nr < max && (rc = db_step(st)) == DB_ROW) {
			v[nr].id = db_col_int(st, 0);
			v[nr].kind = db_col_str(st, 1);
			v[nr++].line = db_col_str(st, 2);
		}
		if (nr == max)
			rc = DB_DONE;
		finish(s, st);
	}
	*v_r = v;
	*nr_r = nr;
	return rc == DB_DONE ? 0 : -1;
}

int
state_finalize_was_ok(struct state *s, const char *what)
{
	struct db_stmt *st;
	int ok = -1;

	if (!(st = prepare(s, "SELECT ok FROM finalize_items WHERE"
	    " what = ?1")))
		return -1;
	db_bind_text(st, 1, what);
	if (db_step(st) == DB_ROW)
		ok = db_col_int(st, 0);
	finish(s, st);
	return ok;
}

int
state_finalize_set(struct state *s, json_t *items)
{
	struct db *db = state_lock_db(s);
	struct db_stmt *st = NULL;
	json_t *it;
	size_t i;
	int ret = 0;

	if (db_begin(db) < 0 || db_exec(db, "DELETE FROM finalize_items") < 0 ||
	    !(st = db_prepare(db, "INSERT INTO finalize_items(what, ok,"
	    " detail, time) VALUES(?1, ?2, ?3, ?4)", 0)))
		ret = -1;
	json_array_foreach(items, i, it) {
		if (ret < 0)
			break;
		db_reset(st);
		db_bind_text(st, 1, json_string_value(json_object_get(it,
		    "what")));
		db_bind_int(st, 2, json_is_true(json_object_get(it, "ok")));
		db_bind_text(st, 3, json_string_value(json_object_get(it,
		    "detail")));
		db_bind_int(st, 4, (int64_t)time(NULL));
		if (db_step(st) != DB_DONE)
			ret = -1;
	}
	db_finalize(st);
	if (ret < 0)
		log_warnx("state: cannot record what finalize found: %s",
		    db_errmsg(db));
	if (ret < 0)
		db_rollback(db);
	else
		ret = db_commit(db);
	state_unlock_db(s);
	return ret;
}

json_t *
state_finalize_items(struct state *s)
{
	struct db_stmt *st;
	json_t *v = NULL;

	if (!(st = prepare(s, "SELECT what, ok, detail, time FROM"
	    " finalize_items ORDER BY what = 'accounts' DESC, what")))
		return NULL;
	while (db_step(st) == DB_ROW) {
		if (!v)
			v = json_array();
		json_array_append_new(v, json_pack("{s:s, s:b, s:s, s:I}",
		    "what", db_col_text(st, 0), "ok", (int)db_col_int(st, 1),
		    "detail", db_col_text(st, 2), "time",
		    (json_int_t)db_col_int(st, 3)));
	}
	finish(s, st);
	return v;
}

void
audit_lines_free(struct audit_line *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].kind);
		free(v[i].line);
	}
	free(v);
}
