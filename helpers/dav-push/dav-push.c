/*
 * dav-push: make the destination hold the calendars and address books an
 * account's archive holds, through CalDAV and CardDAV, then read them
 * back and compare what survives a server's normalizing.  See dav-push(8).
 */
#include "compat.h"

#include <ctype.h>
#include <getopt.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "dav.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "dpush.h"
#include "repair.h"
#include "secret.h"
#include "xalloc.h"

#define DAV_PUSH_VERSION	"1"

static const char usage_text[] =
"usage: dav-push --url URL --user USER [--ca-file FILE] [--insecure]\n"
"         [--allow-plaintext] [--timeout SECONDS] --archive DIR [--files] [--verify-only]\n"
"         [--report FILE] [--share-ready FILE] [--shares-only] [--after-cutover]\n"
"The password comes on standard input: password=... and an empty line.\n";

struct dpush push;

static void
parse_options(int argc, char **argv)
{
	struct conn_opts co = { 0 };
	const struct opt own[] = {
		OPT_STRING("share-ready", &push.share_ready),
		OPT_FLAG("shares-only", &push.shares_only),
		OPT_FLAG("after-cutover", &push.after_cutover),
		OPT_END
	};

	helper_options(argc, argv, CONN_URL | CONN_PLAIN | CONN_USER | RUN_ARCHIVE |
	    RUN_VERIFY | RUN_REPORT | RUN_FILES, &co, own, usage_text);
	push.files = co.files;
	push.archive = co.archive;
	push.verify_only = co.verify_only;
	push.report = co.report;
	push.o = conn_opts_http(&co);
	if (!push.o.url || !push.o.user || !push.archive)
		helper_usage();
}

/* The XML of a text property, escaped, or "" without a value. */
static void
add_prop(struct buf *b, json_t *props, const char *key, const char *open,
    const char *close)
{
	const char *v = json_string_value(json_object_get(props, key));
	xmlChar *esc;

	if (!v)
		return;
	esc = xmlEncodeSpecialChars(NULL, (const xmlChar *)v);
	buf_addf(b, "%s%s%s", open, (const char *)esc, close);
	xmlFree(esc);
}

/* MKCALENDAR, or an extended MKCOL for an address book, with its
 * properties. */
static int
create(const struct arc_davcol *c, const char *dest, struct buf *err)
{
	struct buf q = BUF_INIT, body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	json_t *props = json_loads(c->props, 0, NULL), *comps, *e;
	size_t i;
	int ret = -1;

	if (is_calendar(c))
		buf_adds(&q, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"" NS_CALDAV "\""
		    " xmlns:I=\"" NS_APPLE "\"><D:set><D:prop>");
	else
		buf_adds(&q, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<D:mkcol xmlns:D=\"DAV:\" xmlns:A=\"" NS_CARDDAV "\">"
		    "<D:set><D:prop><D:resourcetype><D:collection/>"
		    "<A:addressbook/></D:resourcetype>");
	add_prop(&q, props, "displayname", "<D:displayname>",
	    "</D:displayname>");
	if (is_calendar(c)) {
		add_prop(&q, props, "description", "<C:calendar-description>",
		    "</C:calendar-description>");
		add_prop(&q, props, "color", "<I:calendar-color>",
		    "</I:calendar-color>");
		add_prop(&q, props, "order", "<I:calendar-order>",
		    "</I:calendar-order>");
		add_prop(&q, props, "timezone", "<C:calendar-timezone>",
		    "</C:calendar-timezone>");
		comps = json_object_get(props, "components");
		if (json_array_size(comps)) {
			buf_adds(&q, "<C:supported-calendar-component-set>");
			json_array_foreach(comps, i, e)
				if (json_is_string(e) && strspn(
				    json_string_value(e), "ABCDEFGHIJKLMNOPQRS"
				    "TUVWXYZ") == strlen(json_string_value(e)))
					buf_addf(&q, "<C:comp name=\"%s\"/>",
					    json_string_value(e));
			buf_adds(&q, "</C:supported-calendar-component-set>");
		}
		buf_adds(&q, "</D:prop></D:set></C:mkcalendar>");
	} else {
		add_prop(&q, props, "description",
		    "<A:addressbook-description>",
		    "</A:addressbook-description>");
		buf_adds(&q, "</D:prop></D:set></D:mkcol>");
	}
	if (dav_request(push.d, is_calendar(c) ? "MKCALENDAR" : "MKCOL", dest,
	    NULL, q.buf, NULL, 0, NULL, NULL, &a, err) < 0)
		goto out;
	if (a.code != 201) {
		dav_status_error(push.d, dest, &a, err);
		goto out;
	}
	push.created++;
	log_info("created %s", dest);
	ret = 0;
out:
	json_decref(props);
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&q);
	return ret;
}

