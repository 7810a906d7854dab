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
 * halves it, once for the pulls that were running then.
 *
 * The source's latency is a signal too, as in delay-based congestion
 * control: imap-pull gives the median time the source took to answer its
 * commands.  Against the quickest pull seen (a quiet source's), a pull
 * answered LAT_HOLD times slower does not grow the window, and one
 * LAT_CUT times slower cuts it as a failure would, before the source
 * refuses anyone.  Each change of the window's whole part is recorded in
 * the state (stateres.c): migrate status and the report show it.
 *
 * Workers sharing the state (lease.c) share the ceiling: each takes its
 * part, as many as are alive now.
 */
#include "compat.h"

#include <pthread.h>

#include "now.h"
#include "runner_p.h"
#include "xalloc.h"

#define LAT_HOLD	2.0
#define LAT_CUT		4.0
#define LAT_MARGIN_MS	10.0	/* a few ms more of a quiet source: noise */

/* Did the source answer `factor` times slower than at its quickest? */
static int
slower(const struct run *r, double ms, double factor)
{
	return ms > 0 && r->quickest > 0 &&
	    ms > factor * r->quickest + LAT_MARGIN_MS;
}

/* The plan's ceiling is for every worker together: a share of it each
 * (lease.c counts the live ones), one pull's at least. */
static double
ceiling_of(const struct run *r)
{
	double c = (double)r->p->limits.connections_per_source;

	if (r->live > 1)
		c = (double)(long long)(c / r->live);
	return c < 1 ? 1 : c;
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
	double w = r->window < ceiling_of(r) ? r->window : ceiling_of(r);

	return w > want ? (long long)w : want;
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
    enum outcome o, const char *why, double latency_ms)
{
	double before, w = (double)want;
	int slow;
	char *line = NULL;

	pthread_mutex_lock(&r->lock);
	r->conns -= want;
	before = r->window;
	if (o == OK && latency_ms > 0 &&
	    (r->quickest <= 0 || latency_ms < r->quickest))
		r->quickest = latency_ms;
	slow = o == OK && slower(r, latency_ms, LAT_CUT);
	if ((o == RETRY || slow) && started >= r->cut_at) {
		r->ssthresh = r->window / 2 < w ? w : r->window / 2;
		r->window = r->ssthresh;
		r->cut_at = now_seconds();
	} else if (o == OK && full && !slower(r, latency_ms, LAT_HOLD)) {
		r->window += r->window < r->ssthresh ? w : w * w / r->window;
		if (r->window > ceiling_of(r))
			r->window = ceiling_of(r);
	}
	if ((long long)before != (long long)r->window && !r->fake)
		line = o == RETRY ? xasprintf("cut: %.200s", why) : slow ?
		    xasprintf("cut: the source slows: it answers in %.0f ms,"
		    " %.0f times its quickest (%.0f ms)", latency_ms,
		    latency_ms / r->quickest, r->quickest) :
		    xstrdup("grew: pulls ended well");
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (line) {
		state_add_connections(r->s, (int)r->window,
		    (int)ceiling_of(r), line);
		free(line);
	}
}

void
load_share(struct run *r, int live)
{
	char *line;
	int window;

	pthread_mutex_lock(&r->lock);
	if (live == r->live || (live <= 1 && r->live <= 1)) {
		r->live = live;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	r->live = live;
	if (r->window > ceiling_of(r))
		r->window = ceiling_of(r);
	window = (int)r->window;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	line = xasprintf("share: %d workers alive", live);
	state_add_connections(r->s, window, (int)ceiling_of(r), line);
	free(line);
}
