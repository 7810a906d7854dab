/*
 * html.c: the pieces of the report's pages (html.h).
 */
#include "compat.h"

#include <ctype.h>
#include <time.h>

#include "buf.h"
#include "html.h"
#include "opt.h"
#include "xalloc.h"

#define NUMERIC(k)	((k) == C_NUM || (k) == C_BYTES)

static int linking;

void
html_links(int on)
{
	linking = on;
}

int
html_linking(void)
{
	return linking;
}

void
html_esc(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': buf_adds(b, "&amp;"); break;
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '"': buf_adds(b, "&quot;"); break;
		case '\'': buf_adds(b, "&#39;"); break;
		default: buf_addch(b, *s);
		}
}

const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

json_int_t
jnum(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_real(v) ? (json_int_t)json_real_value(v) :
	    json_integer_value(v);
}

void
html_bytes(struct buf *b, double n)
{
	char h[32];

	buf_adds(b, human_bytes(n, h, sizeof(h)));
}

void
html_when(struct buf *b, double t, const char *fmt)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	localtime_r(&tt, &tm);
	strftime(s, sizeof(s), fmt, &tm);
	buf_adds(b, s);
}

static const char style[] =
	"body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;"
	"max-width:72em;padding:1em 2em;color:#1d232b;background:#fff}"
	"h1{font-size:1.6em;margin:.3em 0}h2{border-bottom:2px solid #d6dde6;"
	"padding-bottom:.2em;margin-top:1.8em}"
	".cards{display:flex;flex-wrap:wrap;gap:.8em}"
	".card{border:1px solid #d6dde6;border-radius:6px;padding:.6em 1em;"
	"min-width:9em}.card b{display:block;font-size:1.5em}"
	"table{border-collapse:collapse;margin:.6em 0}"
	"th,td{border-bottom:1px solid #e4e9ef;padding:.25em .7em;"
	"text-align:left}td.n,th.n{text-align:right;white-space:nowrap;"
	"font-variant-numeric:tabular-nums}"
	".muted{color:#5c6773}.bad{color:#a4161a}.good{color:#1b6e3a}"
	"svg{display:block;margin:.6em 0}svg text{font-size:11px;"
	"fill:#5c6773}svg rect{fill:#3f6fb5}"
	"svg rect.s0{fill:#b8c2cc}svg rect.s1{fill:#3f6fb5}"
	"svg rect.s2{fill:#2f9e5a}svg rect.s3{fill:#c0392b}"
	"svg rect.s4{fill:#e08e0b}.key span{display:inline-block;width:.8em;"
	"height:.8em;margin:0 .3em 0 1em}.key .s0{background:#b8c2cc}"
	".key .s1{background:#3f6fb5}.key .s2{background:#2f9e5a}"
	".key .s3{background:#c0392b}.key .s4{background:#e08e0b}";

/* An SVG of `n` bars `w` wide and up to `h` high, with its title. */
static void
svg_open(struct buf *b, const char *title, size_t n, int w, int h)
{
	buf_addf(b, "<svg role=\"img\" width=\"%d\" height=\"%d\" viewBox="
	    "\"0 0 %d %d\"><title>", (int)n * w + 20, h + 40, (int)n * w + 20,
	    h + 40);
	html_esc(b, title);
	buf_adds(b, "</title>");
}

void
html_bars(struct buf *b, const char *title, size_t n, const double *v,
    char (*label)[24], const char *unit, int w)
{
	double max = 0;
	size_t i;
	int h = 140;

	for (i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	svg_open(b, title, n, w, h);
	for (i = 0; i < n; i++) {
		int bh = max > 0 ? (int)(v[i] / max * h + 0.5) : 0;

		buf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height="
		    "\"%d\"><title>", 10 + (int)i * w, h + 10 - bh, w - 6, bh);
		html_esc(b, label[i]);
		buf_adds(b, ": ");
		if (!strcmp(unit, "bytes"))
			html_bytes(b, v[i]);
		else
			buf_addf(b, "%.0f %s", v[i], unit);
		buf_addf(b, "</title></rect><text x=\"%d\" y=\"%d\">",
		    10 + (int)i * w, h + 26);
		html_esc(b, label[i]);
		buf_adds(b, "</text>");
	}
	buf_adds(b, "</svg>\n");
}

/* The first ten of `n` names separated by blanks, and how many more. */
static void
accounts(struct buf *b, const char *names, json_int_t n)
{
	const char *p = names;
	char *one;
	int k;

	for (k = 0; k < 10 && *p; k++) {
		size_t len = strcspn(p, " ");

		one = xstrndup(p, len);
		buf_adds(b, k ? " " : "");
		html_account(b, one);
		free(one);
		p += len + (p[len] == ' ');
	}
	if (n > k)
		buf_addf(b, " and %" JSON_INTEGER_FORMAT " more", n - k);
}

