/*
 * reportcharts.c: the report's charts over time (report.c): NBARS spans
 * of equal length from the first thing measured to the last, a bar each.
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "html.h"
#include "reportcharts.h"
#include "state.h"

#define NBARS	24

/* How many of the NBARS spans from `t0` reach `t1`: no bar for a time
 * that has not come. */
static size_t
spans(double t0, double t1, double span)
{
	size_t n = span > 0 ? (size_t)((t1 - t0) / span) + 1 : 1;

	return n < NBARS ? n : NBARS;
}

/* The labels of NBARS spans from `t0`: a time every fourth. */
static void
span_labels(char (*label)[24], double t0, double span)
{
	size_t i;

	for (i = 0; i < NBARS; i++) {
		struct buf l = BUF_INIT;

		html_when(&l, t0 + span * (double)i, "%H:%M");
		snprintf(label[i], sizeof(label[i]), "%s", i % 4 ? "" : l.buf);
		buf_release(&l);
	}
}

static void
span_note(struct buf *b, double t0, double t1, double span)
{
	buf_adds(b, "<p class=\"muted\">From ");
	html_when(b, t0, "%Y-%m-%d %H:%M");
	buf_adds(b, " to ");
	html_when(b, t1, "%Y-%m-%d %H:%M");
	if (span < 90)
		buf_adds(b, ", a bar for each minute.</p>");
	else
		buf_addf(b, ", a bar for each %.0f minutes.</p>", span / 60);
}

/* `rows` summed over NBARS spans of time (statereport.c's OVER_TIME):
 * a bar each, in `unit`, or `unit` a minute with `per_minute`. */
void
over_time(struct buf *b, const char *title, const json_t *rows,
    const char *unit, int per_minute)
{
	const json_t *row = json_array_get(rows, 0);
	double v[NBARS] = { 0 }, t0, t1, span;
	char label[NBARS][24];
	size_t i;

	buf_adds(b, "<h3>");
	html_esc(b, title);
	buf_adds(b, "</h3>");
	if (!row) {
		buf_adds(b, "<p class=\"muted\">Nothing yet.</p>");
		return;
	}
	t0 = json_number_value(json_object_get(row, "t0"));
	t1 = json_number_value(json_object_get(row, "t1"));
	span = json_number_value(json_object_get(row, "span"));
	json_array_foreach(rows, i, row)
		if (jnum(row, "k") >= 0 && jnum(row, "k") < NBARS)
			v[jnum(row, "k")] = json_number_value(json_object_get(
			    row, "v")) / (per_minute ? span / 60 : 1);
	span_labels(label, t0, span);
	html_bars(b, title, spans(t0, t1, span), v, label, unit, 30);
	span_note(b, t0, t1, span);
}

/* Each state's accounts at the end of each span (statereport.c's
 * "states": what came into and went out of it), of `total` accounts,
 * in five groups. */
void
states_over_time(struct buf *b, const json_t *rows, json_int_t total)
{
	static const char *const names[] = { "waiting", "in progress",
	    "migrated", "failed or held", "rolled back" };
	static const char group[ST_NR] = {
		[ST_PENDING] = 0, [ST_ASSESSED] = 0, [ST_COPYING] = 1,
		[ST_COPIED] = 1, [ST_VERIFIED] = 1, [ST_CUTOVER] = 1,
		[ST_MIGRATED] = 2, [ST_FINALIZED] = 2, [ST_FAILED] = 3,
		[ST_HELD] = 3, [ST_ROLLED_BACK] = 4,
	};
	const json_t *row = json_array_get(rows, 0);
	double v[NBARS][HTML_PARTS], count[ST_NR] = { 0 }, t0, t1, span;
	char label[NBARS][24];
	enum acc_state st;
	size_t i = 0, k, j;

	buf_adds(b, "<h3>Accounts by state over time</h3>");
	if (!row) {
		buf_adds(b, "<p class=\"muted\">Nothing yet.</p>");
		return;
	}
	count[ST_PENDING] = (double)total;
	memset(v, 0, sizeof(v));
	for (k = 0; k < NBARS; k++) {
		for (; (row = json_array_get(rows, i)) && jnum(row, "k") <=
		    (json_int_t)k; i++)
			if (state_parse(jstr(row, "state"), &st) == 0)
				count[st] += (double)jnum(row, "v");
		for (j = 0; j < ST_NR; j++)
			v[k][(int)group[j]] += count[j];
	}
	row = json_array_get(rows, 0);
	t0 = json_number_value(json_object_get(row, "t0"));
	t1 = json_number_value(json_object_get(row, "t1"));
	span = json_number_value(json_object_get(row, "span"));
	span_labels(label, t0, span);
	html_stacked(b, "accounts by state over time", spans(t0, t1, span),
	    (const double (*)[HTML_PARTS])v, HTML_PARTS, names, label, 30);
	span_note(b, t0, t1, span);
}


void
connections_over_time(struct buf *b, const json_t *rows, double now)
{
	const json_t *row = json_array_get(rows, 0);
	double v[NBARS] = { 0 }, t0, span, in_effect = 0, end;
	char label[NBARS][24];
	size_t i = 0, k;

	buf_adds(b, "<h3>Connections to the source</h3>");
	if (!row) {
		buf_adds(b, "<p class=\"muted\">Nothing yet.</p>");
		return;
	}
	t0 = json_number_value(json_object_get(row, "ts"));
	span = (now - t0) / NBARS < 60 ? 60 : (now - t0) / NBARS;
	for (k = 0; k < NBARS; k++) {
		end = t0 + span * (double)(k + 1);
		v[k] = in_effect;
		for (; (row = json_array_get(rows, i)) && json_number_value(
		    json_object_get(row, "ts")) < end; i++) {
			in_effect = (double)jnum(row, "conns");
			if (in_effect > v[k])
				v[k] = in_effect;
		}
	}
	span_labels(label, t0, span);
	html_bars(b, "connections to the source", spans(t0, now, span), v,
	    label, "connections", 30);
	span_note(b, t0, now, span);
	row = json_array_get(rows, json_array_size(rows) - 1);
	buf_addf(b, "<p class=\"muted\">The most the pulls could hold"
	    " together in each span, adapted as they went: %"
	    JSON_INTEGER_FORMAT " of at most %" JSON_INTEGER_FORMAT
	    " (limits.connections_per_source) now; the last change: ",
	    jnum(row, "conns"), jnum(row, "ceiling"));
	html_esc(b, jstr(row, "why"));
	buf_adds(b, ".</p>");
}
