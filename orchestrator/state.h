/*
 * state.h: the orchestrator's state, a SQLite database in the state
 * directory (state.db, WAL mode), and the accounts' state machine.
 *
 * Writes are grouped: a transaction stays open while changes come and is
 * committed at the latest 200 ms after it began (state_tick())
 * or at once (state_flush()).  A crash loses at most that much, all of it
 * together: a checkpoint and the state change it belongs to are in one
 * transaction, and every step a lost change would have recorded is safe
 * to run again; with workers, the step before a flip is committed first
 * (state_commit_step()).  All calls take the state's lock (its
 * connection's, see state_use_lane()); any thread may call.
 */
#ifndef MIGRATE_STATE_H
#define MIGRATE_STATE_H

#include <stdint.h>

#include <jansson.h>

struct buf;
struct state;


enum acc_state {
	ST_PENDING,
	ST_ASSESSED,
	ST_COPYING,
	ST_COPIED,
	ST_VERIFIED,
	ST_CUTOVER,
	ST_MIGRATED,
	ST_FINALIZED,
	ST_FAILED,
	ST_HELD,
	ST_ROLLED_BACK,
	ST_NR
};

const char *state_name(enum acc_state st);
int state_parse(const char *s, enum acc_state *st);

/* One account's row, as the runner holds it. */
struct account {
	int64_t id;
	char *account, *login, *wave;
	enum acc_state state, resume;
	char *step;
	int attempts;
	double not_before;
	char *error_class, *error;
	char *checkpoint;	/* HELPER:TOKEN, the last resume token */
	int64_t messages, bytes, anomalies, deltas;
	json_t *checkpoints;	/* {HELPER: TOKEN}, read once, or NULL */
};

void account_free(struct account *a);

/* DIR/database: the URL of the state's tables when they are not in
 * DIR/state.db (the plan's 'database') */
#define STATE_DATABASE_FILE "database"

/*
 * Open (and make, and migrate) the state of DIR: DIR/state.db, or the
 * PostgreSQL database DIR/database names.  DIR may be that URL itself,
 * for the commands that only read the state (status, report).
 */
int state_open(struct state **s, const char *dir, struct buf *err);
void state_close(struct state *s);

/*
 * Tie the state of DIR to the database `url` (NULL: DIR/state.db), as the
 * plan's 'database' says, the first time; then check that it still says
 * so.  -1 with `err` set when it does not: a state does not move.
 */
int state_bind(const char *dir, const char *url, struct buf *err);

/*
 * Take DIR/apply.lock for this process: an flock, which a dead process
 * does not keep.  -1 with `err` naming the holder's pid if it is busy.
 */
int state_lock_apply(const char *dir, int *fd_r, struct buf *err);

/* Commit what is pending if the group is old enough, or now. */
int state_tick(struct state *s);
int state_flush(struct state *s);
/* state_set_step(); where workers share the state, the step also
 * written at once, guarded by the account's state and lease, and the
 * calling thread's group committed without what waits for its commit
 * (helper runs, tokens, counters): two round trips.  0; 1 when the
 * account is no longer as `a` says; -1. */
int state_commit_step(struct state *s, struct account *a, const char *step);
/* A commit failed: what it held is lost, and nothing more is written. */
int state_broken(const struct state *s);
/* The calling thread, the k-th worker thread (k >= 1), uses a connection
 * of its own, opened at its first use, when the state is in PostgreSQL;
 * 0: the main thread's.  Twice the host's processors at most, and eight:
 * threads beyond share them. */
void state_use_lane(struct state *s, int k);

/* Record a plan revision; returns its number. */
int64_t state_add_plan(struct state *s, const char *path, const char *name,
    const char *sha256);

/*
 * Make sure each of `accounts` (account, login pairs) has a row; `ord` is
 * its place in the plan.  Rows the plan no longer names are marked, never
 * deleted.  `added_r` counts the new rows.
 */
struct account_spec;
int state_sync_accounts(struct state *s, const struct account_spec *v,
    size_t nr, size_t *added_r, struct buf *err);

/* Put each account in its wave. */
struct wave_of {
	const char *account, *wave;
};
int state_set_waves(struct state *s, const struct wave_of *v, size_t nr);

/* Accounts of `wave` (NULL: every account of the plan), in plan order. */
int state_accounts(struct state *s, const char *wave, struct account **v_r,
    size_t *nr_r);
int state_account(struct state *s, const char *account, struct account *a);
/* The accounts of the plan in the states of `states` (bit 1 << state),
 * in plan order: their id, account, login, wave and state, no more (the
 * rest is zero).  For what reads them often: fewer columns, fewer rows. */
