/*
 * state_int.h: for the state's own files (state.c, statedb.c,
 * statelease.c, stateview.c, statereport.c, stateres.c, statepend.c)
 * only: the database under the state's lock, and rows as JSON.
 */
#ifndef MIGRATE_STATE_INT_H
#define MIGRATE_STATE_INT_H

#include <jansson.h>

#include "buf.h"
#include "db.h"

struct state;

/*
 * Where the state's tables are: `dir` itself when it is a URL, else the
 * URL in DIR/database (the plan's 'database'), else DIR/state.db; NULL
 * with `err` set when DIR cannot be made.
 */
char *state_where(const char *dir, struct buf *err);

/* The calling thread's connection to the database (statedb.c), with its
 * lock taken; state_unlock_db() gives it back.  state_db(): the same
 * when the caller holds the lock. */
struct db *state_lock_db(struct state *s);
void state_unlock_db(struct state *s);
struct db *state_db(struct state *s);
/* The group of writes on it begun unless it is open, or committed; the
 * caller holds the lock. */
int state_group(struct state *s);
int state_commit_locked(struct state *s);
/* The same, without what waits on the lane: it goes with the next. */
int state_commit_bare_locked(struct state *s);
/* Every connection locked, its group committed: for what touches the
 * rows of every thread (statedb.c says why).  Returns the first. */
struct db *state_lock_all(struct state *s);
void state_unlock_all(struct state *s);
/* The calling thread's claims go on a connection of their own, where no
 * group is ever open (PostgreSQL; SQLite has one): state_claims_lane(s,
 * -1) switches to it and returns the lane to switch back to, with
 * state_claims_lane(s, that). */
int state_claims_lane(struct state *s, int was);
/* Who runs this command (state_set_operator()), or NULL */
const char *state_operator(struct state *s);
/* The statement `sql` (a string that lives as long as the program: it
 * is known by its address), prepared once and kept; the caller holds
 * the lock.  NULL when it cannot be prepared. */
struct db_stmt *state_kept(struct state *s, const char *text);
/* An account's columns, as state_read_account() reads them */
#define ACC_COLS "id, account, login, wave, state, resume, step, attempts," \
	" not_before, error_class, error, messages, bytes, anomalies, deltas," \
	" checkpoint"
#define ACC_NCOLS 16
/* The account of a row whose first columns are ACC_COLS. */
struct account;
void state_read_account(struct db_stmt *st, struct account *a);
/* The same in the current group of writes (begun if need be); NULL, the
 * lock not taken, when it cannot begin. */
struct db *state_lock_group(struct state *s);

/*
 * The writes of helper runs, and the accounts given back, that wait on
 * a lane (statepend.c): sent at the commit, and before a statement that
 * may read them (state_lock_db()).  state_lock_pend() is
 * state_lock_group() without that, for a write that does not read them.
 */
struct pend_set;
struct pend_run {
	const char *helper, *step;
	double started, ended;
	int exit_code;
	const char *done_json, *error, *worker;
};
struct pend_set *pend_new(struct db *db, int pg);
void pend_free(struct pend_set *p);
int pend_flush(struct pend_set *p);
int pend_waiting(const struct pend_set *p);	/* whether any write does */
struct pend_set *state_lock_pend(struct state *s);
/* An account's step (`now` the time it began), counters, a helper's
 * token, a run's record, its release (statelease.c): kept, with what
 * it overrides or adds to.  pend_transition(): the account's state
 * changes, which clears its step. */
void pend_step(struct pend_set *p, int64_t id, const char *step, double now);
void pend_counters(struct pend_set *p, int64_t id, int64_t messages,
    int64_t bytes, int64_t anomalies, int64_t deltas);
void pend_checkpoint(struct pend_set *p, int64_t id, const char *helper,
    const char *token);
void pend_run(struct pend_set *p, int64_t id, const struct pend_run *r);
void pend_release(struct pend_set *p, int64_t id, int64_t phase, int done,
    const char *worker);
void pend_transition(struct pend_set *p, int64_t id);
/* PostgreSQL: an audit line, kept in order. */
void pend_audit(struct pend_set *p, const char *kind, const char *line);
/*
 * PostgreSQL: a change of state of the account, kept (its step cleared
 * as pend_transition() does), after any kept before it, with its
 * transitions row, its audit line and another of kind `kind` when that
 * is not NULL.  0, or -1 when it cannot be kept: the account's kept
 * changes are then dropped.
 *
 * They are written together, under one guard: the account still in the
 * first one's `from` state, and this worker's or no one's.  When it does
 * not hold, nothing of them is written, nor the account's step kept.
 * pend_flush() sends every account's, and a warning names each one
 * whose guard did not hold; pend_send_hops() only account `id`'s, now,
 * with its step `step`, into the pipeline: 0, 2 when none was kept, -1.
 * pend_hops_sent() then says how they went, after the commit or with a
 * round trip of its own: 0, 1 when the guard did not hold, -1.
 */
struct pend_enter {
	int64_t id;
	const char *account, *from, *to, *resume;
	double at;
	int attempts;
	const char *error_class, *error, *worker, *why, *operator, *line;
	const char *kind, *extra;
};
int pend_hop(struct pend_set *p, const struct pend_enter *en);
int pend_send_hops(struct pend_set *p, int64_t id, const char *step);
int pend_hops_sent(struct pend_set *p, int64_t id);

/* The rows of `sql` (?1 bound to `id` unless it is negative) as an array
 * of objects, a member per column under its name, of its type. */
json_t *state_json_rows(struct state *s, const char *sql, int64_t id);
/* The same with the strings `params` (NULL for NULL) bound to ?1...?n. */
json_t *state_json_rows_text(struct state *s, const char *sql, int n,
    const char *const *params);

#endif
