/*
 * statepend.c: what the helper runs write of their accounts (their
 * records, the resume tokens they gave, the counters they added, the
 * step the chain reached), the accounts a worker gives back, and on
 * PostgreSQL the transitions rows and audit lines of state changes,
 * kept on the thread's lane until its group commits, or until a
 * statement there may read them (state_lock_db()), and then written
 * together (state_int.h).
 *
 * On PostgreSQL, where a statement costs the server more than the rows
 * it writes, every account kept on the lane goes in one statement; on
 * SQLite each write is its own statement, as before, minus what merged.
 * None of these writes depends on the others of the account but the
 * step, which a transition clears (pend_transition()).
 *
 * On PostgreSQL a change of state may wait there too (pend_hop()), its
 * guard checked when it is sent: with the lane's other writes, or with
 * the account's next change of state sent at once, or its committed
 * step (state.c).  A step set after it is written only where its guard
 * holds.
 *
 * They are in the group as if they had been sent: what a crash loses
 * is what an uncommitted group loses, no more; but a bare commit (the
 * step before a flip) leaves them for the next group, and a crash
 * between the two loses the transitions rows and audit lines of state
 * changes the first committed.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "pgrows.h"
#include "state_int.h"
#include "xalloc.h"

#define PEND_MAX	64	/* accounts a lane keeps at once */

struct pend {
	int64_t id;
	struct pend_run *runs;	/* their strings the entry's */
	size_t nr_runs;
	json_t *tokens;		/* {HELPER: TOKEN}, or NULL */
	char *last;		/* HELPER:TOKEN, the last of them */
	int has_step;
	char *step;
	double step_at;		/* when the first step was set */
	int has_counters;
	int64_t messages, bytes, anomalies, deltas;
	int has_release;	/* given back, for the phase `phase` */
	int64_t phase;
	int done;		/* and done with in it */
	char *worker;
	/* PostgreSQL: the changes of state kept (pend_hop()): the row
	 * they leave, guarded by the first one's `from`, and each one's
	 * transition and audit line; the step they clear */
	json_t *enter, *hops;
	int clears_step;
};

enum { P_RUN, P_TOKEN, P_ACC, P_RELEASE, P_ALL, P_LAST, P_ONE, P_NR };

struct pend_set {
	struct db *db;
	int pg;
	struct db_stmt *st[P_NR];
	struct pend v[PEND_MAX];
	int nr;
	/* PostgreSQL: the lane's transitions rows and audit lines, in
	 * order (TRANS_COLS, AUDIT_COLS) */
	struct pgrows trans, audit;
};

/* the columns of runs, checkpoints, transitions and audit_queue rows */
#define RUNS_COLS	"account_id, helper, step, started, ended, exit," \
	" done, error, worker"
#define TOKEN_COLS	"account_id, helper, token"
#define TRANS_COLS	"account_id, ts, from_state, to_state, why, operator"
#define AUDIT_COLS	"kind, line"
/* and of a kept change of state's hops (pend_hop()) */
#define HOP_COLS	"id, n, at, fr, st, why, op, line, xk, xl"

#define LINES_MAX	1024	/* audit lines a lane keeps at once */

#define RECORD(cols) " AS x(" cols ")"
/* parameter `n`, an array literal of `type` (pgrows.h) */
#define COL(n, type) "CAST(?" #n " AS " type "[])"

