/*
 * report.c: `migrate report`, the state as one HTML page that stands
 * alone (inline CSS and SVG, no script, nothing fetched), so that it
 * opens from a mail attachment or a ticket: the summary with its ETA,
 * the sizing by wave with a histogram and the largest accounts, the
 * risks (what may not come across as it is, and who it touches), the
 * progress by wave with the pulls and migrations over time and the
 * accounts in progress longest, the failures by reason, the anomalies
 * by kind with what to do about each, and the cutovers and rollbacks.
 * Every list is bounded, so the page stays small for 100,000 accounts.
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "eta.h"
#include "fileio.h"
#include "html.h"
#include "now.h"
#include "report.h"
#include "reportcharts.h"
#include "state.h"
#include "xalloc.h"

/* When the oldest message came, and whose it is. */
static void
oldest_card(struct buf *b, const json_t *o)
{
	struct buf d = BUF_INIT, what = BUF_INIT;

	if (!o)
		return;
	html_when(&d, json_number_value(json_object_get(o, "t")),
	    "%Y-%m-%d");
	buf_addf(&what, "oldest mail (%s)", jstr(o, "account"));
	html_card(b, "oldest", what.buf, d.buf);
	buf_release(&d);
	buf_release(&what);
}

static void
summary(struct buf *b, const json_t *r, const json_t *eta)
{
	json_int_t acc = 0, mig = 0, failed = 0, msgs = 0, by = 0;
	const json_t *w;
	char v[64], h[32];
	size_t i;

	json_array_foreach(json_object_get(r, "waves"), i, w) {
		acc += jnum(w, "accounts");
		mig += jnum(w, "migrated");
		failed += jnum(w, "failed");
		msgs += jnum(w, "assessed_messages");
		by += jnum(w, "assessed_bytes");
	}
	buf_adds(b, "<section id=\"summary\"><h2>Summary</h2><div class="
	    "\"cards\">");
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, acc);
	html_card(b, "accounts", "accounts in the plan", v);
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, mig);
	html_card(b, "migrated", "migrated", v);
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, failed);
	html_card(b, "failed", "failed, to retry", v);
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, msgs);
	html_card(b, "messages", "messages (assessed)", v);
	html_card(b, "bytes", "of mail (assessed)", human_bytes((double)by, h,
	    sizeof(h)));
	oldest_card(b, json_array_get(json_object_get(r, "oldest"), 0));
	if (json_is_integer(json_object_get(eta, "seconds")) &&
	    jnum(eta, "accounts")) {
		double s = (double)jnum(eta, "seconds");

		snprintf(v, sizeof(v), s < 7200 ? "%.0f min" : "%.1f hours",
		    s < 7200 ? s / 60 : s / 3600);
		html_card(b, "eta", "left (ETA)", v);
	} else
		html_card(b, "eta", "left (ETA)", jnum(eta, "accounts") ?
		    "not yet" : "none");
	buf_adds(b, "</div>\n<p class=\"muted\">");
	if (acc && !jnum(eta, "accounts")) {
		buf_adds(b, "No account is left to migrate.");
	} else if (json_object_get(eta, "sample")) {
		const json_t *m = json_object_get(eta, "sample");

		buf_adds(b, "A first estimate: what is left, ");
		html_bytes(b, (double)jnum(eta, "bytes"));
		buf_adds(b, " as the assessment counted it, at the speed of the"
		    " assessment's timed reads of the source (");
		html_bytes(b, (double)jnum(m, "bytes"));
		buf_addf(b, " in %.1f s on %" JSON_INTEGER_FORMAT " account(s)),"
		    " one account at a time and reading only: the pilot"
		    " measures the whole.", json_number_value(json_object_get(m,
		    "seconds")), jnum(m, "accounts"));
	} else if (json_object_get(eta, "measured")) {
		const json_t *m = json_object_get(eta, "measured");
		double rate = json_number_value(json_object_get(eta, "rate"));

		buf_addf(b, "The ETA divides what is left, %"
		    JSON_INTEGER_FORMAT " account(s) and ", jnum(eta,
		    "accounts"));
		html_bytes(b, (double)jnum(eta, "bytes"));
		buf_addf(b, " as the assessment counted it, by the throughput "
		    "measured on %" JSON_INTEGER_FORMAT " account(s) migrated ("
		    , jnum(m, "accounts"));
		html_esc(b, jstr(m, "window"));
		buf_adds(b, "): ");
		if (!strcmp(jstr(eta, "basis"), "bytes")) {
			html_bytes(b, rate);
			buf_adds(b, "/s.");
		} else
			buf_addf(b, "%.1f accounts an hour (no sizes to weigh"
			    " by).", rate * 3600);
	} else if (jnum(eta, "accounts")) {
		html_esc(b, jstr(eta, "why"));
		buf_adds(b, ".");
	}
	buf_adds(b, "</p></section>\n");
}

