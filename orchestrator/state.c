#include "compat.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>

#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "db.h"
#include "fileio.h"
#include "log.h"
#include "now.h"
#include "pgrows.h"
#include "plan.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

enum stmt {
	S_GET,
	S_LIST_WAVE,
	S_LIST_ALL,
	S_INSERT,
	S_MARK,
	S_ENTER,
	S_TRANSITION,
	S_CKPT_GET,
	S_ANOMALY,
	S_ITEMS,
	S_ASSESSED,
	S_FINDING,
	S_FAILURE,
	S_QUEUE,
	S_WAVE,
	S_STEP,
	S_INSERT_ROWS,
	S_WAVE_ROWS,
	S_NR
};

#define ROWS_MAX	5000	/* rows of one *_ROWS statement */

/* A worker writes only the accounts it holds (or that no one does) */
#define MINE(me) "(CAST(" me " AS TEXT) IS NULL OR owner IS NULL OR" \
	" owner = " me ")"

#define ENTER_SQL "UPDATE accounts SET state = ?2, resume = ?3, step = NULL," \
	" entered = ?4, attempts = ?5, error_class = ?6, error = ?7," \
	" finished = CASE WHEN ?2 = 'migrated' THEN ?4 ELSE finished END," \
	" copy_began = CASE WHEN ?2 = 'copying' THEN coalesce(copy_began, ?4)" \
	" ELSE copy_began END" \
	" WHERE id = ?1 AND state = ?8 AND " MINE("?9")