static const char *const sql[P_NR] = {
	/* SQLite: a statement for each */
	[P_RUN] = "INSERT INTO runs(account_id, helper, step, started, ended,"
	    " exit, done, error, worker) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	    " ?8, ?9)",
	[P_TOKEN] = "INSERT INTO checkpoints(account_id, helper, token)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(account_id, helper) DO UPDATE"
	    " SET token = excluded.token",
	[P_ACC] = "UPDATE accounts SET step = CASE WHEN ?2 <> 0 THEN ?3 ELSE"
	    " step END, started = CASE WHEN ?2 <> 0 THEN coalesce(started,"
	    " ?4) ELSE started END, messages = messages + ?5, bytes = bytes +"
	    " ?6, anomalies = anomalies + ?7, deltas = CASE WHEN ?8 <> 0 THEN"
	    " ?9 ELSE deltas END, checkpoint = coalesce(?10, checkpoint)"
	    " WHERE id = ?1",
	[P_RELEASE] = "UPDATE accounts SET owner = NULL, lease_until = 0,"
	    " todo = CASE WHEN ?3 <> 0 AND todo = ?2 THEN -todo ELSE todo"
	    " END WHERE id = ?1 AND owner = ?4",
	/* PostgreSQL: every account of the lane, in one */
	[P_ALL] = "WITH d AS (SELECT * FROM json_to_recordset(CAST(?1 AS"
	    " JSON))" RECORD("id BIGINT, hs INTEGER, step TEXT, at DOUBLE"
	    " PRECISION, m BIGINT, b BIGINT, an BIGINT, hc INTEGER, dl BIGINT,"
	    " last TEXT, rp BIGINT, rd INTEGER, rw TEXT, cs INTEGER, sf TEXT,"
	    " sw TEXT") "), r AS (INSERT INTO runs(" RUNS_COLS ") SELECT"
	    " " RUNS_COLS " FROM unnest(" COL(3, "BIGINT") ", " COL(4, "TEXT")
	    ", " COL(5, "TEXT") ", " COL(6, "DOUBLE PRECISION") ", "
	    COL(7, "DOUBLE PRECISION") ", " COL(8, "BIGINT") ", "
	    COL(9, "TEXT") ", " COL(10, "TEXT") ", " COL(11, "TEXT") ")"
	    " WITH ORDINALITY AS x(" RUNS_COLS ", o) ORDER BY o), k AS"
	    " (INSERT INTO checkpoints(" TOKEN_COLS ") SELECT * FROM unnest("
	    COL(12, "BIGINT") ", " COL(13, "TEXT") ", " COL(14, "TEXT") ")"
	    " ON CONFLICT(account_id, helper) DO UPDATE SET token ="
	    " excluded.token), t AS (INSERT INTO transitions(" TRANS_COLS ")"
	    " SELECT " TRANS_COLS " FROM unnest(" COL(15, "BIGINT") ", "
	    COL(16, "DOUBLE PRECISION") ", " COL(17, "TEXT") ", "
	    COL(18, "TEXT") ", " COL(19, "TEXT") ", " COL(20, "TEXT") ")"
	    " WITH ORDINALITY AS x(" TRANS_COLS ", o) ORDER BY o), q AS"
	    " (INSERT INTO audit_queue(" AUDIT_COLS ") SELECT " AUDIT_COLS
	    " FROM unnest(" COL(21, "TEXT") ", " COL(22, "TEXT") ") WITH"
	    " ORDINALITY AS x(" AUDIT_COLS ", o) ORDER BY o) UPDATE accounts a"
	    " SET"
	    /* `cs`: a kept change of state cleared it; a step after one
	     * (`sf`) is written where its guard holds (P_LAST's, next) */
	    " step = CASE WHEN (d.hs <> 0 OR d.cs <> 0) AND (d.sf IS NULL OR"
	    " (a.state = d.sf AND (d.sw IS NULL OR a.owner IS NULL OR a.owner"
	    " = d.sw))) THEN d.step ELSE a.step END,"
	    " started = CASE WHEN d.hs <> 0 THEN coalesce(a.started, d.at)"
	    " ELSE a.started END, messages = a.messages + d.m,"
	    " bytes = a.bytes + d.b, anomalies = a.anomalies + d.an,"
	    " deltas = CASE WHEN d.hc <> 0 THEN d.dl ELSE a.deltas END,"
	    " checkpoint = coalesce(d.last, a.checkpoint),"
	    /* a release: the old row's owner decides all three */
	    " todo = CASE WHEN a.owner = d.rw AND d.rd <> 0 AND a.todo = d.rp"
	    " THEN -a.todo ELSE a.todo END, lease_until = CASE WHEN a.owner ="
	    " d.rw THEN 0 ELSE a.lease_until END, owner = CASE WHEN a.owner ="
	    " d.rw THEN NULL ELSE a.owner END FROM d WHERE a.id = d.id AND"
	    /* the rows by their key: the planner takes a function's
	     * rows for a hundred, and would read the whole table */
	    " a.id = ANY(CAST(?2 AS BIGINT[]))",
	/* after it: the kept state changes, where their guards hold, and
	 * the transitions and audit lines (an event, and another of kind
	 * `xk`) of those written */
	[P_LAST] = "WITH d AS (SELECT * FROM json_to_recordset(CAST(?1 AS"
	    " JSON))" RECORD("id BIGINT, account TEXT, fr TEXT, st TEXT, rs"
	    " TEXT, at DOUBLE PRECISION, att BIGINT, ec TEXT, er TEXT, w TEXT,"
	    " ca DOUBLE PRECISION") "), h AS (SELECT * FROM unnest("
	    COL(3, "BIGINT") ", " COL(4, "INTEGER") ", " COL(5, "DOUBLE"
	    " PRECISION") ", " COL(6, "TEXT") ", " COL(7, "TEXT") ", "
	    COL(8, "TEXT") ", " COL(9, "TEXT") ", " COL(10, "TEXT") ", "
	    COL(11, "TEXT") ", " COL(12, "TEXT") ")" RECORD(HOP_COLS) "),"
	    " u AS (UPDATE accounts a"
	    " SET state = d.st, resume = d.rs, entered = d.at, attempts ="
	    " d.att, error_class = d.ec, error = d.er, finished = CASE WHEN"
	    " d.st = 'migrated' THEN d.at ELSE a.finished END, copy_began ="
	    " coalesce(a.copy_began, d.ca) FROM d WHERE a.id = d.id AND"
	    " a.state = d.fr AND (d.w IS NULL OR a.owner IS NULL OR"
	    " a.owner = d.w) AND a.id = ANY(CAST(?2 AS"
	    " BIGINT[])) RETURNING a.id), t AS (INSERT INTO"
	    " transitions(account_id, ts, from_state, to_state, why, operator)"
	    " SELECT h.id, h.at, h.fr, h.st, h.why, h.op FROM h JOIN u ON"
	    " u.id = h.id ORDER BY h.at, h.n), q AS (INSERT INTO"
	    " audit_queue(kind, line) SELECT kind, line FROM (SELECT h.at,"
	    " h.n, 0 AS k, 'event' AS kind, h.line FROM h JOIN u ON u.id ="
	    " h.id UNION ALL SELECT h.at, h.n, 1, h.xk, h.xl FROM h JOIN u ON"
	    " u.id = h.id WHERE h.xl IS NOT NULL) AS l ORDER BY at, n, k)"
	    " SELECT d.id, d.account, d.fr, d.st FROM d WHERE d.id NOT IN"
	    " (SELECT id FROM u)",
	/* or one account's, now, with its step: their rows then go on the
	 * lane */
	[P_ONE] = "UPDATE accounts SET state = ?2, resume = ?3, step = ?11,"
	    " entered = ?4, attempts = ?5, error_class = ?6, error = ?7,"
	    " finished = CASE WHEN ?2 = 'migrated' THEN ?4 ELSE finished END,"
	    " copy_began = coalesce(copy_began, ?10) WHERE id = ?1 AND state ="
	    " ?8 AND (CAST(?9 AS TEXT) IS NULL OR owner IS NULL OR owner ="
	    " ?9)",
};

