/*
 * chain.c: one account's way through a phase, step by step, each step
 * recorded before the next begins.
 */
#include "compat.h"

#include "buf.h"
#include "runner_p.h"
#include "xalloc.h"

/*
 * Enter `to` after a flip to `route`: the flip's audit line is queued in
 * the same transaction as the state, so a crash loses both or neither and
 * the repository gets each flip once.
 */
int
enter_flipped(struct run *r, struct account *a, enum acc_state to,
    const char *route, const char *why)
{
	json_t *j = json_pack("{s:f, s:s, s:s, s:s?, s:s?}", "ts",
	    now_seconds(), "account", a->account, "route", route, "wave",
	    a->wave, "why", why);
	char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret;

	ret = enter_state_with(r->s, a, to, why, "flip", line, &err);
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


int
enter(struct run *r, struct account *a, enum acc_state to, const char *why)
{
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret = enter_state(r->s, a, to, why, &err);

	if (ret < 0)
		say(r, "%s", err.buf);
	else if (to == ST_FAILED)
		say(r, "%s: %s -> failed (%s): %s", a->account,
		    state_name(from), a->error_class, a->error);
	else
		say(r, "%s: %s -> %s", a->account, state_name(from),
		    state_name(to));
	buf_release(&err);
	return ret;
}

#define STEP(call) do {					\
	if ((o = (call)) != OK)				\
		return o;				\
} while (0)

/*
 * Drive `a` as far as the current phase takes it.  Each finished step
 * is recorded before the next begins, so a rerun starts at the first
 * step not done.
 */
enum outcome
advance(struct run *r, struct slot *sl, struct account *a, struct buf *err)
{
	enum outcome o;
	long long i;

	for (;;) {
		if (stopping)
			return STOPPED;
		switch (a->state) {
		case ST_PENDING:
			if (r->phase == PH_ASSESSMENT) {
				STEP(pull(r, sl, a, "assess", err));
				return enter(r, a, ST_ASSESSED, NULL) ? PERMANENT :
				    OK;
			}
			/* FALLTHROUGH */
		case ST_ASSESSED:
			if (r->phase != PH_MOVE)
				return OK;
			/* FALLTHROUGH */
		case ST_ROLLED_BACK:
			if (a->state == ST_ROLLED_BACK && r->phase != PH_MOVE)
				return OK;
			if (enter(r, a, ST_COPYING, r->phase_name) < 0)
				return PERMANENT;
			break;
		case ST_COPYING:
			if (!a->step) {
				STEP(pull(r, sl, a, "auto", err));
				state_set_step(r->s, a, "pulled");
			}
			if (!strcmp(a->step, "pulled")) {
				STEP(hook(r, sl, a, "before_push",
				    r->p->hooks.before_push, err));
				state_set_step(r->s, a, "provisioned");
			}
			STEP(push(r, sl, a, "push", err));
			if (enter(r, a, ST_COPIED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_COPIED:
			STEP(push(r, sl, a, "verify", err));
			if (enter(r, a, ST_VERIFIED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_VERIFIED:
			STEP(flip(r, sl, a, "destination", err));
			if (enter_flipped(r, a, ST_CUTOVER, "destination",
			    a->wave) < 0)
				return PERMANENT;
			break;
		case ST_CUTOVER:
			/* what arrived at the source until the flip */
			if (!a->step) {
				STEP(pull(r, sl, a, "auto", err));
				state_set_step(r->s, a, "pulled");
			}
			if (!strcmp(a->step, "pulled")) {
				STEP(push(r, sl, a, "final", err));
				state_set_step(r->s, a, "pushed");
			}
			STEP(hook(r, sl, a, "after_cutover",
			    r->p->hooks.after_cutover, err));
			if (enter(r, a, ST_MIGRATED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_MIGRATED:
			if (r->phase == PH_DELTA) {
				for (i = 0; i < r->p->phases.delta.passes; i++) {
					STEP(pull(r, sl, a, "auto", err));
					STEP(push(r, sl, a, "final", err));
					a->deltas++;
					state_add_counters(r->s, a, 0, 0, 0);
				}
				return OK;
			}
			if (r->phase == PH_FINALIZE) {
				STEP(hook(r, sl, a, "after_finalize",
				    r->p->hooks.after_finalize, err));
				return enter(r, a, ST_FINALIZED, NULL) ?
				    PERMANENT : OK;
			}
			return OK;
		default:
			return OK;
		}
	}
}

