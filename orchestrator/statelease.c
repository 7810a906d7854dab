/*
 * statelease.c: accounts shared by workers, the state in PostgreSQL.
 *
 * The coordinator (plan apply) opens each phase with the accounts it has
 * work for.  Every worker, the coordinator's own threads too, claims them
 * one at a time: a lease on the database's clock, which it renews while
 * it works and gives back when the phase is done with the account or the
 * account waits for a retry.  A worker that dies keeps its accounts until
 * their leases run out; then another takes them, except those past their
 * flip (or in it), whose archive only their home has.
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

#define DBNOW "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE" \
	" PRECISION)"

/* states whose archive is the one on their home: the destination is
 * authoritative, a new archive would undo what the user did there */
#define BOUND "('cutover', 'migrated', 'finalized')"
#define IS_BOUND "(state IN " BOUND " OR (state IN ('failed', 'held') AND" \
	" coalesce(resume, '') IN " BOUND ") OR (state = 'verified' AND" \
	" step = 'flipping'))"

/* How run() and step() run a statement */
enum how {
	NOW,		/* at once, on its own */
	GROUPED,	/* at once, in the group of writes */
	SENT,		/* in the group, its outcome known at its commit */
};

/* Run `sql` (kept: state_kept()) with `types` bound (db_bind_va());
 * with `row`, its one row's columns into the strings *row[i] (caller
 * frees).  DB_ROW, DB_DONE or -1, logged.  The caller holds the lock. */
static int
vstep(struct state *s, struct db *db, enum how how, char **row, int ncol,
    const char *sql, const char *types, va_list ap)
{
	struct db_stmt *st = state_kept(s, sql);
	int rc = -1, i;

	if (st) {
		db_bind_va(st, types, ap);
		rc = how == SENT ? db_send(st) : db_step(st);
		for (i = 0; rc == DB_ROW && i < ncol; i++)
			row[i] = db_col_str(st, i);
		db_reset(st);
	}
	if (rc < 0)
		log_warnx("state: %s", db_errmsg(db));
	return rc;
}

static int
step(struct state *s, struct db *db, char **row, int ncol, const char *sql,
    const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vstep(s, db, GROUPED, row, ncol, sql, types, ap);
	va_end(ap);
	return rc;
}

/* The same under the state's lock. */
static int
run(struct state *s, enum how how, char **row, int ncol, const char *sql,
    const char *types, ...)
{
	struct db *db = how == NOW ? state_lock_db(s) : state_lock_group(s);
	va_list ap;
	int rc;

	if (!db)
		return -1;
	va_start(ap, types);
	rc = vstep(s, db, how, row, ncol, sql, types, ap);
	va_end(ap);
	state_unlock_db(s);
	return rc;
}

int64_t
state_phase_open(struct state *s, const char *run_id, const char *name,
    const char *kind, const char *wave, const int64_t *ids, size_t nr)
{
	struct buf list = BUF_INIT;
	struct db *db;
	char *id = NULL;
	int64_t phase = -1;
	size_t i;

	for (i = 0; i < nr; i++)
		buf_addf(&list, "%s%lld", i ? "," : "", (long long)ids[i]);
	if (state_flush(s) < 0)
		goto out;
	/*
	 * A phase rewrites each of its accounts' rows a dozen times, and
	 * each change leaves the old row behind; autovacuum comes late.  Vacuumed here, the next phase's rows
	 * take the room again, the table stays a third of the size, and
	 * status, which reads it whole, reads less.  The statistics are
	 * the new ones too.
	 */
	db = state_lock_db(s);
	if (db_exec(db, "VACUUM (ANALYZE) accounts") < 0)
		log_warnx("state: %s", db_errmsg(db));
	state_unlock_db(s);
	/* in one transaction: a worker sees the phase with its accounts */
	if (!(db = state_lock_group(s)))
		goto out;
	if (step(s, db, NULL, 0, "UPDATE phases SET closed = " DBNOW " WHERE"
	    " closed IS NULL", "") == DB_DONE &&
	    step(s, db, &id, 1, "INSERT INTO phases(run_id, name, kind, wave,"
	    " opened) VALUES(?1, ?2, ?3, ?4, " DBNOW ") RETURNING id", "ssss",
	    run_id, name, kind, wave) == DB_ROW)
		phase = strtoll(id, NULL, 10);
	/* a failed account gets its retries again, as take_items() does */
	if (phase > 0 && step(s, db, NULL, 0, "UPDATE accounts SET todo = ?1,"
	    " not_before = 0, attempts = CASE WHEN state = 'failed' THEN 0"
	    " ELSE attempts END WHERE id = ANY(CAST(string_to_array(?2, ',')"
	    " AS BIGINT[]))", "is", phase, list.buf) != DB_DONE)
		phase = -1;
	state_unlock_db(s);
	if (state_flush(s) < 0)
		phase = -1;
out:
	free(id);
	buf_release(&list);
	return phase;
}