struct pend_set *
pend_new(struct db *db, int pg)
{
	struct pend_set *p = xcalloc(1, sizeof(*p));

	p->db = db;
	p->pg = pg;
	pgrows_init(&p->trans, 6);
	pgrows_init(&p->audit, 2);
	return p;
}

static void
clear(struct pend *e)
{
	size_t i;

	for (i = 0; i < e->nr_runs; i++) {
		free((char *)e->runs[i].helper);
		free((char *)e->runs[i].step);
		free((char *)e->runs[i].done_json);
		free((char *)e->runs[i].error);
		free((char *)e->runs[i].worker);
	}
	free(e->runs);
	json_decref(e->tokens);
	free(e->last);
	free(e->step);
	free(e->worker);
	json_decref(e->enter);
	json_decref(e->hops);
	memset(e, 0, sizeof(*e));
}

void
pend_free(struct pend_set *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nr; i++)
		clear(&p->v[i]);
	for (i = 0; i < P_NR; i++)
		db_finalize(p->st[i]);
	pgrows_release(&p->trans);
	pgrows_release(&p->audit);
	free(p);
}

/* Statement `i`, for account `id`, ready to bind from ?2 on. */
static struct db_stmt *
ready(struct pend_set *p, int i, int64_t id)
{
	struct db_stmt *st = p->st[i];

	if (!st && !(st = p->st[i] = db_prepare(p->db, sql[i], 1)))
		return NULL;
	db_reset(st);
	db_bind_int(st, 1, id);
	return st;
}

