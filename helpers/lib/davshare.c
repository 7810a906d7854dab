/*
 * davshare.c: reading a collection's sharing from a PROPFIND answer
 * (davshare.h).
 */
#include "compat.h"

#include <strings.h>

#include <libxml/uri.h>

#include "davshare.h"
#include "xalloc.h"

char *
dav_share_id(const char *href)
{
	char *path, *end, *seg, *dec, *id;

	if (!strncasecmp(href, "mailto:", 7))
		return xstrdup(href + 7);
	path = dav_path(href);
	for (end = path + strlen(path); end > path && end[-1] == '/'; end--)
		;
	*end = '\0';
	seg = strrchr(path, '/');
	seg = seg ? seg + 1 : path;
	dec = xmlURIUnescapeString(seg, 0, NULL);
	id = xstrdup(dec ? dec : "");
	xmlFree(dec);
	free(path);
	return id;
}

static int
is_owner(const char *who, const char *principal, const char *user)
{
	char *own;
	int same;

	if (user && !strcasecmp(who, user))
		return 1;
	if (!principal)
		return 0;
	own = dav_share_id(principal);
	same = !strcasecmp(own, who);
	free(own);
	return same;
}

/* Add {who, access} unless it is the owner, or there already (the wider
 * access wins). */
static void
add(json_t *v, const char *who, const char *access, const char *principal,
    const char *user)
{
	json_t *e;
	size_t i;

	if (!*who || is_owner(who, principal, user))
		return;
	json_array_foreach(v, i, e) {
		if (strcasecmp(json_string_value(json_object_get(e, "who")),
		    who))
			continue;
		if (!strcmp(access, "read-write"))
			json_object_set_new(e, "access",
			    json_string(access));
		return;
	}
	json_array_append_new(v, json_pack("{s:s, s:s}", "who", who, "access",
	    access));
}

/* DAV:invite's sharees, or CS:invite's users (`cs`). */
static void
from_invite(json_t *v, xmlNodePtr inv, int cs, const char *principal,
    const char *user)
{
	const char *ns = cs ? NS_CS : NS_DAV;
	xmlNodePtr s, c;

	for (s = inv ? inv->children : NULL; s; s = s->next) {
		const char *access = NULL;
		int gone = 0;
		char *href, *who;

		if (!dav_is(s, ns, cs ? "user" : "sharee"))
			continue;
		for (c = s->children; c; c = c->next) {
			if (dav_is(c, ns, "invite-declined") ||
			    dav_is(c, ns, "invite-invalid"))
				gone = 1;
			if (!dav_is(c, ns, cs ? "access" : "share-access"))
				continue;
			access = dav_child(c, ns, "read-write") ?
			    "read-write" : dav_child(c, ns, "read") ? "read" :
			    NULL;
		}
		if (gone || !access || !(href = dav_href_in(s)))
			continue;
		who = dav_share_id(href);
		add(v, who, access, principal, user);
		free(who);
		free(href);
	}
}

/* What an ACE's grant allows: NULL (free-busy at most), "read" or
 * "read-write". */
static const char *
access_of(xmlNodePtr grant, int *admin)
{
	xmlNodePtr p, q;
	int read = 0, write = 0;

	*admin = 0;
	for (p = grant ? grant->children : NULL; p; p = p->next) {
		if (!dav_is(p, NS_DAV, "privilege"))
			continue;
		for (q = p->children; q; q = q->next) {
			if (q->type != XML_ELEMENT_NODE || !q->ns ||
			    strcmp((const char *)q->ns->href, NS_DAV))
				continue;
			if (!strcmp((const char *)q->name, "all") ||
			    !strcmp((const char *)q->name, "write-acl"))
				*admin = 1;
			if (!strcmp((const char *)q->name, "all") ||
			    !strcmp((const char *)q->name, "write") ||
			    !strcmp((const char *)q->name, "write-content") ||
			    !strcmp((const char *)q->name, "bind"))
				write = 1;
			else if (!strcmp((const char *)q->name, "read"))
				read = 1;
		}
	}
	return write ? "read-write" : read ? "read" : NULL;
}

static void
from_acl(json_t *v, xmlNodePtr acl, const char *principal, const char *user,
    json_t *lost)
{
	xmlNodePtr ace, who;

	for (ace = acl ? acl->children : NULL; ace; ace = ace->next) {
		xmlNodePtr prin = dav_child(ace, NS_DAV, "principal");
		int admin;
		const char *access = access_of(dav_child(ace, NS_DAV,
		    "grant"), &admin);
		char *href, *id;

		if (!dav_is(ace, NS_DAV, "ace") || !prin || !access ||
		    dav_child(ace, NS_DAV, "inherited") ||
		    dav_child(prin, NS_DAV, "self"))
			continue;
		if (!(href = dav_href_in(prin))) {
			for (who = prin->children; who; who = who->next)
				if (who->type == XML_ELEMENT_NODE)
					break;
			if (lost)
				json_array_append_new(lost, json_sprintf(
				    "%s may %s: only grants to one account are"
				    " carried", who ? (const char *)who->name :
				    "?", access));
			continue;
		}
		id = dav_share_id(href);
		if (admin && lost && !is_owner(id, principal, user))
			json_array_append_new(lost, json_sprintf("%s may also"
			    " change who shares it: carried as read-write",
			    id));
		add(v, id, access, principal, user);
		free(id);
		free(href);
	}
}

static int
by_who(const void *a, const void *b)
{
	return strcasecmp(json_string_value(json_object_get(*(json_t *const *)
	    a, "who")), json_string_value(json_object_get(*(json_t *const *)b,
	    "who")));
}

json_t *
dav_shares_of(const struct dav_resp *r, const char *principal,
    const char *user, json_t *lost)
{
	json_t *v = json_array(), *out, **e;
	size_t i, n;

	from_invite(v, dav_prop(r, NS_DAV, "invite"), 0, principal, user);
	if (!json_array_size(v))
		from_invite(v, dav_prop(r, NS_CS, "invite"), 1, principal,
		    user);
	if (!json_array_size(v))
		from_acl(v, dav_prop(r, NS_DAV, "acl"), principal, user, lost);
	n = json_array_size(v);
	e = xcalloc(n ? n : 1, sizeof(*e));
	for (i = 0; i < n; i++)
		e[i] = json_array_get(v, i);
	qsort(e, n, sizeof(*e), by_who);
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append(out, e[i]);
	free(e);
	json_decref(v);
	return out;
}

int
dav_shares_by_post(const struct dav_resp *r)
{
	return dav_prop(r, NS_DAV, "share-access") != NULL;
}
