/*
 * collections.c: the account's calendars and address books: found from
 * its principal (or named), their members listed (sync-collection when
 * the server keeps a token, else ETags), the changed ones fetched.
 */
#include "compat.h"

#include <time.h>

#include "davshare.h"
#include "dpull.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "xalloc.h"

static const char propfind_collections[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"" NS_CALDAV "\""
	" xmlns:A=\"" NS_CARDDAV "\" xmlns:I=\"" NS_APPLE "\""
	" xmlns:S=\"" NS_CS "\"><D:prop><D:resourcetype/><D:displayname/>"
	"<D:owner/><C:calendar-description/>"
	"<C:calendar-timezone/><C:supported-calendar-component-set/>"
	"<I:calendar-color/><I:calendar-order/><A:addressbook-description/>"
	DAV_SHARE_PROPS "</D:prop></D:propfind>";

/* apart: a server may fail on one collection's token alone */
static const char propfind_token[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:sync-token/></D:prop>"
	"</D:propfind>";

static const char propfind_members[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getetag/>"
	"</D:prop></D:propfind>";

static const char sync_collection_fmt[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>%s</D:sync-token>"
	"<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
	"</D:sync-collection>";

/* The last segment of a path: a member's name. */
static char *
last_segment(const char *href)
{
	const char *s = strrchr(href, '/');

	return xstrdup(s ? s + 1 : href);
}

/* PROPFIND `body` on `url`: a 207 wanted. */
int
propfind(const char *url, const char *depth, const char *body,
    struct dav_answer *a, struct buf *err)
{
	if (dav_request(pull.d, "PROPFIND", url, depth, body, NULL, 0, NULL,
	    NULL, a, err) < 0)
		return -1;
	if (a->code != 207)
		return dav_status_error(pull.d, url, a, err);
	return 0;
}

static void
prop_str(json_t *o, const char *key, const struct dav_resp *r,
    const char *ns, const char *name)
{
	char *t = dav_text(dav_prop(r, ns, name));

	if (t && *t)
		json_object_set_new(o, key, json_string(t));
	free(t);
}

/*
 * Who else may use an account's own collection: props.shares, pushed
 * with it once each grantee is on the destination.  What names no one
 * account is an anomaly.
 */
static void
take_shares(struct collection *x, const struct dav_resp *r)
{
	json_t *lost = json_array(), *v, *e;
	size_t i;

	v = dav_shares_of(r, pull.principal, pull.o.user, lost);
	if (json_array_size(v))
		json_object_set(x->props, "shares", v);
	json_array_foreach(lost, i, e)
		helper_anomaly("dav-share-not-carried", x->path, 0, "%s",
		    json_string_value(e));
	json_decref(v);
	json_decref(lost);
}

/* The collections a PROPFIND Depth 1 of a home (or one) answered. */
static void
take_collections(const struct dav_answer *a)
{
	size_t k;

	for (k = 0; k < a->nr; k++) {
		const struct dav_resp *r = &a->v[k];
		xmlNodePtr rt = dav_prop(r, NS_DAV, "resourcetype"), n, c;
		struct collection *x;
		const char *kind = dav_child(rt, NS_CALDAV, "calendar") ?
		    "calendar" : dav_child(rt, NS_CARDDAV, "addressbook") ?
		    "addressbook" : NULL;
		char *path, *owner, *slash;
		json_t *comps;
		size_t i;

		if (!kind)
			continue;
		path = dav_path(r->href);
		for (i = 0; i < pull.nr; i++)
			if (!strcmp(pull.c[i].path, path))
				break;
		if (i < pull.nr) {
			free(path);
			continue;
		}
		ALLOC_GROW(pull.c, pull.nr + 1, pull.alloc);
		x = &pull.c[pull.nr++];
		memset(x, 0, sizeof(*x));
		x->path = path;
		x->kind = xstrdup(kind);
		x->name = xstrdup(path);
		if ((slash = strrchr(x->name, '/')) && !slash[1])
			*slash = '\0';
		if ((slash = strrchr(x->name, '/')))
			memmove(x->name, slash + 1, strlen(slash));
		x->props = json_object();
		prop_str(x->props, "displayname", r, NS_DAV, "displayname");
		prop_str(x->props, "description", r, NS_CALDAV,
		    "calendar-description");
		prop_str(x->props, "description", r, NS_CARDDAV,
		    "addressbook-description");
		prop_str(x->props, "color", r, NS_APPLE, "calendar-color");
		prop_str(x->props, "order", r, NS_APPLE, "calendar-order");
		prop_str(x->props, "timezone", r, NS_CALDAV,
		    "calendar-timezone");
		n = dav_prop(r, NS_CALDAV, "supported-calendar-component-set");
		comps = json_array();
		for (c = n ? n->children : NULL; c; c = c->next) {
			xmlChar *v = xmlGetProp(c, (const xmlChar *)"name");

			if (v)
				json_array_append_new(comps, json_string(
				    (const char *)v));
			xmlFree(v);
		}
		if (json_array_size(comps) && !strcmp(kind, "calendar"))
			json_object_set(x->props, "components", comps);
		json_decref(comps);
		/* another's collection, shared with this account */
		owner = dav_href_in(dav_prop(r, NS_DAV, "owner"));
		if (owner && pull.principal) {
			char *op = dav_path(owner);

			x->shared = strcmp(op, pull.principal) != 0;
			free(op);
		}
		free(owner);
		if (!x->shared)
			take_shares(x, r);
	}
}

int
find_collections(struct buf *err)
{
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **homes = NULL;
	size_t nr = 0, i;
	int ret = -1;

	if (pull.explicit.nr) {
		for (i = 0; i < pull.explicit.nr; i++) {
			if (propfind(pull.explicit.v[i], "0",
			    propfind_collections, &a, err) < 0)
				goto out;
			take_collections(&a);
		}
		ret = 0;
		goto out;
	}
	if (dav_homes(pull.d, &pull.principal, &homes, &nr, err) < 0)
		goto out;
	for (i = 0; i < nr; i++) {
		if (propfind(homes[i], "1", propfind_collections, &a, err) < 0)
			goto out;
		take_collections(&a);
	}
	ret = 0;
out:
	for (i = 0; i < nr; i++)
		free(homes[i]);
	free(homes);
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}

static void
add_member(struct collection *c, const char *href, const char *etag,
    int gone)
{
	struct member *m;

	ALLOC_GROW(c->m, c->nr + 1, c->alloc);
	m = &c->m[c->nr++];
	m->href = dav_path(href);
	m->name = last_segment(m->href);
	m->etag = etag ? xstrdup(etag) : NULL;
	m->gone = gone;
}

/*
 * What is in a collection: by sync-collection since the archived token
 * when the server keeps tokens (changes only), else every member with its
 * ETag.  A token the server no longer honours means a full listing.
 */
static int
list_members(struct collection *c, const char *old_token, struct buf *err)
{
	struct buf body = BUF_INIT, q = BUF_INIT;
	struct dav_answer a = { .body = &body };
	size_t k;
	int ret = -1;

	if (old_token && *old_token && c->sync_token) {
		buf_addf(&q, sync_collection_fmt, old_token);
		if (dav_request(pull.d, "REPORT", c->path, "0", q.buf, NULL, 0,
		    NULL, NULL, &a, err) < 0)
			goto out;
		if (a.code == 207) {
			for (k = 0; k < a.nr; k++) {
				char *p = dav_path(a.v[k].href);
				char *e = dav_text(dav_prop(&a.v[k], NS_DAV,
				    "getetag"));

				if (strcmp(p, c->path))
					add_member(c, p, e, a.v[k].status ==
					    404);
				free(p);
				free(e);
			}
			if (a.sync_token) {
				free(c->sync_token);
				c->sync_token = xstrdup(a.sync_token);
			}
			c->synced = 1;
			ret = 0;
			goto out;
		}
		log_info("%s: sync-collection answered %ld: listing it whole",
		    c->path, a.code);
	}
	if (propfind(c->path, "1", propfind_members, &a, err) < 0)
		goto out;
	for (k = 0; k < a.nr; k++) {
		char *p = dav_path(a.v[k].href), *e;

		if (strcmp(p, c->path) && !dav_child(dav_prop(&a.v[k], NS_DAV,
		    "resourcetype"), NS_DAV, "collection")) {
			e = dav_text(dav_prop(&a.v[k], NS_DAV, "getetag"));
			add_member(c, p, e, 0);
			free(e);
		}
		free(p);
	}
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&q);
	return ret;
}

/* The value of a content line NAME: at the start of a line, or NULL. */
static char *
line_value(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *p = text, *e = text + len, *v, *eol;

	while (p < e) {
		eol = memchr(p, '\n', e - p);
		if (!eol)
			eol = e;
		if ((size_t)(eol - p) > n && !strncasecmp(p, name, n) &&
		    (p[n] == ':' || p[n] == ';')) {
			v = memchr(p, ':', eol - p);
			if (v) {
				v++;
				return xstrndup(v, eol - v - (eol > v &&
				    eol[-1] == '\r'));
			}
		}
		p = eol + 1;
	}
	return NULL;
}

/* What the destination may refuse: not iCalendar or vCard, no UID. */
static char *
check_resource(const struct collection *c, const char *where,
    const struct buf *b)
{
	const char *begin = !strcmp(c->kind, "calendar") ? "BEGIN:VCALENDAR" :
	    "BEGIN:VCARD";
	const char *end = !strcmp(c->kind, "calendar") ? "END:VCALENDAR" :
	    "END:VCARD";
	char *uid;

	if (b->len < strlen(begin) || strncasecmp(b->buf, begin,
	    strlen(begin)) || !strstr(b->buf, end)) {
		helper_anomaly(!strcmp(c->kind, "calendar") ?
		    "invalid-icalendar" : "invalid-vcard", where, 0,
		    "it is not a whole %s object",
		    begin + 6);
		return NULL;
	}
	uid = line_value(b->buf, b->len, "UID");
	if (!uid)
		helper_anomaly("no-uid", where, 0,
		    "it has no UID");
	return uid;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A resource fetched: its body stored once, its record written. */
static int
store_resource(struct collection *c, const struct member *m,
    const struct dav_answer *a, struct buf *err)
{
	const struct buf *body = a->body;
	char hash[SEG_HASH_HEX + 1];

	if (record_blob(body, hash, err) < 0)
		return -1;
	if (record(json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?, s:s?}", "t",
	    "dav-resource", "collection", c->path, "name", m->name, "hash",
	    hash, "size", (json_int_t)body->len, "etag", a->etag ? a->etag :
	    m->etag, "type", a->content_type), err) < 0)
		return -1;
	pull.fetched++;
	c->changes++;
	c->resources++;
	c->bytes += body->len;
	return 0;
}

/* A UID twice in one collection: the destination keeps one. */
static void
duplicate_uids(const struct collection *c, char **uids, size_t nr)
{
	size_t i;

	if (nr > 1)
		qsort(uids, nr, sizeof(*uids), cmp_str);
	for (i = 1; i < nr; i++)
		if (!strcmp(uids[i], uids[i - 1]) && (i + 1 == nr ||
		    strcmp(uids[i], uids[i + 1])))
			helper_anomaly("duplicate-uid", c->path, 0, "UID %s is"
			    " in more than one resource", uids[i]);
}

/* GET each changed member, byte for byte, into the segment. */
static int
fetch(struct collection *c, struct arc_davres *old, size_t nr_old,
    struct buf *err)
{
	struct buf body = BUF_INIT, where = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **uids = NULL;
	size_t i, k, nr_uids = 0, alloc_uids = 0;
	int ret = -1;

	for (i = 0; i < c->nr; i++) {
		struct member *m = &c->m[i];
		char *uid;

		for (k = 0; k < nr_old; k++)
			if (!strcmp(old[k].name, m->name))
				break;
		if (m->gone) {
			if (k < nr_old && record(json_pack("{s:s, s:s, s:s}",
			    "t", "dav-delete", "collection", c->path, "name",
			    m->name), err) < 0)
				goto out;
			pull.deleted += k < nr_old;
			c->changes += k < nr_old;
			continue;
		}
		/* unchanged since the last pass: not fetched (but counted) */
		if (k < nr_old && m->etag && *old[k].etag &&
		    !strcmp(old[k].etag, m->etag) && !pull.assess) {
			c->resources++;
			c->bytes += old[k].size;
			continue;
		}
		if (dav_request(pull.d, "GET", m->href, NULL, NULL, NULL, 0,
		    NULL, NULL, &a, err) < 0)
			goto out;
		buf_reset(&where);
		buf_addf(&where, "%s%s", c->path, m->name);
		if (a.code == 404) {
			/* gone between the listing and now */
			if (k < nr_old && record(json_pack("{s:s, s:s, s:s}",
			    "t", "dav-delete", "collection", c->path, "name",
			    m->name), err) < 0)
				goto out;
			c->changes += k < nr_old;
			continue;
		}
		if (a.code == 500) {
			/* this one resource: the others go on */
			helper_anomaly(
			    "dav-resource-unreadable", where.buf, 0, "the"
			    " server answered HTTP 500");
			continue;
		}
		if (a.code != 200) {
			dav_status_error(pull.d, where.buf, &a, err);
			goto out;
		}
		if (body.len > pull.size_limit)
			helper_anomaly("oversized", where.buf, 0,
			    "%zu bytes, over the"
			    " size limit of %" PRIu64, body.len,
			    pull.size_limit);
		uid = check_resource(c, where.buf, &body);
		if (uid) {
			ALLOC_GROW(uids, nr_uids + 1, alloc_uids);
			uids[nr_uids++] = uid;
		}
		if (store_resource(c, m, &a, err) < 0)
			goto out;
	}
	duplicate_uids(c, uids, nr_uids);
	ret = 0;
out:
	for (i = 0; i < nr_uids; i++)
		free(uids[i]);
	free(uids);
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&where);
	return ret;
}

/* The collection's sync-token now, before its members are listed: a
 * change after it is seen again by the next pass, never missed. */
static int
read_token(struct collection *c, struct buf *err)
{
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	size_t k;
	int ret = -1;

	if (propfind(c->path, "0", propfind_token, &a, err) < 0)
		goto out;
	for (k = 0; k < a.nr && !c->sync_token; k++)
		c->sync_token = dav_text(dav_prop(&a.v[k], NS_DAV,
		    "sync-token"));
	if (c->sync_token && !*c->sync_token) {
		free(c->sync_token);
		c->sync_token = NULL;
	}
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}

/* The HTTP status an error of dav_status_error() names, or 0. */
static long
a_code(const struct buf *err)
{
	const char *p = strstr(err->buf, ": HTTP ");

	return p ? strtol(p + 7, NULL, 10) : 0;
}

static int
pull_collection(struct collection *c, const struct arc_davcol *old,
    struct buf *err)
{
	struct arc_davres *res = NULL;
	size_t nr_res = 0, i, k;
	char *props = NULL;
	int ret = -1;

	if (c->shared) {
		helper_anomaly("dav-shared", c->path, 0,
		    "another's %s, shared with the"
		    " account: recorded, not copied (its owner's migration"
		    " carries it)", c->kind);
		return record(json_pack("{s:s, s:s, s:s, s:s, s:O, s:b}", "t",
		    "dav-collection", "path", c->path, "kind", c->kind, "name",
		    c->name, "props", c->props, "shared", 1), err);
	}
	if (old && !pull.assess && arcidx_dav_resources(pull.ix, c->path,
	    &res, &nr_res, err) < 0)
		return -1;
	if (read_token(c, err) < 0 ||
	    list_members(c, old ? old->sync_token : NULL, err) < 0) {
		/*
		 * The server fails on this collection alone (Radicale answers
		 * 500 for a collection holding a file it cannot parse): the
		 * rest goes on, the archive keeps what it had of this one.
		 */
		if (pull.d->fail != EX_TEMPFAIL || a_code(err) != 500)
			goto out;
		helper_anomaly("dav-collection-unreadable",
		    c->path, 0, "%s", err->buf);
		buf_reset(err);
		ret = 0;
		goto out;
	}
	if (fetch(c, res, nr_res, err) < 0)
		goto out;
	if (!c->synced) {
		/* listed whole: what is not listed is gone */
		for (k = 0; k < nr_res; k++) {
			for (i = 0; i < c->nr; i++)
				if (!strcmp(c->m[i].name, res[k].name))
					break;
			if (i < c->nr)
				continue;
			if (record(json_pack("{s:s, s:s, s:s}", "t",
			    "dav-delete", "collection", c->path, "name",
			    res[k].name), err) < 0)
				goto out;
			pull.deleted++;
			c->changes++;
		}
	} else {
		/* the unchanged ones were not listed: count them */
		for (k = 0; k < nr_res; k++) {
			for (i = 0; i < c->nr; i++)
				if (!strcmp(c->m[i].name, res[k].name))
					break;
			if (i == c->nr) {
				c->resources++;
				c->bytes += res[k].size;
			}
		}
	}
	/* last: the token goes with the changes it covers; nothing when
	 * nothing changed */
	props = json_dumps(c->props, JSON_COMPACT | JSON_SORT_KEYS);
	if ((!old || c->changes || strcmp(old->props, props) ||
	    strcmp(old->sync_token, c->sync_token ? c->sync_token : "")) &&
	    record(json_pack("{s:s, s:s, s:s, s:s, s:O, s:s?}", "t",
	    "dav-collection", "path", c->path, "kind", c->kind, "name",
	    c->name, "props", c->props, "sync_token", c->sync_token),
	    err) < 0)
		goto out;
	if (!strcmp(c->kind, "calendar"))
		pull.events += c->resources;
	else
		pull.contacts += c->resources;
	pull.bytes += c->bytes;
	evline_write(1, "progress", "{s:s, s:s, s:s, s:I, s:I}", "collection",
	    c->path, "kind", c->kind, "listing", c->synced ?
	    "sync-collection" : "etags", "resources", (json_int_t)c->resources,
	    "bytes", (json_int_t)c->bytes);
	ret = 0;
out:
	free(props);
	arc_davres_free(res, nr_res);
	return ret;
}

int
pull_all(struct buf *err)
{
	struct arc_davcol *old = NULL;
	size_t nr_old = 0, i, k;
	int ret = -1;

	if (!pull.assess) {
		if (arcidx_dav_collections(pull.ix, &old, &nr_old, err) < 0)
			return -1;
		pull.seq = arcidx_last_seq(pull.ix) + 1;
		if (seg_writer_open(&pull.w, pull.archive, pull.seq, 3, 0,
		    err) < 0)
			goto out;
		if (record(json_pack("{s:s, s:s, s:s, s:s, s:I}", "t",
		    "segment", "helper", "dav-pull", "version",
		    DAV_PULL_VERSION, "mode", "full", "time",
		    (json_int_t)time(NULL)), err) < 0)
			goto out;
		pull.dirty = 0;
	}
	for (i = 0; i < pull.nr; i++) {
		for (k = 0; k < nr_old; k++)
			if (!strcmp(old[k].path, pull.c[i].path))
				break;
		if (pull_collection(&pull.c[i], k < nr_old ? &old[k] : NULL,
		    err) < 0)
			goto out;
	}
	for (k = 0; k < nr_old; k++) {
		for (i = 0; i < pull.nr; i++)
			if (!strcmp(old[k].path, pull.c[i].path))
				break;
		if (i == pull.nr && record(json_pack("{s:s, s:s}", "t",
		    "dav-collection-delete", "path", old[k].path), err) < 0)
			goto out;
	}
	ret = 0;
out:
	arc_davcols_free(old, nr_old);
	return ret;
}