void
html_table(struct buf *b, const char *id, const struct col *c, size_t nc,
    const json_t *rows, const char *empty)
{
	const json_t *row;
	size_t i, k;

	if (!json_array_size(rows)) {
		buf_addf(b, "<p class=\"muted\">%s</p>", empty);
		return;
	}
	buf_addf(b, "<table id=\"%s\"><tr>", id);
	for (k = 0; k < nc; k++)
		buf_addf(b, "<th%s>%s</th>", NUMERIC(c[k].kind) ?
		    " class=\"n\"" : "", c[k].head);
	buf_adds(b, "</tr>");
	json_array_foreach(rows, i, row) {
		buf_adds(b, "<tr>");
		for (k = 0; k < nc; k++) {
			int n = NUMERIC(c[k].kind);

			if (!n && !c[k].cls)
				buf_adds(b, "<td>");
			else
				buf_addf(b, "<td class=\"%s%s%s\">", n ? "n" :
				    "", n && c[k].cls ? " " : "", c[k].cls ?
				    c[k].cls : "");
			if (c[k].kind == C_TEXT)
				html_esc(b, jstr(row, c[k].key));
			else if (c[k].kind == C_ACCOUNT)
				html_account(b, jstr(row, c[k].key));
			else if (c[k].kind == C_ACCOUNTS)
				accounts(b, jstr(row, c[k].key), jnum(row,
				    c[k].total));
			else if (c[k].kind == C_NUM)
				buf_addf(b, "%" JSON_INTEGER_FORMAT, jnum(row,
				    c[k].key));
			else
				html_bytes(b, (double)jnum(row, c[k].key));
			buf_adds(b, "</td>");
		}
		buf_adds(b, "</tr>");
	}
	buf_adds(b, "</table>");
}

void
html_card(struct buf *b, const char *key, const char *what, const char *value)
{
	buf_addf(b, "<div class=\"card\"><b data-k=\"%s\">", key);
	html_esc(b, value);
	buf_adds(b, "</b>");
	html_esc(b, what);
	buf_adds(b, "</div>");
}

void
html_stacked(struct buf *b, const char *title, size_t n,
    const double (*v)[HTML_PARTS], size_t g, const char *const *names,
    char (*label)[24], int w)
{
	double max = 0, sum;
	size_t i, j;
	int h = 140, y, bh;

	for (i = 0; i < n; i++) {
		for (sum = 0, j = 0; j < g; j++)
			sum += v[i][j];
		if (sum > max)
			max = sum;
	}
	svg_open(b, title, n, w, h);
	for (i = 0; i < n; i++) {
		for (y = h + 10, j = 0; j < g; j++) {
			bh = max > 0 ? (int)(v[i][j] / max * h + 0.5) : 0;
			y -= bh;
			buf_addf(b, "<rect class=\"s%zu\" x=\"%d\" y=\"%d\""
			    " width=\"%d\" height=\"%d\"><title>", j, 10 +
			    (int)i * w, y, w - 6, bh);
			html_esc(b, label[i]);
			buf_addf(b, " %s: %.0f</title></rect>", names[j],
			    v[i][j]);
		}
		buf_addf(b, "<text x=\"%d\" y=\"%d\">", 10 + (int)i * w,
		    h + 26);
		html_esc(b, label[i]);
		buf_adds(b, "</text>");
	}
	buf_adds(b, "</svg>\n<p class=\"key\">");
	for (j = 0; j < g; j++)
		buf_addf(b, "<span class=\"s%zu\">&nbsp;</span>%s", j,
		    names[j]);
	buf_adds(b, "</p>");
}

void
html_url(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~@+", c))
			buf_addch(b, (char)c);
		else
			buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

void
html_account(struct buf *b, const char *name)
{
	if (!linking) {
		html_esc(b, name);
		return;
	}
	buf_adds(b, "<a href=\"/account/");
	html_url(b, name);
	buf_adds(b, "\">");
	html_esc(b, name);
	buf_adds(b, "</a>");
}

void
html_head(struct buf *b, const char *title, int refresh)
{
	buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset="
	    "\"utf-8\"><meta name=\"viewport\" content=\"width="
	    "device-width\">");
	if (refresh)
		buf_addf(b, "<meta http-equiv=\"refresh\" content=\"%d\">",
		    refresh);
	buf_adds(b, "<title>");
	html_esc(b, title);
	buf_addf(b, "</title><style>%s</style></head><body>\n<header><h1>",
	    style);
	html_esc(b, title);
	buf_adds(b, "</h1>");
}

void
html_foot(struct buf *b)
{
	buf_adds(b, "</body></html>\n");
}