static int
sent(struct pend_set *p, struct db_stmt *st)
{
	if (st && db_send(st) == 0)
		return 0;
	log_warnx("state: %s", db_errmsg(p->db));
	return -1;
}

/* SQLite: what `e` holds, a statement for each write. */
static int
send_one(struct pend_set *p, const struct pend *e)
{
	const struct pend_run *r;
	struct db_stmt *st;
	const char *k;
	json_t *v;
	size_t i;
	int ret = 0;

	for (i = 0; i < e->nr_runs; i++) {
		r = &e->runs[i];
		if ((st = ready(p, P_RUN, e->id))) {
			db_bind_text(st, 2, r->helper);
			db_bind_text(st, 3, r->step);
			db_bind_real(st, 4, r->started);
			db_bind_real(st, 5, r->ended);
			db_bind_int(st, 6, r->exit_code);
			db_bind_text(st, 7, r->done_json);
			db_bind_text(st, 8, r->error);
			db_bind_text(st, 9, r->worker);
		}
		ret |= sent(p, st);
	}
	json_object_foreach(e->tokens, k, v) {
		if ((st = ready(p, P_TOKEN, e->id))) {
			db_bind_text(st, 2, k);
			db_bind_text(st, 3, json_string_value(v));
		}
		ret |= sent(p, st);
	}
	if (e->has_step || e->has_counters || e->last) {
		if ((st = ready(p, P_ACC, e->id))) {
			db_bind_int(st, 2, e->has_step);
			db_bind_text(st, 3, e->step);
			db_bind_real(st, 4, e->step_at);
			db_bind_int(st, 5, e->messages);
			db_bind_int(st, 6, e->bytes);
			db_bind_int(st, 7, e->anomalies);
			db_bind_int(st, 8, e->has_counters);
			db_bind_int(st, 9, e->deltas);
			db_bind_text(st, 10, e->last);
		}
		ret |= sent(p, st);
	}
	if (e->has_release) {
		if ((st = ready(p, P_RELEASE, e->id))) {
			db_bind_int(st, 2, e->phase);
			db_bind_int(st, 3, e->done);
			db_bind_text(st, 4, e->worker);
		}
		ret |= sent(p, st);
	}
	return ret;
}

/* The entry of account `id`, or NULL. */
static struct pend *
find(struct pend_set *p, int64_t id)
{
	int i;

	for (i = 0; i < p->nr; i++)
		if (p->v[i].id == id)
			return &p->v[i];
	return NULL;
}

/* What says that an account's kept changes, from `from` on, were not
 * written: its guard did not hold. */
static void
not_recorded(const char *account, const char *from, const char *to)
{
	log_warnx("%s: is no longer %s (changed by another command, such as"
	    " migrate hold, or taken by another worker when this one's lease"
	    " ran out): its state %s is not recorded", account, from, to);
}

/* Bind the columns of `r` to the parameters from `first` on. */
static void
bind_rows(struct db_stmt *st, int first, const struct pgrows *r)
{
	char *t;
	int i;

	for (i = 0; i < r->ncol; i++) {
		t = pgrows_col(r, i);
		db_bind_text(st, first + i, t);
		free(t);
	}
}

#define J(o, k) json_object_get((o), (k))
#define JS(o, k) json_string_value(J((o), (k)))

/* A kept hop `h` (pend_hop()) as a row of HOP_COLS: its members, in
 * that order, integers, a real, then strings. */
static void
hop_row(struct pgrows *r, const json_t *h)
{
	static const char *const key[] = { "id", "n", "at", "fr", "st",
	    "why", "op", "line", "xk", "xl" };
	int i;

	for (i = 0; i < 10; i++)
		if (i < 2)
			pgrows_int(r, i, json_integer_value(J(h, key[i])));
		else if (i == 2)
			pgrows_real(r, i, json_number_value(J(h, key[i])));
		else
			pgrows_text(r, i, JS(h, key[i]));
	pgrows_end(r);
}

/*
 * PostgreSQL: every entry's kept state changes, as the rows of P_LAST,
 * whose answer is awaited: one round trip for the lane's accounts.  The
 * rows it returns are those whose guard did not hold.
 */
