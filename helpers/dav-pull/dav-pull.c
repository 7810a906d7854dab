/*
 * dav-pull: read one account's calendars and address books from a CalDAV
 * and CardDAV server into its archive.  See dav-pull(8) and
 * migrate-archive(5).
 */
#include "compat.h"

#include <getopt.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "arcindex.h"
#include "buf.h"
#include "dav.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "opt.h"
#include "secret.h"
#include "segment.h"
#include "xalloc.h"

#define DAV_PULL_VERSION	"1"

static const char usage_text[] =
"usage: dav-pull --url URL --user USER [--ca-file FILE] [--insecure]\n"
"         [--timeout SECONDS] [--collection URL]... [--files]\n"
"         [--mode full|delta|auto|assess] [--archive DIR] [--report FILE]\n"
"         [--size-limit BYTES]\n"
"The password comes on standard input: password=... and an empty line.\n";

static const char propfind_collections[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"" NS_CALDAV "\""
	" xmlns:A=\"" NS_CARDDAV "\" xmlns:I=\"" NS_APPLE "\""
	" xmlns:S=\"" NS_CS "\"><D:prop><D:resourcetype/><D:displayname/>"
	"<D:owner/><C:calendar-description/>"
	"<C:calendar-timezone/><C:supported-calendar-component-set/>"
	"<I:calendar-color/><I:calendar-order/><A:addressbook-description/>"
	"</D:prop></D:propfind>";

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

struct member {
	char *href, *name, *etag;
	int gone;
};

struct collection {
	char *path, *kind, *name;
	json_t *props;
	char *sync_token;
	int shared;
	struct member *m;
	size_t nr, alloc;
	int synced;		/* the members came by sync-collection */
	unsigned changes;	/* records written for its resources */
	uint64_t resources, bytes;
};

static struct {
	struct dav_opts o;
	const char *archive, *report;
	int assess;
	int files;		/* a plain WebDAV file tree at opts.url */
	uint64_t size_limit;
	const char **explicit;
	size_t nr_explicit, alloc_explicit;
	struct dav *d;
	char *principal;
	struct collection *c;
	size_t nr, alloc;
	struct arcidx *ix;
	struct seg_writer *w;
	unsigned seq;
	int dirty;
	uint64_t events, contacts, bytes, fetched, deleted, nr_files;
} pull;

enum {
	OPT_COLLECTION = 256, OPT_MODE, OPT_ARCHIVE, OPT_REPORT, OPT_SIZE_LIMIT,
	OPT_FILES,
};

static const struct option own_opts[] = {
	{ "collection", required_argument, NULL, OPT_COLLECTION },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "archive", required_argument, NULL, OPT_ARCHIVE },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "size-limit", required_argument, NULL, OPT_SIZE_LIMIT },
	{ "files", no_argument, NULL, OPT_FILES },
	{ NULL, 0, NULL, 0 }
};

static int
own_opt(void *ctx, int c, const char *arg)
{
	(void)ctx;
	switch (c) {
	case OPT_COLLECTION:
		ALLOC_GROW(pull.explicit, pull.nr_explicit + 1,
		    pull.alloc_explicit);
		pull.explicit[pull.nr_explicit++] = arg;
		break;
	case OPT_MODE:	/* a pass takes what changed since the last */
		pull.assess = helper_mode_is_assess(arg);
		break;
	case OPT_ARCHIVE: pull.archive = arg; break;
	case OPT_REPORT: pull.report = arg; break;
	case OPT_SIZE_LIMIT:
		pull.size_limit = opt_size("--size-limit", arg, 1);
		break;
	case OPT_FILES: pull.files = 1; break;
	default:
		return 0;
	}
	return 1;
}

static void
parse_options(int argc, char **argv)
{
	struct conn_opts co = { 0 };
	pull.size_limit = 10u << 20;
	helper_options(argc, argv, CONN_URL | CONN_USER, &co,
	    own_opts, own_opt, NULL, usage_text);
	pull.o.url = co.url;
	pull.o.user = co.user;
	pull.o.ca_file = co.srv.tls.ca_file;
	pull.o.insecure = co.srv.tls.insecure;
	pull.o.timeout = co.timeout;
	if (!pull.o.url || !pull.o.user)
		helper_usage();
	if (!pull.assess && !pull.archive)
		fatalx(EX_USAGE, "--archive is needed unless --mode assess");
}

/* PROPFIND `body` on `url`: a 207 wanted. */
static int
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
	}
}