static const char *const sql[S_NR] = {
	[S_GET] = "SELECT " ACC_COLS " FROM accounts WHERE account = ?1",
	[S_LIST_WAVE] = "SELECT " ACC_COLS " FROM accounts WHERE wave = ?1"
	    " AND in_plan <> 0 ORDER BY ord",
	[S_LIST_ALL] = "SELECT " ACC_COLS " FROM accounts WHERE in_plan"
	    " <> 0 ORDER BY ord",
	[S_INSERT] = "INSERT INTO accounts(account, login, ord, entered)"
	    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(account) DO UPDATE SET"
	    " login = ?2, ord = ?3, in_plan = 1",
	[S_MARK] = "UPDATE accounts SET in_plan = 0",
	[S_ENTER] = ENTER_SQL,
	[S_TRANSITION] = "INSERT INTO transitions(account_id, ts, from_state,"
	    " to_state, why, operator) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_CKPT_GET] = "SELECT helper, token FROM checkpoints WHERE"
	    " account_id = ?1",
	[S_ANOMALY] = "INSERT INTO anomalies(account_id, helper, kind, event)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[S_ITEMS] = "INSERT INTO items(account_id, kind, count) VALUES(?1, ?2,"
	    " ?3) ON CONFLICT(account_id, kind) DO UPDATE SET count = ?3",
	[S_ASSESSED] = "UPDATE accounts SET assessed_messages = ?2,"
	    " assessed_bytes = ?3 WHERE id = ?1",
	[S_FINDING] = "INSERT INTO findings(account_id, kind, n) VALUES(?1,"
	    " ?2, ?3) ON CONFLICT(account_id, kind) DO UPDATE SET n = ?3",
	[S_FAILURE] = "UPDATE accounts SET attempts = ?2, error_class = ?3,"
	    " error = ?4, not_before = ?5 WHERE id = ?1 AND " MINE("?6"),
	[S_QUEUE] = "INSERT INTO audit_queue(kind, line) VALUES(?1, ?2)",
	[S_WAVE] = "UPDATE accounts SET wave = ?2 WHERE account = ?1",
	[S_STEP] = "UPDATE accounts SET step = ?2 WHERE id = ?1 AND"
	    " state = ?3 AND " MINE("?4"),
	/* PostgreSQL: S_INSERT and S_WAVE for many rows, a column to an
	 * array (pgrows.h), where a statement costs more than the rows it
	 * writes */
	[S_INSERT_ROWS] = "INSERT INTO accounts(account, login, ord, entered)"
	    " SELECT x.a, x.l, x.o, ?4 FROM unnest(CAST(?1 AS TEXT[]),"
	    " CAST(?2 AS TEXT[]), CAST(?3 AS BIGINT[])) AS x(a, l, o) ON"
	    " CONFLICT(account) DO UPDATE SET login = excluded.login, ord ="
	    " excluded.ord, in_plan = 1",
	[S_WAVE_ROWS] = "UPDATE accounts SET wave = x.w FROM"
	    " unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[])) AS x(a, w) WHERE"
	    " accounts.account = x.a",
};

/* Statement `i`, kept on the calling thread's connection; the caller
 * holds its lock. */
static struct db_stmt *
stmt(struct state *s, enum stmt i)
{
	struct db_stmt *st = state_kept(s, sql[i]);

	if (!st)
		fatalx(EX_SOFTWARE, "state: cannot prepare: %s",
		    db_errmsg(state_db(s)));
	return st;
}

/* A statement run now (`wait`), or a write whose outcome can wait for
 * the group's commit (db_send()): 0, or -1, logged. */
static int
run_stmt(struct state *s, struct db_stmt *st, int wait)
{
	if ((wait ? db_step(st) : db_send(st)) < 0) {
		log_warnx("state: %s", db_errmsg(state_db(s)));
		return -1;
	}
	return 0;
}

#define done(s, st) run_stmt((s), (st), 1)
#define sent(s, st) run_stmt((s), (st), 0)

/*
 * Bind the arguments by `types` (i int64, n int, d double, s text or
 * NULL) to statement `which` and step it; the caller holds the lock and
 * has begun the group.
 */
static int
vwrite_locked(struct state *s, enum stmt which, const char *types,
    va_list ap)
{
	struct db_stmt *st = stmt(s, which);

	db_bind_va(st, types, ap);
	return sent(s, st);
}

/* One write, in the group, under the lock: vwrite_locked()'s.  None
 * reads what waits on the lane (statepend.c), which can wait on. */
static int
write_one(struct state *s, enum stmt which, const char *types, ...)
{
	va_list ap;
	int ret;

	if (!state_lock_pend(s))
		return -1;
	va_start(ap, types);
	ret = vwrite_locked(s, which, types, ap);
	va_end(ap);
	state_unlock_db(s);
	return ret;
}

int64_t
state_add_plan(struct state *s, const char *path, const char *name,
    const char *sha256)
{
	struct db_stmt *st;
	int64_t id = -1;

	state_lock_db(s);
	if (state_group(s) == 0 && (st = db_prepare(state_db(s), "INSERT INTO"
	    " plans(applied, path, name, sha256) VALUES(?1, ?2, ?3, ?4)"
	    " RETURNING id", 0))) {
		db_bind_real(st, 1, now_seconds());
		db_bind_text(st, 2, path);
		db_bind_text(st, 3, name);
		db_bind_text(st, 4, sha256);
		if (db_step(st) == DB_ROW)
			id = db_col_int(st, 0);
		else
			log_warnx("state: %s", db_errmsg(state_db(s)));
		db_finalize(st);
	}
	state_unlock_db(s);
	return id;
}

/* How many accounts the state has; the caller holds the lock. */
static int64_t
count_locked(struct state *s)
{
	struct db_stmt *st = db_prepare(state_db(s), "SELECT count(*) FROM"
	    " accounts", 0);
	int64_t n = 0;

	if (st && db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

/*
 * PostgreSQL: the rows kept in `rows` go to statement `which`, a column
 * to each parameter and `now` to the next (S_INSERT_ROWS), once ROWS_MAX
 * are kept, or any with `last`.  The caller holds the lock and has begun
 * the group.
 */
static int
send_rows(struct state *s, enum stmt which, struct pgrows *rows, int last,
    double now)
{
	struct db_stmt *st;
	char *col;
	int i;

	if (rows->nr < (last ? 1 : ROWS_MAX))
		return 0;
	st = stmt(s, which);
	for (i = 0; i < rows->ncol; i++) {
		col = pgrows_col(rows, i);
		db_bind_text(st, i + 1, col);
		free(col);
	}
	if (which == S_INSERT_ROWS)
		db_bind_real(st, rows->ncol + 1, now);
	pgrows_clear(rows);
	return sent(s, st);
}

int
state_sync_accounts(struct state *s, const struct account_spec *v, size_t nr,
    size_t *added_r, struct buf *err)
{
	struct pgrows rows;
	struct db_stmt *st;
	size_t i;
	int ret = 0;
	int64_t before;
	double now = now_seconds();

	pgrows_init(&rows, 3);
	state_lock_db(s);
	if (state_group(s) < 0 || done(s, stmt(s, S_MARK)) < 0) {
		ret = -1;
		goto out;
	}
	before = count_locked(s);
	for (i = 0; i < nr && ret == 0; i++) {
		if (state_shared(s)) {
			pgrows_text(&rows, 0, v[i].account);
			pgrows_text(&rows, 1, v[i].login);
			pgrows_int(&rows, 2, (int64_t)i);
			pgrows_end(&rows);
			ret = send_rows(s, S_INSERT_ROWS, &rows, 0, now);
			continue;
		}
		st = stmt(s, S_INSERT);
		db_bind_text(st, 1, v[i].account);
		db_bind_text(st, 2, v[i].login);
		db_bind_int(st, 3, (int64_t)i);
		db_bind_real(st, 4, now);
		ret = sent(s, st);
	}
	if (ret == 0 && state_shared(s))
		ret = send_rows(s, S_INSERT_ROWS, &rows, 1, now);
	if (ret == 0)
		*added_r = count_locked(s) - before;
	ret = ret < 0 ? -1 : state_commit_locked(s);
out:
	if (ret < 0)
		buf_addf(err, "state: cannot record the accounts: %s",
		    db_errmsg(state_db(s)));
	state_unlock_db(s);
	pgrows_release(&rows);
	return ret;
}

int
state_set_waves(struct state *s, const struct wave_of *v, size_t nr)
{
	int pg = state_shared(s), ret = 0;
	struct pgrows rows;
	struct db_stmt *st;
	size_t i;

	if (!state_lock_pend(s))
		return -1;
	pgrows_init(&rows, 2);
	for (i = 0; i < nr && ret == 0; i++) {
		if (pg) {
			pgrows_text(&rows, 0, v[i].account);
			pgrows_text(&rows, 1, v[i].wave);
			pgrows_end(&rows);
			ret = send_rows(s, S_WAVE_ROWS, &rows, 0, 0);
			continue;
		}
		st = stmt(s, S_WAVE);
		db_bind_text(st, 1, v[i].account);
		db_bind_text(st, 2, v[i].wave);
		ret = sent(s, st);
	}
	if (ret == 0 && pg)
		ret = send_rows(s, S_WAVE_ROWS, &rows, 1, 0);
	state_unlock_db(s);
	pgrows_release(&rows);
	return ret;
}

/* The row `st` is on (its columns ACC_COLS) into `a`. */
void
state_read_account(struct db_stmt *st, struct account *a)
{
	const char *t = db_col_text(st, 5);

	memset(a, 0, sizeof(*a));
	a->id = db_col_int(st, 0);
	a->account = db_col_str(st, 1);
	a->login = db_col_str(st, 2);
	a->wave = db_col_str(st, 3);
	state_parse(db_col_text(st, 4), &a->state);
	/* where a failed or held account resumes */
	a->resume = t && state_parse(t, &a->resume) == 0 ? a->resume :
	    ST_PENDING;
	a->step = db_col_str(st, 6);
	a->attempts = (int)db_col_int(st, 7);
	a->not_before = db_col_real(st, 8);
	a->error_class = db_col_str(st, 9);
	a->error = db_col_str(st, 10);
	a->messages = db_col_int(st, 11);
	a->bytes = db_col_int(st, 12);
	a->anomalies = db_col_int(st, 13);
	a->deltas = db_col_int(st, 14);
	a->checkpoint = db_col_str(st, 15);
}

void
account_free(struct account *a)
{
	free(a->account);
	free(a->login);
	free(a->wave);
	free(a->step);
	free(a->error_class);
	free(a->error);
	free(a->checkpoint);
	json_decref(a->checkpoints);
	memset(a, 0, sizeof(*a));
}

int
state_accounts(struct state *s, const char *wave, struct account **v_r,
    size_t *nr_r)
{
	struct account *v = NULL;
	struct db_stmt *st;
	size_t nr = 0, alloc = 0;
	int rc;

	state_lock_db(s);
	st = stmt(s, wave ? S_LIST_WAVE : S_LIST_ALL);
	if (wave)
		db_bind_text(st, 1, wave);
	while ((rc = db_step(st)) == DB_ROW) {
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xreallocarray(v, alloc, sizeof(*v));
		}
		state_read_account(st, &v[nr++]);
	}
	db_reset(st);
	state_unlock_db(s);
	*v_r = v;
	*nr_r = nr;
	return rc == DB_DONE ? 0 : -1;
}

int
state_account(struct state *s, const char *account, struct account *a)
{
	struct db_stmt *st;
	int rc;

	state_lock_db(s);
	st = stmt(s, S_GET);
	db_bind_text(st, 1, account);
	if ((rc = db_step(st)) == DB_ROW)
		state_read_account(st, a);
	db_reset(st);
	state_unlock_db(s);
	return rc == DB_ROW ? 0 : -1;
}

static int
queue_locked(struct state *s, const char *kind, const char *line)
{
	struct db_stmt *st = stmt(s, S_QUEUE);

	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, line);
	return sent(s, st);
}

int
state_queue_audit(struct state *s, const char *kind, const char *line)
{
	struct pend_set *p;

	if (!state_shared(s))
		return write_one(s, S_QUEUE, "ss", kind, line);
	if (!(p = state_lock_pend(s)))
		return -1;
	pend_audit(p, kind, line);
	state_unlock_db(s);
	return 0;
}

/* A change of state, as the caller asks for it (enter_common() adds
 * `resume` and `attempts`) */
struct enter_to {
	enum acc_state state, resume;
	int attempts;
	const char *why, *kind, *extra;
};

/*
 * The row of `a` in state `to`, its transition, its audit line and
 * another of `kind` (when not NULL); the caller holds the lock and has
 * begun the group.  0; 1 when the account was no longer as `a` says (its
 * state, or another worker's lease); -1.
 *
 * On PostgreSQL, where a statement costs the server more than the rows
 * it writes, the change is kept on the lane (statepend.c), with those
 * before it: `later`, it goes with the group's other writes, its guard
 * checked there; otherwise now, in one statement with them, its guard's
 * answer awaited.
 */
static int
write_enter(struct state *s, struct pend_set *p, const struct account *a,
    const struct enter_to *to, double now, const char *line, int later)
{
	struct db_stmt *st;
	const char *from = state_name(a->state);
	int held = to->state == ST_FAILED || to->state == ST_HELD;

	if (state_shared(s)) {
		if (pend_hop(p, &(struct pend_enter){ a->id, a->account, from,
		    state_name(to->state), held ? state_name(to->resume) :
		    NULL, now, to->attempts, held ? a->error_class : NULL,
		    held ? a->error : NULL, state_worker(s), to->why,
		    state_operator(s), line, to->kind, to->extra }) < 0)
			return -1;
		if (later)
			return 0;
		return pend_send_hops(p, a->id, NULL) == 0 ?
		    pend_hops_sent(p, a->id) : -1;
	}
	st = stmt(s, S_ENTER);
	db_bind_int(st, 1, a->id);
	db_bind_text(st, 2, state_name(to->state));
	if (held) {
		db_bind_text(st, 3, state_name(to->resume));
		db_bind_text(st, 6, a->error_class);
		db_bind_text(st, 7, a->error);
	}
	db_bind_real(st, 4, now);
	db_bind_int(st, 5, to->attempts);
	db_bind_text(st, 8, from);
	db_bind_text(st, 9, state_worker(s));
	if (done(s, st) < 0)
		return -1;
	if (db_changes(st) != 1)
		return 1;
	/* what waits on the lane does not depend on the transition, but
	 * for the step, which it cleared */
	pend_transition(p, a->id);
	st = stmt(s, S_TRANSITION);
	db_bind_int(st, 1, a->id);
	db_bind_real(st, 2, now);
	db_bind_text(st, 3, from);
	db_bind_text(st, 4, state_name(to->state));
	db_bind_text(st, 5, to->why);
	db_bind_text(st, 6, state_operator(s));
	if (sent(s, st) < 0 || queue_locked(s, "event", line) < 0)
		return -1;
	return to->kind && queue_locked(s, to->kind, to->extra) < 0 ? -1 : 0;
}

static int
enter_common(struct state *s, struct account *a, struct enter_to *t,
    int later, struct buf *err)
{
	enum acc_state from = a->state, to = t->state;
	double now = now_seconds();
	struct pend_set *p;
	json_t *ev;
	char *line;
	int ret = -1, back;

	/* from failed or held, work goes on where it stopped */
	back = (from == ST_FAILED || from == ST_HELD) && to == a->resume &&
	    to != ST_FAILED && to != ST_HELD;
	if (!back && !state_allowed(from, to)) {
		buf_addf(err, "%s: cannot go from %s to %s", a->account,
		    state_name(from), state_name(to));
		return -1;
	}
	t->resume = a->resume;
	if (to == ST_FAILED || to == ST_HELD)
		t->resume = from == ST_FAILED || from == ST_HELD ? a->resume :
		    from;
	/* failing, holding and going back keep the count of attempts */
	t->attempts = to == ST_FAILED || to == ST_HELD || back ?
	    a->attempts : 0;
	ev = json_pack("{s:f, s:s, s:s, s:s, s:s?, s:s?}", "ts", now,
	    "account", a->account, "from", state_name(from), "to",
	    state_name(to), "wave", a->wave, "why", t->why);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);

	if ((p = state_lock_pend(s))) {
		ret = write_enter(s, p, a, t, now, line, later);
		state_unlock_db(s);
	}
	if (ret > 0)
		buf_addf(err, "%s: is no longer %s (changed by another"
		    " command, such as migrate hold%s); ", a->account,
		    state_name(from), state_worker(s) ? ", or taken by another"
		    " worker when this one's lease ran out" : "");
	free(line);
	if (ret != 0) {
		buf_addf(err, "%s: cannot record the state %s",
		    a->account, state_name(to));
		return -1;
	}
	a->state = to;
	a->resume = t->resume;
	free(a->step);
	a->step = NULL;
	if (to != ST_FAILED && to != ST_HELD) {
		if (!back)
			a->attempts = 0;
		free(a->error_class);
		free(a->error);
		a->error_class = a->error = NULL;
	}
	return 0;
}