int state_accounts_in(struct state *s, unsigned states, struct account **v_r,
    size_t *nr_r);

/*
 * The one place where an account changes state: checks that `to` may
 * follow the current state, writes the row, a transitions row and an
 * audit line, in the current group.  `why` may be NULL.  Errors (a
 * transition the machine does not allow) are bugs of the caller or an
 * operator's mistake; `err` says which.
 */
int enter_state(struct state *s, struct account *a, enum acc_state to,
    const char *why, struct buf *err);

/*
 * The same for a change whose guard may be checked later: on PostgreSQL
 * it is kept, and goes with the account's next change of state or
 * committed step (state_commit_step()), whose guard is then the first
 * one's, or else with the group's other writes.  0 means it is kept; if
 * the account was changed meanwhile (by another command, or another
 * worker after this one's lease ran out), nothing of the changes kept is
 * written, and that next change fails, or a warning says so.  Nothing
 * the caller does until then may need it in the database.  On SQLite it
 * is enter_state().
 */
int enter_state_later(struct state *s, struct account *a, enum acc_state to,
    const char *why, struct buf *err);

/* enter_state(), or with `later` enter_state_later(), with one more audit
 * line of `kind` in the same transaction. */
int enter_state_with(struct state *s, struct account *a, enum acc_state to,
    const char *why, const char *kind, const char *line, int later,
    struct buf *err);

/* Whether `to` may follow `from`. */
int state_allowed(enum acc_state from, enum acc_state to);
/* Whether the account was cut over (also when failed or held since). */
int cut_over(const struct account *a);

/* The step of the current state that is done. */
int state_set_step(struct state *s, struct account *a, const char *step);

/* A helper's resume token for the account, and the last one given. */
int state_checkpoint(struct state *s, struct account *a, const char *helper,
    const char *token);
char *state_checkpoint_of(struct state *s, struct account *a,
    const char *helper);

/* A helper run: its exit and done event; counters are added up. */
int state_record_run(struct state *s, struct account *a, const char *helper,
    const char *step, double started, int exit_code, const char *done_json,
    const char *error);
int state_record_anomaly(struct state *s, struct account *a,
    const char *helper, const char *kind, const char *event_json);

/*
 * What an account holds besides mail ("Sieve scripts", "events",
 * "contacts", "files"), as its last pull counted it.  state_items_text():
 * "12 events, 2 Sieve scripts" of one account, or of all summed when
 * `account_id` is 0 (caller frees); *obj_r (may be NULL) the same as a
 * JSON object.
 */
int state_set_items(struct state *s, struct account *a, const char *kind,
    int64_t count);
char *state_items_text(struct state *s, int64_t account_id, json_t **obj_r);

/* Who runs this command ("Name <email>", as audit_operator() says), for
 * the transitions it records. */
void state_set_operator(struct state *s, const char *who);

/*
 * statelease.c: accounts shared by workers (migrate worker), the state in
 * PostgreSQL.  state_shared(): whether it is.  state_set_worker() names
 * this process's worker (NULL: none): from then on, its state changes,
 * failures and runs are written only to accounts that it holds or that no
 * one does, and its runs carry its name.
 */
int state_shared(struct state *s);
/* On PostgreSQL, this process the one plan apply of the database (an
 * advisory lock, which its first connection holds until it closes): -1
 * when another holds it.  On SQLite, the directory's lock is enough
 * (state_lock_apply()). */
int state_lock_coordinator(struct state *s, struct buf *err);
void state_set_worker(struct state *s, const char *name);
const char *state_worker(struct state *s);

/* The coordinator opens a phase with the ids of the accounts it has work
 * for (and closes the last one still open): its id, or -1.  Closing the
 * last with `run_id` ends that apply: the workers that joined it go. */
int64_t state_phase_open(struct state *s, const char *run_id,
    const char *name, const char *kind, const char *wave, const int64_t *ids,
    size_t nr);
int state_phase_close(struct state *s, int64_t phase, const char *run_id);
/* The last phase opened: 1, 0 (none ever), -1; kind "end" when its apply
 * is over.  Free with phase_row_free(). */
struct phase_row {
	int64_t id;
	char *run_id, *name, *kind, *wave;
	int closed;
};
int state_phase_last(struct state *s, struct phase_row *ph);
void phase_row_free(struct phase_row *ph);

