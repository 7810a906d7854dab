/*
 * runner.h: `migrate plan apply`: the phases of a plan, each account's
 * steps through its helpers, in parallel up to the plan's limits.
 */
#ifndef MIGRATE_RUNNER_H
#define MIGRATE_RUNNER_H

struct plan;
struct state;
struct audit;
struct account;
struct buf;

struct apply_opts {
	int progress;		/* draw a progress display (a terminal) */
	int only_phase;		/* -1: all; else run only that phase */
	const char *worker;	/* this process's name among workers */
	int coordinate;		/* the state shared: leave the accounts to
				 * the workers (plan apply --coordinate) */
};

/*
 * Apply the plan.  Returns an exit code: 0 when every phase is done, 75
 * when a phase ended with failed accounts (the apply stops there), 70 and
 * others for trouble of the orchestrator itself.
 */
int plan_apply(struct plan *p, struct state *s, struct audit *a,
    const struct apply_opts *o);

/*
 * migrate worker (lease.c): work on the accounts of the phases that the
 * coordinator (a plan apply of the same state in PostgreSQL) opens, until
 * that apply ends.  Returns 0, EX_CONFIG when the state is not shared, or
 * 128 + the signal that stopped it.
 */
int plan_work(struct plan *p, struct state *s, const struct apply_opts *o);

/*
 * Flip one account back to the source (migrate rollback ACCOUNT): first
 * carry back what its user did on the destination (see rollback.c), under
 * a hold at the proxy; then the flip and its record; then the release.
 * RB_FLIPPED: the mapping is so already (rollback --to, which called
 * runner_carry_back() first): only the record and the release.
 * RB_NO_CARRY: the flip alone, for a destination that cannot be read.
 * Returns 0, or an exit code with `err` set: EX_TEMPFAIL when trying
 * again may work (a server down, a timeout), EX_DATAERR when it will not
 * until someone acts, EX_CANTCREAT when the state cannot record it; on
 * failure the account stays where it was.
 */
enum rollback_how {
	RB_CARRY,	/* carry back, then flip */
	RB_FLIPPED,	/* the mapping is so already: record, release */
	RB_NO_CARRY,	/* flip, carrying nothing back (a dead destination) */
};
int runner_rollback(struct plan *p, struct state *s, struct audit *a,
    struct account *acc, const char *why, enum rollback_how how,
    struct buf *err);

/* The carry-back of runner_rollback() alone, leaving the hold taken. */
int runner_carry_back(struct plan *p, struct state *s, struct audit *a,
    struct account *acc, struct buf *err);

/* Release a hold that runner_carry_back() left. */
int runner_release(struct plan *p, struct state *s, struct audit *a,
    struct account *acc, struct buf *err);

/* Run map-flip --restore with an export (migrate rollback --to). */
int runner_restore(struct plan *p, const char *export_path, struct buf *err);

/*
 * migrate prune (disk.c): remove the archives of the accounts finalized
 * more than archives.retention_days ago, each recorded in the state and
 * committed to the audit; with `dry_run` only say which.  Returns 0, or
 * an exit code with `err` set (EX_CONFIG: the plan keeps every archive).
 */
int runner_prune(struct plan *p, struct state *s, struct audit *au,
    int dry_run, struct buf *err);

#endif
