/*
 * share.c: each calendar's and address book's sharing, as dav-pull read it
 * (props.shares), made on the destination once its grantee is there.
 *
 * The destination says which way it takes sharing:
 *   DAV:share-access	draft-pot-webdav-resource-sharing: one POST of a
 *			share-resource naming sharees by mailto: (Cyrus)
 *   otherwise		RFC 3744's ACL method, grants to principals whose
 *			path is the account's own with the grantee's login
 *			for its last segment (Stalwart: /dav/pal/LOGIN/)
 * A grantee that is not in --share-ready is pending: left out, named in
 * the done event, and written by a later run (dav-push --shares-only)
 * once that account arrives.  Before the cutover the destination mirrors
 * the source, so a share the source no longer has is taken away; after
 * it (--after-cutover) the user's own sharing there stays.
 */
#include "compat.h"

#include <strings.h>

#include <curl/curl.h>
#include <libxml/tree.h>

#include "davshare.h"
#include "dpush.h"
#include "helper.h"
#include "log.h"
#include "xalloc.h"

static const char propfind_sharing[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\" xmlns:S=\"" NS_CS "\"><D:prop>"
	DAV_SHARE_PROPS "</D:prop></D:propfind>";

/* The source's shares with each grantee as its destination login; the
 * pending ones named in push.shares_pending. */
static json_t *
wanted(const json_t *src)
{
	json_t *v = json_array(), *e;
	const char *login;
	char *own;
	size_t i;

	json_array_foreach(src, i, e) {
		const char *who = json_string_value(json_object_get(e, "who"));
		const char *access = json_string_value(json_object_get(e,
		    "access"));

		if (!who || !access || share_not_one(who) ||
		    (strcmp(access, "read") && strcmp(access, "read-write")))
			continue;	/* not dav-pull's: never sent */
		if (!(login = share_ready_dest(&push.ready, who, &own))) {
			share_pending_add(push.shares_pending, who);
			continue;
		}
		json_array_append_new(v, json_pack("{s:s, s:s}", "who", login,
		    "access", access));
		free(own);
	}
	return v;
}

/* The entry of `v` for `who` (compared as logins are), or NULL. */
static json_t *
entry(const json_t *v, const char *who)
{
	char *a = share_ready_norm(&push.ready, who), *b;
	json_t *e;
	size_t i;

	json_array_foreach(v, i, e) {
		b = share_ready_norm(&push.ready, json_string_value(
		    json_object_get(e, "who")));
		if (!strcmp(a, b)) {
			free(b);
			free(a);
			return e;
		}
		free(b);
	}
	free(a);
	return NULL;
}

static int
same(const json_t *want, const json_t *have)
{
	json_t *e, *h;
	size_t i;

	if (json_array_size(want) != json_array_size(have))
		return 0;
	json_array_foreach(want, i, e)
		if (!(h = entry(have, json_string_value(json_object_get(e,
		    "who")))) || !json_equal(json_object_get(e, "access"),
		    json_object_get(h, "access")))
			return 0;
	return 1;
}

static void
add_escaped(struct buf *b, const char *s)
{
	xmlChar *esc = xmlEncodeSpecialChars(NULL, (const xmlChar *)s);

	buf_adds(b, (const char *)esc);
	xmlFree(esc);
}

/* draft-pot: the wanted sharees, and no-access for the others there. */
static void
body_post(struct buf *q, const json_t *want, const json_t *have)
{
	json_t *e;
	size_t i;

	buf_adds(q, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<D:share-resource xmlns:D=\"DAV:\">");
	json_array_foreach(want, i, e) {
		buf_adds(q, "<D:sharee><D:href>mailto:");
		add_escaped(q, json_string_value(json_object_get(e, "who")));
		buf_addf(q, "</D:href><D:share-access><D:%s/></D:share-access>"
		    "</D:sharee>", json_string_value(json_object_get(e,
		    "access")));
	}
	json_array_foreach(have, i, e) {
		const char *who = json_string_value(json_object_get(e, "who"));
		char *addr;

		if (push.after_cutover || entry(want, who))
			continue;
		addr = share_ready_norm(&push.ready, who);
		buf_adds(q, "<D:sharee><D:href>mailto:");
		add_escaped(q, addr);
		buf_adds(q, "</D:href><D:share-access><D:no-access/>"
		    "</D:share-access></D:sharee>");
		free(addr);
	}
	buf_adds(q, "</D:share-resource>");
}

/* RFC 3744: the whole list of grants (after the cutover, the user's own
 * ones there too). */
static void
body_acl(struct buf *q, const json_t *want, const json_t *have)
{
	char *base = xstrdup(push.principal), *slash, *enc;
	json_t *all = json_deep_copy(want), *e;
	size_t i;

	for (slash = base + strlen(base); slash > base && slash[-1] == '/';
	    slash--)
		;
	*slash = '\0';
	if ((slash = strrchr(base, '/')))
		slash[1] = '\0';
	if (push.after_cutover)
		json_array_foreach(have, i, e)
			if (!entry(all, json_string_value(json_object_get(e,
			    "who"))))
				json_array_append(all, e);
	buf_adds(q, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<D:acl xmlns:D=\"DAV:\">");
	json_array_foreach(all, i, e) {
		enc = curl_easy_escape(NULL, json_string_value(json_object_get(
		    e, "who")), 0);
		buf_adds(q, "<D:ace><D:principal><D:href>");
		add_escaped(q, base);
		add_escaped(q, enc ? enc : "");
		buf_addf(q, "/</D:href></D:principal><D:grant><D:privilege>"
		    "<D:read/></D:privilege>%s</D:grant></D:ace>", !strcmp(
		    json_string_value(json_object_get(e, "access")),
		    "read-write") ? "<D:privilege><D:write/></D:privilege>" :
		    "");
		curl_free(enc);
	}
	buf_adds(q, "</D:acl>");
	json_decref(all);
	free(base);
}

/* Write the sharing of `dest`; a refusal is an anomaly. */
static int
write_sharing(const struct arc_davcol *c, const char *dest, int by_post,
    const json_t *want, const json_t *have, struct buf *err)
{
	struct buf q = BUF_INIT, body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	int ret = -1;

	if (!by_post && !push.principal &&
	    dav_principal(push.d, &push.principal, err) < 0)
		goto out;
	if (by_post)
		body_post(&q, want, have);
	else
		body_acl(&q, want, have);
	if (dav_request(push.d, by_post ? "POST" : "ACL", dest, NULL,
	    by_post ? NULL : q.buf, q.buf, q.len, by_post ?
	    "application/davsharing+xml" : NULL, NULL, &a, err) < 0)
		goto out;
	if (a.code / 100 == 2) {
		push.shares_set++;
		log_info("%s: shared with %zu accounts", c->path,
		    json_array_size(want));
	} else {
		helper_anomaly("dav-share-refused", c->path, 0, "the"
		    " destination refused its sharing (%s): HTTP %ld",
		    by_post ? "POST share-resource" : "ACL", a.code);
	}
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&q);
	return ret;
}

