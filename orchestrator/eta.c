/*
 * eta.c: how long the rest of the plan should take.  What is left is
 * weighed by what the assessment counted of each account (or what was
 * pulled of it, if more; an account with neither weighs the mean), and
 * the weight is divided by the throughput measured on the accounts that
 * reached migrated in the last hour, or else the last 20 that did.  With
 * no bytes on either side it falls back to accounts per second.  Before
 * any account is migrated, the assessment's timed sample reads of the
 * source (imap-pull --sample-bytes) give a first estimate, and say it is
 * one: one account at a time, and reading only.  Waves are given each
 * their own time; the total is their sum.
 */
#include "compat.h"

#include <time.h>

#include <jansson.h>

#include "eta.h"
#include "opt.h"
#include "state.h"

static json_t *
measured(const struct rate_sample *r)
{
	char window[32];

	if (r->recent)
		snprintf(window, sizeof(window), "last hour");
	else
		snprintf(window, sizeof(window), "last %lld migrated",
		    (long long)r->accounts);
	return json_pack("{s:I, s:I, s:f, s:f, s:s}", "accounts",
	    (json_int_t)r->accounts, "bytes", (json_int_t)r->bytes, "from",
	    r->from, "to", r->to, "window", window);
}

/* The bytes a second of the assessment's sample reads, with "basis"
 * "sample" and what was read in `eta`; 0 when there are none. */
static double
from_sample(struct state *s, json_t *eta)
{
	int64_t accounts, bytes;
	double seconds;

	if (state_source_sample(s, &accounts, &bytes, &seconds) < 0 ||
	    bytes <= 0 || seconds <= 0)
		return 0;
	json_object_set_new(eta, "basis", json_string("sample"));
	json_object_set_new(eta, "sample", json_pack("{s:I, s:I, s:f}",
	    "accounts", (json_int_t)accounts, "bytes", (json_int_t)bytes,
	    "seconds", seconds));
	return (double)bytes / seconds;
}

json_t *
eta_compute(struct state *s, double now)
{
	struct census_more m = { .since = now - ETA_WINDOW };

	json_decref(state_census(s, &m));
	json_decref(m.holders);
	return eta_compute_with(s, now, &m);
}

json_t *
eta_compute_with(struct state *s, double now, struct census_more *m)
{
	struct rate_sample r = m->recent;
	double rate, total = 0, weight, mean = m->mean;
	json_t *w, *eta, *left = m->left;
	int64_t accounts = 0, bytes = 0, unsized = 0;
	const char *wave;
	int by_bytes;

	json_object_foreach(left, wave, w) {
		accounts += json_integer_value(json_object_get(w, "accounts"));
		unsized += json_integer_value(json_object_get(w, "unsized"));
		bytes += json_integer_value(json_object_get(w, "bytes")) +
		    (int64_t)(mean * json_integer_value(json_object_get(w,
		    "unsized")));
	}
	eta = json_pack("{s:I, s:I, s:I}", "accounts", (json_int_t)accounts,
	    "bytes", (json_int_t)bytes, "unsized", (json_int_t)unsized);
	/* none recent: the last ones */
	if (!r.accounts && state_rate_last(s, &r) < 0)
		r.accounts = 0;
	if (r.accounts && r.to > r.from) {
		by_bytes = r.bytes > 0 && bytes > 0;
		rate = (by_bytes ? (double)r.bytes : (double)r.accounts) /
		    (r.to - r.from);
		json_object_set_new(eta, "basis", json_string(by_bytes ?
		    "bytes" : "accounts"));
		json_object_set_new(eta, "measured", measured(&r));
	} else if (bytes > 0 && (rate = from_sample(s, eta)) > 0) {
		by_bytes = 1;
	} else {
		json_object_set_new(eta, "seconds", accounts ? json_null() :
		    json_integer(0));
		if (accounts)
			json_object_set_new(eta, "why", json_string("no account"
			    " has been migrated yet: the first ones (the pilot)"
			    " measure the rate"));
		json_decref(left);
		return eta;
	}
	json_object_foreach(left, wave, w) {
		weight = by_bytes ? (double)json_integer_value(json_object_get(
		    w, "bytes")) + mean * (double)json_integer_value(
		    json_object_get(w, "unsized")) :
		    (double)json_integer_value(json_object_get(w, "accounts"));
		json_object_del(w, "unsized");
		json_object_set_new(w, "bytes", json_integer((json_int_t)
		    (by_bytes ? weight : json_integer_value(json_object_get(w,
		    "bytes")))));
		json_object_set_new(w, "seconds", json_integer((json_int_t)
		    (weight / rate + 0.5)));
		total += weight / rate;
	}
	json_object_set_new(eta, "seconds", json_integer((json_int_t)(total +
	    0.5)));
	json_object_set_new(eta, "finish", json_real(now + total));
	json_object_set_new(eta, "rate", json_real(rate));
	json_object_set_new(eta, "waves", left);
	return eta;
}

