/*
 * runner.c: the phases of a plan and each account's way through them.
 *
 * The main thread runs the phases in order.  For each it loads the
 * accounts the phase concerns and starts up to limits.parallel_accounts
 * workers; a worker takes the next account that is due, drives it through
 * its helpers (imap-pull, jmap-push, map-flip) until the phase is done
 * with it, and takes the next.  Meanwhile the main thread commits the
 * state in groups, commits the audit log in batches and draws the
 * progress.  Every state change goes through enter_state().
 */
#include "compat.h"

#include <dirent.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "buf.h"
#include "exec_path.h"
#include "fileio.h"
#include "finalize.h"
#include "log.h"
#include "mapping.h"
#include "now.h"
#include "plan.h"
#include "proc.h"
#include "runner.h"
#include "runner_p.h"
#include "state.h"
#include "xalloc.h"

volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	stopping = sig;
}

static void
catch_signals(void)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* for good, not per child: workers start children at once */
	signal(SIGPIPE, SIG_IGN);
}

/* --- the phase loop ------------------------------------------------------ */

static void *
worker(void *arg)
{
	struct run *r = ((void **)arg)[0];
	struct slot *sl = ((void **)arg)[1];
	struct buf err = BUF_INIT;

	free(arg);
	state_use_lane(r->s, (int)(sl - r->slots) + 1);
	if (r->shared) {
		lease_worker(r, sl);
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct item *it = NULL;
		double now = now_seconds(), soonest = 0;
		enum worked w;
		size_t i;
		int waiting = 0;

		if (stopping)
			break;
		for (i = r->cursor; i < r->nr_items; i++) {
			struct item *c = &r->items[i];

			if (c->status != 0) {
				if (i == r->cursor)
					r->cursor++;
				continue;
			}
			if (c->a.not_before > now) {
				if (!waiting || c->a.not_before < soonest)
					soonest = c->a.not_before;
				waiting = 1;
				continue;
			}
			it = c;
			break;
		}
		if (!it && !waiting)
			break;
		if (!it) {
			struct timespec ts;

			ts.tv_sec = (time_t)soonest;
			ts.tv_nsec = (long)((soonest - ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
			continue;
		}
		it->status = 1;
		snprintf(sl->account, sizeof(sl->account), "%s",
		    it->a.account);
		sl->since = now;
		pthread_mutex_unlock(&r->lock);

		w = work_one(r, sl, &it->a, 0, &err);
		pthread_mutex_lock(&r->lock);
		it->status = w == W_AGAIN ? 0 : 2;
		if (w == W_FAILED)
			r->nr_failed++;
		else if (w == W_DONE)
			r->nr_done++;
		if (it->status == 0 && (size_t)(it - r->items) < r->cursor)
			r->cursor = it - r->items;
		else if (it->status == 2)
			r->remaining--;
		sl->account[0] = '\0';
		sl->what[0] = '\0';
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	buf_release(&err);
	return NULL;
}

/* Whether account `a` has work in this phase. */
static int
concerns(struct run *r, const struct account *a)
{
	switch (r->phase) {
	case PH_ASSESSMENT:
		return a->state == ST_PENDING || (a->state == ST_FAILED &&
		    a->resume == ST_PENDING);
	case PH_MOVE:
		return a->state != ST_HELD && a->state != ST_MIGRATED &&
		    a->state != ST_FINALIZED && a->state != ST_ROLLED_BACK;
	case PH_DELTA:
	case PH_FINALIZE:
		return a->state == ST_MIGRATED || (a->state == ST_FAILED &&
		    a->resume == ST_MIGRATED);
	}
	return 0;
}

/*
 * The phase's accounts, those it concerns: a failure that needs an
 * operator stays until one acts (it is counted, not worked on).
 */
static int
take_items(struct run *r, const char *wave)
{
	struct account *v = NULL;
	size_t nr = 0, i, j;

	if (state_accounts(r->s, wave, &v, &nr) < 0) {
		say(r, "state: cannot read the accounts");
		return -1;
	}
	r->items = xcalloc(nr ? nr : 1, sizeof(*r->items));
	for (i = j = 0; i < nr; i++) {
		if (concerns(r, &v[i]) && !(v[i].state == ST_FAILED &&
		    v[i].error_class && !strcmp(v[i].error_class,
		    "permanent"))) {
			r->items[j].a = v[i];
			r->items[j].a.not_before = 0;
			if (v[i].state == ST_FAILED)
				r->items[j].a.attempts = 0;
			j++;
		} else {
			if (v[i].state == ST_FAILED && concerns(r, &v[i]))
				r->nr_failed++;
			account_free(&v[i]);
		}
	}
	free(v);
	r->nr_items = r->remaining = j;
	return 0;
}

/*
 * While the workers work: the state committed as it goes, the audit
 * every 30 s (within a second of a flip), the progress drawn; a stop
 * sends SIGTERM to every helper running.
 */
static void
watch(struct run *r)
{
	struct timespec ts = { 0, 100 * 1000000 };
	double now, last_audit = now_seconds(), last_ready = last_audit;
	double ready_every = 1;
	int busy, k;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		busy = r->remaining > 0;
		if (stopping) {
			for (k = 0; k < r->nr_slots; k++)
				if (r->slots[k].child &&
				    r->slots[k].child->pid > 0)
					proc_kill(r->slots[k].child, SIGTERM);
			busy = 0;
		}
		pthread_mutex_unlock(&r->lock);
		if (!busy)
			break;
		nanosleep(&ts, NULL);
		state_tick(r->s);
		if (state_broken(r->s) && !stopping) {
			say(r, "state: a commit failed, and what it held is"
			    " lost: the apply stops; run the same command"
			    " again to go on");
			stopping = STOP_STATE;
		}
		now = now_seconds();
		if (r->shared)
			lease_watch(r, now);	/* the audit too */
		else if ((r->flips && now - last_audit >= 1) ||
		    now - last_audit >= 30) {
			r->flips = 0;
			audit_now(r, 0);
			last_audit = now;
		}
		if (now - last_ready >= ready_every) {
			share_ready_flush(r);
			last_ready = now_seconds();
			ready_every = lease_pace(last_ready - now);
		}
		if (r->o->progress)
			draw(r, 0);
	}
	share_ready_flush(r);
}

/*
 * Run one phase over the accounts of `wave` (NULL: all): the number that
 * failed for good, or -1 when stopped.
 */
static long
run_phase(struct run *r, enum phase ph, const char *name, const char *wave)
{
	pthread_t *tids;
	size_t i;
	int n, k;

	r->phase = ph;
	r->phase_name = name;
	/* a worker learns the phase's accounts by claiming them */
	if ((!r->shared || r->coordinator) && take_items(r, wave) < 0)
		return -1;
	r->phase_total = r->nr_items + r->nr_failed;
	r->cursor = 0;
	r->nr_done = 0;
	r->phase_start = now_seconds();
	if (r->shared && r->coordinator && lease_open(r, name, wave) < 0)
		return -1;
	if (r->shared && !r->coordinator) {
		r->remaining = 1;	/* until counted */
		say(r, "phase %s: joined", name);
	} else {
		say(r, "phase %s: %zu accounts", name, r->nr_items);
	}

	n = (int)r->p->limits.parallel_accounts;
	if ((size_t)n > r->nr_items && (!r->shared || r->coordinator))
		n = (int)r->nr_items;
	if (r->o->coordinate)
		n = 0;
	r->nr_slots = n;
	r->slots = xcalloc(n ? n : 1, sizeof(*r->slots));
	if (r->shared)
		r->queue = xcalloc(n ? QUEUE_LEN(r) : 1, sizeof(*r->queue));
	tids = xcalloc(n ? n : 1, sizeof(*tids));
	for (k = 0; k < n; k++) {
		void **arg = xcalloc(2, sizeof(*arg));

		arg[0] = r;
		arg[1] = &r->slots[k];
		if (pthread_create(&tids[k], NULL, worker, arg) != 0)
			fatalx(EX_OSERR, "cannot start a worker thread");
	}
	watch(r);
	for (k = 0; k < n; k++)
		pthread_join(tids[k], NULL);
	free(tids);
	if (r->o->progress)
		draw(r, 1);
	state_flush(r->s);
	if (r->shared)
		lease_close(r);
	r->flips = 0;
	audit_now(r, 1);
	for (i = 0; i < r->nr_items; i++)
		account_free(&r->items[i].a);
	free(r->items);
	r->items = NULL;
	free(r->slots);
	r->slots = NULL;
	free(r->queue);
	r->queue = NULL;
	r->nr_slots = 0;
	say(r, "phase %s: %zu done, %zu failed", name, r->nr_done,
	    r->nr_failed);
	if (stopping)
		return -1;
	{
		long failed = (long)r->nr_failed;

		r->nr_failed = 0;
		return failed;
	}
}

/* Whether `a` (an address) is what a wave's selection names. */
static int
in_wave(const struct plan *p, const struct wave *w, const char *account)
{
	const char *at = strchr(account, '@');
	size_t i;
	int any = 0;

	if (w->accounts.nr) {
		any = 1;
		for (i = 0; i < w->accounts.nr; i++) {
			char *full = strchr(w->accounts.v[i], '@') ?
			    xstrdup(w->accounts.v[i]) : xasprintf("%s@%s",
			    w->accounts.v[i], p->accounts.default_domain ?
			    p->accounts.default_domain : "");
			int hit = !strcasecmp(full, account);

			free(full);
			if (hit)
				return 1;
		}
	}
	if (w->pattern) {
		any = 1;
		if (fnmatch(w->pattern, account, FNM_CASEFOLD) == 0)
			return 1;
	}
	if (w->domain) {
		any = 1;
		if (at && !strcasecmp(at + 1, w->domain))
			return 1;
	}
	return !any;
}

/* Give each account without a wave the first that selects it. */
static int
assign_waves(struct run *r)
{
	struct plan *p = r->p;
	struct account *v;
	struct wave_of *to;
	size_t nr, i, k, n = 0;
	long long *taken;
	int ret;

	if (state_accounts_in(r->s, ~0u, &v, &nr) < 0)
		return -1;
	taken = xcalloc(p->phases.nr_waves + 1, sizeof(*taken));
	to = xcalloc(nr + 1, sizeof(*to));
	for (i = 0; i < nr; i++)
		for (k = 0; k < p->phases.nr_waves; k++)
			if (v[i].wave && !strcmp(v[i].wave,
			    p->phases.waves[k].name))
				taken[k]++;
	for (i = 0; i < nr; i++) {
		if (v[i].wave)
			continue;
		if (p->phases.pilot.present) {
			struct wave pw = { .accounts = p->phases.pilot.accounts };

			if (in_wave(p, &pw, v[i].account)) {
				to[n++] = (struct wave_of){ v[i].account,
				    "pilot" };
				continue;
			}
		}
		for (k = 0; k < p->phases.nr_waves; k++) {
			struct wave *w = &p->phases.waves[k];

			if ((w->batch && taken[k] >= w->batch) ||
			    !in_wave(p, w, v[i].account))
				continue;
			to[n++] = (struct wave_of){ v[i].account, w->name };
			taken[k]++;
			break;
		}
	}
	ret = state_set_waves(r->s, to, n) < 0 ? -1 : state_flush(r->s);
	for (i = 0; i < nr; i++)
		account_free(&v[i]);
	free(v);
	free(to);
	free(taken);
	return ret;
}

int
run_open(struct run *r, struct plan *p, struct state *s, struct audit *a,
    const struct apply_opts *o, struct buf *err)
{
	char *logdir = xasprintf("%s/log", p->state_dir), *path;
	char *reports = xasprintf("%s/reports", p->state_dir);
	char *archives = xasprintf("%s/archives", p->state_dir);
	char *run = xasprintf("%s/run", p->state_dir);
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->p = p;
	r->s = s;
	r->au = a;
	r->o = o;
	r->fake = getenv("MIGRATE_FAKE_HELPERS") != NULL;
	load_start(r, 0);
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->mapping_lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->mapping_txt = xasprintf("%s/mapping.txt", p->state_dir);
	r->share_ready = xasprintf("%s/share-ready", p->state_dir);
	r->run_id = xasprintf("%ld-%ld", (long)time(NULL), (long)getpid());
	if (mkdir_p(logdir, err) < 0 || mkdir_p(reports, err) < 0 ||
	    mkdir_p(archives, err) < 0 || mkdir_p(run, err) < 0)
		ret = -1;
	path = xasprintf("%s/apply.log", logdir);
	if (ret == 0 && !(r->logf = fopen(path, "ae"))) {
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && p->source.auth.master_user && !r->fake &&
	    !(r->master_password = secret_resolve(
	    &p->source.auth.master_password, NULL, err)))
		ret = -1;
	/* apply, rollback and release alike: the caller holds the apply
	 * lock, so what run files name was left by a dead migrate */
	if (ret == 0)
		reap_orphans(r);
	if (ret == 0 && share_ready_write(r, NULL) < 0) {
		buf_addf(err, "cannot write '%s'", r->share_ready);
		ret = -1;
	}
	free(path);
	free(logdir);
	free(reports);
	free(archives);
	free(run);
	return ret;
}

void
run_close(struct run *r)
{
	if (r->master_password) {
		explicit_bzero(r->master_password, strlen(r->master_password));
		free(r->master_password);
	}
	if (r->logf)
		fclose(r->logf);
	free(r->mapping_txt);
	free(r->share_ready);
	free(r->dest_sieve);
	free(r->run_id);
	pthread_mutex_destroy(&r->lock);
	mapping_close(r->mapping);
	pthread_mutex_destroy(&r->mapping_lock);
	pthread_cond_destroy(&r->cond);
}

/*
 * Whether `failed` accounts of a phase of `total` are more than
 * limits.max_failures lets the apply go on with.
 */
static int
too_many(const struct limits *l, long failed, size_t total)
{
	if (l->max_failures_share)
		return failed * 100 > l->max_failures * (long long)total;
	return failed > l->max_failures;
}

/* Run a phase: 0 to go on, 1 when it failed too many, -1 when stopped. */
static int
phase(struct run *r, enum phase ph, const char *name, const char *wave)
{
	long failed = run_phase(r, ph, name, wave);

	if (failed < 0)
		return -1;
	if (ph != PH_ASSESSMENT)
		shares_pass(r);
	if (!failed)
		return 0;
	if (too_many(&r->p->limits, failed, r->phase_total))
		return 1;
	say(r, "phase %s: %ld of %zu accounts failed, set aside (at most %lld"
	    "%s may); the others go on", name, failed, r->phase_total,
	    r->p->limits.max_failures, r->p->limits.max_failures_share ? "%" :
	    "");
	return 0;
}

/* The accounts of the plan failed now. */
static long
failed_now(struct run *r)
{
	struct account *v;
	size_t nr, i;
	long n = 0;

	if (state_accounts(r->s, NULL, &v, &nr) < 0)
		return 0;
	for (i = 0; i < nr; i++) {
		n += v[i].state == ST_FAILED;
		account_free(&v[i]);
	}
	free(v);
	return n;
}

int
plan_apply(struct plan *p, struct state *s, struct audit *au,
    const struct apply_opts *o)
{
	struct run r;
	struct buf err = BUF_INIT;
	long failed;
	size_t k;
	int code = 0, stop = 0, waiting = 0;

	if (run_open(&r, p, s, au, o, &err) < 0) {
		log_warnx("%s", err.buf);
		buf_release(&err);
		run_close(&r);
		return EX_CANTCREAT;
	}
	load_start(&r, 1);
	catch_signals();
	if ((r.shared = state_shared(s))) {
		r.coordinator = 1;
		r.lease = (double)p->limits.lease_seconds;
		state_set_worker(s, o->worker);
		state_unclaim(s);
	}
	if (assign_waves(&r) < 0) {
		log_warnx("state: cannot assign the waves");
		run_close(&r);
		return EX_SOFTWARE;
	}
	say(&r, "apply %s: state in %s, the helpers' logs in %s/log/apply.log",
	    p->file, p->state_dir, p->state_dir);
	if (p->phases.assessment.present &&
	    !(stop = phase(&r, PH_ASSESSMENT, "assessment", NULL)))
		assess_summary(&r);
	if (!stop && p->phases.pilot.present)
		stop = phase(&r, PH_MOVE, "pilot", "pilot");
	for (k = 0; !stop && k < p->phases.nr_waves; k++)
		stop = phase(&r, PH_MOVE, p->phases.waves[k].name,
		    p->phases.waves[k].name);
	if (!stop && p->phases.delta.present && p->phases.delta.passes > 0)
		stop = phase(&r, PH_DELTA, "delta", NULL);
	if (!stop && p->phases.finalize.present &&
	    !(stop = phase(&r, PH_FINALIZE, "finalize", NULL)))
		waiting = finalize_world(&r) != 0;
	failed = failed_now(&r);
	if (stop < 0) {
		if (stopping != STOP_STATE)
			say(&r, "stopped by signal %d; run the same command"
			    " again to go on", (int)stopping);
		code = STOP_CODE(stopping);
	} else if (stop > 0) {
		say(&r, "phase %s ended with more failed accounts than"
		    " limits.max_failures allows: the apply stops here; see"
		    " 'migrate status', then 'migrate retry' or 'migrate"
		    " hold' them and apply again", r.phase_name);
		code = EX_TEMPFAIL;
	} else if (failed > 0) {
		say(&r, "apply %s: done, but %ld accounts failed and were set"
		    " aside: see 'migrate status'; a retryable one is tried"
		    " again by the next apply", p->file, failed);
		code = EX_TEMPFAIL;
	} else if (waiting) {
		say(&r, "apply %s: finalize waits for what it names above (see"
		    " 'migrate status'); apply again once it is so", p->file);
		code = EX_TEMPFAIL;
	} else {
		say(&r, "apply %s: done", p->file);
	}
	state_flush(s);
	/* the workers that joined this apply go */
	if (r.shared && (state_phase_close(s, r.phase_id, r.run_id) < 0 ||
	    state_unclaim(s) < 0))
		say(&r, "state: cannot record the apply's end for the workers");
	audit_now(&r, 1);
	run_close(&r);
	buf_release(&err);
	return code;
}

int
plan_work(struct plan *p, struct state *s, const struct apply_opts *o)
{
	struct run r;
	struct buf err = BUF_INIT;
	struct phase_row ph;
	int64_t ended = 0, worked = 0;
	enum phase k;
	int rc, said = 0;

	if (run_open(&r, p, s, NULL, o, &err) < 0) {
		log_warnx("%s", err.buf);
		buf_release(&err);
		run_close(&r);
		return EX_CANTCREAT;
	}
	catch_signals();
	r.shared = 1;
	r.lease = (double)p->limits.lease_seconds;
	state_set_worker(s, o->worker);
	state_unclaim(s);
	/* an apply over before this worker came is not the one it waits for */
	if (state_phase_last(s, &ph) == 1 && !strcmp(ph.kind, "end"))
		ended = ph.id;
	phase_row_free(&ph);
	while (!stopping) {
		if ((rc = state_phase_last(s, &ph)) == 1 && !strcmp(ph.kind,
		    "end") && ph.id != ended) {
			say(&r, "worker %s: the apply is over", o->worker);
			phase_row_free(&ph);
			break;
		}
		if (rc == 1 && !ph.closed && ph.id != worked &&
		    lease_phase_of(ph.kind, &k) == 0) {
			r.phase_id = worked = ph.id;
			r.claim_ord = 0;
			r.fruitless = 0;
			if (run_phase(&r, k, ph.name, ph.wave) >= 0 &&
			    !stopping && k == PH_ASSESSMENT)
				assess_summary(&r);
			else if (!stopping)
				shares_pass(&r);
			said = 0;
		} else if (!said) {
			say(&r, "worker %s: waiting for a phase of plan apply",
			    o->worker);
			said = 1;
		}
		phase_row_free(&ph);
		if (!stopping)
			sleep(1);
	}
	state_flush(s);
	state_unclaim(s);
	run_close(&r);
	buf_release(&err);
	return stopping ? STOP_CODE(stopping) : 0;
}
