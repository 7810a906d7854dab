#include "compat.h"

#include <curl/curl.h>

#include "buf.h"
#include "dav.h"
#include "httpc.h"
#include "log.h"
#include "xalloc.h"

#define ANSWER_MAX	(64u << 20)	/* the longest answer read */

static int
fail(struct dav *d, int code)
{
	d->fail = code;
	return -1;
}

int
dav_open(struct dav **d_r, const struct http_opts *o, struct buf *err)
{
	struct dav *d = xcalloc(1, sizeof(*d));
	const char *p = strstr(o->url, "://");
	CURL *h;
	int rc;

	*d_r = d;
	d->opts = o;
	if (!p || (strncmp(o->url, "http://", 7) &&
	    strncmp(o->url, "https://", 8))) {
		buf_addf(err, "'%s' is not an http:// or https:// URL", o->url);
		return fail(d, EX_USAGE);
	}
	d->origin = xstrndup(o->url, p + 3 - o->url + strcspn(p + 3, "/"));
	if ((rc = httpc_may_send(o, 0, o->url, err)))
		return fail(d, rc);
	d->curl = h = httpc_handle("migrate dav/0.1", o, 120L, 0, NULL,
	    &d->head_ended);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	/* the credentials go with redirects on the same host only */
	curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
	return 0;
}

void
dav_close(struct dav **dp)
{
	struct dav *d = *dp;

	if (!d)
		return;
	*dp = NULL;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	free(d->origin);
	free(d);
}

void
dav_answer_release(struct dav_answer *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		free(a->v[i].href);
	free(a->v);
	if (a->doc)
		xmlFreeDoc(a->doc);
	free(a->etag);
	free(a->content_type);
	free(a->sync_token);
	a->v = NULL;
	a->nr = 0;
	a->doc = NULL;
	a->etag = a->content_type = a->sync_token = NULL;
}

int
dav_is(xmlNodePtr n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	    !strcmp((const char *)n->ns->href, ns) &&
	    !strcmp((const char *)n->name, name);
}

xmlNodePtr
dav_child(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c;

	for (c = n ? n->children : NULL; c; c = c->next)
		if (dav_is(c, ns, name))
			return c;
	return NULL;
}

char *
dav_text(xmlNodePtr n)
{
	xmlChar *t;
	char *s;

	if (!n)
		return NULL;
	t = xmlNodeGetContent(n);
	s = xstrdup(t ? (const char *)t : "");
	xmlFree(t);
	return s;
}

char *
dav_href_in(xmlNodePtr n)
{
	xmlNodePtr h = dav_child(n, NS_DAV, "href");
	char *s = dav_text(h), *e;

	if (!s)
		return NULL;
	/* servers indent: no blanks around an href */
	for (e = s + strlen(s); e > s && strchr(" \t\r\n", e[-1]); e--)
		;
	*e = '\0';
	e = s + strspn(s, " \t\r\n");
	memmove(s, e, strlen(e) + 1);
	return s;
}

char *
dav_path(const char *href)
{
	const char *p = strstr(href, "://");

	if (p)
		p = strchr(p + 3, '/');
	else
		p = href;
	return xstrdup(p ? p : "/");
}

xmlNodePtr
dav_prop(const struct dav_resp *r, const char *ns, const char *name)
{
	return dav_child(r->prop, ns, name);
}

/* "HTTP/1.1 404 Not Found" -> 404 */
static int
status_of(xmlNodePtr n)
{
	char *t = dav_text(n);
	const char *sp = t ? strchr(t, ' ') : NULL;
	int code = sp ? atoi(sp + 1) : 0;

	free(t);
	return code;
}

int
dav_parse_multistatus(struct dav *d, struct dav_answer *a, const char *url,
    struct buf *err)
{
	xmlNodePtr root, r, ps;
	struct dav_resp *x;
	size_t alloc = 0;