static const char *
duration(double sec, char *out, size_t n)
{
	if (sec < 120)
		snprintf(out, n, "%.0f s", sec);
	else if (sec < 7200)
		snprintf(out, n, "%.0f min", sec / 60);
	else
		snprintf(out, n, "%.1f hours", sec / 3600);
	return out;
}

static const char *
clock_of(double t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
	return out;
}

/* What the ETA was measured on: migrations `m`, or a sample `smp`. */
static void
print_basis(const json_t *m, const json_t *smp)
{
	char b1[32], b2[32], b3[32];

	if (smp) {
		printf("  a first estimate, from the assessment's timed reads of"
		    " the source: %s in %.1f s on %" JSON_INTEGER_FORMAT
		    " account(s); one account at a time and reading only, until"
		    " the pilot measures the whole\n", human_bytes((double)
		    json_integer_value(json_object_get(smp, "bytes")), b1,
		    sizeof(b1)), json_number_value(json_object_get(smp,
		    "seconds")), json_integer_value(json_object_get(smp,
		    "accounts")));
		return;
	}
	printf("  measured on %" JSON_INTEGER_FORMAT " account%s (%s) migrated"
	    " from %s to %s (%s)\n", json_integer_value(json_object_get(m,
	    "accounts")), json_integer_value(json_object_get(m, "accounts")) ==
	    1 ? "" : "s", human_bytes((double)json_integer_value(
	    json_object_get(m, "bytes")), b1, sizeof(b1)), clock_of(
	    json_number_value(json_object_get(m, "from")), b2, sizeof(b2)),
	    clock_of(json_number_value(json_object_get(m, "to")), b3,
	    sizeof(b3)), json_string_value(json_object_get(m, "window")));
}

void
eta_print(const json_t *eta)
{
	const json_t *m = json_object_get(eta, "measured"), *w;
	const json_t *smp = json_object_get(eta, "sample");
	double rate = json_number_value(json_object_get(eta, "rate"));
	int by_bytes = json_is_string(json_object_get(eta, "basis")) &&
	    strcmp(json_string_value(json_object_get(eta, "basis")),
	    "accounts");
	json_int_t unsized = json_integer_value(json_object_get(eta,
	    "unsized"));
	char b1[32], b2[32], b3[32];
	const char *wave;

	printf("to go: %" JSON_INTEGER_FORMAT " account%s, %s",
	    json_integer_value(json_object_get(eta, "accounts")),
	    json_integer_value(json_object_get(eta, "accounts")) == 1 ? "" :
	    "s",
	    human_bytes((double)json_integer_value(json_object_get(eta,
	    "bytes")), b1, sizeof(b1)));
	if (unsized)
		printf(" (%" JSON_INTEGER_FORMAT " not sized, counted at the"
		    " mean)", unsized);
	if (!json_integer_value(json_object_get(eta, "accounts"))) {
		printf("\n");
		return;
	}
	if (!m && !smp) {
		printf("; no ETA yet: %s\n", json_string_value(json_object_get(
		    eta, "why")));
		return;
	}
	if (by_bytes)
		snprintf(b2, sizeof(b2), "%s/s", human_bytes(rate, b3,
		    sizeof(b3)));
	else
		snprintf(b2, sizeof(b2), "%.1f accounts/hour", rate * 3600);
	printf("; about %s at %s, done around %s\n", duration(
	    json_number_value(json_object_get(eta, "seconds")), b1, sizeof(b1)),
	    b2, clock_of(json_number_value(json_object_get(eta, "finish")), b3,
	    sizeof(b3)));
	print_basis(m, smp);
	json_object_foreach((json_t *)json_object_get(eta, "waves"), wave, w)
		printf("  %-14s %6" JSON_INTEGER_FORMAT " accounts, %s, about"
		    " %s\n", wave, json_integer_value(json_object_get(w,
		    "accounts")), human_bytes((double)json_integer_value(
		    json_object_get(w, "bytes")), b1, sizeof(b1)), duration(
		    (double)json_integer_value(json_object_get(w, "seconds")),
		    b2, sizeof(b2)));
}