/*
 * Where a collection goes: as recorded, or the destination's home of its
 * kind and the same name, made if it is not there.
 */
static int
dest_of(const struct arc_davcol *c, char **dest_r, struct buf *err)
{
	static const char propfind_type[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind"
	    " xmlns:D=\"DAV:\"><D:prop><D:resourcetype/></D:prop>"
	    "</D:propfind>";
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char *dest = NULL, **home;
	int created = 0, ret = -1;

	if (arcidx_dav_dest(push.ix, c->path, dest_r, err) < 0)
		return -1;
	if (*dest_r)
		return 0;
	if (push.verify_only || push.shares_only)
		return 0;	/* never pushed */
	home = &push.home[is_calendar(c) ? 0 : 1];
	if (!*home && dav_home_of(push.d, c->kind, home, err) < 0)
		goto out;
	dest = xasprintf("%s%s%s/", *home, (*home)[strlen(*home) - 1] == '/' ?
	    "" : "/", c->name);
	if (dav_request(push.d, "PROPFIND", dest, "0", propfind_type, NULL, 0,
	    NULL, NULL, &a, err) < 0)
		goto out;
	if (a.code == 404) {
		if (create(c, dest, err) < 0)
			goto out;
		created = 1;
	} else if (a.code != 207) {
		dav_status_error(push.d, dest, &a, err);
		goto out;
	}
	if (arcidx_dav_dest_set(push.ix, c->path, dest, created, err) < 0)
		goto out;
	*dest_r = dest;
	dest = NULL;
	ret = 0;
out:
	free(dest);
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}

/* A resource's push state; `col` NULL: a file of a tree, by its path. */
static int
set_state(const char *col, const char *name, const char *hash,
    const char *etag, const char *state, const char *error, struct buf *err)
{
	return arcidx_dav_pushed_set(push.ix, col, name, hash, etag, state,
	    error, err);
}

/* The destination's reason, from a refusal's body, for an anomaly. */
static void
reason(const struct dav_answer *a, struct buf *out)
{
	buf_addf(out, "HTTP %ld", a->code);
	if (a->body->len) {
		buf_adds(out, ": ");
		buf_add_sanitized(out, a->body->buf, a->body->len, 300);
	}
}

/*
 * A resource the destination refused (`why`), carried repaired if it can
 * be (repair.h): 1 with `text` replaced by the new etag, 0 when it
 * cannot be repaired or is refused still, -1 on error.  The original
 * stays in the archive.
 */
static int
put_repaired(const char *url, const char *hash, const char *type,
    const char **hdrs, struct buf *text, struct buf *why,
    const struct buf *where, struct buf *err)
{
	struct buf fixed = BUF_INIT, body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	int ret = 0;

	if (!dav_repair(text->buf, text->len, hash, &fixed))
		goto out;
	if (dav_request(push.d, "PUT", url, NULL, NULL, fixed.buf, fixed.len,
	    type, hdrs, &a, err) < 0) {
		ret = -1;
		goto out;
	}
	if (a.code / 100 != 2) {
		buf_addf(why, "; with a UID added: HTTP %ld", a.code);
		goto out;
	}
	push.repaired++;
	helper_anomaly("dav-repaired", where->buf, 0, "the"
	    " destination refused it (%s); carried with a UID added, the"
	    " original kept in the archive", why->buf);
	buf_reset(text);
	buf_adds(text, a.etag ? a.etag : "");
	ret = 1;
out:
	dav_answer_release(&a);
	buf_release(&fixed);
	buf_release(&body);
	return ret;
}

/*
 * One resource (of collection `col`, or a file of a tree when `col` is
 * NULL) onto the destination at `url`; `pushed` is its push row (name,
 * hash, etag, state), NULL when it was never pushed.
 */
static int
put_one(const char *col, const char *name, const char *url,
    const char *hash, const char *type, char **pushed, struct buf *err)
{
	struct buf text = BUF_INIT, body = BUF_INIT, why = BUF_INIT;
	struct buf hdr = BUF_INIT, where = BUF_INIT;
	struct dav_answer a = { .body = &body };
	const char *hdrs[2] = { NULL, NULL };
	int rc, isnew = !pushed, ret = -1;

	buf_addf(&where, "%s%s", col ? col : "", name);
	if ((rc = arcidx_blob_read(push.ix, hash, &text, err)) != 1) {
		if (rc == 0)
			buf_addf(err, "the archive lacks %s (%s)", where.buf,
			    hash);
		goto out;
	}
	/*
	 * A new one must not replace what is there; a changed one only
	 * what was pushed (a user's edit on the destination wins and is
	 * reported).  After an interrupted push (state sending) the PUT
	 * is simply done again: it names the same resource.
	 */
	if (isnew)
		hdrs[0] = "If-None-Match: *";
	else if ((!strcmp(pushed[3], "done") ||
	    !strcmp(pushed[3], "repaired")) && *pushed[2]) {
		buf_addf(&hdr, "If-Match: %s", pushed[2]);
		hdrs[0] = hdr.buf;
	}
	if (set_state(col, name, hash, pushed ? pushed[2] : NULL,
	    "sending", NULL, err) < 0)
		goto out;
	if (dav_request(push.d, "PUT", url, NULL, NULL, text.buf, text.len,
	    type, hdrs, &a, err) < 0)
		goto out;
	if (a.code == 412 && isnew) {
		/* there already: ours, if it holds the same bytes */
		struct buf there = BUF_INIT;
		struct dav_answer g = { .body = &there };

		rc = dav_request(push.d, "GET", url, NULL, NULL, NULL, 0,
		    NULL, NULL, &g, err);
		if (rc == 0 && g.code == 200 && there.len == text.len &&
		    !memcmp(there.buf, text.buf, text.len)) {
			a.code = 204;
			free(a.etag);
			a.etag = g.etag ? xstrdup(g.etag) : NULL;
		}
		dav_answer_release(&g);
		buf_release(&there);
		if (rc < 0)
			goto out;
	}
	if (a.code / 100 == 2) {
		push.pushed++;
		ret = set_state(col, name, hash, a.etag, "done",
		    NULL, err);
		goto out;
	}
	if (a.code >= 500) {
		dav_status_error(push.d, url, &a, err);
		goto out;
	}
	reason(&a, &why);
	if (a.code == 412) {
		push.conflicts++;
		helper_anomaly("dav-conflict", where.buf, 0,
		    "%s changed on the destination since it was pushed: the"
		    " destination's is kept (%s)", url, why.buf);
		ret = set_state(col, name, hash, NULL, "conflict",
		    why.buf, err);
	} else if (col && (rc = put_repaired(url, hash, type, hdrs, &text,
	    &why, &where, err)) != 0) {
		ret = rc < 0 ? -1 : set_state(col, name, hash, text.buf,
		    "repaired", why.buf, err);
	} else {
		push.refused++;
		helper_anomaly("dav-refused", where.buf, 0,
		    "the destination refused it: %s", why.buf);
		ret = set_state(col, name, hash, NULL, "failed",
		    why.buf, err);
	}
out:
	dav_answer_release(&a);
	buf_release(&text);
	buf_release(&body);
	buf_release(&why);
	buf_release(&hdr);
	buf_release(&where);
	return ret;
}

/* Each resource of a collection, and the deletions. */
static int
push_collection(const struct arc_davcol *c, const char *dest,
    struct buf *err)
{
	struct arc_davres *res = NULL;
	struct buf body = BUF_INIT, url = BUF_INIT, hdr = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **rows = NULL;
	size_t nr_res = 0, nr = 0, i, k;
	int ret = -1;

	if (arcidx_dav_resources(push.ix, c->path, &res, &nr_res, err) < 0 ||
	    arcidx_dav_pushed(push.ix, c->path, &rows, &nr, err) < 0)
		goto out;
	for (i = 0; i < nr_res; i++) {
		char **p = NULL;

		for (k = 0; k < nr; k++)
			if (!strcmp(rows[4 * k], res[i].name))
				p = &rows[4 * k];
		if (p && !strcmp(p[1], res[i].hash) && (!strcmp(p[3], "done") ||
		    !strcmp(p[3], "repaired") || !strcmp(p[3], "conflict"))) {
			push.unchanged++;
			continue;
		}
		buf_reset(&url);
		buf_addf(&url, "%s%s", dest, res[i].name);
		if (put_one(c->path, res[i].name, url.buf, res[i].hash,
		    *res[i].type ? res[i].type : is_calendar(c) ?
		    "text/calendar; charset=utf-8" :
		    "text/vcard; charset=utf-8", p, err) < 0)
			goto out;
	}
	/* gone from the source: gone from the destination */
	for (k = 0; k < nr; k++) {
		const char *const *p = (const char *const *)&rows[4 * k];
		const char *hdrs[2] = { NULL, NULL };

		for (i = 0; i < nr_res; i++)
			if (!strcmp(res[i].name, p[0]))
				break;
		if (i < nr_res)
			continue;
		if (!strcmp(p[3], "done") || !strcmp(p[3], "repaired")) {
			buf_reset(&url);
			buf_addf(&url, "%s%s", dest, p[0]);
			buf_reset(&hdr);
			if (*p[2]) {
				buf_addf(&hdr, "If-Match: %s", p[2]);
				hdrs[0] = hdr.buf;
			}
			if (dav_request(push.d, "DELETE", url.buf, NULL, NULL,
			    NULL, 0, NULL, hdrs, &a, err) < 0)
				goto out;
			if (a.code == 412)
				helper_anomaly("dav-conflict",
				    url.buf, 0, "deleted at"
				    " the source, changed on the destination:"
				    " kept");
			else if (a.code / 100 != 2 && a.code != 404) {
				dav_status_error(push.d, url.buf, &a, err);
				goto out;
			} else
				push.deleted++;
		}
		if (set_state(c->path, p[0], NULL, NULL, NULL, NULL, err) < 0)
			goto out;
	}
	ret = 0;
out:
	arc_davres_free(res, nr_res);
	arc_rows_free(rows, nr, 4);
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&url);
	buf_release(&hdr);
	return ret;
}