/*
 * Claim up to `max` accounts of `phase`, the first from the place *ord
 * in the plan on that no live lease holds and whose backoff is over at
 * `now` (an account past its cutover only if this worker is its home),
 * for `lease` seconds: how many, each read into v[i] with its home before
 * (NULL: none), and *ord the last one's place; 0 when none is due, -1.
 * (The index of the phase's accounts keeps those done until a vacuum: a
 * claim from the start of the plan each time would step over them.)
 * state_release() gives one back, with `done` as done in that
 * phase; state_renew() renews every lease of this worker and, when it
 * works on accounts (`alive`), says it lives.
 */
struct claimed {
	struct account a;
	char *home;
};
int state_claim(struct state *s, int64_t phase, double now, double lease,
    int64_t *ord, struct claimed *v, size_t max);
int state_release(struct state *s, const struct account *a, int64_t phase,
    int done);
int state_renew(struct state *s, double lease, int alive);
/* This worker's leases given back, and it gone from the live ones: at
 * its start (they were a dead process's of the same name, the same state
 * directory) and its end. */
int state_unclaim(struct state *s);
/* The workers that said they are `alive` to state_renew() within the
 * last `lease` seconds. */
int state_live_workers(struct state *s, double lease);
/* The account's {worker: its lease's holder, lease_until, home: the
 * worker that holds its archive}, or NULL when it never had a worker. */
json_t *state_lease(struct state *s, int64_t account_id);
/* The accounts of `phase` past their cutover whose home is not alive
 * (within `lease` seconds): {account, home}, each once, its reason to
 * wait recorded (status shows it) until a worker claims it. */
json_t *state_orphans(struct state *s, int64_t phase, double lease);
/* The workers that did not say they went: [{name, seen: when they last
 * renewed their leases, holds: the accounts they hold, homes: those
 * whose archive they have}], these two from `holders`, which
 * state_census() counted. */
json_t *state_workers(struct state *s, const json_t *holders);
/* Whether a flip's audit line waits in the queue. */
int state_flips_pending(struct state *s);
/* The phase's accounts still to do, done, and failed for good (`done`
 * NULL: the first only, which is cheaper). */
int state_phase_left(struct state *s, int64_t phase, int64_t *left,
    int64_t *done, int64_t *failed);

/* The size of the account's mail as the assessment counted it. */
int state_set_assessed(struct state *s, struct account *a, int64_t messages,
    int64_t bytes);
/* What the assessment found of the account besides its mail's size
 * (kind "folders", "shared-folders", "shared-collections",
 * "pop3-logins"), counted;
 * "oldest-mail": when its oldest message came. */
int state_set_finding(struct state *s, struct account *a, const char *kind,
    int64_t n);

/* Counters of a finished run into the account's row. */
int state_add_counters(struct state *s, struct account *a, int64_t messages,
    int64_t bytes, int64_t anomalies);
/* What the account's archive holds after a pull: its messages and bytes
 * pulled are at least that much, whatever runs a crash left uncounted
 * (stateres.c). */
int state_set_archived(struct state *s, struct account *a, int64_t messages,
    int64_t bytes);

/* Failure bookkeeping: attempts, class, text, backoff. */
int state_set_failure(struct state *s, struct account *a, const char *cls,
    const char *error, double not_before);

/* An audit line of `kind` (event, flip, plan), queued in the group. */
int state_queue_audit(struct state *s, const char *kind, const char *line);

/* The queued audit lines up to `max`: ids and lines (caller frees). */
struct audit_line {
	int64_t id;
	char *kind, *line;
};
int state_audit_pending(struct state *s, size_t max, struct audit_line **v_r,
    size_t *nr_r);
/* The queued lines from id `first` to `last` committed: dropped. */
int state_audit_done(struct state *s, int64_t first, int64_t last);
void audit_lines_free(struct audit_line *v, size_t nr);

/* stateview.c: what the state holds, read for people and finalize */

/* An account by its address, its login or its local part (when only one
 * has it): 0, or -1 when there is none or more than one. */
int state_find_account(struct state *s, const char *name, struct account *a);
/* An account's transitions and helper runs, oldest first: JSON arrays. */
json_t *state_transitions(struct state *s, int64_t account_id);

/*
 * stateres.c: the archives' disk.  An account waits for room before its
 * pull with `why` (NULL: no longer); state_waiting() lists those that do
 * ({account, waiting}).  state_prunable() lists the finalized accounts
 * whose archive is kept ({id, account, finalized: when}), oldest first;
 * state_set_pruned() records one removed, state_pruned() when (0: not).
 */
