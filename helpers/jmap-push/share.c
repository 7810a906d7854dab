/*
 * share.c: who else may use each folder, carried as JMAP sharing.
 *
 * The archive holds each folder's ACL as the source gave it (RFC 4314
 * letters per identifier, a "folder-acl" record).  Here each becomes the
 * mailbox's shareWith, in the vocabulary the destination speaks:
 *
 *   urn:ietf:params:jmap:mail:share	MailboxRights, one right per
 *					letter group (Stalwart; the JMAP
 *					Mail Sharing draft)
 *   https://cyrusimap.org/ns/jmap/mail	mayRead, mayWrite, mayAdmin
 *					(Cyrus 3.6), coarser
 *
 * A right the vocabulary cannot say is named in an anomaly, never widened
 * silently.  An identifier that is not an account of the destination yet
 * (not in --share-ready) is pending: its entry is left out, named in the
 * done event, and a later run, once that account arrives, writes it.
 * Keys are the grantee's login, or its principal id where the server has
 * urn:ietf:params:jmap:principals.
 */
#include "compat.h"

#include <strings.h>

#include "helper.h"
#include "log.h"
#include "push.h"
#include "shareready.h"
#include "xalloc.h"

#define CAP_SHARE	"urn:ietf:params:jmap:mail:share"
#define CAP_PRINCIPALS	"urn:ietf:params:jmap:principals"
#define CAP_CYRUS	"https://cyrusimap.org/ns/jmap/mail"

enum vocab { V_NONE, V_SHARE, V_CYRUS };

/* One right and the letters that must all be there to grant it; what it
 * grants, as letters, when that is more (Cyrus's bundles). */
struct right {
	const char *name, *needs, *grants;
};

static const struct right share_rights[] = {
	{ "mayReadItems", "r", "lr" },
	{ "mayAddItems", "i", NULL },
	{ "mayRemoveItems", "te", NULL },
	{ "mayCreateChild", "k", NULL },
	{ "mayRename", "x", NULL },
	{ "mayDelete", "x", NULL },
	{ "maySubmit", "p", NULL },
	{ "maySetSeen", "s", NULL },
	{ "maySetKeywords", "w", NULL },
	{ "mayShare", "a", NULL },
	{ NULL, NULL, NULL },
};

static const struct right cyrus_rights[] = {
	{ "mayRead", "r", "lrs" },
	{ "mayWrite", "wite", "lrswitedn" },
	{ "mayAdmin", "a", NULL },
	{ NULL, NULL, NULL },
};

struct share {
	struct push *p;
	enum vocab v;
	int principals;
	const char *using[4];
	struct share_ready ready;
	json_t *keys;		/* destination login -> key in shareWith */
};

static int
has_cap(struct jmap *j, const char *cap)
{
	json_t *acct = json_object_get(json_object_get(j->session, "accounts"),
	    j->account_id);

	return json_object_get(json_object_get(j->session, "capabilities"),
	    cap) || json_object_get(json_object_get(acct,
	    "accountCapabilities"), cap);
}

/* The principal id of `login` on a server with principals; NULL when it
 * has none yet, or on error (-1 in *rc). */
static char *
principal_of(struct share *sh, const char *login, int *rc, struct buf *err)
{
	static const char *const using[] = { "urn:ietf:params:jmap:core",
	    CAP_PRINCIPALS, NULL };
	json_t *calls, *resp = NULL, *r;
	char *id = NULL;

	calls = json_pack("[[s, {s:s, s:{s:s}}, s]]", "Principal/query",
	    "accountId", sh->p->j->account_id, "filter", "email", login, "0");
	*rc = 0;
	if (jmap_call(sh->p->j, calls, using, &resp, err) < 0) {
		*rc = -1;
	} else if (!json_is_array(json_object_get((r = jmap_response(resp,
	    "0", NULL)), "ids"))) {
		*rc = jmap_call_failed(sh->p->j, resp, "0", "Principal/query",
		    err);
	} else if (json_string_value(json_array_get(json_object_get(r,
	    "ids"), 0))) {
		id = xstrdup(json_string_value(json_array_get(
		    json_object_get(r, "ids"), 0)));
	}
	json_decref(calls);
	json_decref(resp);
	return id;
}

/* The shareWith key of identifier `id`: NULL when pending (then
 * *pending), or when the identifier names no one account. */
static const char *
key_of(struct share *sh, const char *id, int *pending, int *rc,
    struct buf *err)
{
	const char *login, *key;
	char *own, *pid;