	a->doc = xmlReadMemory(a->body->buf, (int)a->body->len, url, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = a->doc ? xmlDocGetRootElement(a->doc) : NULL;
	if (!dav_is(root, NS_DAV, "multistatus")) {
		buf_addf(err, "%s: a 207 answer that is not a DAV multistatus:"
		    " '", url);
		buf_add_sanitized(err, a->body->buf, a->body->len, 120);
		buf_addch(err, '\'');
		return fail(d, EX_PROTOCOL);
	}
	for (r = root->children; r; r = r->next) {
		if (dav_is(r, NS_DAV, "sync-token")) {
			free(a->sync_token);
			a->sync_token = dav_text(r);
			continue;
		}
		if (!dav_is(r, NS_DAV, "response"))
			continue;
		ALLOC_GROW(a->v, a->nr + 1, alloc);
		x = &a->v[a->nr++];
		memset(x, 0, sizeof(*x));
		x->href = dav_href_in(r);
		if (!x->href) {
			buf_addf(err, "%s: a response without an href", url);
			return fail(d, EX_PROTOCOL);
		}
		x->status = dav_child(r, NS_DAV, "status") ?
		    status_of(dav_child(r, NS_DAV, "status")) : 0;
		for (ps = r->children; ps; ps = ps->next) {
			int st;

			if (!dav_is(ps, NS_DAV, "propstat"))
				continue;
			st = status_of(dav_child(ps, NS_DAV, "status"));
			if (st / 100 == 2 || !x->prop) {
				x->prop = dav_child(ps, NS_DAV, "prop");
				x->status = st;
			}
		}
	}
	return 0;
}

int
dav_request(struct dav *d, const char *method, const char *url,
    const char *depth, const char *body, const char *data, size_t len,
    const char *type, const char *const *hdrs, struct dav_answer *a,
    struct buf *err)
{
	struct curl_slist *headers = NULL;
	struct curl_header *h;
	struct buf line = BUF_INIT, full = BUF_INIT;
	CURL *c = d->curl;
	CURLcode rc;
	size_t i;
	int code;

	dav_answer_release(a);
	a->code = 0;
	if (!a->body)
		BUG("dav_request without a body buffer");
	buf_reset(a->body);
	a->body->cap = ANSWER_MAX;
	if (url[0] == '/')
		buf_addf(&full, "%s%s", d->origin, url);
	else
		buf_adds(&full, url);
	headers = curl_slist_append(headers, "Expect:");
	if (depth) {
		buf_addf(&line, "Depth: %s", depth);
		headers = curl_slist_append(headers, line.buf);
	}
	if (body) {
		data = body;
		len = strlen(body);
		type = "application/xml; charset=utf-8";
	}
	if (type) {
		buf_reset(&line);
		buf_addf(&line, "Content-Type: %s", type);
		headers = curl_slist_append(headers, line.buf);
	}
	for (i = 0; hdrs && hdrs[i]; i++)
		headers = curl_slist_append(headers, hdrs[i]);
	curl_easy_setopt(c, CURLOPT_URL, full.buf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a->body);
	curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
	if (data) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ?
	    method : NULL);
	log_debug("%s %s", method, full.buf);
	rc = curl_easy_perform(c);
	d->requests++;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	buf_reset(&line);
	buf_addf(&line, "%s %s", method, full.buf);
	if ((code = httpc_failed(rc, d->head_ended, line.buf, err))) {
		buf_release(&line);
		buf_release(&full);
		return fail(d, code);
	}
	buf_release(&line);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->code);
	if (curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK)
		a->etag = xstrdup(h->value);
	if (curl_easy_header(c, "Content-Type", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK)
		a->content_type = xstrdup(h->value);
	if (a->code == 207 && dav_parse_multistatus(d, a, full.buf, err) < 0) {
		buf_release(&full);
		return -1;
	}
	buf_release(&full);
	return 0;
}

int
dav_status_error(struct dav *d, const char *what, const struct dav_answer *a,
    struct buf *err)
{
	buf_addf(err, "%s: HTTP %ld", what, a->code);
	if (a->body && a->body->len) {
		buf_adds(err, ": ");
		buf_add_sanitized(err, a->body->buf, a->body->len, 200);
	}
	if (a->code == 401 || a->code == 403)
		return fail(d, EX_NOPERM);
	if (a->code >= 500 || a->code == 429)
		return fail(d, EX_TEMPFAIL);
	return fail(d, EX_PROTOCOL);
}