int
state_phase_close(struct state *s, int64_t phase, const char *run_id)
{
	int rc = run(s, GROUPED, NULL, 0, "UPDATE phases SET closed = " DBNOW
	    " WHERE closed IS NULL AND id = ?1", "i", phase);

	/* the apply is over: the workers that joined it go */
	if (rc == DB_DONE && run_id)
		rc = run(s, GROUPED, NULL, 0, "INSERT INTO phases(run_id, name,"
		    " kind, opened, closed) VALUES(?1, 'end', 'end', " DBNOW
		    ", " DBNOW ")", "s", run_id);
	return rc == DB_DONE && state_flush(s) == 0 ? 0 : -1;
}

int
state_phase_last(struct state *s, struct phase_row *ph)
{
	char *v[6] = { NULL };
	int rc;

	memset(ph, 0, sizeof(*ph));
	rc = run(s, NOW, v, 6, "SELECT id, run_id, name, kind, wave, closed"
	    " FROM phases ORDER BY id DESC LIMIT 1", "");
	if (rc != DB_ROW)
		return rc < 0 ? -1 : 0;
	ph->id = strtoll(v[0], NULL, 10);
	ph->run_id = v[1];
	ph->name = v[2];
	ph->kind = v[3];
	ph->wave = v[4];
	ph->closed = v[5] != NULL;
	free(v[0]);
	free(v[5]);
	return 1;
}

void
phase_row_free(struct phase_row *ph)
{
	free(ph->run_id);
	free(ph->name);
	free(ph->kind);
	free(ph->wave);
	memset(ph, 0, sizeof(*ph));
}

int
state_claim(struct state *s, int64_t phase, double now, double lease,
    int64_t *ord, struct claimed *v, size_t max)
{
	static const char sql[] = "WITH c AS (SELECT id AS cid, home AS was"
	    " FROM accounts WHERE todo = ?1 AND ord >= ?5 AND (owner IS NULL"
	    " OR lease_until < " DBNOW ") AND not_before <= ?3 AND (home IS"
	    " NULL OR home = ?2 OR NOT " IS_BOUND ") ORDER BY ord LIMIT ?6"
	    " FOR UPDATE SKIP LOCKED) UPDATE accounts SET owner = ?2,"
	    " lease_until = " DBNOW " + ?4, home = ?2, waiting = NULL FROM c"
	    " WHERE accounts.id = c.cid RETURNING " ACC_COLS ", c.was, ord,"
	    " (SELECT json_object_agg(helper, token) FROM checkpoints k WHERE"
	    " k.account_id = accounts.id)";
	/* a transaction of its own, on a connection where nothing else
	 * waits to be written: the accounts it takes for the other
	 * threads are free for their connections at once, and it does not
	 * wait for the calling thread's group to commit */
	int was = state_claims_lane(s, -1);
	struct db *db = state_lock_db(s);
	struct db_stmt *st = state_kept(s, sql);
	const char *ckpts;
	int rc = -1, n = 0;

	if (state_commit_locked(s) < 0)
		st = NULL;
	if (st) {
		db_bind_int(st, 1, phase);
		db_bind_text(st, 2, state_worker(s));
		db_bind_real(st, 3, now);
		db_bind_real(st, 4, lease);
		db_bind_int(st, 5, *ord);
		db_bind_int(st, 6, (int64_t)max);
		while ((size_t)n < max && (rc = db_step(st)) == DB_ROW) {
			state_read_account(st, &v[n].a);
			v[n].home = db_col_str(st, ACC_NCOLS);
			if (db_col_int(st, ACC_NCOLS + 1) > *ord)
				*ord = db_col_int(st, ACC_NCOLS + 1);
			/* its helpers' tokens, as state_checkpoint_of() would
			 * read them */
			ckpts = db_col_text(st, ACC_NCOLS + 2);
			if (!ckpts || !(v[n].a.checkpoints = json_loads(ckpts,
			    0, NULL)))
				v[n].a.checkpoints = json_object();
			n++;
		}
		db_reset(st);
	}
	if (rc < 0)
		log_warnx("state: %s", db_errmsg(db));
	state_unlock_db(s);
	state_claims_lane(s, was);
	return rc < 0 ? -1 : n;
}

int
state_release(struct state *s, const struct account *a, int64_t phase,
    int done)
{
	struct pend_set *p = state_lock_pend(s);

	/* with the group's other writes: its commit gives the account
	 * back */
	if (!p)
		return -1;
	pend_release(p, a->id, phase, done, state_worker(s));
	state_unlock_db(s);
	return 0;
}

/* The same on every connection, each with its group committed: for the
 * rows of every thread (statedb.c). */
