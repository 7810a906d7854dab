/*
 * chain.c: one account's way through a phase, step by step, each step
 * recorded before the next begins, so that a rerun starts at the first
 * step not done.  The whole way, state by state:
 *
 *   pending	assessment: imap-pull --mode assess (and the Sieve and DAV
 *		reports), provision --mode check
 *   copying	provision (the account made on the destination), pull,
 *		the before_push hook, push
 *   copied	verify
 *   verified	the cutover window: hold the account's logins at the
 *		proxy and close its sessions; with the source quiet, the
 *		final pull, the final push and its verify; the flip.  A
 *		failure in the window releases the hold with no flip: the
 *		account stays on the source and is tried again
 *   cutover	release the hold; a pull and push of the mail that
 *		reached the source until the flip (the destination now
 *		authoritative); the after_cutover hook
 *   migrated	delta: pulls and pushes of the mail that still reaches the
 *		source, never undoing what the user did on the destination;
 *		finalize: the after_finalize hook
 */
#include "compat.h"

#include <math.h>

#include "buf.h"
#include "now.h"
#include "runner_p.h"
#include "xalloc.h"

/*
 * Enter `to` after a flip to `route`: the flip's audit line is queued in
 * the same transaction as the state, so a crash loses both or neither and
 * the repository gets each flip once.  `later` as for enter_as(): after
 * a cutover's flip, whose step was committed before it, nothing needs the
 * state written until the account is migrated or given back.
 */
int
enter_flipped(struct run *r, struct account *a, enum acc_state to,
    const char *route, const char *why, int later)
{
	json_t *j = json_pack("{s:f, s:s, s:s, s:s?, s:s?}", "ts",
	    now_seconds(), "account", a->account, "route", route, "wave",
	    a->wave, "why", why);
	char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret;

	ret = enter_state_with(r->s, a, to, why, "flip", line, later, &err);
	if (ret < 0)
		say(r, "%s", err.buf);
	else
		say(r, "%s: %s -> %s (flipped to the %s)", a->account,
		    state_name(from), state_name(to), route);
	free(line);
	json_decref(j);
	buf_release(&err);
	pthread_mutex_lock(&r->lock);
	r->flips++;
	pthread_mutex_unlock(&r->lock);
	return ret;
}


/*
 * Enter `to`; `later` when its guard may wait (enter_state_later()):
 * until the flip, which commits the step before it, or until the
 * account is given back, nothing done meanwhile needs the state written.
 */
static int
enter_as(struct run *r, struct account *a, enum acc_state to,
    const char *why, int later)
{
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret = later ? enter_state_later(r->s, a, to, why, &err) :
	    enter_state(r->s, a, to, why, &err);

	if (ret < 0)
		say(r, "%s", err.buf);
	else if (to == ST_FAILED)
		say(r, "%s: %s -> failed (%s): %s", a->account,
		    state_name(from), a->error_class, a->error);
	else
		say(r, "%s: %s -> %s", a->account, state_name(from),
		    state_name(to));
	if (ret == 0 && share_on_destination(from) != share_on_destination(to))
		share_ready_touch();
	buf_release(&err);
	return ret;
}

int
enter(struct run *r, struct account *a, enum acc_state to, const char *why)
{
	return enter_as(r, a, to, why, 0);
}

#define STEP(call) do {					\
	if ((o = (call)) != OK)				\
		return o;				\
} while (0)

/* The step done, recorded: when the state cannot be written (a commit
 * failed, and the apply stops), the account stops here too. */
#define DONE(step) do {					\
	if (state_set_step(r->s, a, (step)) < 0)	\
		return STOPPED;				\
} while (0)

/* --- the cutover window ------------------------------------------------- */

/*
 * Release the hold after a failure in the window, so that the account's
 * users reach the source again at once, not when the hold runs out.
 */
static enum outcome
abandon(struct run *r, struct slot *sl, struct account *a, enum outcome o,
    struct buf *err)
{
	struct buf e2 = BUF_INIT;

	if (o == STOPPED)
		return o;
	/* the next try pulls again, under its own hold */
	state_set_step(r->s, a, NULL);
	if (!r->p->proxy.present)
		return o == PERMANENT ? RETRY : o;
	if (proxy_hold(r, sl, a, 0, &e2) != OK)
		say(r, "%s: %s", a->account, e2.buf);
	buf_release(&e2);
	/* the account stays on the source; another try may well do */
	say(r, "%s: cutover abandoned, still on the source: %s", a->account,
	    err->buf);
	return o == PERMANENT ? RETRY : o;
}