	*pending = 0;
	if (share_not_one(id))
		return NULL;
	if (!(login = share_ready_dest(&sh->ready, id, &own))) {
		*pending = 1;
		return NULL;
	}
	/* each login is looked up once: found (its key) or not (false) */
	if (!json_object_get(sh->keys, login)) {
		if (!sh->principals) {
			json_object_set_new(sh->keys, login,
			    json_string(login));
		} else if ((pid = principal_of(sh, login, rc, err))) {
			json_object_set_new(sh->keys, login, json_string(pid));
			free(pid);
		} else if (*rc == 0) {
			json_object_set_new(sh->keys, login, json_false());
		}
	}
	key = json_string_value(json_object_get(sh->keys, login));
	*pending = !key && *rc == 0;
	free(own);
	return key;
}

/* RFC 2086's c and d, as RFC 4314 2.1.1 reads them. */
static void
letters_of(const char *rights, char *have, size_t size)
{
	size_t n = 0;
	const char *c;

	for (c = rights; *c && n + 3 < size; c++) {
		if (*c == 'd')
			n += (size_t)snprintf(have + n, size - n, "te");
		else if (*c == 'c')
			have[n++] = 'k';
		else
			have[n++] = *c;
	}
	have[n] = '\0';
}

static int
all_in(const char *needs, const char *have)
{
	for (; *needs; needs++)
		if (!strchr(have, *needs))
			return 0;
	return 1;
}

/* The rights object for `rights`; what it leaves out, and what it gives
 * beyond them, as letters. */
static json_t *
rights_of(const struct share *sh, const char *rights, struct buf *lost,
    struct buf *more)
{
	const struct right *t = sh->v == V_SHARE ? share_rights : cyrus_rights;
	char have[64], gave[64] = "";
	json_t *o = json_object();
	const char *c;
	size_t n = 0;

	letters_of(rights, have, sizeof(have));
	for (; t->name; t++) {
		int yes = all_in(t->needs, have);

		json_object_set_new(o, t->name, json_boolean(yes));
		for (c = yes ? (t->grants ? t->grants : t->needs) : ""; *c &&
		    n + 1 < sizeof(gave); c++)
			if (!strchr(gave, *c))
				gave[n++] = *c;
	}
	for (c = have; *c; c++)
		if (!strchr(gave, *c) && !(*c == 'l' && strchr(gave, 'r')))
			buf_addch(lost, *c);
	for (c = gave; *c; c++)
		if (!strchr(have, *c))
			buf_addch(more, *c);
	return o;
}

/* shareWith for one folder's ACL. */
static json_t *
share_with(struct share *sh, const char *folder, json_t *acl, int *rc,
    struct buf *err)
{
	json_t *with = json_object(), *rights;
	struct buf lost = BUF_INIT, more = BUF_INIT;
	const char *id, *key;
	int pending;

	json_object_foreach(acl, id, rights) {
		key = key_of(sh, id, &pending, rc, err);
		if (*rc < 0)
			break;
		if (pending) {
			log_info("folder '%s': '%s' is not on the destination"
			    " yet; pending", folder, id);
			share_pending_add(sh->p->shares_pending, id);
			continue;
		}
		if (!key) {
			helper_anomaly("share-unsupported", folder, 0, "'%s'"
			    " names no one account; its rights '%s' are not"
			    " carried", id, json_string_value(rights));
			continue;
		}
		buf_reset(&lost);
		buf_reset(&more);
		json_object_set_new(with, key, rights_of(sh,
		    json_string_value(rights), &lost, &more));
		if (lost.len)
			helper_anomaly("share-right-lost", folder, 0, "'%s' had"
			    " '%s'; the destination cannot say '%s'", id,
			    json_string_value(rights), lost.buf);
		if (more.len)
			helper_anomaly("share-right-widened", folder, 0, "'%s'"
			    " had '%s'; the destination's nearest right also"
			    " gives '%s'", id, json_string_value(rights),
			    more.buf);
	}
	buf_release(&lost);
	buf_release(&more);
	return with;
}

/*
 * The update of `with`: the whole shareWith before the cutover; after
 * it, where the user may have shared or unshared on the destination, a
 * patch of each grantee alone (RFC 8620 5.3, its key a JSON pointer
 * token), or NULL when there is none.
 */
static json_t *
share_update(const struct push *p, json_t *with)
{
	json_t *u = json_object(), *rights;
	struct buf path = BUF_INIT;
	const char *key, *c;

	if (!p->after_cutover) {
		json_object_set(u, "shareWith", json_object_size(with) ? with :
		    json_null());
		return u;
	}
	json_object_foreach(with, key, rights) {
		buf_reset(&path);
		buf_adds(&path, "shareWith/");
		for (c = key; *c; c++)
			buf_adds(&path, *c == '~' ? "~0" : *c == '/' ? "~1" :
			    (char[]){ *c, 0 });
		json_object_set(u, path.buf, rights);
	}
	buf_release(&path);
	if (!json_object_size(u)) {
		json_decref(u);
		return NULL;
	}
	return u;
}