static int
run_all(struct state *s, const char *sql, const char *types, ...)
{
	struct db *db = state_lock_all(s);
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = vstep(s, db, NOW, NULL, 0, sql, types, ap);
	va_end(ap);
	state_unlock_all(s);
	return rc;
}

int
state_unclaim(struct state *s)
{
	if (run(s, NOW, NULL, 0, "DELETE FROM workers WHERE name = ?1", "s",
	    state_worker(s)) != DB_DONE)
		return -1;
	return run_all(s, "UPDATE accounts SET owner = NULL, lease_until = 0"
	    " WHERE owner = ?1", "s", state_worker(s)) == DB_DONE ? 0 : -1;
}

int
state_renew(struct state *s, double lease, int alive)
{
	if (alive && run(s, NOW, NULL, 0, "INSERT INTO workers(name, seen)"
	    " VALUES(?1, " DBNOW ") ON CONFLICT(name) DO UPDATE SET seen = "
	    DBNOW, "s", state_worker(s)) != DB_DONE)
		return -1;
	return run_all(s, "UPDATE accounts SET lease_until = " DBNOW " + ?2"
	    " WHERE owner = ?1", "sd", state_worker(s), lease) == DB_DONE ?
	    0 : -1;
}

int
state_live_workers(struct state *s, double lease)
{
	char *n = NULL;
	int rc = run(s, NOW, &n, 1, "SELECT count(*) FROM workers WHERE seen >"
	    " " DBNOW " - ?1", "d", lease), live = rc == DB_ROW && n ?
	    atoi(n) : 0;

	free(n);
	return live;
}

int
state_phase_left(struct state *s, int64_t phase, int64_t *left,
    int64_t *done, int64_t *failed)
{
	char *v[3] = { NULL };
	int rc;

	if (!done)	/* the watch loop's, each second: the least */
		rc = run(s, NOW, v, 1, "SELECT count(*) FROM accounts WHERE"
		    " todo = ?1", "i", phase);
	else
		rc = run(s, NOW, v, 3, "SELECT coalesce(sum(CASE WHEN todo ="
		    " ?1 THEN 1 ELSE 0 END), 0), coalesce(sum(CASE WHEN todo ="
		    " -?1 AND state <> 'failed' THEN 1 ELSE 0 END), 0),"
		    " coalesce(sum(CASE WHEN todo = -?1 AND state = 'failed'"
		    " THEN 1 ELSE 0 END), 0) FROM accounts WHERE todo IN (?1,"
		    " -?1)", "i", phase);
	if (rc == DB_ROW) {
		*left = strtoll(v[0], NULL, 10);
		if (done) {
			*done = strtoll(v[1], NULL, 10);
			*failed = strtoll(v[2], NULL, 10);
		}
	}
	free(v[0]);
	free(v[1]);
	free(v[2]);
	return rc == DB_ROW ? 0 : -1;
}

int
state_flips_pending(struct state *s)
{
	char *n = NULL;
	int rc = run(s, NOW, &n, 1, "SELECT count(*) FROM audit_queue WHERE"
	    " kind = 'flip'", ""), flips = rc == DB_ROW && n && atoi(n) > 0;

	free(n);
	return flips;
}

json_t *
state_lease(struct state *s, int64_t account_id)
{
	json_t *rows = state_json_rows(s, "SELECT owner AS worker,"
	    " lease_until, home FROM accounts WHERE id = ?1 AND (owner IS NOT"
	    " NULL OR home IS NOT NULL)", account_id), *row;

	row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return row;
}

json_t *
state_orphans(struct state *s, int64_t phase, double lease)
{
	char id[32], ls[32];
	const char *params[] = { id, ls };

	snprintf(id, sizeof(id), "%lld", (long long)phase);
	snprintf(ls, sizeof(ls), "%.0f", lease);
	return state_json_rows_text(s, "UPDATE accounts SET waiting = 'for"
	    " worker ' || home || ', which holds its archive and is not"
	    " running' WHERE todo = CAST(?1 AS BIGINT) AND (owner IS NULL OR"
	    " lease_until < " DBNOW ") AND waiting IS NULL AND home IS NOT"
	    " NULL AND " IS_BOUND " AND home"
	    " NOT IN (SELECT name FROM workers WHERE seen > " DBNOW " -"
	    " CAST(?2 AS DOUBLE PRECISION)) RETURNING account, home", 2,
	    params);
}

json_t *
state_workers(struct state *s, const json_t *holders)
{
	json_t *v = state_json_rows(s, "SELECT name, seen FROM workers ORDER"
	    " BY name", -1), *w, *h;
	size_t i;

	json_array_foreach(v, i, w) {
		h = json_object_get(holders, json_string_value(
		    json_object_get(w, "name")));
		json_object_set_new(w, "holds", json_integer(
		    json_integer_value(json_object_get(h, "holds"))));
		json_object_set_new(w, "homes", json_integer(
		    json_integer_value(json_object_get(h, "homes"))));
	}
	return v;
}
