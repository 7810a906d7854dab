/*
 * lease.c: the accounts of a state shared by workers (the state in
 * PostgreSQL, see statelease.c), on the runner's side.
 *
 * The coordinator, plan apply, runs the phases as ever; it opens each in
 * the state with the accounts it has work for, commits the audit lines
 * every worker queues, and closes the phase when none is left.  A worker
 * (migrate worker, on any host) follows the phases the coordinator opens.
 * The coordinator's threads and every worker's claim the phase's
 * accounts one at a time, each under a lease that the watch loop renews.
 * An account's archive stays on the worker that pulled it (its home): an
 * account that comes to another worker before its cutover is pulled
 * again there, from nothing; one past its cutover waits for its home.
 */
#include "compat.h"

#include <string.h>
#include <time.h>

#include "audit.h"
#include "buf.h"
#include "exec_path.h"
#include "log.h"
#include "now.h"
#include "proc.h"
#include "runner_p.h"
#include "xalloc.h"

/* seconds between the coordinator's folds of the census's rows */
#define CENSUS_FOLD_EVERY	2
/* seconds between the watch's counts of what is left, with threads */
#define COUNT_EVERY	10

static const char *const kinds[] = {
	[PH_ASSESSMENT] = "assessment",
	[PH_MOVE] = "move",
	[PH_DELTA] = "delta",
	[PH_FINALIZE] = "finalize",
};

void
audit_now(struct run *r, int all)
{
	struct buf err = BUF_INIT;
	long n;

	if (!r->au)
		return;		/* a worker: the coordinator commits */
	do {
		n = audit_flush(r->au, r->s, r->mapping_txt, &err);
		if (n < 0)
			say(r, "%s", err.buf);
	} while (all && n > 0);
	buf_release(&err);
}

/* What is left of the phase, counted in the state (-1: unknown). */
static int64_t
count_left(struct run *r)
{
	int64_t left;

	if (state_phase_left(r->s, r->phase_id, &left, NULL, NULL) < 0)
		return -1;
	pthread_mutex_lock(&r->lock);
	r->remaining = (size_t)left;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return left;
}

/* How many accounts to hold queued ahead of the threads: a quarter of
 * this worker's share of what is left, QUEUE_LEN() at most. */
static size_t
ahead(const struct run *r)
{
	size_t n = r->remaining / (size_t)(r->live > 1 ? r->live : 1) / 4;

	return n < QUEUE_LEN(r) ? n : QUEUE_LEN(r);
}

/* Whether a thread of this worker has an account; the caller holds
 * r->lock. */
static int
slots_busy(const struct run *r)
{
	int k;

	for (k = 0; k < r->nr_slots; k++)
		if (r->slots[k].account[0])
			return 1;
	return 0;
}

/*
 * Claim for the threads, in one statement: one account for each, and
 * ahead of them up to QUEUE_LEN() when the phase has much left, a
 * quarter of this worker's share of it at most, so that the accounts go
 * to every worker alive and the last ones to whoever is free.  The
 * caller holds r->lock; one thread claims at a time, while the others
 * take what is queued.  How many came, or -1.
 */
static int
claim(struct run *r)
{
	int64_t ord = r->claim_ord;
	struct claimed *to;
	size_t room;
	int n, busy = 1;

	/* what is queued goes first; the others take from it meanwhile,
	 * and the claim fills in after it */
	memmove(r->queue, r->queue + r->qhead, r->queued * sizeof(*r->queue));
	r->qhead = 0;
	to = r->queue + r->queued;
	room = ahead(r) > r->queued ? ahead(r) - r->queued : 0;
	if (r->queued + room < (size_t)r->nr_slots)
		room = (size_t)r->nr_slots - r->queued;
	r->claiming = 1;
	pthread_mutex_unlock(&r->lock);
	n = state_claim(r->s, r->phase_id, now_seconds(), r->lease, &ord,
	    to, room);
	if (n == 0 && r->claim_ord > 0) {
		/* none after the last: those before may be due again */
		ord = 0;
		n = state_claim(r->s, r->phase_id, now_seconds(), r->lease,
		    &ord, to, room);
	}
	/* the accounts given back count once committed (a claim does not
	 * commit them: it has a connection of its own); while a thread here
	 * has one, the phase goes on, and the last of them counts */
	if (n == 0) {
		pthread_mutex_lock(&r->lock);
		busy = slots_busy(r);
		pthread_mutex_unlock(&r->lock);
	}
	if (!busy && state_flush(r->s) == 0)
		count_left(r);
	pthread_mutex_lock(&r->lock);
	r->claiming = 0;
	if (n > 0) {
		r->claim_ord = ord;
		r->queued += (size_t)n;
	} else
		r->fruitless = now_seconds();
	pthread_cond_broadcast(&r->cond);
	return n;
}