/* Collections gone from the source: deleted if dav-push made them. */
static int
drop_gone(const struct arc_davcol *cols, size_t nr_cols, struct buf *err)
{
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **rows = NULL;
	size_t nr = 0, i, k;
	int ret = -1;

	if (arcidx_dav_dests(push.ix, &rows, &nr, err) < 0)
		return -1;
	for (k = 0; k < nr; k++) {
		for (i = 0; i < nr_cols; i++)
			if (!strcmp(cols[i].path, rows[3 * k]))
				break;
		if (i < nr_cols)
			continue;
		if (!strcmp(rows[3 * k + 2], "1")) {
			if (dav_request(push.d, "DELETE", rows[3 * k + 1], NULL,
			    NULL, NULL, 0, NULL, NULL, &a, err) < 0)
				goto out;
			if (a.code / 100 != 2 && a.code != 404) {
				dav_status_error(push.d, rows[3 * k + 1], &a,
				    err);
				goto out;
			}
		} else {
			helper_anomaly("dav-collection-kept",
			    rows[3 * k + 1], 0, "gone"
			    " from the source; it was on the destination"
			    " before: left there");
		}
		if (arcidx_dav_dest_drop(push.ix, rows[3 * k], err) < 0)
			goto out;
	}
	ret = 0;
out:
	arc_rows_free(rows, nr, 3);
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}

