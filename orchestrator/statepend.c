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
 * They are in the group as if they had been sent: what a crash loses
 * is what an uncommitted group loses, no more.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "state_int.h"
#include "xalloc.h"

#define PEND_MAX	64	/* accounts a lane keeps at once */

struct pend {
	int64_t id;
	json_t *runs;		/* [{account_id, helper, ...}], or NULL */
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
	json_t *enter;		/* the last state change, or NULL */
};

enum { P_RUN, P_TOKEN, P_ACC, P_RELEASE, P_ALL, P_LAST, P_NR };

struct pend_set {
	struct db *db;
	int pg;
	struct db_stmt *st[P_NR];
	struct pend v[PEND_MAX];
	int nr;
	/* PostgreSQL: the lane's transitions rows and audit lines, in
	 * order: [{account_id, ts, ...}], [{n, kind, line}] */
	json_t *trans, *audit;
};

#define LINES_MAX	1024	/* audit lines a lane keeps at once */

#define RECORD(cols) " AS x(" cols ")"

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
	    " last TEXT, rp BIGINT, rd INTEGER, rw TEXT") "), r AS (INSERT INTO"
	    " runs(account_id, helper, step, started, ended, exit, done,"
	    " error, worker) SELECT * FROM json_to_recordset(CAST(?2 AS"
	    " JSON))" RECORD("account_id BIGINT, helper TEXT, step TEXT,"
	    " started DOUBLE PRECISION, ended DOUBLE PRECISION, exit INTEGER,"
	    " done TEXT, error TEXT, worker TEXT") "), k AS (INSERT INTO"
	    " checkpoints(account_id, helper, token) SELECT * FROM"
	    " json_to_recordset(CAST(?3 AS JSON))" RECORD("account_id BIGINT,"
	    " helper TEXT, token TEXT") " ON CONFLICT(account_id, helper) DO"
	    " UPDATE SET token = excluded.token), t AS (INSERT INTO"
	    " transitions(account_id, ts, from_state, to_state, why, operator)"
	    " SELECT * FROM json_to_recordset(CAST(?5 AS JSON))"
	    RECORD("account_id BIGINT, ts DOUBLE PRECISION, from_state TEXT,"
	    " to_state TEXT, why TEXT, operator TEXT") "), q AS (INSERT INTO"
	    " audit_queue(kind, line) SELECT kind, line FROM"
	    " json_to_recordset(CAST(?6 AS JSON))" RECORD("n INTEGER, kind TEXT,"
	    " line TEXT") " ORDER BY n) UPDATE accounts a SET"
	    " step = CASE WHEN d.hs <> 0 THEN d.step ELSE a.step END,"
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
	    " a.id = ANY(CAST(?4 AS BIGINT[]))",
	/* after it: the last state changes, where their guards hold */
	[P_LAST] = "WITH d AS (SELECT * FROM json_to_recordset(CAST(?1 AS"
	    " JSON))" RECORD("id BIGINT, account TEXT, fr TEXT, st TEXT, rs"
	    " TEXT, at DOUBLE PRECISION, att BIGINT, ec TEXT, er TEXT, w TEXT,"
	    " why TEXT, op TEXT, line TEXT") "), u AS (UPDATE accounts a SET"
	    " state = d.st, resume = d.rs, step = NULL, entered = d.at,"
	    " attempts = d.att, error_class = d.ec, error = d.er, finished ="
	    " CASE WHEN d.st = 'migrated' THEN d.at ELSE a.finished END,"
	    " copy_began = CASE WHEN d.st = 'copying' THEN coalesce("
	    "a.copy_began, d.at) ELSE a.copy_began END FROM d WHERE a.id ="
	    " d.id AND a.state = d.fr AND (d.w IS NULL OR a.owner IS NULL OR"
	    " a.owner = d.w) AND a.id = ANY(CAST(?2 AS BIGINT[])) RETURNING"
	    " a.id), t AS (INSERT INTO transitions(account_id, ts, from_state,"
	    " to_state, why, operator) SELECT d.id, d.at, d.fr, d.st, d.why,"
	    " d.op FROM d JOIN u ON u.id = d.id ORDER BY d.at), q AS (INSERT"
	    " INTO audit_queue(kind, line) SELECT 'event', d.line FROM d JOIN"
	    " u ON u.id = d.id ORDER BY d.at) SELECT d.account, d.fr, d.st"
	    " FROM d WHERE d.id NOT IN (SELECT id FROM u)",
};

