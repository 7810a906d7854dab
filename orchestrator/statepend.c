/*
 * statepend.c: what a helper run writes of its account (its record, the
 * resume token it gave, the counters it added, the step it reached),
 * kept on the thread's lane and written together before the next
 * statement there, or at its group's commit (state_int.h).
 *
 * A chain of helpers writes these four after one another, and each
 * would be a statement of its own.  Together they are one on
 * PostgreSQL, where a statement costs the server more than the row it
 * writes, and the account's row is written once, not four times.
 * SQLite runs them one by one, as it did, minus what merged.
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

#define PEND_MAX	16	/* accounts a lane keeps at once */

struct pend {
	int64_t id;
	char *run_helper, *run_step, *run_done, *run_error, *run_worker;
	double run_started, run_ended;
	int run_exit;
	char *ck_helper, *ck_token;
	int has_step;
	char *step;
	double step_at;
	int has_counters;
	int64_t messages, bytes, anomalies, deltas;
};

enum { P_RUN, P_CKPT, P_ACC, P_ALL, P_NR };

struct pend_set {
	struct db *db;
	int pg;
	struct db_stmt *st[P_NR];
	struct pend v[PEND_MAX];
	int nr;
};

/*
 * One numbering for all: ?1 the account; ?2-?9 the run; ?10-?11 the
 * token; ?12-?14 the step; ?15-?19 the counters.
 */
#define RUN_COLS "INSERT INTO runs(account_id, helper, step, started," \
	" ended, exit, done, error, worker)"
#define CKPT_COLS "INSERT INTO checkpoints(account_id, helper, token)"
#define CKPT_SET " ON CONFLICT(account_id, helper) DO UPDATE SET token =" \
	" excluded.token"
#define ACC_SQL "UPDATE accounts SET" \
	" step = CASE WHEN ?12 <> 0 THEN ?13 ELSE step END," \
	" started = CASE WHEN ?12 <> 0 THEN coalesce(started, ?14)" \
	" ELSE started END, messages = messages + ?15," \
	" bytes = bytes + ?16, anomalies = anomalies + ?17," \
	" deltas = CASE WHEN ?18 <> 0 THEN ?19 ELSE deltas END," \
	" checkpoint = coalesce(CAST(?10 AS TEXT) || ':' ||" \
	" CAST(?11 AS TEXT), checkpoint) WHERE id = ?1"

static const char *const sql[P_NR] = {
	[P_RUN] = RUN_COLS " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[P_CKPT] = CKPT_COLS " VALUES(?1, ?10, ?11)" CKPT_SET,
	[P_ACC] = ACC_SQL,
	/* PostgreSQL: the parts absent are a WHERE that is false */
	[P_ALL] = "WITH r AS (" RUN_COLS " SELECT ?1, CAST(?2 AS TEXT), ?3,"
	    " ?4, ?5, ?6, ?7, ?8, ?9 WHERE ?2 IS NOT NULL), k AS ("
	    CKPT_COLS " SELECT ?1, CAST(?10 AS TEXT), ?11 WHERE ?10 IS NOT"
	    " NULL" CKPT_SET ") " ACC_SQL " AND (?12 <> 0 OR ?18 <> 0 OR ?10"
	    " IS NOT NULL)",
};

struct pend_set *
pend_new(struct db *db, int pg)
{
	struct pend_set *p = xcalloc(1, sizeof(*p));

	p->db = db;
	p->pg = pg;
	return p;
}

static void
clear(struct pend *e)
{
	free(e->run_helper);
	free(e->run_step);
	free(e->run_done);
	free(e->run_error);
	free(e->run_worker);
	free(e->ck_helper);
	free(e->ck_token);
	free(e->step);
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
	free(p);
}

/* Statement `i`, bound to what `e` holds, and sent. */
static int
send_one(struct pend_set *p, int i, const struct pend *e)
{
	struct db_stmt *st = p->st[i];

	if (!st && !(st = p->st[i] = db_prepare(p->db, sql[i], 1)))
		goto fail;
	db_reset(st);
	db_bind_int(st, 1, e->id);
	db_bind_text(st, 2, e->run_helper);
	db_bind_text(st, 3, e->run_step);
	db_bind_real(st, 4, e->run_started);
	db_bind_real(st, 5, e->run_ended);
	db_bind_int(st, 6, e->run_exit);
	db_bind_text(st, 7, e->run_done);
	db_bind_text(st, 8, e->run_error);
	db_bind_text(st, 9, e->run_worker);
	db_bind_text(st, 10, e->ck_helper);
	db_bind_text(st, 11, e->ck_token);
	db_bind_int(st, 12, e->has_step);
	db_bind_text(st, 13, e->step);
	db_bind_real(st, 14, e->step_at);
	db_bind_int(st, 15, e->messages);
	db_bind_int(st, 16, e->bytes);
	db_bind_int(st, 17, e->anomalies);
	db_bind_int(st, 18, e->has_counters);
	db_bind_int(st, 19, e->deltas);
	if (db_send(st) == 0)
		return 0;
fail:
	log_warnx("state: %s", db_errmsg(p->db));
	return -1;
}

/* The writes `e` holds, sent in the group; `e` is empty after. */
static int
flush_one(struct pend_set *p, struct pend *e)
{
	int ret = 0;

	if (p->pg)
		ret = send_one(p, P_ALL, e);
	else {
		if (e->run_helper)
			ret |= send_one(p, P_RUN, e);
		if (e->ck_helper)
			ret |= send_one(p, P_CKPT, e);
		if (e->has_step || e->has_counters || e->ck_helper)
			ret |= send_one(p, P_ACC, e);
	}
	clear(e);
	return ret;
}

int
pend_flush(struct pend_set *p)
{
	int i, ret = 0;

	if (!p)
		return 0;
	for (i = 0; i < p->nr; i++)
		ret |= flush_one(p, &p->v[i]);
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

int
pend_checkpoint(struct pend_set *p, int64_t id, const char *helper,
    const char *token)
{
	struct pend *e = entry(p, id);
	int ret = 0;

	/* another helper's token first: the account's last is this one */
	if (e->ck_helper && strcmp(e->ck_helper, helper)) {
		ret = flush_one(p, e);
		e->id = id;
	}
	free(e->ck_helper);
	free(e->ck_token);
	e->ck_helper = xstrdup(helper);
	e->ck_token = xstrdup(token);
	return ret;
}

int
pend_run(struct pend_set *p, int64_t id, const struct pend_run *r)
{
	struct pend *e = entry(p, id);
	int ret = 0;

	/* a run's record, and what came after it, before the next run's */
	if (e->run_helper) {
		ret = flush_one(p, e);
		e->id = id;
	}
	e->run_helper = xstrdup(r->helper);
	e->run_step = r->step ? xstrdup(r->step) : NULL;
	e->run_started = r->started;
	e->run_ended = r->ended;
	e->run_exit = r->exit_code;
	e->run_done = r->done_json ? xstrdup(r->done_json) : NULL;
	e->run_error = r->error ? xstrdup(r->error) : NULL;
	e->run_worker = r->worker ? xstrdup(r->worker) : NULL;
	return ret;
}
