/*
 * status.c: `migrate status`, the counts by wave and state, what accounts
 * hold, the failures, what finalize waits for; or one account.
 */
#include "compat.h"

#include <time.h>

#include <jansson.h>

#include "eta.h"
#include "finalize.h"
#include "log.h"
#include "now.h"
#include "state.h"
#include "status.h"
#include "xalloc.h"

json_t *
status_account_json(struct state *s, const char *name)
{
	struct account a;
	json_t *j, *io, *w, *e;
	int64_t am, ab;
	char *items;
	size_t i;

	if (state_find_account(s, name, &a) < 0)
		return NULL;
	j = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:i, s:s?,"
	    " s:s?, s:I, s:I, s:I, s:I, s:o, s:o}", "account", a.account,
	    "login", a.login, "wave", a.wave, "state", state_name(a.state),
	    "resume", a.state == ST_FAILED || a.state == ST_HELD ?
	    state_name(a.resume) : NULL, "step", a.step, "checkpoint",
	    a.checkpoint, "attempts", a.attempts, "error_class",
	    a.error_class, "error", a.error, "messages",
	    (json_int_t)a.messages, "bytes", (json_int_t)a.bytes, "anomalies",
	    (json_int_t)a.anomalies, "deltas", (json_int_t)a.deltas,
	    "transitions", state_transitions(s, a.id), "runs", state_runs(s,
	    a.id));
	items = state_items_text(s, a.id, &io);
	json_object_set_new(j, "items", io);
	json_object_set_new(j, "items_text", json_string(items));
	if (a.state == ST_FINALIZED && state_pruned(s, a.id) > 0)
		json_object_set_new(j, "pruned", json_real(state_pruned(s,
		    a.id)));
	w = state_waiting(s);
	json_array_foreach(w, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "account")),
		    a.account))
			json_object_set(j, "waiting", json_object_get(e,
			    "waiting"));
	json_decref(w);
	state_assessed(s, a.id, &am, &ab);
	if (ab >= 0)
		json_object_set_new(j, "assessed", json_pack("{s:I, s:I}",
		    "messages", (json_int_t)am, "bytes", (json_int_t)ab));
	if ((e = state_lease(s, a.id)))
		json_object_set_new(j, "worker", e);
	json_object_set_new(j, "id", json_integer(a.id));
	free(items);
	account_free(&a);
	return j;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Which worker holds the account, and which has its archive. */
static void
print_worker(const json_t *w)
{
	double left;

	if (!w)
		return;
	left = json_number_value(json_object_get(w, "lease_until")) -
	    now_seconds();
	if (jstr(w, "worker"))
		printf("  worker %s holds it (%s %.0f s)\n", jstr(w, "worker"),
		    left >= 0 ? "its lease runs" : "its lease ran out",
		    left >= 0 ? left : -left);
	if (jstr(w, "home"))
		printf("  its archive is on worker %s\n", jstr(w, "home"));
}

static void
print_account(const json_t *j)
{
	const json_t *as = json_object_get(j, "assessed"), *e;
	char hb[32];
	size_t i;

	printf("%s (login %s), wave %s: %s", jstr(j, "account"), jstr(j,
	    "login"), jstr(j, "wave") ? jstr(j, "wave") : "-", jstr(j,
	    "state"));
	if (jstr(j, "resume"))
		printf(" (resumes at %s)", jstr(j, "resume"));
	printf("\n  %" JSON_INTEGER_FORMAT " messages, %s pulled, %"
	    JSON_INTEGER_FORMAT " anomalies, %" JSON_INTEGER_FORMAT " delta"
	    " passes\n", jint(j, "messages"), human_bytes((double)jint(j,
	    "bytes"), hb, sizeof(hb)), jint(j, "anomalies"), jint(j,
	    "deltas"));
	if (as)
		printf("  the assessment counted %" JSON_INTEGER_FORMAT
		    " messages, %s\n", jint(as, "messages"), human_bytes(
		    (double)jint(as, "bytes"), hb, sizeof(hb)));
	if (*jstr(j, "items_text"))
		printf("  besides mail: %s\n", jstr(j, "items_text"));
	if (jstr(j, "waiting"))
		printf("  waits: %s\n", jstr(j, "waiting"));
	print_worker(json_object_get(j, "worker"));
	if (json_object_get(j, "pruned"))
		printf("  its archive was pruned (migrate prune)\n");
	if (jstr(j, "error"))
		printf("  last error (%s, attempt %" JSON_INTEGER_FORMAT "):"
		    " %s\n", jstr(j, "error_class") ? jstr(j, "error_class") :
		    "?", jint(j, "attempts"), jstr(j, "error"));
	json_array_foreach(json_object_get(j, "transitions"), i, e) {
		time_t t = (time_t)json_number_value(json_object_get(e, "ts"));
		struct tm tm;
		char when[32];

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("  %s  %-11s -> %-11s %s\n", when, jstr(e, "from"),
		    jstr(e, "to"), jstr(e, "why") ? jstr(e, "why") : "");
	}
}