static int
send_last(struct pend_set *p)
{
	json_t *rows = json_array(), *h;
	struct buf ids = BUF_INIT;
	struct pgrows hops;
	struct db_stmt *st;
	char *t;
	size_t i;
	int n, rc = -1;

	pgrows_init(&hops, 10);
	for (n = 0; n < p->nr; n++) {
		if (!p->v[n].enter)
			continue;
		buf_addf(&ids, "%s%lld", ids.len ? "," : "{",
		    (long long)p->v[n].id);
		json_array_append(rows, p->v[n].enter);
		json_array_foreach(p->v[n].hops, i, h)
			hop_row(&hops, h);
	}
	if (!ids.len) {
		json_decref(rows);
		pgrows_release(&hops);
		return 0;
	}
	buf_adds(&ids, "}");
	t = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	if (t && (st = ready(p, P_LAST, 0))) {
		db_bind_text(st, 1, t);
		db_bind_text(st, 2, ids.buf);
		bind_rows(st, 3, &hops);
		while ((rc = db_step(st)) == DB_ROW)
			not_recorded(db_col_text(st, 1), db_col_text(st, 2),
			    db_col_text(st, 3));
		db_reset(st);
	}
	if (rc < 0)
		log_warnx("state: %s", !t ? "the state changes cannot be"
		    " written as JSON" : db_errmsg(p->db));
	free(t);
	pgrows_release(&hops);
	buf_release(&ids);
	return rc < 0 ? -1 : 0;
}

/* The runs and resume tokens of every entry, as rows (pgrows.h). */
static void
runs_rows(const struct pend_set *p, struct pgrows *runs, struct pgrows *tok)
{
	const struct pend_run *r;
	const struct pend *e;
	const char *k;
	json_t *v;
	size_t i;
	int n;

	for (n = 0; n < p->nr; n++) {
		e = &p->v[n];
		for (i = 0; i < e->nr_runs; i++) {
			r = &e->runs[i];
			pgrows_int(runs, 0, e->id);
			pgrows_text(runs, 1, r->helper);
			pgrows_text(runs, 2, r->step);
			pgrows_real(runs, 3, r->started);
			pgrows_real(runs, 4, r->ended);
			pgrows_int(runs, 5, r->exit_code);
			pgrows_text(runs, 6, r->done_json);
			pgrows_text(runs, 7, r->error);
			pgrows_text(runs, 8, r->worker);
			pgrows_end(runs);
		}
		json_object_foreach(e->tokens, k, v) {
			pgrows_int(tok, 0, e->id);
			pgrows_text(tok, 1, k);
			pgrows_text(tok, 2, json_string_value(v));
			pgrows_end(tok);
		}
	}
}

/* PostgreSQL: what every entry holds, as the rows of P_ALL. */
static int
send_all(struct pend_set *p)
{
	struct pgrows runs, tok;
	json_t *acc;
	struct db_stmt *st;
	const struct pend *e;
	struct buf ids = BUF_INIT;
	char *t;
	int n;

	acc = json_array();
	buf_adds(&ids, "{");
	for (n = 0; n < p->nr; n++) {
		e = &p->v[n];
		buf_addf(&ids, "%s%lld", n ? "," : "", (long long)e->id);
		json_array_append_new(acc, json_pack("{s:I, s:i, s:s?, s:f,"
		    " s:I, s:I, s:I, s:i, s:I, s:s?, s:o, s:i, s:s?, s:i, s:O?,"
		    " s:O?}", "id",
		    (json_int_t)e->id, "hs", e->has_step, "step", e->step,
		    "at", e->step_at, "m", (json_int_t)e->messages, "b",
		    (json_int_t)e->bytes, "an", (json_int_t)e->anomalies,
		    "hc", e->has_counters, "dl", (json_int_t)e->deltas,
		    "last", e->last, "rp", e->has_release ?
		    json_integer(e->phase) : json_null(), "rd", e->done,
		    "rw", e->has_release ? e->worker : NULL, "cs",
		    e->clears_step, "sf", json_object_get(e->enter, "fr"),
		    "sw", json_object_get(e->enter, "w")));
	}
	buf_adds(&ids, "}");
	pgrows_init(&runs, 9);
	pgrows_init(&tok, 3);
	runs_rows(p, &runs, &tok);
	t = json_dumps(acc, JSON_COMPACT);
	json_decref(acc);
	if ((st = ready(p, P_ALL, 0))) {
		db_bind_text(st, 1, t);
		db_bind_text(st, 2, ids.buf);
		bind_rows(st, 3, &runs);
		bind_rows(st, 12, &tok);
		bind_rows(st, 15, &p->trans);
		bind_rows(st, 21, &p->audit);
	}
	pgrows_clear(&p->trans);
	pgrows_clear(&p->audit);
	pgrows_release(&runs);
	pgrows_release(&tok);
	buf_release(&ids);
	free(t);
	/* then the kept state changes, under the same guards as the
	 * steps after them */
	return sent(p, st) | send_last(p);
}