static void
histogram(struct buf *b, const json_t *sizes)
{
	char label[7][24] = { "none", "<1 MB", "1-10 MB", "10-100 MB",
	    "0.1-1 GB", "1-10 GB", ">10 GB" };
	double v[7] = { 0 };
	const json_t *row;
	size_t i;

	json_array_foreach(sizes, i, row)
		if (jnum(row, "k") >= 0 && jnum(row, "k") < 7)
			v[jnum(row, "k")] = (double)jnum(row, "v");
	buf_adds(b, "<h3>Accounts by size</h3>");
	html_bars(b, "accounts by size", 7, v, label, "accounts", 76);
}

/* Where the accounts are listed, a page of them at a time. */
static void
account_lists(struct buf *b, const json_t *waves)
{
	const json_t *w;
	size_t i;

	if (!html_linking()) {
		buf_adds(b, "<p class=\"muted\">Every account, with its state"
		    " and sizes: migrate report --all, or --wave WAVE; one"
		    " account, folder by folder: migrate report --account"
		    " ACCOUNT.</p>");
		return;
	}
	buf_adds(b, "<p>Every account: <a href=\"/accounts\">all</a>; by"
	    " wave:");
	json_array_foreach(waves, i, w) {
		buf_adds(b, " <a href=\"/accounts/");
		html_url(b, jstr(w, "wave"));
		buf_adds(b, "\">");
		html_esc(b, jstr(w, "wave"));
		buf_adds(b, "</a>");
	}
	buf_adds(b, ".</p>");
}

/*
 * The largest folders of the largest accounts (`largest`), from their
 * assessment reports: ten files read at most, whatever the plan's size.
 */
static void
largest_folders(struct buf *b, const char *dir, const json_t *largest)
{
	static const struct col cols[] = {
		{ "account", "account", C_ACCOUNT, NULL },
		{ "folder", "name", C_TEXT, NULL },
		{ "messages", "messages", C_NUM, NULL },
		{ "size", "bytes", C_BYTES, NULL },
	};
	json_t *all = json_array(), *rep, *f, *top = json_array();
	const json_t *a;
	size_t i, k, n;
	char *path;

	json_array_foreach(largest, i, a) {
		path = xasprintf("%s/reports/%s.assess.json", dir, jstr(a,
		    "account"));
		rep = json_load_file(path, 0, NULL);
		free(path);
		json_array_foreach(json_object_get(rep, "folders"), k, f) {
			json_object_set(f, "account", json_object_get(a,
			    "account"));
			json_array_append(all, f);
		}
		json_decref(rep);
	}
	for (n = 0; n < 10 && json_array_size(all); n++) {
		size_t best = 0;

		json_array_foreach(all, k, f)
			if (jnum(f, "bytes") > jnum(json_array_get(all, best),
			    "bytes"))
				best = k;
		json_array_append(top, json_array_get(all, best));
		json_array_remove(all, best);
	}
	buf_adds(b, "<h3>The largest folders</h3><p class=\"muted\">Of the"
	    " largest accounts, as their assessment counted them.</p>");
	html_table(b, "largest-folders", cols, 4, top, "No assessment report"
	    " yet.");
	json_decref(all);
	json_decref(top);
}