/*
 * The next account for a thread, from the queue or claimed: 1, or 0
 * when the phase has nothing left for this worker or it stops.  The
 * caller holds r->lock.
 */
static int
next_account(struct run *r, struct claimed *c)
{
	struct timespec ts;

	while (!stopping) {
		if (r->queued) {
			*c = r->queue[r->qhead++];
			r->queued--;
			/* in a phase with much left, fewer queued than
			 * threads: the next claim now, before they wait */
			if (r->queued < (size_t)r->nr_slots &&
			    ahead(r) > (size_t)r->nr_slots && !r->claiming &&
			    now_seconds() - r->fruitless >= 1)
				claim(r);
			return 1;
		}
		if (r->claiming) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		/* after a claim that found nothing, the next a second later
		 * or once a thread gave one back: not each thread in turn */
		if (now_seconds() - r->fruitless >= 1 && claim(r) > 0)
			continue;
		if (!r->remaining)
			return 0;
		/* nothing due: the others' accounts may come back, backoffs
		 * end */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	return 0;
}

void
lease_worker(struct run *r, struct slot *sl)
{
	struct buf err = BUF_INIT;
	const char *me = state_worker(r->s);
	struct claimed c;
	enum worked w;

	pthread_mutex_lock(&r->lock);
	while (next_account(r, &c)) {
		snprintf(sl->account, sizeof(sl->account), "%s", c.a.account);
		sl->since = now_seconds();
		pthread_mutex_unlock(&r->lock);

		w = work_one(r, sl, &c.a, c.home && strcmp(c.home, me), &err);
		state_release(r->s, &c.a, r->phase_id, w != W_AGAIN);
		free(c.home);
		account_free(&c.a);
		pthread_mutex_lock(&r->lock);
		r->fruitless = 0;
		if (w == W_DONE)
			r->nr_done++;
		else if (w == W_FAILED)
			r->nr_failed++;
		sl->account[0] = '\0';
		sl->what[0] = '\0';
		pthread_cond_broadcast(&r->cond);
	}
	/* stopped: what is queued is given back (state_unclaim() at the
	 * end) */
	while (r->queued) {
		c = r->queue[r->qhead++];
		r->queued--;
		free(c.home);
		account_free(&c.a);
	}
	pthread_mutex_unlock(&r->lock);
	buf_release(&err);
}

/*
 * The coordinator: the audit lines every worker queued, committed within
 * a second of a flip (after the export of the mapping as the flips left
 * it) or every 30 s, as the apply commits its own.
 */
static void
audit_workers(struct run *r, double now, int all)
{
	const char *argv[7];
	struct child c = CHILD_INIT;
	struct buf err = BUF_INIT;
	char *path;

	if (r->fake || !state_flips_pending(r->s)) {
		/* (the bookkeeping bench's flips are not in a mapping) */
		if (all || now - r->audited >= (r->fake ? 1 : 30)) {
			audit_now(r, all);
			r->audited = now;
		}
		return;
	}
	path = exec_path_of("map-flip");
	argv[0] = path;
	argv[1] = "--store";
	argv[2] = r->p->mapping;
	argv[3] = "--export";
	argv[4] = r->mapping_txt;
	argv[5] = "--list";
	argv[6] = NULL;
	c.argv = argv;
	c.in = PROC_NULL;
	c.out = PROC_NULL;
	if (proc_start(&c, &err) < 0 || proc_finish(&c) != 0)
		say(r, "the export of the mapping (%s) was not refreshed%s%s",
		    r->mapping_txt, err.len ? ": " : "", err.buf);
	free(path);
	buf_release(&err);
	audit_now(r, all);
	r->audited = now;
}

/* The coordinator: the accounts that wait for a worker that is gone,
 * or for any. */
static void
say_orphans(struct run *r)
{
	json_t *rows = state_orphans(r->s, r->phase_id, r->lease), *row;
	size_t i;

	/* plan apply --coordinate, and no worker */
	if (r->o->coordinate && !r->said_idle &&
	    state_live_workers(r->s, r->lease) == 0) {
		say(r, "phase %s: its accounts wait for workers, and none"
		    " runs: start 'migrate worker' with this plan on a host",
		    r->phase_name);
		r->said_idle = 1;
	}
	json_array_foreach(rows, i, row)
		say(r, "%s waits for worker %s, which holds its archive and is"
		    " not running: start it again on its host (migrate worker"
		    " --name %s), or roll the account back", json_string_value(
		    json_object_get(row, "account")), json_string_value(
		    json_object_get(row, "home")), json_string_value(
		    json_object_get(row, "home")));
	json_decref(rows);
}

void
lease_watch(struct run *r, double now)
{
	int64_t left;
	struct phase_row ph;
	double every = r->lease / 3 < 10 ? r->lease / 3 : 10;

	if (now - r->renewed >= every) {
		state_renew(r->s, r->lease, !r->o->coordinate);
		r->renewed = now;
	}
	/* the census's rows stay few without a status to fold them */
	if (r->coordinator && now - r->folded >= CENSUS_FOLD_EVERY) {
		state_census_fold(r->s);
		r->folded = now;
	}
	if (now - r->polled < r->poll_every)
		return;
	r->polled = now;
	if (!r->o->coordinate)
		load_share(r, state_live_workers(r->s, r->lease));
	/* a count reads every account (0.1 s for 100,000 on PostgreSQL):
	 * the threads count when they find nothing to claim, and this
	 * only for a coordinator without them, or for how many to claim
	 * ahead (ahead()) every COUNT_EVERY seconds */
	if (r->nr_slots && now - r->counted < COUNT_EVERY) {
		pthread_mutex_lock(&r->lock);
		left = (int64_t)r->remaining;
		pthread_mutex_unlock(&r->lock);
	} else if ((left = count_left(r)) < 0)
		return;
	else
		r->counted = now;
	r->poll_every = lease_pace(now_seconds() - now);
	/* a worker leaves a phase that a rerun of the apply opened again */
	if (!r->coordinator && state_phase_last(r->s, &ph) == 1) {
		if (ph.id != r->phase_id) {
			pthread_mutex_lock(&r->lock);
			r->remaining = 0;
			pthread_cond_broadcast(&r->cond);
			pthread_mutex_unlock(&r->lock);
		}
		phase_row_free(&ph);
	}
	if (r->coordinator)
		audit_workers(r, now, 0);
	if (r->coordinator && left > 0 && now - r->orphans_at >= r->lease) {
		say_orphans(r);
		r->orphans_at = now;
	}
}

double
lease_pace(double took)
{
	return took * 20 < 1 ? 1 : took * 20;
}

int
lease_phase_of(const char *kind, enum phase *ph)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i])) {
			*ph = (enum phase)i;
			return 0;
		}
	return -1;
}

int
lease_open(struct run *r, const char *name, const char *wave)
{
	int64_t *ids = xcalloc(r->nr_items + 1, sizeof(*ids));
	size_t i;

	for (i = 0; i < r->nr_items; i++)
		ids[i] = r->items[i].a.id;
	r->phase_id = state_phase_open(r->s, r->run_id, name,
	    kinds[r->phase], wave, ids, r->nr_items);
	free(ids);
	if (r->phase_id < 0) {
		say(r, "state: cannot open the phase %s for the workers", name);
		return -1;
	}
	r->polled = 0;
	r->counted = 0;
	r->poll_every = 1;
	r->fruitless = 0;
	r->claim_ord = 0;
	r->said_idle = 0;
	return 0;
}

void
lease_close(struct run *r)
{
	int64_t left, done, failed;

	if (!r->coordinator)
		return;
	if (state_phase_left(r->s, r->phase_id, &left, &done, &failed) == 0) {
		/* the failed ones set aside before, and what every worker
		 * did */
		r->nr_failed = r->phase_total - r->nr_items + (size_t)failed;
		r->nr_done = (size_t)done;
	}
	if (!stopping)
		state_phase_close(r->s, r->phase_id, NULL);
	audit_workers(r, now_seconds(), 1);
}
