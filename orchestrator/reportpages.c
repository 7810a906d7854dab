/*
 * reportpages.c: the report's pages below its summary: an account's
 * (its reconciliation folder by folder, its anomalies, its history) and
 * the accounts of a wave, a page of REPORT_PER_PAGE at a time, so that
 * no page grows with the plan.
 */
#include "compat.h"

#include <sys/stat.h>

#include <jansson.h>

#include "buf.h"
#include "html.h"
#include "report.h"
#include "state.h"
#include "status.h"
#include "xalloc.h"

static void
add_total(json_t *sum, const json_t *row, const char *key)
{
	json_object_set_new(sum, key, json_integer(jnum(sum, key) +
	    jnum(row, key)));
}

/*
 * Whether a folder is verified: every message carried was read back
 * equal (date, size, mailboxes, keywords; with verify_content, the
 * SHA-256 of its body too), none refused or rescued.
 */
static void
verdict(json_t *row, int delta)
{
	json_int_t carried = jnum(row, "source_messages") - jnum(row,
	    "left_out");
	int ok = !jnum(row, "differs") && !jnum(row, "not_pushed") &&
	    !jnum(row, "rescued") && (delta || jnum(row, "equal") ==
	    carried);

	json_object_set_new(row, "verified", json_string(ok ? "yes" : "no"));
}

static void
reconciliation(struct buf *b, const char *dir, const char *account)
{
	static const struct col cols[] = {
		{ "folder", "folder", C_TEXT, NULL },
		{ "source", "source_messages", C_NUM, NULL },
		{ "source size", "source_bytes", C_BYTES, NULL },
		{ "left out (deleted)", "left_out", C_NUM, NULL },
		{ "destination", "destination_messages", C_NUM, NULL },
		{ "destination size", "destination_bytes", C_BYTES, NULL },
		{ "equal", "equal", C_NUM, NULL },
		{ "differ", "differs", C_NUM, NULL },
		{ "rescued", "rescued", C_NUM, NULL },
		{ "refused", "not_pushed", C_NUM, NULL },
		{ "verified", "verified", C_TEXT, NULL },
	};
	static const char *const sums[] = { "source_messages", "source_bytes",
	    "left_out", "destination_messages", "destination_bytes", "equal",
	    "differs", "rescued", "not_pushed" };
	char *path = xasprintf("%s/reports/%s.verify.json", dir, account);
	json_t *v = json_load_file(path, 0, NULL), *rows, *row, *sum;
	struct stat st;
	size_t i, k;
	int delta;

	buf_adds(b, "<section id=\"reconciliation\"><h2>Reconciliation</h2>");
	rows = json_object_get(v, "folders");
	if (!json_is_array(rows)) {
		buf_adds(b, "<p class=\"muted\">Not verified yet: the verify"
		    " before the cutover writes it.</p></section>\n");
		json_decref(v);
		free(path);
		return;
	}
	delta = json_is_true(json_object_get(v, "delta"));
	sum = json_pack("{s:s}", "folder", "all folders");
	json_array_foreach(rows, i, row) {
		verdict(row, delta);
		for (k = 0; k < sizeof(sums) / sizeof(sums[0]); k++)
			add_total(sum, row, sums[k]);
	}
	verdict(sum, delta);
	json_array_append_new(rows, sum);
	html_table(b, "folders", cols, sizeof(cols) / sizeof(cols[0]), rows,
	    "");
	buf_adds(b, "<p class=\"muted\">From the last verify (");
	if (stat(path, &st) == 0)
		html_when(b, (double)st.st_mtime, "%Y-%m-%d %H:%M");
	buf_addf(b, ", %" JSON_INTEGER_FORMAT " bodies compared by SHA-256)."
	    " Source: the archive as pulled; destination: read back over"
	    " JMAP; equal: date, size, mailboxes and keywords.", jnum(v,
	    "bodies_compared"));
	if (delta)
		buf_adds(b, " It was the cutover's final delta, which reads"
		    " back only what it carried: the destination's columns"
		    " are not counted.");
	buf_adds(b, "</p></section>\n");
	json_decref(v);
	free(path);
}