static int
status_account(struct state *s, const char *name, int json)
{
	json_t *j = status_account_json(s, name);

	if (!j) {
		fprintf(stderr, "migrate: no account '%s' in the state\n",
		    name);
		return EX_NOUSER;
	}
	if (json) {
		json_object_del(j, "items_text");
		json_object_del(j, "id");
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else
		print_account(j);
	json_decref(j);
	return 0;
}

/* migrate status: accounts by wave and state, a column per state. */
static void
print_table(json_t *waves, json_t *totals, int64_t nr)
{
	const char *key;
	json_t *w;
	int st;

	printf("%-14s %7s", "wave", "total");
	for (st = 0; st < ST_NR; st++)
		printf(" %*s", (int)strlen(state_name(st)) < 6 ? 6 :
		    (int)strlen(state_name(st)), state_name(st));
	printf("\n");
	json_object_foreach(waves, key, w) {
		int64_t t = 0;
		const char *k2;
		json_t *n;

		json_object_foreach(w, k2, n)
			t += json_integer_value(n);
		printf("%-14.14s %7" PRId64, key, t);
		for (st = 0; st < ST_NR; st++) {
			n = json_object_get(w, state_name(st));
			printf(" %*" PRId64, (int)strlen(state_name(st)) < 6 ?
			    6 : (int)strlen(state_name(st)),
			    n ? (int64_t)json_integer_value(n) : 0);
		}
		printf("\n");
	}
	printf("%-14s %7" PRId64, "all", nr);
	for (st = 0; st < ST_NR; st++) {
		json_t *n = json_object_get(totals, state_name(st));

		printf(" %*" PRId64, (int)strlen(state_name(st)) < 6 ? 6 :
		    (int)strlen(state_name(st)),
		    n ? (int64_t)json_integer_value(n) : 0);
	}
}

static void
print_failures(json_t *f)
{
	size_t i;
	json_t *g;

	if (!json_array_size(f))
		return;
	printf("failed, by reason (migrate status ACCOUNT tells more; migrate"
	    " retry ACCOUNT or --failed):\n");
	json_array_foreach(f, i, g) {
		const char *acc = json_string_value(json_object_get(g,
		    "accounts"));

		printf("  %4" JSON_INTEGER_FORMAT " %-9s %s\n       %.60s%s\n",
		    json_integer_value(json_object_get(g, "count")),
		    json_string_value(json_object_get(g, "class")),
		    json_string_value(json_object_get(g, "reason")), acc,
		    strlen(acc) > 60 ? " ..." : "");
	}
}

/* The sharing that waits for its grantees to reach the destination: one
 * line per owner, as JSON ("pending" a list) or printed. */
static json_t *
shares_waiting(struct state *s, int print)
{
	json_t *rows = state_shares_pending(s), *row, *out = json_array();
	size_t i;

	json_array_foreach(rows, i, row) {
		json_t *p = json_loads(json_string_value(json_object_get(row,
		    "pending")), 0, NULL), *id;
		const char *what;
		size_t k;

		if (!json_is_array(p)) {
			json_decref(p);
			continue;
		}
		what = strcmp(json_string_value(json_object_get(row,
		    "helper")), "dav-push") ? "folders" : "calendars";
		if (print) {
			printf("%s %s shares %s with",
			    i ? "             " : "sharing waits:",
			    json_string_value(json_object_get(row, "account")),
			    what);
			json_array_foreach(p, k, id)
				printf("%s %s", k ? "," : "",
				    json_string_value(id));
			printf(", not on the destination yet\n");
		}
		json_array_append_new(out, json_pack("{s:O, s:s, s:o}",
		    "account", json_object_get(row, "account"), "what", what,
		    "pending", p));
	}
	json_decref(rows);
	return out;
}

/* The workers (the state shared), each with what it holds. */
static void
print_workers(json_t *w)
{
	const json_t *it;
	size_t i;

	json_array_foreach(w, i, it)
		printf("%s %s: holds %" JSON_INTEGER_FORMAT " accounts, has the"
		    " archives of %" JSON_INTEGER_FORMAT ", renewed its leases"
		    " %.0f s ago\n", i ? "        " : "workers:", jstr(it,
		    "name"), jint(it, "holds"), jint(it, "homes"),
		    now_seconds() - json_number_value(json_object_get(it,
		    "seen")));
	json_decref(w);
}

/*
 * What status shows besides the counts of census `c`: what accounts hold
 * besides mail, the failures (read when `c` counts some), the sharing
 * that waits, what finalize found and the workers, with what they hold
 * (`holders`).  Into `c` (the JSON form) with `json`, else printed.
 */
static void
status_extras(struct state *s, json_t *c, const json_t *holders, int json)
{
	json_t *f = jint(json_object_get(c, "totals"), "failed") ?
	    state_failures(s) : json_array();
	json_t *fin = state_finalize_items(s), *it, *j = json ? c : NULL;
	json_t *io, *disk = state_waiting(s);
	char *items = state_items_text(s, 0, &io);
	size_t i, waiting = 0;

	if (j) {
		json_object_set_new(j, "connections", (it =
		    state_connections(s)) ? it : json_null());
		json_object_set_new(j, "waiting", disk);
		json_object_set_new(j, "items", io);
		json_object_set_new(j, "failures", f);
		json_object_set_new(j, "shares_waiting", shares_waiting(s, 0));
		json_object_set_new(j, "finalize", fin ? fin : json_null());
		json_object_set_new(j, "workers", state_workers(s, holders));
		free(items);
		return;
	}
	print_workers(state_workers(s, holders));
	if (*items)
		printf("besides mail: %s\n", items);
	json_array_foreach(disk, i, it)
		printf("%s %s: %s\n", i ? "      " : "waits:", jstr(it,
		    "account"), jstr(it, "waiting"));
	json_decref(disk);
	if ((it = state_connections(s))) {
		printf("source connections: %" JSON_INTEGER_FORMAT " of %"
		    JSON_INTEGER_FORMAT " at most (last change: %s; %"
		    JSON_INTEGER_FORMAT " cuts)\n", jint(it, "conns"), jint(it,
		    "ceiling"), jstr(it, "why"), jint(it, "cuts"));
		json_decref(it);
	}
	print_failures(f);
	json_decref(shares_waiting(s, 1));
	json_array_foreach(fin, i, it)
		if (!json_is_true(json_object_get(it, "ok")))
			printf("%s %s: %s\n", waiting++ ? "                 " :
			    "finalize waits:", jstr(it, "what"), jstr(it,
			    "detail"));
	if (fin && !waiting)
		printf("finalize: done, %zu checks passed\n",
		    json_array_size(fin));
	json_decref(io);
	json_decref(f);
	json_decref(fin);
	free(items);
}

json_t *
status_json(struct state *s, const char *dir)
{
	double now = now_seconds();
	struct census_more m = { .since = now - ETA_WINDOW };
	json_t *c = state_census(s, &m);

	json_object_set_new(c, "state", json_string(dir));
	json_object_set_new(c, "eta", eta_compute_with(s, now, &m));
	status_extras(s, c, m.holders, 1);
	json_decref(m.holders);
	return c;
}

int
status_show(struct state *s, const char *dir, const char *account, int json)
{
	double now = now_seconds();
	struct census_more m = { .since = now - ETA_WINDOW };
	json_t *c, *eta;
	char hb[32];

	if (account)
		return status_account(s, account, json);
	if (json) {
		c = status_json(s, dir);
		json_dumpf(c, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(c);
		return 0;
	}
	c = state_census(s, &m);
	eta = eta_compute_with(s, now, &m);
	print_table(json_object_get(c, "waves"), json_object_get(c,
	    "totals"), json_integer_value(json_object_get(c, "accounts")));
	printf("\n\n%" PRId64 " messages, %s pulled, %" PRId64
	    " anomalies\n", (int64_t)json_integer_value(json_object_get(c,
	    "messages")), human_bytes((double)json_integer_value(
	    json_object_get(c, "bytes")), hb, sizeof(hb)),
	    (int64_t)json_integer_value(json_object_get(c, "anomalies")));
	status_extras(s, c, m.holders, 0);
	json_decref(m.holders);
	eta_print(eta);
	json_decref(eta);
	if (strstr(dir, "://"))	/* the database, from another host */
		printf("history: git -C STATE/audit log on the host of 'migrate"
		    " plan apply'\n");
	else
		printf("history: migrate log, or git -C %s/audit log\n", dir);
	json_decref(c);
	return 0;
}