static int
run(struct buf *err)
{
	struct arc_davcol *cols = NULL;
	size_t nr = 0, i;
	char *dest;
	int ret = -1;

	if (arcidx_dav_collections(push.ix, &cols, &nr, err) < 0)
		return -1;
	for (i = 0; i < nr; i++) {
		if (cols[i].shared)
			continue;	/* its owner's migration carries it */
		if (dest_of(&cols[i], &dest, err) < 0)
			goto out;
		if (!dest && push.shares_only)
			continue;	/* never pushed: nothing to share */
		if ((!push.verify_only && !push.shares_only &&
		    push_collection(&cols[i], dest, err) < 0) ||
		    (!push.shares_only && verify_collection(&push, &cols[i],
		    dest, err) < 0) || (!push.verify_only &&
		    share_collection(&cols[i], dest, err) < 0)) {
			free(dest);
			goto out;
		}
		evline_write(1, "progress", "{s:s, s:s?, s:I, s:I}",
		    "collection", cols[i].path, "destination", dest, "pushed",
		    (json_int_t)push.pushed, "checked",
		    (json_int_t)push.checked);
		free(dest);
	}
	if (!push.verify_only && !push.shares_only &&
	    drop_gone(cols, nr, err) < 0)
		goto out;
	ret = 0;
out:
	arc_davcols_free(cols, nr);
	return ret;
}