int
enter_state(struct state *s, struct account *a, enum acc_state to,
    const char *why, struct buf *err)
{
	return enter_common(s, a, &(struct enter_to){ .state = to, .why =
	    why }, 0, err);
}

int
enter_state_later(struct state *s, struct account *a, enum acc_state to,
    const char *why, struct buf *err)
{
	return enter_common(s, a, &(struct enter_to){ .state = to, .why =
	    why }, 1, err);
}

int
enter_state_with(struct state *s, struct account *a, enum acc_state to,
    const char *why, const char *kind, const char *extra, int later,
    struct buf *err)
{
	return enter_common(s, a, &(struct enter_to){ .state = to, .why =
	    why, .kind = kind, .extra = extra }, later, err);
}

int
state_set_step(struct state *s, struct account *a, const char *step)
{
	struct pend_set *p = state_lock_pend(s);

	if (!p)
		return -1;
	pend_step(p, a->id, step, now_seconds());
	state_unlock_db(s);
	if (step != a->step) {
		free(a->step);
		a->step = step ? xstrdup(step) : NULL;
	}
	return 0;
}

int
state_commit_step(struct state *s, struct account *a, const char *step)
{
	struct db_stmt *st;
	struct pend_set *p;
	int ret = -1, sent, committed;

	/* kept on the lane too, so that no older step there overrides it */
	if (state_set_step(s, a, step) < 0)
		return -1;
	if (!state_shared(s))
		return 0;
	if (!(p = state_lock_pend(s)))
		return -1;
	/* with the changes of state kept, if any: their guard is its, its
	 * answer read with the commit's */
	if ((sent = pend_send_hops(p, a->id, step)) == 2) {
		st = stmt(s, S_STEP);
		db_bind_int(st, 1, a->id);
		db_bind_text(st, 2, step);
		db_bind_text(st, 3, state_name(a->state));
		db_bind_text(st, 4, state_worker(s));
		if (done(s, st) == 0)
			ret = db_changes(st) == 1 ? 0 : 1;
	}
	committed = state_commit_bare_locked(s);
	if (sent == 0)
		ret = pend_hops_sent(p, a->id);
	if (committed < 0 || sent < 0)
		ret = -1;
	state_unlock_db(s);
	return ret;
}