static void
account_anomalies(struct buf *b, struct state *s, int64_t id)
{
	static const struct col kinds[] = {
		{ "kind", "kind", C_TEXT, NULL },
		{ "helper", "helper", C_TEXT, NULL },
		{ "count", "count", C_NUM, NULL },
	}, first[] = {
		{ "kind", "kind", C_TEXT, NULL },
		{ "folder", "folder", C_TEXT, NULL },
		{ "UID", "uid", C_TEXT, NULL },
		{ "what", "text", C_TEXT, NULL },
	};
	json_t *a = state_account_anomalies(s, id);

	buf_adds(b, "<section id=\"anomalies\"><h2>Anomalies</h2>");
	html_table(b, "kinds", kinds, 3, json_object_get(a, "kinds"),
	    "None.");
	if (json_array_size(json_object_get(a, "first"))) {
		buf_adds(b, "<h3>The first of them</h3>");
		html_table(b, "anomaly-list", first, 4, json_object_get(a,
		    "first"), "");
	}
	buf_adds(b, "</section>\n");
	json_decref(a);
}

static void
history(struct buf *b, const json_t *j)
{
	static const struct col tr[] = {
		{ "from", "from", C_TEXT, NULL },
		{ "to", "to", C_TEXT, NULL },
		{ "why", "why", C_TEXT, NULL },
		{ "when", "when", C_TEXT, NULL },
		{ "by", "operator", C_TEXT, NULL },
	}, runs[] = {
		{ "helper", "helper", C_TEXT, NULL },
		{ "step", "step", C_TEXT, NULL },
		{ "seconds", "seconds", C_NUM, NULL },
		{ "exit", "exit", C_NUM, NULL },
		{ "error", "error", C_TEXT, NULL },
		{ "when", "when", C_TEXT, NULL },
	};
	const char *lists[] = { "transitions", "runs" };
	json_t *row;
	size_t i, k;

	for (k = 0; k < 2; k++)
		json_array_foreach(json_object_get(j, lists[k]), i, row) {
			struct buf w = BUF_INIT;

			html_when(&w, json_number_value(json_object_get(row,
			    k ? "started" : "ts")), "%Y-%m-%d %H:%M:%S");
			json_object_set_new(row, "when", json_string(w.buf));
			buf_release(&w);
		}
	buf_adds(b, "<section id=\"history\"><h2>History</h2>");
	html_table(b, "transitions", tr, 5, json_object_get(j,
	    "transitions"), "Nothing yet.");
	buf_adds(b, "<h3>Helper runs</h3>");
	html_table(b, "runs", runs, 6, json_object_get(j, "runs"), "None"
	    " yet.");
	buf_adds(b, "</section>\n");
}