int
share_collection(const struct arc_davcol *c, const char *dest,
    struct buf *err)
{
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	json_t *props = json_loads(c->props, 0, NULL), *want, *have = NULL;
	int ret = -1;

	want = wanted(json_object_get(props, "shares"));
	if (!json_array_size(want) && push.after_cutover) {
		ret = 0;	/* nothing to add, nothing to take away */
		goto out;
	}
	if (dav_request(push.d, "PROPFIND", dest, "0", propfind_sharing, NULL,
	    0, NULL, NULL, &a, err) < 0)
		goto out;
	ret = 0;
	if (a.code != 207 || !a.nr) {
		/* a server that does not say: nothing to take away, and
		 * what there is to give is named */
		if (json_array_size(want))
			helper_anomaly("dav-share-refused", c->path, 0, "the"
			    " destination does not say who may use it (HTTP"
			    " %ld): its sharing is not carried", a.code);
		goto out;
	}
	have = dav_shares_of(&a.v[0], push.principal, push.o.user, NULL);
	if (!same(want, have))
		ret = write_sharing(c, dest, dav_shares_by_post(&a.v[0]), want,
		    have, err);
out:
	json_decref(have);
	json_decref(want);
	json_decref(props);
	dav_answer_release(&a);
	buf_release(&body);
	return ret;
}
