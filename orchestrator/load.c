/*
 * load.c: the connections to the source, found as the apply goes, as
 * TCP finds a path's window (AIMD).  The pulls may hold `window`
 * connections together, never more than limits.connections_per_source
 * (the ceiling) nor fewer than one pull's.  It starts at half the
 * ceiling; each pull that ends well, and that started with the window
 * full (a window the pulls do not fill tells nothing of the source: RFC
 * 7661), adds one pull's connections (slow start, up to the last cut) or
 * a fraction of them (after); a pull that
 * fails for now (a timeout, a refused or dropped connection, "NO
 * [LIMIT]", "[UNAVAILABLE]", 429, 503: its helper's exit 75 or 69)
 * halves it, once for the pulls that were running then.  Each change of
 * its whole part is recorded in the state (stateres.c): migrate status
 * and the report show it.
 */
#include "compat.h"

#include <pthread.h>

#include "now.h"
#include "runner_p.h"
#include "xalloc.h"

static double
ceiling_of(const struct run *r)
{
	return (double)r->p->limits.connections_per_source;
}

void
load_start(struct run *r, int record)
{
	r->window = ceiling_of(r) / 2 < 1 ? 1 : (double)(long long)(
	    ceiling_of(r) / 2);
	r->ssthresh = ceiling_of(r);
	r->cut_at = 0;
	if (record && !r->fake)
		state_add_connections(r->s, (int)r->window, (int)ceiling_of(r),
		    "start: half the ceiling");
}

static long long
budget(const struct run *r, long long want)
{
	return r->window > want ? (long long)r->window : want;
}

double
load_acquire(struct run *r, long long want, int *full_r)
{
	pthread_mutex_lock(&r->lock);
	while (r->conns + want > budget(r, want))
		pthread_cond_wait(&r->cond, &r->lock);
	r->conns += want;
	*full_r = r->conns + want > budget(r, want);
	pthread_mutex_unlock(&r->lock);
	return now_seconds();
}

void
load_release(struct run *r, long long want, double started, int full,
    enum outcome o, const char *why)
{
	double before, w = (double)want;
	char *line = NULL;

	pthread_mutex_lock(&r->lock);
	r->conns -= want;
	before = r->window;
	if (o == RETRY && started >= r->cut_at) {
		r->ssthresh = r->window / 2 < w ? w : r->window / 2;
		r->window = r->ssthresh;
		r->cut_at = now_seconds();
	} else if (o == OK && full) {
		r->window += r->window < r->ssthresh ? w : w * w / r->window;
		if (r->window > ceiling_of(r))
			r->window = ceiling_of(r);
	}
	if ((long long)before != (long long)r->window && !r->fake)
		line = o == RETRY ? xasprintf("cut: %.200s", why) :
		    xstrdup("grew: pulls ended well");
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (line) {
		state_add_connections(r->s, (int)r->window,
		    (int)ceiling_of(r), line);
		free(line);
	}
}
