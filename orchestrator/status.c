/*
 * status.c: `migrate status`, the counts by wave and state, what accounts
 * hold, the failures, what finalize waits for; or one account.
 */
#include "compat.h"

#include <sqlite3.h>
#include <time.h>

#include <jansson.h>

#include "finalize.h"
#include "log.h"
#include "opt.h"
#include "state.h"
#include "status.h"
#include "xalloc.h"

static const char *
human(double b, char *out, size_t n)
{
	const char *u[] = { "B", "kB", "MB", "GB", "TB" };
	int i = 0;

	while (b >= 1000 && i < 4)
		b /= 1000, i++;
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return out;
}

/*
 * An account by its address, its login, or its bare name when that is
 * the local part of exactly one address.
 */
int
find_account(struct state *s, const char *name, struct account *a)
{
	sqlite3_stmt *q;
	char *addr = NULL;
	int n = 0;

	if (state_account(s, name, a) == 0)
		return 0;
	if (sqlite3_prepare_v2(state_db(s), "SELECT account FROM accounts"
	    " WHERE login = ?1 OR substr(account, 1, instr(account, '@') - 1)"
	    " = ?1", -1,
	    &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(q) == SQLITE_ROW && n++ == 0)
		addr = xstrdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	if (n == 1 && state_account(s, addr, a) == 0)
		n = 0;
	else
		n = -1;
	free(addr);
	return n;
}

static int
status_account(struct state *s, const char *name, int json)
{
	sqlite3 *db = state_db(s);
	struct account a;
	sqlite3_stmt *q;
	json_t *j, *tr, *runs, *io;
	char *items;

	if (find_account(s, name, &a) < 0) {
		fprintf(stderr, "migrate: no account '%s' in the state\n",
		    name);
		return EX_NOUSER;
	}
	tr = json_array();
	if (sqlite3_prepare_v2(db, "SELECT ts, from_state, to_state, why FROM"
	    " transitions WHERE account_id = ?1 ORDER BY id", -1, &q,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, a.id);
		while (sqlite3_step(q) == SQLITE_ROW)
			json_array_append_new(tr, json_pack("{s:f, s:s, s:s,"
			    " s:s?}", "ts", sqlite3_column_double(q, 0),
			    "from", sqlite3_column_text(q, 1), "to",
			    sqlite3_column_text(q, 2), "why",
			    sqlite3_column_text(q, 3)));
		sqlite3_finalize(q);
	}
	runs = json_array();
	if (sqlite3_prepare_v2(db, "SELECT helper, step, started, ended, exit,"
	    " error FROM runs WHERE account_id = ?1 ORDER BY id", -1, &q,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, a.id);
		while (sqlite3_step(q) == SQLITE_ROW)
			json_array_append_new(runs, json_pack("{s:s, s:s, s:f,"
			    " s:f, s:i, s:s?}", "helper",
			    sqlite3_column_text(q, 0), "step",
			    sqlite3_column_text(q, 1), "started",
			    sqlite3_column_double(q, 2), "seconds",
			    sqlite3_column_double(q, 3) -
			    sqlite3_column_double(q, 2), "exit",
			    sqlite3_column_int(q, 4), "error",
			    sqlite3_column_text(q, 5)));
		sqlite3_finalize(q);
	}
	j = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:i, s:s?,"
	    " s:s?, s:I, s:I, s:I, s:I, s:o, s:o}", "account", a.account,
	    "login",
	    a.login, "wave", a.wave, "state", state_name(a.state), "resume",
	    a.state == ST_FAILED || a.state == ST_HELD ?
	    state_name(a.resume) : NULL, "step", a.step, "checkpoint",
	    a.checkpoint, "attempts",
	    a.attempts, "error_class", a.error_class, "error", a.error,
	    "messages", (json_int_t)a.messages, "bytes", (json_int_t)a.bytes,
	    "anomalies", (json_int_t)a.anomalies, "deltas",
	    (json_int_t)a.deltas, "transitions", tr, "runs", runs);
	items = state_items_text(s, a.id, &io);
	json_object_set_new(j, "items", io);
	if (json) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		size_t i;
		json_t *e;
		char hb[32];

		printf("%s (login %s), wave %s: %s", a.account, a.login,
		    a.wave ? a.wave : "-", state_name(a.state));
		if (a.state == ST_FAILED || a.state == ST_HELD)
			printf(" (resumes at %s)", state_name(a.resume));
		printf("\n  %" PRId64 " messages, %s pulled, %" PRId64
		    " anomalies, %" PRId64 " delta passes\n", a.messages,
		    human((double)a.bytes, hb, sizeof(hb)), a.anomalies,
		    a.deltas);
		if (*items)
			printf("  besides mail: %s\n", items);
		if (a.error)
			printf("  last error (%s, attempt %d): %s\n",
			    a.error_class ? a.error_class : "?", a.attempts,
			    a.error);
		json_array_foreach(tr, i, e) {
			time_t t = (time_t)json_real_value(json_object_get(e,
			    "ts"));
			struct tm tm;
			char when[32];

			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("  %s  %-11s -> %-11s %s\n", when,
			    json_string_value(json_object_get(e, "from")),
			    json_string_value(json_object_get(e, "to")),
			    json_string_value(json_object_get(e, "why")) ?
			    json_string_value(json_object_get(e, "why")) :
			    "");
		}
	}
	json_decref(j);
	free(items);
	account_free(&a);
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