int
pend_waiting(const struct pend_set *p)
{
	return p && (p->nr || (p->pg && (p->audit.nr || p->trans.nr)));
}

int
pend_flush(struct pend_set *p)
{
	int i, ret = 0;

	if (!pend_waiting(p))
		return 0;
	if (p->pg)
		ret = send_all(p);
	for (i = 0; i < p->nr; i++) {
		if (!p->pg)
			ret |= send_one(p, &p->v[i]);
		clear(&p->v[i]);
	}
	p->nr = 0;
	return ret;
}

/* The entry of account `id`, made if need be. */
static struct pend *
entry(struct pend_set *p, int64_t id)
{
	struct pend *e = find(p, id);

	if (e)
		return e;
	if (p->nr == PEND_MAX)
		pend_flush(p);
	p->v[p->nr].id = id;
	return &p->v[p->nr++];
}

void
pend_step(struct pend_set *p, int64_t id, const char *step, double now)
{
	struct pend *e = entry(p, id);

	if (!e->has_step)
		e->step_at = now;
	e->has_step = 1;
	free(e->step);
	e->step = step ? xstrdup(step) : NULL;
}

void
pend_transition(struct pend_set *p, int64_t id)
{
	int i;

	/* the transition clears the step: the one kept is older */
	for (i = 0; i < p->nr; i++)
		if (p->v[i].id == id) {
			free(p->v[i].step);
			p->v[i].step = NULL;
		}
}

void
pend_counters(struct pend_set *p, int64_t id, int64_t messages,
    int64_t bytes, int64_t anomalies, int64_t deltas)
{
	struct pend *e = entry(p, id);

	e->has_counters = 1;
	e->messages += messages;
	e->bytes += bytes;
	e->anomalies += anomalies;
	e->deltas = deltas;
}

void
pend_checkpoint(struct pend_set *p, int64_t id, const char *helper,
    const char *token)
{
	struct pend *e = entry(p, id);

	if (!e->tokens)
		e->tokens = json_object();
	json_object_set_new(e->tokens, helper, json_string(token));
	free(e->last);
	e->last = xasprintf("%s:%s", helper, token);
}

void
pend_run(struct pend_set *p, int64_t id, const struct pend_run *r)
{
	struct pend *e = entry(p, id);
	struct pend_run *to;

	e->runs = xreallocarray(e->runs, e->nr_runs + 1, sizeof(*e->runs));
	to = &e->runs[e->nr_runs++];
	*to = *r;
	to->helper = xstrdup(r->helper);
	to->step = r->step ? xstrdup(r->step) : NULL;
	to->done_json = r->done_json ? xstrdup(r->done_json) : NULL;
	to->error = r->error ? xstrdup(r->error) : NULL;
	to->worker = r->worker ? xstrdup(r->worker) : NULL;
}

void
pend_audit(struct pend_set *p, const char *kind, const char *line)
{
	if (p->audit.nr >= LINES_MAX)
		pend_flush(p);
	pgrows_text(&p->audit, 0, kind);
	pgrows_text(&p->audit, 1, line);
	pgrows_end(&p->audit);
}

int
pend_hop(struct pend_set *p, const struct pend_enter *en)
{
	struct pend *e = entry(p, en->id);
	json_t *prev = e->enter, *ca, *hop;

	pend_transition(p, en->id);
	e->clears_step = 1;
	/* when it went into copying: what copy_began keeps */
	ca = !strcmp(en->to, "copying") ? json_real(en->at) : prev ?
	    json_incref(json_object_get(prev, "ca")) : json_null();
	e->enter = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:f, s:i, s:s?,"
	    " s:s?, s:s?, s:o*}", "id", (json_int_t)en->id, "account",
	    en->account, "fr", prev ? json_string_value(json_object_get(prev,
	    "fr")) : en->from, "st", en->to, "rs", en->resume, "at", en->at,
	    "att", en->attempts, "ec", en->error_class, "er", en->error, "w",
	    en->worker, "ca", ca);
	json_decref(prev);
	if (!e->hops)
		e->hops = json_array();
	hop = json_pack("{s:I, s:I, s:f, s:s, s:s, s:s?, s:s?, s:s, s:s?,"
	    " s:s?}", "id", (json_int_t)en->id, "n", (json_int_t)
	    json_array_size(e->hops), "at", en->at, "fr", en->from, "st",
	    en->to, "why", en->why, "op", en->operator, "line", en->line,
	    "xk", en->kind, "xl", en->extra);
	if (e->enter && hop && json_array_append_new(e->hops, hop) == 0)
		return 0;
	/* what was kept of it goes too: its guard is the caller's */
	json_decref(e->enter);
	json_decref(e->hops);
	e->enter = e->hops = NULL;
	log_warnx("%s: the state %s cannot be written as JSON", en->account,
	    en->to);
	return -1;
}