static void
sizing(struct buf *b, const char *dir, const json_t *r)
{
	static const struct col waves[] = {
		{ "wave", "wave", C_TEXT, NULL },
		{ "accounts", "accounts", C_NUM, NULL },
		{ "folders", "folders", C_NUM, NULL },
		{ "messages", "assessed_messages", C_NUM, NULL },
		{ "size", "assessed_bytes", C_BYTES, NULL },
		{ "pulled", "bytes", C_BYTES, NULL },
	}, largest[] = {
		{ "account", "account", C_ACCOUNT, NULL },
		{ "wave", "wave", C_TEXT, NULL },
		{ "state", "state", C_TEXT, NULL },
		{ "messages", "messages", C_NUM, NULL },
		{ "size", "bytes", C_BYTES, NULL },
	};

	buf_adds(b, "<section id=\"sizing\"><h2>Sizing</h2>");
	html_table(b, "waves", waves, 6, json_object_get(r, "waves"), "No"
	    " account yet.");
	account_lists(b, json_object_get(r, "waves"));
	histogram(b, json_object_get(r, "sizes"));
	buf_adds(b, "<h3>The largest accounts</h3>");
	html_table(b, "largest", largest, 5, json_object_get(r, "largest"), "No"
	    " account yet.");
	largest_folders(b, dir, json_object_get(r, "largest"));
	buf_adds(b, "</section>\n");
}

/* What each pull helper (a kind of source) carried, and how fast. */
static void
sources(struct buf *b, json_t *rows)
{
	static const struct col cols[] = {
		{ "pulled by", "helper", C_TEXT, NULL },
		{ "runs", "runs", C_NUM, NULL },
		{ "messages", "messages", C_NUM, NULL },
		{ "bytes", "bytes", C_BYTES, NULL },
		{ "busy seconds", "seconds", C_NUM, NULL },
		{ "a second", "rate", C_BYTES, NULL },
	};
	json_t *row;
	size_t i;

	json_array_foreach(rows, i, row) {
		double s = json_number_value(json_object_get(row, "seconds"));

		json_object_set_new(row, "rate", json_integer(s > 0 ?
		    (json_int_t)((double)jnum(row, "bytes") / s) : 0));
	}
	buf_adds(b, "<h3>Throughput by source</h3>");
	html_table(b, "sources", cols, 6, rows, "Nothing pulled yet.");
}

static void
progress(struct buf *b, const json_t *r)
{
	static const struct col states[] = {
		{ "wave", "wave", C_TEXT, NULL },
		{ "accounts", "accounts", C_NUM, NULL },
		{ "migrated", "migrated", C_NUM, "good" },
		{ "failed", "failed", C_NUM, "bad" },
		{ "held", "held", C_NUM, NULL },
		{ "rolled back", "rolled_back", C_NUM, NULL },
	}, slowest[] = {
		{ "account", "account", C_ACCOUNT, NULL },
		{ "wave", "wave", C_TEXT, NULL },
		{ "state", "state", C_TEXT, NULL },
		{ "minutes", "minutes", C_NUM, NULL },
		{ "pulled", "bytes", C_BYTES, NULL },
	};
	json_int_t total = 0;
	const json_t *w;
	size_t i;

	json_array_foreach(json_object_get(r, "waves"), i, w)
		total += jnum(w, "accounts");
	buf_adds(b, "<section id=\"progress\"><h2>Progress</h2>");
	html_table(b, "states", states, 6, json_object_get(r, "waves"), "No"
	    " account yet.");
	states_over_time(b, json_object_get(r, "states"), total);
	over_time(b, "Bytes pulled a minute", json_object_get(r, "pulls"),
	    "bytes", 1);
	over_time(b, "Messages pulled a minute", json_object_get(r,
	    "pulled_messages"), "messages", 1);
	sources(b, json_object_get(r, "sources"));
	connections_over_time(b, json_object_get(r, "connections"),
	    now_seconds());
	over_time(b, "Accounts migrated over time", json_object_get(r,
	    "migrated"), "accounts", 0);
	buf_adds(b, "<h3>In progress longest</h3>");
	html_table(b, "slowest", slowest, 5, json_object_get(r, "slowest"),
	    "No account is in progress.");
	buf_adds(b, "</section>\n");
}