/*
 * stateres.c: the connections the source's pulls may hold together, as
 * the apply adapts them: a row at each change; state_connections() the
 * last ({ts, conns, ceiling, why, cuts: how many were cuts}), or NULL.
 */
int state_add_connections(struct state *s, int conns, int ceiling,
    const char *why);
json_t *state_connections(struct state *s);

int state_set_waiting(struct state *s, const struct account *a,
    const char *why);
json_t *state_waiting(struct state *s);
json_t *state_prunable(struct state *s);
int state_set_pruned(struct state *s, int64_t account_id, double when);
double state_pruned(struct state *s, int64_t account_id);
json_t *state_runs(struct state *s, int64_t account_id);
/* The accounts whose last jmap-push left shares pending: [{account, home
 * (its worker's, shared), pending (JSON text of an array), ready (the
 * accounts it knew)}]. */
json_t *state_shares_pending(struct state *s);
/* The failed accounts grouped by class and reason, most common first. */
json_t *state_failures(struct state *s);
/*
 * The ETA's measurement (stateview.c): `accounts` that reached migrated,
 * the `bytes` they pulled, between `from` (the first one's first copy)
 * and `to`, so that accounts moved side by side count once; `recent`
 * when they are those after a time (state_census()), else the last 20
 * (state_rate_last()).
 */
struct rate_sample {
	int64_t accounts, bytes;
	double from, to;
	int recent;
};
int state_rate_last(struct state *s, struct rate_sample *r);

/* What state_census() counts besides, in the same reading of the plan's
 * accounts (the caller frees the JSON). */
struct census_more {
	double since;		/* given: the start of `recent` */
	struct rate_sample recent; /* those migrated after `since`, the
				 * last 1000 at most */
	json_t *left;		/* what is left, by wave: {WAVE: {"accounts",
				 * "bytes", "unsized"}}, of the accounts not
				 * yet migrated (nor held or rolled back); an
				 * account weighs what the assessment counted,
				 * or what it pulled if that is more;
				 * "unsized" have neither */
	double mean;		/* what a sized account weighs on average */
	json_t *holders;	/* {WORKER: {"holds", "homes"}}: the accounts
				 * each holds, and those whose archive it has */
};
/*
 * {"waves": {WAVE: {STATE: n}}, "totals": {STATE: n}, "accounts",
 * "messages", "bytes", "anomalies", "left"} of the plan's accounts, and
 * with `m`, more.
 */
json_t *state_census(struct state *s, struct census_more *m);
/* On PostgreSQL, the census's rows of each statement that changed
 * accounts folded into one per group (state/0016-census.sql), as the
 * coordinator does every few seconds.  -1 (said) on an error. */
int state_census_fold(struct state *s);
/* The assessment's timed sample reads of the source (findings
 * "sample-bytes", "sample-ms"): how many accounts, bytes, seconds. */
int state_source_sample(struct state *s, int64_t *accounts, int64_t *bytes,
    double *seconds);
void state_assessed(struct state *s, int64_t account_id, int64_t *messages_r,
    int64_t *bytes_r);

/* What `migrate report` shows, read at once (statereport.c): {"waves",
 * "sizes", "largest", "pulls", "migrated", "pulled_messages", "sources",
 * "states", "oldest", "slowest", "anomalies", "risks", "cutovers",
 * "plans"}, each an array of rows. */
json_t *state_report(struct state *s);

/* A page of the accounts of `wave` (NULL: all), `per_page` a page, the
 * first page 0, in the plan's order, with how many there are in all in
 * *total: [{account, wave, state, step, assessed_messages,
 * assessed_bytes, messages, bytes, anomalies, error}]. */
json_t *state_wave_page(struct state *s, const char *wave, int64_t page,
    int64_t per_page, int64_t *total);

/* An account's anomalies: {"kinds": [{kind, helper, count}], "first":
 * the first 200 [{kind, helper, folder, uid, text}]}. */
json_t *state_account_anomalies(struct state *s, int64_t account_id);

/* The last plan revision applied: 1, or 0 when none was. */
struct plan_rev {
	int id;
	char *sha256, *path, *applied;	/* applied: local time */
};
int state_last_plan(struct state *s, struct plan_rev *r);
void plan_rev_release(struct plan_rev *r);

/* What finalize found: one check's last finding (1 ok, 0 not, -1 none);
 * all of them replaced by `items`; all of them (NULL: none yet). */
int state_finalize_was_ok(struct state *s, const char *what);
int state_finalize_set(struct state *s, json_t *items);
json_t *state_finalize_items(struct state *s);

#endif