/*
 * The failed accounts grouped by their reason (the account's own name
 * taken out of it): the most common first, with a few of its accounts.
 */
static json_t *
failures(sqlite3 *db)
{
	json_t *out = json_array();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(error_class, '?'),"
	    " substr(replace(coalesce(error, ''), account, '<account>'), 1,"
	    " 160) AS why, count(*), group_concat(account, ' ') FROM (SELECT"
	    " * FROM accounts WHERE in_plan AND state = 'failed' ORDER BY"
	    " ord) GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2", -1, &q, NULL) !=
	    SQLITE_OK)
		fatalx(EX_SOFTWARE, "state: %s", sqlite3_errmsg(db));
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s}",
		    "class", (const char *)sqlite3_column_text(q, 0), "reason",
		    (const char *)sqlite3_column_text(q, 1), "count",
		    (json_int_t)sqlite3_column_int64(q, 2), "accounts",
		    (const char *)sqlite3_column_text(q, 3)));
	sqlite3_finalize(q);
	return out;
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

/*
 * What status shows besides the counts: what accounts hold besides mail,
 * the failures, and what finalize found.  Into `j` (the JSON form), or
 * printed when it is NULL.
 */
static void
status_extras(struct state *s, json_t *j)
{
	json_t *f = failures(state_db(s)), *fin = finalize_items(s), *it, *io;
	char *items = state_items_text(s, 0, &io);
	size_t i, waiting = 0;

	if (j) {
		json_object_set_new(j, "items", io);
		json_object_set_new(j, "failures", f);
		json_object_set_new(j, "finalize", fin ? fin : json_null());
		free(items);
		return;
	}
	if (*items)
		printf("besides mail: %s\n", items);
	print_failures(f);
	json_array_foreach(fin, i, it)
		if (!json_is_true(json_object_get(it, "ok")))
			printf("%s %s: %s\n", waiting++ ? "                 " :
			    "finalize waits:", json_string_value(json_object_get(
			    it, "what")), json_string_value(json_object_get(it,
			    "detail")));
	if (fin && !waiting)
		printf("finalize: done, %zu checks passed\n",
		    json_array_size(fin));
	json_decref(io);
	json_decref(f);
	json_decref(fin);
	free(items);
}

int
status_show(struct state *s, const char *dir, const char *account, int json)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	json_t *waves, *totals, *w;
	int64_t msgs = 0, bytes = 0, anomalies = 0, nr = 0, moved_hour = 0;
	int64_t left = 0;
	char hb[32];

	db = state_db(s);
	if (account)
		return status_account(s, account, json);
	waves = json_object();
	totals = json_object();
	if (sqlite3_prepare_v2(db, "SELECT coalesce(wave, '-'), state,"
	    " count(*), sum(messages), sum(bytes), sum(anomalies) FROM"
	    " accounts WHERE in_plan GROUP BY 1, 2", -1, &q, NULL) !=
	    SQLITE_OK)
		fatalx(EX_SOFTWARE, "state: %s", sqlite3_errmsg(db));
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *wv = (const char *)sqlite3_column_text(q, 0);
		const char *sn = (const char *)sqlite3_column_text(q, 1);
		int64_t n = sqlite3_column_int64(q, 2);
		json_t *t;

		if (!(w = json_object_get(waves, wv)))
			json_object_set_new(waves, wv, w = json_object());
		json_object_set_new(w, sn, json_integer(n));
		t = json_object_get(totals, sn);
		json_object_set_new(totals, sn, json_integer(n +
		    (t ? json_integer_value(t) : 0)));
		nr += n;
		msgs += sqlite3_column_int64(q, 3);
		bytes += sqlite3_column_int64(q, 4);
		anomalies += sqlite3_column_int64(q, 5);
		if (strcmp(sn, "migrated") && strcmp(sn, "finalized") &&
		    strcmp(sn, "held") && strcmp(sn, "rolled_back"))
			left += n;
	}
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM transitions WHERE"
	    " to_state = 'migrated' AND ts > ?1", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_double(q, 1, now_seconds() - 3600);
		if (sqlite3_step(q) == SQLITE_ROW)
			moved_hour = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:I,"
		    " s:I, s:I}", "state", dir, "accounts", (json_int_t)nr,
		    "totals", totals, "waves", waves, "messages",
		    (json_int_t)msgs, "bytes", (json_int_t)bytes, "anomalies",
		    (json_int_t)anomalies, "migrated_last_hour",
		    (json_int_t)moved_hour, "left", (json_int_t)left);

		status_extras(s, j);
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
		return 0;
	}
	print_table(waves, totals, nr);
	printf("\n\n%" PRId64 " messages, %s pulled, %" PRId64 " anomalies\n",
	    msgs, human((double)bytes, hb, sizeof(hb)), anomalies);
	status_extras(s, NULL);
	if (moved_hour && left)
		printf("%" PRId64 " accounts migrated in the last hour; %"
		    PRId64 " to go, about %.1f hours\n", moved_hour, left,
		    (double)left / moved_hour);
	else
		printf("%" PRId64 " accounts to go\n", left);
	printf("history: migrate log, or git -C %s/audit log\n", dir);
	json_decref(waves);
	json_decref(totals);
	return 0;
}