struct pend_set *
pend_new(struct db *db, int pg)
{
	struct pend_set *p = xcalloc(1, sizeof(*p));

	p->db = db;
	p->pg = pg;
	if (pg) {
		p->trans = json_array();
		p->audit = json_array();
	}
	return p;
}

static void
clear(struct pend *e)
{
	json_decref(e->runs);
	json_decref(e->tokens);
	free(e->last);
	free(e->step);
	free(e->worker);
	json_decref(e->enter);
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
	json_decref(p->trans);
	json_decref(p->audit);
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

#define S(k) json_string_value(json_object_get(r, k))
#define D(k) json_number_value(json_object_get(r, k))

/* SQLite: what `e` holds, a statement for each write. */
static int
send_one(struct pend_set *p, const struct pend *e)
{
	struct db_stmt *st;
	const char *k;
	json_t *r;
	size_t i;
	int ret = 0;

	json_array_foreach(e->runs, i, r) {
		if ((st = ready(p, P_RUN, e->id))) {
			db_bind_text(st, 2, S("helper"));
			db_bind_text(st, 3, S("step"));
			db_bind_real(st, 4, D("started"));
			db_bind_real(st, 5, D("ended"));
			db_bind_int(st, 6, json_integer_value(
			    json_object_get(r, "exit")));
			db_bind_text(st, 7, S("done"));
			db_bind_text(st, 8, S("error"));
			db_bind_text(st, 9, S("worker"));
		}
		ret |= sent(p, st);
	}
	json_object_foreach(e->tokens, k, r) {
		if ((st = ready(p, P_TOKEN, e->id))) {
			db_bind_text(st, 2, k);
			db_bind_text(st, 3, json_string_value(r));
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

/*
 * PostgreSQL: the entries' last state changes, as the rows of P_LAST,
 * whose answer is awaited: one round trip for the lane's accounts.  The
 * rows it returns are those whose guard did not hold.
 */
static int
send_last(struct pend_set *p)
{
	json_t *rows = json_array();
	struct buf ids = BUF_INIT;
	struct db_stmt *st;
	char *t;
	int n, rc = -1;

	for (n = 0; n < p->nr; n++)
		if (p->v[n].enter) {
			buf_addf(&ids, "%s%lld", ids.len ? "," : "{",
			    (long long)p->v[n].id);
			json_array_append(rows, p->v[n].enter);
		}
	if (!ids.len) {
		json_decref(rows);
		return 0;
	}
	buf_adds(&ids, "}");
	t = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	if ((st = ready(p, P_LAST, 0))) {
		db_bind_text(st, 1, t);
		db_bind_text(st, 2, ids.buf);
	}
	free(t);
	buf_release(&ids);
	while (st && (rc = db_step(st)) == DB_ROW)
		log_warnx("%s: is no longer %s (changed by another command,"
		    " such as migrate hold, or taken by another worker when"
		    " this one's lease ran out): its state %s is not recorded",
		    db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2));
	if (rc < 0)
		log_warnx("state: %s", db_errmsg(p->db));
	if (st)
		db_reset(st);
	return rc < 0 ? -1 : 0;
}

/* PostgreSQL: what every entry holds, as the rows of P_ALL. */
static int
send_all(struct pend_set *p)
{
	json_t *acc = json_array(), *runs = json_array(), *tok = json_array();
	json_t *r;
	struct db_stmt *st;
	const struct pend *e;
	struct buf ids = BUF_INIT;
	const char *k;
	char *t[5];
	int n;

	buf_adds(&ids, "{");
	for (n = 0; n < p->nr; n++) {
		e = &p->v[n];
		buf_addf(&ids, "%s%lld", n ? "," : "", (long long)e->id);
		json_array_append_new(acc, json_pack("{s:I, s:i, s:s?, s:f,"
		    " s:I, s:I, s:I, s:i, s:I, s:s?, s:o, s:i, s:s?}", "id",
		    (json_int_t)e->id, "hs", e->has_step, "step", e->step,
		    "at", e->step_at, "m", (json_int_t)e->messages, "b",
		    (json_int_t)e->bytes, "an", (json_int_t)e->anomalies,
		    "hc", e->has_counters, "dl", (json_int_t)e->deltas,
		    "last", e->last, "rp", e->has_release ?
		    json_integer(e->phase) : json_null(), "rd", e->done,
		    "rw", e->has_release ? e->worker : NULL));
		if (e->runs)
			json_array_extend(runs, e->runs);
		json_object_foreach(e->tokens, k, r)
			json_array_append_new(tok, json_pack("{s:I, s:s, s:O}",
			    "account_id", (json_int_t)e->id, "helper", k,
			    "token", r));
	}
	t[0] = json_dumps(acc, JSON_COMPACT);
	t[1] = json_dumps(runs, JSON_COMPACT);
	t[2] = json_dumps(tok, JSON_COMPACT);
	t[3] = json_dumps(p->trans, JSON_COMPACT);
	t[4] = json_dumps(p->audit, JSON_COMPACT);
	json_array_clear(p->trans);
	json_array_clear(p->audit);
	json_decref(acc);
	json_decref(runs);
	json_decref(tok);
	if ((st = ready(p, P_ALL, 0))) {
		db_bind_text(st, 1, t[0]);
		db_bind_text(st, 2, t[1]);
		db_bind_text(st, 3, t[2]);
		buf_adds(&ids, "}");
		db_bind_text(st, 4, ids.buf);
		db_bind_text(st, 5, t[3]);
		db_bind_text(st, 6, t[4]);
	}
	buf_release(&ids);
	for (n = 0; n < 5; n++)
		free(t[n]);
	return sent(p, st) | send_last(p);
}

int
pend_waiting(const struct pend_set *p)
{
	return p && (p->nr || (p->pg && (json_array_size(p->audit) ||
	    json_array_size(p->trans))));
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
	int i;

	for (i = 0; i < p->nr; i++)
		if (p->v[i].id == id)
			return &p->v[i];
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

	if (!e->runs)
		e->runs = json_array();
	json_array_append_new(e->runs, json_pack("{s:I, s:s, s:s?, s:f, s:f,"
	    " s:i, s:s?, s:s?, s:s?}", "account_id", (json_int_t)id, "helper",
	    r->helper, "step", r->step, "started", r->started, "ended",
	    r->ended, "exit", r->exit_code, "done", r->done_json, "error",
	    r->error, "worker", r->worker));
}

void
pend_enter(struct pend_set *p, int64_t id, double ts, const char *from,
    const char *to, const char *why, const char *operator)
{
	pend_transition(p, id);
	json_array_append_new(p->trans, json_pack("{s:I, s:f, s:s, s:s, s:s?,"
	    " s:s?}", "account_id", (json_int_t)id, "ts", ts, "from_state",
	    from, "to_state", to, "why", why, "operator", operator));
}

void
pend_audit(struct pend_set *p, const char *kind, const char *line)
{
	if (json_array_size(p->audit) >= LINES_MAX)
		pend_flush(p);
	json_array_append_new(p->audit, json_pack("{s:I, s:s, s:s}", "n",
	    (json_int_t)json_array_size(p->audit), "kind", kind, "line",
	    line));
}

void
pend_enter_last(struct pend_set *p, const struct pend_enter *en)
{
	struct pend *e = entry(p, en->id);

	if (e->enter) {		/* one a group: its guard reads the row */
		pend_flush(p);
		e = entry(p, en->id);
	}
	pend_transition(p, en->id);
	e->enter = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:f, s:i, s:s?, s:s?,"
	    " s:s?, s:s?, s:s?, s:s}", "id", (json_int_t)en->id, "account",
	    en->account, "fr", en->from, "st", en->to, "rs", en->resume,
	    "at", en->at, "att", en->attempts, "ec", en->error_class, "er",
	    en->error, "w", en->worker, "why", en->why, "op", en->operator,
	    "line", en->line);
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