/* What P_ONE wrote of `e`: its transitions rows and audit lines, on the
 * lane now, for the group. */
static void
hops_written(struct pend_set *p, const struct pend *e)
{
	json_t *h;
	size_t i;

	json_array_foreach(e->hops, i, h) {
		pgrows_int(&p->trans, 0, e->id);
		pgrows_real(&p->trans, 1, json_number_value(J(h, "at")));
		pgrows_text(&p->trans, 2, JS(h, "fr"));
		pgrows_text(&p->trans, 3, JS(h, "st"));
		pgrows_text(&p->trans, 4, JS(h, "why"));
		pgrows_text(&p->trans, 5, JS(h, "op"));
		pgrows_end(&p->trans);
		pgrows_text(&p->audit, 0, "event");
		pgrows_text(&p->audit, 1, JS(h, "line"));
		pgrows_end(&p->audit);
		if (JS(h, "xl")) {
			pgrows_text(&p->audit, 0, JS(h, "xk"));
			pgrows_text(&p->audit, 1, JS(h, "xl"));
			pgrows_end(&p->audit);
		}
	}
}

/* `e`'s kept changes of state, sent: written (0), their guard did not
 * hold (1), or they failed (-1). */
static int
settle(struct pend_set *p, struct pend *e, int ret)
{
	json_t *r = e->enter;

	if (ret == 0)
		hops_written(p, e);
	else	/* nor the step after them */
		e->has_step = e->clears_step = 0;
	if (ret == 1 && json_array_size(e->hops) > 1)	/* the first's */
		not_recorded(JS(r, "account"), JS(r, "fr"), JS(r, "st"));
	json_decref(e->enter);
	json_decref(e->hops);
	e->enter = e->hops = NULL;
	return ret;
}

int
pend_send_hops(struct pend_set *p, int64_t id, const char *step)
{
	struct pend *e = find(p, id);
	json_t *r = e ? e->enter : NULL;
	struct db_stmt *st;

	if (!r)
		return 2;
	if ((st = ready(p, P_ONE, id))) {
		db_bind_text(st, 2, JS(r, "st"));
		db_bind_text(st, 3, JS(r, "rs"));
		db_bind_real(st, 4, json_number_value(J(r, "at")));
		db_bind_int(st, 5, json_integer_value(J(r, "att")));
		db_bind_text(st, 6, JS(r, "ec"));
		db_bind_text(st, 7, JS(r, "er"));
		db_bind_text(st, 8, JS(r, "fr"));
		db_bind_text(st, 9, JS(r, "w"));
		if (json_is_number(J(r, "ca")))
			db_bind_real(st, 10, json_number_value(J(r, "ca")));
		db_bind_text(st, 11, step);
		if (db_send_counted(st) == 0)
			return 0;
		log_warnx("state: %s", db_errmsg(p->db));
	}
	return settle(p, e, -1);
}

int
pend_hops_sent(struct pend_set *p, int64_t id)
{
	struct pend *e = find(p, id);
	int64_t n;

	if (!e || !e->enter)
		return -1;
	/* a failure is the commit's, which says so */
	n = db_changes(p->st[P_ONE]);
	return settle(p, e, n == 1 ? 0 : n == 0 ? 1 : -1);
}

void
pend_release(struct pend_set *p, int64_t id, int64_t phase, int done,
    const char *worker)
{
	struct pend *e = entry(p, id);

	e->has_release = 1;
	e->phase = phase;
	e->done = done;
	free(e->worker);
	e->worker = worker ? xstrdup(worker) : NULL;
}