static void
failures(struct buf *b, json_t *f)
{
	static const struct col cols[] = {
		{ "accounts", "count", C_NUM, NULL },
		{ "class", "class", C_TEXT, NULL },
		{ "reason", "reason", C_TEXT, NULL },
		{ "which", "accounts", C_ACCOUNTS, NULL, "count" },
	};

	buf_adds(b, "<section id=\"failures\"><h2>Failures</h2>");
	html_table(b, "failed", cols, 4, f, "No account has failed.");
	if (json_array_size(f))
		buf_adds(b, "<p class=\"muted\">migrate status ACCOUNT tells"
		    " more; migrate retry ACCOUNT, or --failed.</p>");
	buf_adds(b, "</section>\n");
}

/* What to do about each kind of anomaly the helpers report. */
static const struct {
	const char *kind, *advice;
} advice[] = {
	{ "too-large", "The destination's size limit is below the message:"
	    " raise it, or accept that the message stays in the archive." },
	{ "over-size-limit", "As too-large: raise the destination's limit,"
	    " or leave the message in the archive." },
	{ "oversized", "As too-large: raise the destination's limit." },
	{ "rescued", "The destination refused the message as it was; a"
	    " repaired copy was imported and the original kept in the"
	    " archive. Nothing to do unless the user misses the original." },
	{ "not-imported", "The destination refused the message; see the"
	    " account's push report, then push again." },
	{ "empty-message", "A message of 0 bytes at the source: nothing to"
	    " carry." },
	{ "verify-differs", "The destination differs from the archive after"
	    " the push; look at the account's verify report before its"
	    " cutover." },
	{ "folder-name", "A folder name the destination does not take as it"
	    " is; it was created under a substitute name." },
	{ "folder-name-clash", "Two folders map to one name at the"
	    " destination; one was renamed." },
	{ "folder-unreadable", "The source refused to open a folder; check"
	    " its ACL or the mail store, then pull again." },
	{ "uidvalidity-changed", "The source renumbered a folder; it was read"
	    " again whole, and matched by content." },
	{ "duplicate-message-id", "Information: two messages share a"
	    " Message-ID; both are carried." },
	{ "namespace-shared", "Folders of others the account sees: they"
	    " move with their owners, not with this account." },
	{ "share-refused", "The destination refused a folder's sharing;"
	    " set it by hand or check the grantee exists there." },
	{ "share-unsupported", "The destination cannot share folders; the"
	    " sharing was not carried." },
	{ "dav-share-not-carried", "A calendar or address book shared with a"
	    " group or everyone: set it again on the destination." },
	{ "dav-shared", "Calendars or address books of others the account"
	    " sees: they move with their owners." },
	{ "password-not-carried", "The account's password hash cannot be"
	    " carried: the user needs a new password on the destination." },
	{ "sieve-refused", "The destination refused a Sieve script (an"
	    " extension it lacks?); it is kept in the archive." },
	{ "sieve-extension", "A Sieve script needs an extension the"
	    " destination does not offer: rewrite it without, or enable the"
	    " extension there, before the account moves." },
	{ "sieve-syntax", "A Sieve script that cannot be read: the"
	    " destination is likely to refuse it; have the user fix it." },
	{ "pop3-unmatched", "A POP3 message could not be matched; that"
	    " client may download it again after the cutover." },
	{ "proxy-unreachable", "The proxy could not be told of a flip; check"
	    " that it runs, then flip again." },
};

static const char *
advice_for(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(advice) / sizeof(advice[0]); i++)
		if (!strcmp(advice[i].kind, kind))
			return advice[i].advice;
	return "See the account's reports (migrate status ACCOUNT) and the"
	    " helper's manual page.";
}

static void
anomalies(struct buf *b, json_t *a)
{
	static const struct col cols[] = {
		{ "kind", "kind", C_TEXT, NULL },
		{ "count", "count", C_NUM, NULL },
		{ "accounts", "accounts", C_NUM, NULL },
		{ "what to do", "advice", C_TEXT, NULL },
		{ "some of the accounts", "sample", C_ACCOUNTS, NULL,
		    "accounts" },
	};
	json_t *k;
	size_t i;

	json_array_foreach(a, i, k)
		json_object_set_new(k, "advice", json_string(advice_for(jstr(k,
		    "kind"))));
	buf_adds(b, "<section id=\"anomalies\"><h2>Anomalies</h2>");
	html_table(b, "kinds", cols, 5, a, "None.");
	buf_adds(b, "</section>\n");
}