static const char propfind_principal[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:current-user-principal/>"
	"</D:prop></D:propfind>";

static const char propfind_homes[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\" xmlns:C=\"" NS_CALDAV "\""
	" xmlns:A=\"" NS_CARDDAV "\"><D:prop><C:calendar-home-set/>"
	"<A:addressbook-home-set/></D:prop></D:propfind>";

static int
propfind0(struct dav *d, const char *url, const char *body,
    struct dav_answer *a, struct buf *err)
{
	if (dav_request(d, "PROPFIND", url, "0", body, NULL, 0, NULL, NULL, a,
	    err) < 0)
		return -1;
	if (a->code != 207)
		return dav_status_error(d, url, a, err);
	return 0;
}

/* The homes of one kind (index 0: calendars, 2: address books). */
static int
homes_of(struct dav *d, const char *principal, int which, char ***homes_r,
    size_t *nr_r, size_t *alloc_r, struct buf *err)
{
	static const char *const sets[] = { NS_CALDAV, "calendar-home-set",
	    NS_CARDDAV, "addressbook-home-set" };
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	xmlNodePtr n, c;
	char *h;
	size_t k, j;
	int dup;

	if (propfind0(d, principal, propfind_homes, &a, err) < 0) {
		buf_release(&body);
		return -1;
	}
	for (k = 0; k < a.nr; k++) {
		n = dav_prop(&a.v[k], sets[which], sets[which + 1]);
		for (c = n ? n->children : NULL; c; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			h = dav_text(c);
			h[strcspn(h, " \t\r\n")] = '\0';
			for (dup = 0, j = 0; j < *nr_r; j++)
				dup |= !strcmp((*homes_r)[j], h);
			if (*h && !dup) {
				ALLOC_GROW(*homes_r, *nr_r + 1, *alloc_r);
				(*homes_r)[(*nr_r)++] = dav_path(h);
			}
			free(h);
		}
	}
	dav_answer_release(&a);
	buf_release(&body);
	return 0;
}

int
dav_principal(struct dav *d, char **principal_r, struct buf *err)
{
	static const char *const tries[] = { NULL, "/.well-known/caldav",
	    "/.well-known/carddav" };
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	xmlNodePtr n;
	char *h;
	size_t i, k;
	int ret = -1;

	*principal_r = NULL;
	for (i = 0; i < ARRAY_SIZE(tries) && !*principal_r; i++) {
		if (propfind0(d, tries[i] ? tries[i] : d->opts->url,
		    propfind_principal, &a, err) < 0) {
			if (d->fail != EX_PROTOCOL ||
			    i + 1 == ARRAY_SIZE(tries))
				goto out;
			buf_reset(err);	/* not there: the next */
			continue;
		}
		for (k = 0; k < a.nr && !*principal_r; k++)
			if ((n = dav_prop(&a.v[k], NS_DAV,
			    "current-user-principal")) &&
			    (h = dav_href_in(n))) {
				*principal_r = dav_path(h);
				free(h);
			}
	}
	if (!*principal_r) {
		buf_addf(err, "%s names no current-user-principal: give the"
		    " collections by their URLs", d->opts->url);
		fail(d, EX_PROTOCOL);
		goto out;
	}
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}

int
dav_homes(struct dav *d, char **principal_r, char ***homes_r, size_t *nr_r,
    struct buf *err)
{
	size_t alloc = 0;

	*homes_r = NULL;
	*nr_r = 0;
	if (dav_principal(d, principal_r, err) < 0 ||
	    homes_of(d, *principal_r, 0, homes_r, nr_r, &alloc, err) < 0 ||
	    homes_of(d, *principal_r, 2, homes_r, nr_r, &alloc, err) < 0)
		return -1;
	if (!*nr_r) {
		buf_addf(err, "the principal %s names no calendar or address"
		    " book home", *principal_r);
		return fail(d, EX_PROTOCOL);
	}
	return 0;
}

int
dav_home_of(struct dav *d, const char *kind, char **home_r, struct buf *err)
{
	char *principal = NULL, **homes = NULL;
	size_t nr = 0, alloc = 0, i;
	int ret = -1;

	*home_r = NULL;
	if (dav_principal(d, &principal, err) < 0 ||
	    homes_of(d, principal, strcmp(kind, "calendar") ? 2 : 0, &homes,
	    &nr, &alloc, err) < 0)
		goto out;
	if (!nr) {
		buf_addf(err, "the principal %s names no %s home", principal,
		    kind);
		fail(d, EX_PROTOCOL);
		goto out;
	}
	*home_r = homes[0];
	homes[0] = NULL;
	ret = 0;
out:
	for (i = 0; i < nr; i++)
		free(homes[i]);
	free(homes);
	free(principal);
	return ret;
}