int
state_checkpoint(struct state *s, struct account *a, const char *helper,
    const char *token)
{
	struct pend_set *p = state_lock_pend(s);

	if (p) {
		pend_checkpoint(p, a->id, helper, token);
		state_unlock_db(s);
	}
	if (p) {
		free(a->checkpoint);
		a->checkpoint = xasprintf("%s:%s", helper, token);
		if (a->checkpoints)
			json_object_set_new(a->checkpoints, helper,
			    json_string(token));
	}
	return p ? 0 : -1;
}

/* Every helper's token, read at the first asking: the apply that runs the
 * account writes them, and keeps them (state_checkpoint()). */
char *
state_checkpoint_of(struct state *s, struct account *a, const char *helper)
{
	struct db_stmt *st;
	json_t *rows, *t;
	size_t i;

	if (!a->checkpoints) {
		state_lock_db(s);
		st = stmt(s, S_CKPT_GET);
		db_bind_int(st, 1, a->id);
		rows = db_json_rows(st);
		db_reset(st);
		state_unlock_db(s);
		a->checkpoints = json_object();
		json_array_foreach(rows, i, t)
			json_object_set(a->checkpoints, json_string_value(
			    json_object_get(t, "helper")), json_object_get(t,
			    "token"));
		json_decref(rows);
	}
	t = json_object_get(a->checkpoints, helper);
	return t ? xstrdup(json_string_value(t)) : NULL;
}