/* What may not come across as it is, and what to do about it. */
static const struct {
	const char *key, *risk, *advice;
} risk_kinds[] = {
	{ "size", "Messages over the destination's size limit", "They stay in"
	    " the archive unless the destination's limit is raised." },
	{ "names", "Folder names the destination renames or refuses", "The"
	    " folder is carried under another name; the anomaly says which."
	    },
	{ "refused", "Messages the destination is likely to refuse", "Malformed"
	    " at the source: carried repaired or wrapped (push.refused:"
	    " rescue), the original kept in the archive." },
	{ "passwords", "Password hashes that cannot be carried", "Those users"
	    " need a new password on the destination." },
	{ "shares", "Shared folders, calendars, address books and ACLs",
	    "Carried where the grantee exists on the destination; grants to"
	    " groups or everyone must be set again." },
	{ "pop3", "POP3 users (in the source's logs)", "The proxy keeps their"
	    " clients from downloading everything again (pop3-uidl)." },
	{ "sieve", "Sieve scripts the destination may refuse", "The"
	    " assessment checks each script's require against the"
	    " destination's ManageSieve; a refused script stays in the"
	    " archive." },
};

static void
risks(struct buf *b, const json_t *found)
{
	static const struct col cols[] = {
		{ "risk", "risk", C_TEXT, NULL },
		{ "accounts", "accounts", C_NUM, NULL },
		{ "count", "count", C_NUM, NULL },
		{ "what to do", "advice", C_TEXT, NULL },
		{ "which", "sample", C_ACCOUNTS, NULL, "accounts" },
	};
	json_t *rows = json_array(), *row;
	const json_t *f;
	size_t i, k;

	for (i = 0; i < sizeof(risk_kinds) / sizeof(risk_kinds[0]); i++) {
		row = json_pack("{s:s, s:s, s:i, s:i, s:s}", "risk",
		    risk_kinds[i].risk, "advice", risk_kinds[i].advice,
		    "accounts", 0, "count", 0, "sample", "");
		json_array_foreach(found, k, f)
			if (!strcmp(jstr(f, "risk"), risk_kinds[i].key))
				json_object_update(row, (json_t *)f);
		json_object_set_new(row, "risk", json_string(
		    risk_kinds[i].risk));
		json_array_append_new(rows, row);
	}
	buf_adds(b, "<section id=\"risks\"><h2>Risks</h2><p class=\"muted\">"
	    "What may not come across as it is, from the assessment and"
	    " every pass since.</p>");
	html_table(b, "risk-list", cols, 5, rows, "");
	buf_adds(b, "</section>\n");
	json_decref(rows);
}

/*
 * The cutovers (an account entering cutover, its logins held, until it
 * is migrated: the hold window) and the rollbacks, newest first.  The
 * rows come newest first, so an account's migration is seen before its
 * cutover: `ends` keeps it until then.
 */
static void
cutovers(struct buf *b, const json_t *rows)
{
	json_t *ends = json_object();
	const json_t *t, *end;
	size_t i, n = 0;

	buf_adds(b, "<section id=\"cutovers\"><h2>Cutovers and rollbacks</h2>"
	    "<table><tr><th>when</th><th>account</th><th>wave</th><th>what"
	    "</th><th class=\"n\">logins held</th><th>by</th></tr>");
	json_array_foreach(rows, i, t) {
		const char *to = jstr(t, "to"), *acc = jstr(t, "account");

		/* a migration from its cutover (or back from a hold) */
		if (!strcmp(to, "migrated")) {
			if (!strcmp(jstr(t, "from"), "cutover"))
				json_object_set(ends, acc, json_object_get(t,
				    "ts"));
			continue;
		}
		if (n++ == 200)
			break;
		buf_adds(b, "<tr><td>");
		html_when(b, json_number_value(json_object_get(t, "ts")),
		    "%Y-%m-%d %H:%M:%S");
		buf_adds(b, "</td><td>");
		html_account(b, acc);
		buf_adds(b, "</td><td>");
		html_esc(b, jstr(t, "wave"));
		if (!strcmp(to, "rolled_back")) {
			buf_adds(b, "</td><td class=\"bad\">rolled back</td>"
			    "<td></td><td>");
			html_esc(b, jstr(t, "operator"));
			buf_adds(b, "</td></tr>");
			continue;
		}
		buf_adds(b, "</td><td>cutover</td><td class=\"n\">");
		if ((end = json_object_get(ends, acc)))
			buf_addf(b, "%.1f s", json_number_value(end) -
			    json_number_value(json_object_get(t, "ts")));
		else
			buf_adds(b, "not done");
		buf_adds(b, "</td><td>");
		html_esc(b, jstr(t, "operator"));
		buf_adds(b, "</td></tr>");
		json_object_del(ends, acc);
	}
	buf_adds(b, "</table>");
	if (!n)
		buf_adds(b, "<p class=\"muted\">None yet.</p>");
	buf_adds(b, "<p class=\"muted\">By: the author of the migrate"
	    " command's audit commits (git -C STATE/audit log).</p></section>"
	    "\n");
	json_decref(ends);
}