/*
 * verified -> cutover: the final delta with the source quiet, then the
 * flip.  The hold is taken again at every entry (a rerun after a crash
 * may come after the last one ran out); a delta that outlasts it is
 * done again under a new one, twice at most.
 */
static enum outcome
cut_over_window(struct run *r, struct slot *sl, struct account *a,
    struct buf *err)
{
	long long hold = r->p->proxy.hold_seconds;
	double held = 0;
	enum outcome o;
	int tries, ret;

	for (tries = 0; tries < 3; tries++) {
		if (r->p->proxy.present) {
			if ((o = proxy_hold(r, sl, a, hold, err)) != OK)
				return o;
			held = now_seconds();
		}
		if (!a->step) {
			if ((o = pull(r, sl, a, "auto", err)) != OK)
				return abandon(r, sl, a, o, err);
			DONE("pulled");
		}
		if (!strcmp(a->step, "pulled")) {
			if ((o = push(r, sl, a, "final", err)) != OK)
				return abandon(r, sl, a, o, err);
			DONE("pushed");
		}
		/* the POP3 ids of both sides, the source quiet */
		if (r->p->source.pop3 && !strcmp(a->step, "pushed")) {
			if ((o = pop3_uidl(r, sl, a, 0, err)) != OK ||
			    (o = pop3_uidl(r, sl, a, 1, err)) != OK)
				return abandon(r, sl, a, o, err);
			DONE("ids");
		}
		if (!held || now_seconds() - held < hold - 1)
			break;
		say(r, "%s: the final delta took %.1f s, longer than the"
		    " hold (proxy.hold_seconds: %lld); again under a new one",
		    a->account, now_seconds() - held, hold);
		DONE(NULL);
	}
	if (tries == 3) {
		buf_addf(err, "the final delta took longer than the hold three"
		    " times (proxy.hold_seconds: %lld)", hold);
		return abandon(r, sl, a, RETRY, err);
	}
	/* from the flip on, the destination is authoritative and the
	 * archive on this host the only one that fits it: committed before
	 * the flip where workers share the state, the step binds the
	 * account to this host (see statelease.c); a rerun flips again,
	 * after no other delta */
	if ((ret = state_commit_step(r->s, a, "flipping")) != 0) {
		if (ret > 0)
			buf_addf(err, "%s: is no longer %s (changed by another"
			    " command, or taken by another worker when this"
			    " one's lease ran out)", a->account,
			    state_name(a->state));
		else
			buf_adds(err, "state: cannot record the flip to come");
		return abandon(r, sl, a, PERMANENT, err);
	}
	if ((o = flip(r, sl, a, "destination", err)) != OK)
		return abandon(r, sl, a, o, err);
	if (enter_flipped(r, a, ST_CUTOVER, "destination", a->wave, 1) < 0)
		return PERMANENT;
	if (held)
		say(r, "%s: logins held %.2f s", a->account, now_seconds() -
		    held);
	return OK;
}

/* cutover -> migrated: what reached the source until the flip */
static enum outcome
after_flip(struct run *r, struct slot *sl, struct account *a,
    struct buf *err)
{
	enum outcome o;

	if (!a->step) {
		if (r->p->proxy.present)
			STEP(proxy_hold(r, sl, a, 0, err));
		DONE("released");
	}
	if (!strcmp(a->step, "released")) {
		STEP(pull(r, sl, a, "after", err));
		DONE("pulled");
	}
	if (!strcmp(a->step, "pulled")) {
		STEP(push(r, sl, a, "after", err));
		DONE("pushed");
	}
	STEP(hook(r, sl, a, "after_cutover", r->p->hooks.after_cutover, err));
	/* a delta or finalize phase goes on with it */
	return enter_as(r, a, ST_MIGRATED, NULL, r->phase == PH_MOVE) < 0 ?
	    PERMANENT : OK;
}

/* --- the chain ---------------------------------------------------------- */

static enum outcome
copy(struct run *r, struct slot *sl, struct account *a, struct buf *err)
{
	enum outcome o;

	if (!a->step && r->p->provision.present) {
		STEP(provision(r, sl, a, 0, err));
		DONE("created");
	}
	if (!a->step || !strcmp(a->step, "created")) {
		STEP(pull(r, sl, a, "auto", err));
		DONE("pulled");
	}
	if (!strcmp(a->step, "pulled")) {
		STEP(hook(r, sl, a, "before_push", r->p->hooks.before_push,
		    err));
		DONE("provisioned");
	}
	STEP(push(r, sl, a, "push", err));
	return enter_as(r, a, ST_COPIED, NULL, 1) < 0 ? PERMANENT : OK;
}

/* migrated: the delta passes, or finalize */
static enum outcome
migrated(struct run *r, struct slot *sl, struct account *a,
    struct buf *err)
{
	enum outcome o;
	long long i;

