/*
 * Reading the resources back from the destination and comparing what
 * survives a server's normalizing.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "buf.h"
#include "dpush.h"
#include "log.h"
#include "repair.h"
#include "xalloc.h"

int
is_calendar(const struct arc_davcol *c)
{
	return !strcmp(c->kind, "calendar");
}

/*
 * What survives a server's normalizing, as one string: the values of the
 * properties that matter (unfolded, parameters dropped, sorted; addresses
 * lower-cased).
 */
static char *
essence(const char *text, size_t len, int calendar)
{
	static const char *const ev[] = { "UID", "SUMMARY", "DTSTART",
	    "RRULE", "EXDATE", "ATTENDEE", NULL };
	static const char *const vc[] = { "UID", "FN", "EMAIL", "TEL", NULL };
	const char *const *want = calendar ? ev : vc;
	struct buf u = BUF_INIT, out = BUF_INIT;
	json_t *vals = json_array(), *e;
	char *line, *save = NULL, *v, *s;
	size_t i, n;
	int q;

	/* unfold */
	for (i = 0; i < len; i++) {
		if (text[i] == '\r')
			continue;
		if (text[i] == '\n' && i + 1 < len && (text[i + 1] == ' ' ||
		    text[i + 1] == '\t')) {
			i++;
			continue;
		}
		buf_addch(&u, text[i]);
	}
	for (line = strtok_r(u.buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; want[i]; i++) {
			n = strlen(want[i]);
			if (!strncasecmp(line, want[i], n) &&
			    (line[n] == ':' || line[n] == ';'))
				break;
		}
		if (!want[i])
			continue;
		for (v = line + n, q = 0; *v && (q || *v != ':'); v++)
			if (*v == '"')
				q = !q;
		if (!*v)
			continue;
		s = xasprintf("%s:%s", want[i], v + 1);
		if (!strcmp(want[i], "ATTENDEE") || !strcmp(want[i], "EMAIL"))
			for (v = s; *v; v++)
				*v = (char)tolower((unsigned char)*v);
		json_array_append_new(vals, json_string(s));
		free(s);
	}
	/* sorted */
	for (i = 1; i < json_array_size(vals); i++)
		for (n = i; n > 0 && strcmp(json_string_value(json_array_get(
		    vals, n - 1)), json_string_value(json_array_get(vals,
		    n))) > 0; n--) {
			e = json_incref(json_array_get(vals, n));
			json_array_set(vals, n, json_array_get(vals, n - 1));
			json_array_set_new(vals, n - 1, e);
		}
	json_array_foreach(vals, i, e) {
		buf_adds(&out, json_string_value(e));
		buf_addch(&out, '\n');
	}
	json_decref(vals);
	buf_release(&u);
	return buf_detach(&out, NULL);
}

void
verify_diff(struct dpush *dp, const char *where, const char *what)
{
	json_array_append_new(dp->diffs, json_pack("{s:s, s:s}", "resource",
	    where, "difference", what));
	log_warnx("verify: %s: %s", where, what);
}

/* Read each resource back from the destination and compare. */
int
verify_collection(struct dpush *dp, const struct arc_davcol *c,
    const char *dest,
    struct buf *err)
{
	struct arc_davres *res = NULL;
	struct buf text = BUF_INIT, body = BUF_INIT, url = BUF_INIT;
	struct buf where = BUF_INIT, fixed = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **rows = NULL, *want, *got;
	size_t nr_res = 0, nr = 0, i, k;
	int ret = -1, repaired;

	if (arcidx_dav_resources(dp->ix, c->path, &res, &nr_res, err) < 0 ||
	    arcidx_dav_pushed(dp->ix, c->path, &rows, &nr, err) < 0)
		goto out;
	for (i = 0; i < nr_res; i++) {
		buf_reset(&where);
		buf_addf(&where, "%s%s", c->path, res[i].name);
		for (k = 0; k < nr; k++)
			if (!strcmp(rows[4 * k], res[i].name))
				break;
		/* refused or in conflict: an anomaly already */
		repaired = k < nr && !strcmp(rows[4 * k + 3], "repaired");
		if (k < nr && strcmp(rows[4 * k + 3], "done") &&
		    strcmp(rows[4 * k + 3], "sending") && !repaired)
			continue;
		dp->checked++;
		if (!dest) {
			verify_diff(dp, where.buf, "its collection is not on the"
			    " destination");
			continue;
		}
		buf_reset(&url);
		buf_addf(&url, "%s%s", dest, res[i].name);
		if (dav_request(dp->d, "GET", url.buf, NULL, NULL, NULL, 0,
		    NULL, NULL, &a, err) < 0)
			goto out;
		if (a.code == 404) {
			verify_diff(dp, where.buf, "missing");
			continue;
		}
		if (a.code != 200) {
			dav_status_error(dp->d, url.buf, &a, err);
			goto out;
		}
		buf_reset(&text);
		if (arcidx_blob_read(dp->ix, res[i].hash, &text, err) != 1)
			goto out;
		/* as it was carried */
		if (repaired && dav_repair(text.buf, text.len, res[i].hash,
		    &fixed)) {
			buf_reset(&text);
			buf_add(&text, fixed.buf, fixed.len);
		}
		want = essence(text.buf, text.len, is_calendar(c));
		got = essence(body.buf, body.len, is_calendar(c));
		if (strcmp(want, got))
			verify_diff(dp, where.buf, "UID, SUMMARY, DTSTART, RRULE, EXDATE,"
			    " ATTENDEE, FN, EMAIL or TEL differ");
		free(want);
		free(got);
	}
	ret = 0;
out:
	arc_davres_free(res, nr_res);
	arc_rows_free(rows, nr, 4);
	dav_answer_release(&a);
	buf_release(&text);
	buf_release(&body);
	buf_release(&url);
	buf_release(&where);
	buf_release(&fixed);
	return ret;
}
