/*
 * display.c: what plan apply shows on a terminal while it runs: the
 * whole plan's ETA (eta.c), the phase's bar with its own ETA by
 * accounts, and a line per running account (its helper, folder,
 * messages and bytes done of their totals, and the helper's rate), all
 * redrawn in place.  Off a terminal, only the log's lines.
 */
#include "compat.h"

#include <math.h>
#include <pthread.h>

#include <jansson.h>

#include "buf.h"
#include "eta.h"
#include "now.h"
#include "runner_p.h"

static void
fmt_duration(char *b, size_t n, double s)
{
	if (s < 0 || !isfinite(s))
		snprintf(b, n, "?");
	else if (s < 90)
		snprintf(b, n, "%.0fs", s);
	else if (s < 5400)
		snprintf(b, n, "%.0fm", s / 60);
	else
		snprintf(b, n, "%.1fh", s / 3600);
}

/* The whole plan's ETA for the display, computed every 5 s (it reads
 * the state). */
static void
eta_refresh(struct run *r)
{
	json_t *e;
	char b[32], d[16];

	if (now_seconds() - r->eta_at < 5)
		return;
	r->eta_at = now_seconds();
	e = eta_compute(r->s, r->eta_at);
	fmt_duration(d, sizeof(d), json_is_integer(json_object_get(e,
	    "seconds")) ? (double)json_integer_value(json_object_get(e,
	    "seconds")) : -1);
	if (json_integer_value(json_object_get(e, "bytes")))
		human_bytes((double)json_integer_value(json_object_get(e,
		    "bytes")), b, sizeof(b));
	else
		snprintf(b, sizeof(b), "no size known");
	snprintf(r->eta_line, sizeof(r->eta_line), "plan: %" JSON_INTEGER_FORMAT
	    " accounts to go (%s), eta %s%s", json_integer_value(
	    json_object_get(e, "accounts")), b, d, json_object_get(e,
	    "measured") ? "" : " (nothing measured yet)");
	json_decref(e);
}

/* One running account's line: its helper, folder, messages and bytes
 * done of their totals, and the helper's rate. */
static void
draw_slot(struct buf *b, const struct slot *sl, double now)
{
	char x[32], y[32];

	buf_addf(b, "\n  %-28.28s %-10.10s %-16.16s", sl->account, sl->what,
	    sl->folder);
	if (sl->total)
		buf_addf(b, " %" PRId64 "/%" PRId64 " msgs", sl->done,
		    sl->total);
	if (sl->bytes_total)
		buf_addf(b, " %s/%s", human_bytes((double)sl->bytes, x,
		    sizeof(x)), human_bytes((double)sl->bytes_total, y,
		    sizeof(y)));
	if (sl->bytes && now - sl->step_since > 0.5)
		buf_addf(b, " %s/s", human_bytes((double)sl->bytes / (now -
		    sl->step_since), x, sizeof(x)));
}

void
draw(struct run *r, int final)
{
	struct buf b = BUF_INIT;
	size_t total = r->nr_items, done, i;
	double now = now_seconds(), el = now - r->phase_start, eta;
	char eta_s[16], el_s[16];
	int width = 30, fill, lines = 2;

	if (!final)
		eta_refresh(r);
	pthread_mutex_lock(&r->lock);
	done = r->nr_done + r->nr_failed;
	eta = done ? el / done * (total - done) : -1;
	fmt_duration(eta_s, sizeof(eta_s), eta);
	fmt_duration(el_s, sizeof(el_s), el);
	fill = total ? (int)(width * done / total) : width;
	if (r->drawn > 1)
		buf_addf(&b, "\033[%dA", r->drawn - 1);
	buf_adds(&b, "\r\033[J");
	if (!final)
		buf_addf(&b, "%s\n", r->eta_line);
	buf_addf(&b, "%-12.12s [", r->phase_name);
	for (i = 0; i < (size_t)width; i++)
		buf_addch(&b, (int)i < fill ? '#' : '.');
	buf_addf(&b, "] %zu/%zu accounts", done, total);
	if (r->nr_failed)
		buf_addf(&b, ", %zu failed", r->nr_failed);
	buf_addf(&b, ", %s%s%s", el_s, final ? "" : ", eta ",
	    final ? "" : eta_s);
	for (i = 0; !final && i < (size_t)r->nr_slots; i++) {
		if (!r->slots[i].account[0])
			continue;
		draw_slot(&b, &r->slots[i], now);
		lines++;
	}
	if (final)
		buf_addch(&b, '\n');
	r->drawn = final ? 0 : lines;
	pthread_mutex_unlock(&r->lock);
	fwrite(b.buf, 1, b.len, stderr);
	fflush(stderr);
	buf_release(&b);
}