/*
 * A file tree (--files) below the URL: directories made with MKCOL,
 * parents first; files PUT as resources are; what is gone from the source
 * deleted, children first; then each file read back, byte for byte.
 */
/* A file or directory gone from the source: off the destination too. */
static int
delete_file(const char *root, const char *path, const char *state,
    struct dav_answer *a, struct buf *err)
{
	const char *depth_inf[] = { "Depth: infinity", NULL };
	struct buf url = BUF_INIT;
	int ret = -1;

	buf_addf(&url, "%s%s", root, path);
	if (!strcmp(state, "done")) {
		if (dav_request(push.d, "DELETE", url.buf, NULL, NULL, NULL, 0,
		    NULL, url.buf[url.len - 1] == '/' ? depth_inf : NULL, a,
		    err) < 0)
			goto out;
		if (a->code / 100 != 2 && a->code != 404) {
			dav_status_error(push.d, url.buf, a, err);
			goto out;
		}
		push.deleted++;
	}
	ret = set_state(NULL, path, NULL, NULL, NULL, NULL, err);
out:
	buf_release(&url);
	return ret;
}

/* verify: the file on the destination as the archive has it */
static int
verify_file(const char *root, const char *path, const char *hash,
    struct dav_answer *a, struct buf *err)
{
	struct buf url = BUF_INIT, want = BUF_INIT;
	int ret = -1;

	push.checked++;
	buf_addf(&url, "%s%s", root, path);
	if (dav_request(push.d, "GET", url.buf, NULL, NULL, NULL, 0, NULL,
	    NULL, a, err) < 0 ||
	    arcidx_blob_read(push.ix, hash, &want, err) != 1)
		goto out;
	if (a->code != 200)
		verify_diff(&push, path, a->code == 404 ? "missing" :
		    "unreadable on the destination");
	else if (a->body->len != want.len || memcmp(a->body->buf, want.buf,
	    want.len))
		verify_diff(&push, path, "the bytes differ");
	ret = 0;
out:
	buf_release(&url);
	buf_release(&want);
	return ret;
}

static int
push_files(struct buf *err)
{
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char *root = dav_path(push.o.url), **f = NULL, **pushed = NULL, **p;
	size_t nr = 0, nr_p = 0, i, k;
	int ret = -1;

	if (root[strlen(root) - 1] != '/') {
		char *r = xasprintf("%s/", root);

		free(root);
		root = r;
	}
	if (arcidx_files(push.ix, &f, &nr, err) < 0 ||
	    arcidx_files_pushed(push.ix, &pushed, &nr_p, err) < 0)
		goto out;
	for (i = 0; i < nr && !push.verify_only; i++) {
		const char *path = f[4 * i], *hash = f[4 * i + 2];

		for (p = NULL, k = 0; k < nr_p; k++)
			if (!strcmp(pushed[4 * k], path))
				p = &pushed[4 * k];
		if (p && (!strcmp(p[3], "done") || !strcmp(p[3], "conflict")) &&
		    !strcmp(p[1], hash)) {
			push.unchanged++;
			continue;
		}
		buf_reset(&url);
		buf_addf(&url, "%s%s", root, path);
		if (!strcmp(f[4 * i + 1], "1")) {
			if (dav_request(push.d, "MKCOL", url.buf, NULL, NULL,
			    NULL, 0, NULL, NULL, &a, err) < 0)
				goto out;
			/* 405: there already */
			if (a.code != 201 && a.code != 405) {
				dav_status_error(push.d, url.buf, &a, err);
				goto out;
			}
			if (set_state(NULL, path, "", NULL, "done", NULL,
			    err) < 0)
				goto out;
			continue;
		}
		if (put_one(NULL, path, url.buf, hash, *f[4 * i + 3] ?
		    f[4 * i + 3] : "application/octet-stream", p, err) < 0)
			goto out;
	}
	/* gone from the source: children first (the rows are in reverse) */
	for (k = 0; k < nr_p && !push.verify_only; k++) {
		for (i = 0; i < nr; i++)
			if (!strcmp(f[4 * i], pushed[4 * k]))
				break;
		if (i == nr && delete_file(root, pushed[4 * k],
		    pushed[4 * k + 3], &a, err) < 0)
			goto out;
	}
	for (i = 0; i < nr; i++)
		if (strcmp(f[4 * i + 1], "1") && verify_file(root, f[4 * i],
		    f[4 * i + 2], &a, err) < 0)
			goto out;
	evline_write(1, "progress", "{s:s, s:I, s:I}", "files", root,
	    "pushed", (json_int_t)push.pushed, "checked",
	    (json_int_t)push.checked);
	ret = 0;
out:
	arc_rows_free(f, nr, 4);
	arc_rows_free(pushed, nr_p, 4);
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&url);
	free(root);
	return ret;
}