/* 1 when the destination took it, 0 when it refused (an anomaly) */
static int
set_share(struct share *sh, const char *folder, const char *mbox,
    json_t *with, struct buf *err)
{
	struct push *p = sh->p;
	json_t *calls, *resp = NULL, *r, *u = share_update(p, with);
	int rc = 0;

	if (!u)
		return 0;
	calls = json_pack("[[s, {s:s, s:{s:o}}, s]]", "Mailbox/set",
	    "accountId", p->j->account_id, "update", mbox, u, "0");
	if (jmap_call(p->j, calls, sh->using, &resp, err) < 0) {
		rc = -1;
	} else if (!json_object_get(json_object_get((r = jmap_response(resp,
	    "0", NULL)), "updated"), mbox)) {
		json_t *bad = json_object_get(json_object_get(r, "notUpdated"),
		    mbox);

		if (!bad)
			rc = jmap_call_failed(p->j, resp, "0", "Mailbox/set",
			    err);
		else
			helper_anomaly("share-refused", folder, 0, "the"
			    " destination refused its sharing: %s",
			    json_string_value(json_object_get(bad, "type")) ?
			    json_string_value(json_object_get(bad, "type")) :
			    "refused");
	} else {
		p->shares_set++;
		rc = 1;
	}
	json_decref(calls);
	json_decref(resp);
	return rc;
}

/*
 * Before the cutover the source's ACL is the truth: a mailbox gets its
 * sharing when it differs from what this push gave it last, and loses it
 * when the source no longer shares the folder.  After the cutover the
 * grantees are added one by one, and nothing is taken away.
 */
static int
share_folder(struct share *sh, const struct folder_map *m, json_t *with,
    struct buf *err)
{
	struct arcidx *ix = sh->p->ix;
	json_t *last;
	int same, rc;

	if (sh->p->after_cutover)
		return json_object_size(with) && set_share(sh, m->folder,
		    m->id, with, err) < 0 ? -1 : 0;
	if (arcidx_push_share(ix, m->folder, m->id, &last, err) < 0)
		return -1;
	same = last ? json_equal(last, with) : !json_object_size(with);
	json_decref(last);
	if (same)
		return 0;
	if ((rc = set_share(sh, m->folder, m->id, with, err)) != 1)
		return rc;
	return arcidx_push_set_share(ix, m->folder, m->id, with, err);
}

static void
share_free(struct share *sh)
{
	share_ready_free(&sh->ready);
	json_decref(sh->keys);
}

int
push_shares(struct push *p, struct buf *err)
{
	struct share sh = { p, V_NONE, 0, { "urn:ietf:params:jmap:core",
	    "urn:ietf:params:jmap:mail", NULL, NULL }, { NULL, -1, NULL },
	    NULL };
	json_t *acl, *with;
	size_t i;
	int rc = 0;

	sh.v = has_cap(p->j, CAP_SHARE) ? V_SHARE : has_cap(p->j, CAP_CYRUS) ?
	    V_CYRUS : V_NONE;
	sh.using[2] = sh.v == V_SHARE ? CAP_SHARE : CAP_CYRUS;
	sh.principals = sh.v == V_SHARE && has_cap(p->j, CAP_PRINCIPALS);
	sh.keys = json_object();
	if (share_ready_load(&sh.ready, p->share_ready, p->jo.http.user,
	    err) < 0) {
		p->j->fail = EX_CONFIG;	/* no retry mends it */
		share_free(&sh);
		return -1;
	}
	p->shares_ready = sh.ready.nr;
	for (i = 0; i < p->nr_map && rc == 0; i++) {
		if (!(acl = arcidx_folder_acl(p->ix, p->map[i].folder, err))) {
			rc = -1;
			break;
		}
		if (json_object_size(acl) && sh.v == V_NONE) {
			helper_anomaly("share-unsupported", p->map[i].folder, 0,
			    "the destination has no JMAP sharing; %zu entries"
			    " of its ACL are not carried",
			    json_object_size(acl));
		} else if (sh.v != V_NONE) {
			with = share_with(&sh, p->map[i].folder, acl, &rc, err);
			if (rc == 0)
				rc = share_folder(&sh, &p->map[i], with, err);
			json_decref(with);
		}
		json_decref(acl);
	}
	share_free(&sh);
	return rc;
}