static int
find_collections(struct buf *err)
{
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char **homes = NULL;
	size_t nr = 0, i;
	int ret = -1;

	if (pull.nr_explicit) {
		for (i = 0; i < pull.nr_explicit; i++) {
			if (propfind(pull.explicit[i], "0",
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

static char *
last_segment(const char *href)
{
	const char *s = strrchr(href, '/');

	return xstrdup(s ? s + 1 : href);
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

static int
record(json_t *o, struct buf *err)
{
	char *line;

	if (pull.assess) {
		json_decref(o);
		return 0;
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line) {
		buf_adds(err, "cannot encode a manifest record");
		return -1;
	}
	seg_record(pull.w, line, strlen(line));
	free(line);
	pull.dirty = 1;
	return 0;
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

/* GET each changed member, byte for byte, into the segment. */
static int
fetch(struct collection *c, struct arc_davres *old, size_t nr_old,
    struct buf *err)
{
	struct buf body = BUF_INIT, where = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char hash[SEG_HASH_HEX + 1], **uids = NULL;
	unsigned char md[32];
	size_t i, k, nr_uids = 0, alloc_uids = 0;
	int ret = -1;

	for (i = 0; i < c->nr; i++) {
		struct member *m = &c->m[i];
		const char *etag;
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
		EVP_Digest(body.buf, body.len, md, NULL, EVP_sha256(), NULL);
		seg_hash_hex(md, hash);
		etag = a.etag ? a.etag : m->etag;
		if (!pull.assess && arcidx_has_blob(pull.ix, hash) != 1) {
			if (seg_blob_begin(pull.w, hash, body.len, err) < 0 ||
			    seg_blob_data(pull.w, body.buf, body.len,
			    err) < 0 ||
			    record(json_pack("{s:s, s:s, s:I, s:I}", "t",
			    "blob", "hash", hash, "size",
			    (json_int_t)body.len, "time",
			    (json_int_t)time(NULL)), err) < 0)
				goto out;
		}
		if (record(json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?, s:s?}",
		    "t", "dav-resource", "collection", c->path, "name",
		    m->name, "hash", hash, "size", (json_int_t)body.len,
		    "etag", etag, "type", a.content_type), err) < 0)
			goto out;
		pull.fetched++;
		c->changes++;
		c->resources++;
		c->bytes += body.len;
	}
	/* a UID twice in one collection: the destination keeps one */
	if (nr_uids > 1)
		qsort(uids, nr_uids, sizeof(*uids), cmp_str);
	for (i = 1; i < nr_uids; i++)
		if (!strcmp(uids[i], uids[i - 1]) && (i + 1 == nr_uids ||
		    strcmp(uids[i], uids[i + 1])))
			helper_anomaly("duplicate-uid",
			    c->path, 0, "UID %s is in more"
			    " than one resource", uids[i]);
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

static int
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

/* The segment, when the pass changed anything (a token counts). */
static int
commit(struct buf *err)
{
	struct buf manifest = BUF_INIT;
	const char *m;
	size_t len;
	char token[32];
	int rc;

	if (!pull.dirty) {
		seg_writer_abort(&pull.w);
		return 0;
	}
	if (record(json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "dav-pass",
	    "time", (json_int_t)time(NULL), "collections",
	    (json_int_t)pull.nr, "resources", (json_int_t)(pull.events +
	    pull.contacts), "bytes", (json_int_t)pull.bytes), err) < 0)
		return -1;
	m = seg_manifest(pull.w, &len);
	buf_add(&manifest, m, len);
	rc = seg_writer_commit(&pull.w, err);
	if (rc == 0)
		rc = arcidx_apply(pull.ix, pull.seq, manifest.buf,
		    manifest.len, err);
	buf_release(&manifest);
	if (rc < 0)
		return -1;
	snprintf(token, sizeof(token), "seg:%u", pull.seq);
	evline_write(1, "checkpoint", "{s:s, s:i}", "token", token, "segment",
	    (int)pull.seq);
	return 0;
}

/*
 * A plain WebDAV file tree (--files): every directory and file below the
 * URL, by PROPFIND Depth 1 a directory at a time; files with GET, byte for
 * byte.  A file whose size and modification time (or ETag) are as the
 * archive has them is not fetched again.
 */
struct fentry {
	char *path;		/* below the root, as the server encodes it */
	int dir;
	uint64_t size;
	char *mtime, *etag, *type;
};

static const char propfind_files[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/>"
	"<D:getcontentlength/><D:getlastmodified/><D:getetag/>"
	"<D:getcontenttype/></D:prop></D:propfind>";

static int
walk(const char *root, const char *rel, int depth, struct fentry **v,
    size_t *nr, size_t *alloc, struct buf *err)
{
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct dav_answer a = { .body = &body };
	size_t k, first = *nr, last;
	int ret = -1;

	if (depth > 64) {
		buf_addf(err, "%s%s: deeper than 64 directories", root, rel);
		pull.d->fail = EX_PROTOCOL;
		return -1;
	}
	buf_addf(&url, "%s%s", root, rel);
	if (propfind(url.buf, "1", propfind_files, &a, err) < 0)
		goto out;
	for (k = 0; k < a.nr; k++) {
		char *p = dav_path(a.v[k].href);
		struct fentry *f;

		if (strncmp(p, root, strlen(root)) || !strcmp(p, url.buf) ||
		    a.v[k].status / 100 != 2) {
			free(p);
			continue;
		}
		ALLOC_GROW(*v, *nr + 1, *alloc);
		f = &(*v)[(*nr)++];
		memset(f, 0, sizeof(*f));
		f->path = xstrdup(p + strlen(root));
		free(p);
		f->dir = dav_child(dav_prop(&a.v[k], NS_DAV, "resourcetype"),
		    NS_DAV, "collection") != NULL;
		if (f->dir && f->path[0] && f->path[strlen(f->path) - 1] !=
		    '/') {
			char *d = xasprintf("%s/", f->path);

			free(f->path);
			f->path = d;
		}
		f->mtime = dav_text(dav_prop(&a.v[k], NS_DAV,
		    "getlastmodified"));
		f->etag = dav_text(dav_prop(&a.v[k], NS_DAV, "getetag"));
		f->type = dav_text(dav_prop(&a.v[k], NS_DAV, "getcontenttype"));
		if (!f->dir) {
			char *n = dav_text(dav_prop(&a.v[k], NS_DAV,
			    "getcontentlength"));

			f->size = n ? strtoull(n, NULL, 10) : 0;
			free(n);
		}
	}
	/* then each directory found here (not those found below them) */
	for (k = first, last = *nr; k < last; k++)
		if ((*v)[k].dir && walk(root, (*v)[k].path, depth + 1, v, nr,
		    alloc, err) < 0)
			goto out;
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&url);
	return ret;
}

static int
pull_files(struct buf *err)
{
	struct fentry *v = NULL;
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char *root = dav_path(pull.o.url), **old = NULL, hash[SEG_HASH_HEX + 1];
	unsigned char md[32];
	size_t nr = 0, alloc = 0, nr_old = 0, i, k;
	int ret = -1;

	if (root[strlen(root) - 1] != '/') {
		char *r = xasprintf("%s/", root);

		free(root);
		root = r;
	}
	if (walk(root, "", 0, &v, &nr, &alloc, err) < 0)
		goto out;
	if (!pull.assess) {
		if (arcidx_rows(pull.ix, "SELECT path, size, mtime, etag FROM"
		    " files", NULL, NULL, 4, &old, &nr_old, err) < 0)
			goto out;
		pull.seq = arcidx_last_seq(pull.ix) + 1;
		if (seg_writer_open(&pull.w, pull.archive, pull.seq, 3, 0,
		    err) < 0 || record(json_pack("{s:s, s:s, s:s, s:s, s:I}",
		    "t", "segment", "helper", "dav-pull", "version",
		    DAV_PULL_VERSION, "mode", "files", "time",
		    (json_int_t)time(NULL)), err) < 0)
			goto out;
		pull.dirty = 0;
	}
	for (i = 0; i < nr; i++) {
		struct fentry *f = &v[i];
		char **o = NULL;

		for (k = 0; k < nr_old; k++)
			if (!strcmp(old[4 * k], f->path))
				o = &old[4 * k];
		if (f->dir) {
			if (!o && record(json_pack("{s:s, s:s}", "t",
			    "file-dir", "path", f->path), err) < 0)
				goto out;
			continue;
		}
		pull.nr_files++;
		pull.bytes += f->size;
		if (o && strtoull(o[1], NULL, 10) == f->size &&
		    !strcmp(o[2], f->mtime ? f->mtime : "") &&
		    !strcmp(o[3], f->etag ? f->etag : ""))
			continue;	/* unchanged */
		buf_reset(&url);
		buf_addf(&url, "%s%s", root, f->path);
		if (dav_request(pull.d, "GET", url.buf, NULL, NULL, NULL, 0,
		    NULL, NULL, &a, err) < 0)
			goto out;
		if (a.code == 404)
			continue;	/* gone since the listing */
		if (a.code != 200) {
			dav_status_error(pull.d, url.buf, &a, err);
			goto out;
		}
		pull.bytes += body.len - f->size;
		EVP_Digest(body.buf, body.len, md, NULL, EVP_sha256(), NULL);
		seg_hash_hex(md, hash);
		if (!pull.assess && arcidx_has_blob(pull.ix, hash) != 1 &&
		    (seg_blob_begin(pull.w, hash, body.len, err) < 0 ||
		    seg_blob_data(pull.w, body.buf, body.len, err) < 0 ||
		    record(json_pack("{s:s, s:s, s:I, s:I}", "t", "blob",
		    "hash", hash, "size", (json_int_t)body.len, "time",
		    (json_int_t)time(NULL)), err) < 0))
			goto out;
		/* the size and time as listed: the next pass compares them */
		if (record(json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?, s:s?}",
		    "t", "file", "path", f->path, "hash", hash, "size",
		    (json_int_t)f->size, "type", a.content_type ?
		    a.content_type : f->type, "mtime", f->mtime, "etag",
		    f->etag), err) < 0)
			goto out;
		pull.fetched++;
	}
	for (k = 0; k < nr_old; k++) {
		for (i = 0; i < nr; i++)
			if (!strcmp(old[4 * k], v[i].path))
				break;
		if (i == nr && record(json_pack("{s:s, s:s}", "t",
		    "file-delete", "path", old[4 * k]), err) < 0)
			goto out;
		pull.deleted += i == nr;
	}
	ret = 0;
out:
	for (i = 0; i < nr; i++) {
		free(v[i].path);
		free(v[i].mtime);
		free(v[i].etag);
		free(v[i].type);
	}
	free(v);
	arc_rows_free(old, nr_old, 4);
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&url);
	free(root);
	return ret;
}

static int
write_report(struct buf *err)
{
	json_t *cols = json_array(), *o;
	size_t i;

	for (i = 0; i < pull.nr; i++)
		json_array_append_new(cols, json_pack("{s:s, s:s, s:O, s:I,"
		    " s:I, s:b}", "path", pull.c[i].path, "kind",
		    pull.c[i].kind, "props", pull.c[i].props, "resources",
		    (json_int_t)pull.c[i].resources, "bytes",
		    (json_int_t)pull.c[i].bytes, "shared", pull.c[i].shared));
	o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I},"
	    " s:o, s:o}", "account", pull.o.user, "source", pull.o.url,
	    "helper", "dav-pull", "time", (json_int_t)time(NULL), "totals",
	    "collections", (json_int_t)pull.nr, "events",
	    (json_int_t)pull.events, "contacts", (json_int_t)pull.contacts,
	    "bytes", (json_int_t)pull.bytes, "anomalies",
	    (json_int_t)helper_anomaly_count(), "collections", cols,
	    "anomalies", helper_anomaly_list());
	return helper_report(pull.report, o, err);
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int code = EX_SOFTWARE, rc;
	size_t i, k;

	helper_init("dav-pull", DAV_PULL_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, pull.o.user, "password", (char *)NULL);
	pull.o.password = secrets_get(&sec, "password");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (dav_open(&pull.d, &pull.o, &err) < 0 ||
	    (!pull.files && find_collections(&err) < 0)) {
		code = pull.d->fail ? pull.d->fail : EX_SOFTWARE;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (!pull.assess) {
		if ((rc = arcidx_open(&pull.ix, pull.archive, 1, &err)) < 0 ||
		    arcidx_catch_up(pull.ix, &err) < 0) {
			code = helper_archive_status(rc);
			log_warnx("%s", err.buf);
			goto out;
		}
	}
	if ((pull.files ? pull_files(&err) : pull_all(&err)) < 0) {
		code = pull.d->fail ? pull.d->fail : EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (!pull.assess && commit(&err) < 0) {
		code = EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (pull.report && write_report(&err) < 0) {
		code = EX_CANTCREAT;
		log_warnx("%s", err.buf);
		goto out;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:f}", "files", (json_int_t)pull.nr_files, "collections",
	    (json_int_t)pull.nr, "events",
	    (json_int_t)pull.events, "contacts", (json_int_t)pull.contacts,
	    "bytes", (json_int_t)pull.bytes, "fetched",
	    (json_int_t)pull.fetched, "deleted", (json_int_t)pull.deleted,
	    "anomalies", (json_int_t)helper_anomaly_count(),
	    "requests", (json_int_t)pull.d->requests, "seconds",
	    helper_seconds());
	log_info("%s %zu collections: %" PRIu64 " events, %" PRIu64
	    " contacts; %" PRIu64 " fetched, %" PRIu64 " deleted",
	    pull.assess ? "assessed" : "pulled", pull.nr, pull.events,
	    pull.contacts, pull.fetched, pull.deleted);
	code = 0;
out:
	seg_writer_abort(&pull.w);
	arcidx_close(&pull.ix);
	for (i = 0; i < pull.nr; i++) {
		struct collection *c = &pull.c[i];

		for (k = 0; k < c->nr; k++) {
			free(c->m[k].href);
			free(c->m[k].name);
			free(c->m[k].etag);
		}
		free(c->m);
		free(c->path);
		free(c->kind);
		free(c->name);
		free(c->sync_token);
		json_decref(c->props);
	}
	free(pull.c);
	free(pull.explicit);
	free(pull.principal);
	dav_close(&pull.d);
	secrets_clear(&sec);
	buf_release(&err);
	curl_global_cleanup();
	return code;
}