static int
write_report(struct buf *err)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:O}",
	    "account", push.o.user, "destination", push.o.url, "helper",
	    "dav-push", "pushed", (json_int_t)push.pushed, "repaired",
	    (json_int_t)push.repaired, "refused",
	    (json_int_t)push.refused, "conflicts", (json_int_t)push.conflicts,
	    "checked", (json_int_t)push.checked, "anomalies",
	    (json_int_t)helper_anomaly_count(), "differences",
	    push.diffs);
	return helper_report(push.report, o, err);
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int code = EX_SOFTWARE, rc;

	helper_init("dav-push", DAV_PUSH_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, push.o.user, "password", (char *)NULL);
	push.o.password = secrets_get(&sec, "password");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	push.diffs = json_array();
	push.shares_pending = json_array();
	if (share_ready_load(&push.ready, push.share_ready, push.o.user,
	    &err) < 0) {
		code = EX_CONFIG;	/* no retry mends it */
		log_warnx("%s", err.buf);
		goto out;
	}
	if ((rc = arcidx_open(&push.ix, push.archive, 1, &err)) < 0 ||
	    arcidx_catch_up(push.ix, &err) < 0) {
		code = helper_archive_status(rc);
		log_warnx("%s", err.buf);
		goto out;
	}
	if (dav_open(&push.d, &push.o, &err) < 0 ||
	    (push.files ? push_files(&err) : run(&err)) < 0) {
		code = push.d && push.d->fail ? push.d->fail : EX_DATAERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (push.report && write_report(&err) < 0) {
		code = EX_CANTCREAT;
		log_warnx("%s", err.buf);
		goto out;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:f, s:o*}", "collections_created",
	    (json_int_t)push.created, "pushed", (json_int_t)push.pushed,
	    "repaired", (json_int_t)push.repaired,
	    "unchanged", (json_int_t)push.unchanged, "refused",
	    (json_int_t)push.refused, "conflicts", (json_int_t)push.conflicts,
	    "deleted", (json_int_t)push.deleted, "checked",
	    (json_int_t)push.checked, "differences",
	    (json_int_t)json_array_size(push.diffs), "anomalies",
	    (json_int_t)helper_anomaly_count(), "requests",
	    (json_int_t)push.d->requests, "seconds", helper_seconds(),
	    "shares", push.files || push.verify_only ? NULL :
	    json_pack("{s:I, s:O, s:I}", "set", (json_int_t)push.shares_set,
	    "pending", push.shares_pending, "ready",
	    (json_int_t)push.ready.nr));
	if (json_array_size(push.shares_pending))
		log_info("sharing with %zu accounts waits for them to reach"
		    " the destination", json_array_size(push.shares_pending));
	log_info("%" PRIu64 " pushed, %" PRIu64 " unchanged, %" PRIu64
	    " refused, %" PRIu64 " in conflict, %" PRIu64 " deleted; verify:"
	    " %" PRIu64 " checked, %zu differences", push.pushed,
	    push.unchanged, push.refused, push.conflicts, push.deleted,
	    push.checked, json_array_size(push.diffs));
	/* refused, or different after all: the data's fault */
	code = push.refused || json_array_size(push.diffs) ? EX_DATAERR : 0;
out:
	free(push.principal);
	share_ready_free(&push.ready);
	json_decref(push.shares_pending);
	free(push.home[0]);
	free(push.home[1]);
	dav_close(&push.d);
	arcidx_close(&push.ix);
	json_decref(push.diffs);
	secrets_clear(&sec);
	buf_release(&err);
	curl_global_cleanup();
	return code;
}