void
report_page(struct state *s, const char *dir, int refresh, struct buf *b)
{
	double now = now_seconds();
	json_t *r = state_report(s), *eta = eta_compute(s, now);
	json_t *plan = json_array_get(json_object_get(r, "plans"), 0);
	json_t *f = state_failures(s);
	char *title = xasprintf("Migration report: %s", plan ? jstr(plan,
	    "name") : dir);

	html_head(b, title, refresh);
	free(title);
	buf_adds(b, "<p class=\"muted\">State ");
	html_esc(b, dir);
	buf_adds(b, ", made ");
	html_when(b, now, "%Y-%m-%d %H:%M:%S %Z");
	if (plan) {
		buf_addf(b, "; plan revision %" JSON_INTEGER_FORMAT " (",
		    jnum(plan, "id"));
		html_esc(b, jstr(plan, "path"));
		buf_adds(b, ", sha256 ");
		buf_add(b, jstr(plan, "sha256"), strnlen(jstr(plan, "sha256"),
		    12));
		buf_adds(b, ") applied ");
		html_when(b, json_number_value(json_object_get(plan,
		    "applied")), "%Y-%m-%d %H:%M");
	}
	buf_adds(b, ".</p></header>\n");
	summary(b, r, eta);
	sizing(b, dir, r);
	risks(b, json_object_get(r, "risks"));
	progress(b, r);
	failures(b, f);
	anomalies(b, json_object_get(r, "anomalies"));
	cutovers(b, json_object_get(r, "cutovers"));
	html_foot(b);
	json_decref(r);
	json_decref(eta);
	json_decref(f);
}

char *
report_default_path(const char *dir, const struct report_opts *o)
{
	struct buf b = BUF_INIT;

	if (o->account)
		return xasprintf("%s/reports/%s.html", dir, o->account);
	if (!o->accounts)
		return xasprintf("%s/report.html", dir);
	buf_addf(&b, "%s/reports/accounts", dir);
	if (o->wave) {
		buf_addch(&b, '-');
		html_url(&b, o->wave);
	}
	if (o->page)
		buf_addf(&b, "-%" PRId64, o->page + 1);
	buf_adds(&b, ".html");
	return buf_detach(&b, NULL);
}

int
report_write(struct state *s, const char *dir, const struct report_opts *o,
    const char *path, struct buf *err)
{
	struct buf b = BUF_INIT;
	int ret = 0;

	if (o->account) {
		if (report_account(s, dir, o->account, 0, &b) < 0) {
			buf_addf(err, "no account '%s' in the state",
			    o->account);
			ret = EX_NOUSER;
		}
	} else if (o->accounts) {
		switch (report_wave(s, o->wave, o->page, 0, &b)) {
		case -1:
			buf_addf(err, "no wave '%s' in the state", o->wave);
			ret = EX_NOUSER;
			break;
		case -2:
			buf_addf(err, "there is no page %" PRId64, o->page + 1);
			ret = EX_USAGE;
		}
	} else
		report_page(s, dir, 0, &b);
	if (!ret && file_write_atomic(path, b.buf, b.len, 0644, err) < 0)
		ret = EX_CANTCREAT;
	buf_release(&b);
	return ret;
}