int
report_account(struct state *s, const char *dir, const char *account,
    int refresh, struct buf *b)
{
	json_t *j = status_account_json(s, account), *as;
	char *title, v[64];

	if (!j)
		return -1;
	title = xasprintf("Account %s", jstr(j, "account"));
	html_head(b, title, refresh);
	free(title);
	buf_adds(b, "<p class=\"muted\">Login ");
	html_esc(b, jstr(j, "login"));
	buf_adds(b, ", wave ");
	html_esc(b, json_is_string(json_object_get(j, "wave")) ? jstr(j,
	    "wave") : "-");
	if (html_linking())
		buf_adds(b, ". <a href=\"/\">The summary</a>");
	buf_adds(b, ".</p></header>\n<section id=\"summary\"><div class="
	    "\"cards\">");
	html_card(b, "state", "state", jstr(j, "state"));
	as = json_object_get(j, "assessed");
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, as ? jnum(as,
	    "messages") : jnum(j, "messages"));
	html_card(b, "messages", as ? "messages (assessed)" : "messages", v);
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, jnum(j, "messages"));
	html_card(b, "pulled", "messages pulled", v);
	snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, jnum(j, "anomalies"));
	html_card(b, "anomalies", "anomalies", v);
	buf_adds(b, "</div>");
	if (*jstr(j, "items_text")) {
		buf_adds(b, "<p>Besides mail: ");
		html_esc(b, jstr(j, "items_text"));
		buf_adds(b, ".</p>");
	}
	if (json_is_string(json_object_get(j, "error"))) {
		buf_adds(b, "<p class=\"bad\">Last error: ");
		html_esc(b, jstr(j, "error"));
		buf_adds(b, "</p>");
	}
	buf_adds(b, "</section>\n");
	reconciliation(b, dir, jstr(j, "account"));
	account_anomalies(b, s, jnum(j, "id"));
	history(b, j);
	html_foot(b);
	json_decref(j);
	return 0;
}

/* "Page 2 of 7", with links to the others when linking. */
static void
pager(struct buf *b, const char *wave, int64_t page, int64_t pages)
{
	int64_t k;

	buf_addf(b, "<p class=\"pager\">Page %" PRId64 " of %" PRId64, page +
	    1, pages);
	for (k = 0; html_linking() && pages > 1 && k < pages; k++) {
		if (k > 2 && k < pages - 2 && (k < page - 2 || k > page + 2))
			continue;
		if (k == page) {
			buf_addf(b, " <b>%" PRId64 "</b>", k + 1);
			continue;
		}
		buf_adds(b, " <a href=\"/accounts");
		if (wave) {
			buf_adds(b, "/");
			html_url(b, wave);
		}
		buf_addf(b, "?page=%" PRId64 "\">%" PRId64 "</a>", k + 1,
		    k + 1);
	}
	buf_adds(b, "</p>");
}

int
report_wave(struct state *s, const char *wave, int64_t page, int refresh,
    struct buf *b)
{
	static const struct col cols[] = {
		{ "account", "account", C_ACCOUNT, NULL },
		{ "wave", "wave", C_TEXT, NULL },
		{ "state", "state", C_TEXT, NULL },
		{ "step", "step", C_TEXT, NULL },
		{ "messages (assessed)", "assessed_messages", C_NUM, NULL },
		{ "size (assessed)", "assessed_bytes", C_BYTES, NULL },
		{ "pulled", "messages", C_NUM, NULL },
		{ "pulled size", "bytes", C_BYTES, NULL },
		{ "anomalies", "anomalies", C_NUM, NULL },
		{ "last error", "error", C_TEXT, NULL },
	};
	int64_t total, pages;
	json_t *rows = state_wave_page(s, wave, page, REPORT_PER_PAGE,
	    &total);
	char *title;

	pages = total ? (total + REPORT_PER_PAGE - 1) / REPORT_PER_PAGE : 1;
	if (!total && wave) {
		json_decref(rows);
		return -1;
	}
	if (page >= pages) {
		json_decref(rows);
		return -2;
	}
	title = wave ? xasprintf("Accounts of wave %s", wave) :
	    xstrdup("All accounts");
	html_head(b, title, refresh);
	free(title);
	buf_addf(b, "<p class=\"muted\">%" PRId64 " accounts, in the plan's"
	    " order.", total);
	if (html_linking())
		buf_adds(b, " <a href=\"/\">The summary</a>.");
	buf_adds(b, "</p></header>\n<section id=\"accounts\">");
	pager(b, wave, page, pages);
	html_table(b, "account-list", cols, sizeof(cols) / sizeof(cols[0]),
	    rows, "No account.");
	pager(b, wave, page, pages);
	buf_adds(b, "</section>\n");
	html_foot(b);
	json_decref(rows);
	return 0;
}