	if (r->phase == PH_DELTA) {
		for (i = 0; i < r->p->phases.delta.passes; i++) {
			STEP(pull(r, sl, a, "after", err));
			STEP(push(r, sl, a, "after", err));
			a->deltas++;
			state_add_counters(r->s, a, 0, 0, 0);
		}
	} else if (r->phase == PH_FINALIZE) {
		STEP(hook(r, sl, a, "after_finalize",
		    r->p->hooks.after_finalize, err));
		if (enter_as(r, a, ST_FINALIZED, NULL, 1) < 0)
			return PERMANENT;
		forget_passwords(r, a);
	}
	return OK;
}

/*
 * Drive `a` as far as the current phase takes it: one state's steps at a
 * time (above), until the phase is done with it.
 */
enum outcome
advance(struct run *r, struct slot *sl, struct account *a, struct buf *err)
{
	enum outcome o;

	for (;;) {
		if (stopping)
			return STOPPED;
		switch (a->state) {
		case ST_PENDING:
			if (r->phase == PH_ASSESSMENT) {
				STEP(pull(r, sl, a, "assess", err));
				if (r->p->provision.present)
					STEP(provision(r, sl, a, 1, err));
				return enter_as(r, a, ST_ASSESSED, NULL, 1) ?
				    PERMANENT : OK;
			}
			/* FALLTHROUGH */
		case ST_ASSESSED:
		case ST_ROLLED_BACK:
			if (r->phase != PH_MOVE)
				return OK;
			if (enter_as(r, a, ST_COPYING, r->phase_name, 1) < 0)
				return PERMANENT;
			break;
		case ST_COPYING:
			STEP(copy(r, sl, a, err));
			break;
		case ST_COPIED:
			STEP(push(r, sl, a, "verify", err));
			if (enter_as(r, a, ST_VERIFIED, NULL, 1) < 0)
				return PERMANENT;
			break;
		case ST_VERIFIED:
			STEP(cut_over_window(r, sl, a, err));
			break;
		case ST_CUTOVER:
			STEP(after_flip(r, sl, a, err));
			break;
		case ST_MIGRATED:
			/* the delta and finalize phases are done with it */
			return migrated(r, sl, a, err);
		default:
			return OK;
		}
	}
}

/* --- an account's turn ---------------------------------------------------- */

static double
backoff(struct run *r, int attempts)
{
	double b = (double)r->p->limits.backoff_seconds *
	    pow(2, attempts > 1 ? attempts - 1 : 0);

	return b > 3600 ? 3600 : b;
}

int
moved_here(struct run *r, struct slot *sl, struct account *a)
{
	char *dir = archive_of(r, a);
	struct buf err = BUF_INIT;
	int ret = 0;

	/* an archive this worker kept from before is behind what the
	 * other pushed since: a new one adopts what is there */
	if (archive_remove(dir) < 0) {
		say(r, "%s: cannot remove %s, left by an earlier claim: %s",
		    a->account, dir, strerror(errno));
		ret = -1;
	}
	free(dir);
	if (ret < 0)
		return -1;
	switch (a->state) {
	case ST_VERIFIED:
		/* a cutover window begun elsewhere: its hold let go */
		if (a->step && r->p->proxy.present &&
		    proxy_hold(r, sl, a, 0, &err) != OK)
			say(r, "%s: %s", a->account, err.buf);
		/* FALLTHROUGH */
	case ST_COPIED:
		ret = enter(r, a, ST_COPYING, "its archive is on another"
		    " worker");
		break;
	case ST_COPYING:
		ret = state_set_step(r->s, a, NULL);
		say(r, "%s: its archive is on another worker: pulled again"
		    " here", a->account);
		break;
	default:
		break;
	}
	buf_release(&err);
	return ret;
}

enum worked
work_one(struct run *r, struct slot *sl, struct account *a, int moved,
    struct buf *err)
{
	enum outcome o;
	int again;

	buf_setlen(err, 0);
	if (a->state == ST_FAILED)
		enter(r, a, a->resume, "retry");
	if (moved && moved_here(r, sl, a) < 0)
		o = RETRY;
	else
		o = advance(r, sl, a, err);
	if (o == OK || o == STOPPED)
		return o == OK ? W_DONE : W_AGAIN;
	a->attempts++;
	again = o == RETRY && a->attempts <= r->p->limits.retries;
	state_set_failure(r->s, a, o == RETRY ? "retryable" : "permanent",
	    err->buf, again ? now_seconds() + backoff(r, a->attempts) : 0);
	enter(r, a, ST_FAILED, NULL);
	return again ? W_AGAIN : W_FAILED;
}