int
state_record_run(struct state *s, struct account *a, const char *helper,
    const char *step, double started, int exit_code, const char *done_json,
    const char *error)
{
	struct pend_run r = { helper, step, started, now_seconds(),
	    exit_code, done_json, error, state_worker(s) };
	struct pend_set *p = state_lock_pend(s);

	if (!p)
		return -1;
	pend_run(p, a->id, &r);
	state_unlock_db(s);
	return 0;
}

int
state_record_anomaly(struct state *s, struct account *a, const char *helper,
    const char *kind, const char *event_json)
{
	return write_one(s, S_ANOMALY, "isss", a->id, helper, kind,
	    event_json);
}

int
state_set_items(struct state *s, struct account *a, const char *kind,
    int64_t count)
{
	return write_one(s, S_ITEMS, "isi", a->id, kind, count);
}

int
state_set_assessed(struct state *s, struct account *a, int64_t messages,
    int64_t bytes)
{
	return write_one(s, S_ASSESSED, "iii", a->id, messages, bytes);
}

int
state_set_finding(struct state *s, struct account *a, const char *kind,
    int64_t n)
{
	return write_one(s, S_FINDING, "isi", a->id, kind, n);
}

int
state_add_counters(struct state *s, struct account *a, int64_t messages,
    int64_t bytes, int64_t anomalies)
{
	struct pend_set *p = state_lock_pend(s);

	if (!p)
		return -1;
	pend_counters(p, a->id, messages, bytes, anomalies, a->deltas);
	state_unlock_db(s);
	a->messages += messages;
	a->bytes += bytes;
	a->anomalies += anomalies;
	return 0;
}

int
state_set_failure(struct state *s, struct account *a, const char *cls,
    const char *error, double not_before)
{
	int ret = write_one(s, S_FAILURE, "inssds", a->id, a->attempts, cls,
	    error, not_before, state_worker(s));

	if (ret == 0) {
		free(a->error_class);
		free(a->error);
		a->error_class = cls ? xstrdup(cls) : NULL;
		a->error = error ? xstrdup(error) : NULL;
		a->not_before = not_before;
	}
	return ret;
}

int
state_audit_done(struct state *s, int64_t first, int64_t last)
{
	struct db_stmt *st;
	int ret = -1;

	state_lock_db(s);
	if (state_group(s) == 0 && (st = db_prepare(state_db(s), "DELETE FROM"
	    " audit_queue WHERE id BETWEEN ?1 AND ?2", 0))) {
		db_bind_int(st, 1, first);
		db_bind_int(st, 2, last);
		ret = done(s, st);
		db_finalize(st);
	}
	state_unlock_db(s);
	return ret;
}
