#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "log.h"
#include "helper.h"
#include "push.h"
#include "xalloc.h"

static const struct {
	const char *special, *role;
} roles[] = {
	{ "\\Sent", "sent" },
	{ "\\Drafts", "drafts" },
	{ "\\Trash", "trash" },
	{ "\\Junk", "junk" },
	{ "\\Archive", "archive" },
	{ "\\All", "all" },
	{ "\\Flagged", "flagged" },
	{ "\\Important", "important" },
};

struct mbctx {
	struct push *p;
	json_t *list;		/* Mailbox/get's, kept up to date */
};

static void
map_add(struct push *p, const char *folder, const char *id)
{
	ALLOC_GROW(p->map, p->nr_map + 1, p->alloc_map);
	p->map[p->nr_map].folder = xstrdup(folder);
	p->map[p->nr_map++].id = xstrdup(id);
}

static const char *
role_of(const struct arc_folder *f)
{
	size_t i;

	if (!strcmp(f->name, "INBOX"))
		return "inbox";
	for (i = 0; i < ARRAY_SIZE(roles); i++)
		if (strstr(f->special, roles[i].special))
			return roles[i].role;
	return NULL;
}

static json_t *
find_mb(json_t *list, const char *key, const char *value,
    const char *parent, int match_parent)
{
	size_t i;
	json_t *m;

	json_array_foreach(list, i, m) {
		const char *v = json_string_value(json_object_get(m, key));
		const char *pv = json_string_value(json_object_get(m,
		    "parentId"));

		if (!v || strcmp(v, value))
			continue;
		if (match_parent && (parent ? !pv || strcmp(pv, parent) :
		    pv != NULL))
			continue;
		return m;
	}
	return NULL;
}

static int
load(struct mbctx *c, struct buf *err)
{
	json_t *calls, *resp, *r;
	int ret = -1;

	calls = json_pack("[[s, {s:s, s:[s, s, s, s, s]}, s]]", "Mailbox/get",
	    "accountId", c->p->j->account_id, "properties", "id", "name",
	    "parentId", "role", "isSubscribed", "0");
	if (jmap_call(c->p->j, calls, NULL, &resp, err) < 0)
		goto out;
	r = jmap_response(resp, "0", NULL);
	if (!json_is_array(json_object_get(r, "list"))) {
		jmap_call_failed(c->p->j, resp, "0", "Mailbox/get", err);
		json_decref(resp);
		goto out;
	}
	json_decref(c->list);
	c->list = json_incref(json_object_get(r, "list"));
	json_decref(resp);
	ret = 0;
out:
	json_decref(calls);
	return ret;
}

/*
 * Mailbox/set one change: create (id NULL) or update.  Returns the id, or
 * NULL with `why` set to the server's reason when it refused.
 */
static char *
mb_set(struct mbctx *c, const char *id, json_t *props, struct buf *why,
    struct buf *err, int *fatal)
{
	struct push *p = c->p;
	json_t *calls, *resp = NULL, *r, *bad;
	char *out = NULL;

	*fatal = 0;
	if (id)
		calls = json_pack("[[s, {s:s, s:{s:O}}, s]]", "Mailbox/set",
		    "accountId", p->j->account_id, "update", id, props, "0");
	else
		calls = json_pack("[[s, {s:s, s:{s:O}}, s]]", "Mailbox/set",
		    "accountId", p->j->account_id, "create", "m", props, "0");
	if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
		*fatal = 1;
		goto out;
	}
	r = jmap_response(resp, "0", NULL);
	if (id && json_object_get(json_object_get(r, "updated"), id)) {
		out = xstrdup(id);
	} else if (!id && json_string_value(json_object_get(json_object_get(
	    json_object_get(r, "created"), "m"), "id"))) {
		out = xstrdup(json_string_value(json_object_get(
		    json_object_get(json_object_get(r, "created"), "m"),
		    "id")));
	} else {
		bad = json_object_get(json_object_get(r, id ? "notUpdated" :
		    "notCreated"), id ? id : "m");
		if (!bad)
			bad = r;
		buf_addf(why, "%s", json_string_value(json_object_get(bad,
		    "type")) ? json_string_value(json_object_get(bad, "type")) :
		    "refused");
		if (json_string_value(json_object_get(bad, "description")))
			buf_addf(why, ": %s", json_string_value(
			    json_object_get(bad, "description")));
	}
out:
	json_decref(calls);
	json_decref(resp);
	return out;
}

/* A name the destination refused, made plain: "a/b" -> "a_b (renamed)". */
static void
plain_name(struct buf *name)
{
	size_t i;

	for (i = 0; i < name->len; i++)
		if (!isalnum((unsigned char)name->buf[i]) &&
		    !(name->buf[i] & 0x80) && name->buf[i] != ' ')
			name->buf[i] = '_';
	buf_adds(name, " (renamed)");
}

/*
 * Whether `have`, a mailbox's name on the destination, is one that
 * create() gives a folder named `leaf`: itself, or with " (migrated)",
 * either made plain.  Any other is a rename at the source.
 */
static int
named_for(const char *have, const char *leaf)
{
	struct buf b = BUF_INIT;
	int i, same = 0;

	for (i = 0; i < 4 && !same; i++) {
		buf_reset(&b);
		buf_adds(&b, leaf);
		if (i & 1)
			buf_adds(&b, " (migrated)");
		if (i & 2)
			plain_name(&b);
		same = !strcmp(have, b.buf);
	}
	buf_release(&b);
	return same;
}

/*
 * Create a mailbox under `parent`; clashes and refusals are anomalies.
 * The folder is recorded as pending first, so that a run killed between
 * the create and its record adopts the mailbox it made, on the next run,
 * instead of taking it for somebody else's.
 */
static char *
create(struct mbctx *c, const char *folder, const char *leaf,
    const char *parent, const char *role, int subscribed, struct buf *err)
{
	struct push *p = c->p;
	struct buf name = BUF_INIT, why = BUF_INIT;
	json_t *props, *m;
	char *id = NULL, *pending = arcidx_push_mailbox(p->ix, folder);
	int fatal, attempt;

	if (!pending && arcidx_push_set_mailbox(p->ix, folder, "", err) < 0)
		return NULL;
	buf_adds(&name, leaf);
	for (attempt = 0; attempt < 2 && !id; attempt++) {
		m = find_mb(c->list, "name", name.buf, parent, 1);
		if (m && pending && !*pending) {
			/* ours, made by a run that died before recording it */
			id = xstrdup(json_string_value(json_object_get(m,
			    "id")));
			break;
		}
		if (m && attempt == 0) {
			const char *r = json_string_value(json_object_get(m,
			    "role"));

			/* the user's own Sent, without special use here */
			if (r && !role) {
				id = xstrdup(json_string_value(
				    json_object_get(m, "id")));
				break;
			}
			/*
			 * a mailbox holding nothing but this archive's mail
			 * was made by a migration whose state is lost (or by
			 * the user, empty): adopted, never cloned
			 */
			switch (push_mailbox_adoptable(p, json_string_value(
			    json_object_get(m, "id")), err)) {
			case 1:
				id = xstrdup(json_string_value(
				    json_object_get(m, "id")));
				log_info("mailbox '%s' is on the destination"
				    " already, with none but this account's"
				    " mail: adopted", name.buf);
				goto adopted;
			case -1:
				goto out;
			}
			helper_anomaly("folder-name-clash", folder, 0,
			    "the destination already has a mailbox '%s' that"
			    " holds other mail; using '%s (migrated)'",
			    name.buf, name.buf);
			buf_adds(&name, " (migrated)");
			m = find_mb(c->list, "name", name.buf, parent, 1);
		}
		if (m) {
			/* made by an earlier run whose record was lost */
			id = xstrdup(json_string_value(json_object_get(m,
			    "id")));
			break;
		}
		props = json_pack("{s:s, s:o, s:b}", "name", name.buf,
		    "parentId", parent ? json_string(parent) : json_null(),
		    "isSubscribed", subscribed);
		if (role && !find_mb(c->list, "role", role, NULL, 0))
			json_object_set_new(props, "role", json_string(role));
		buf_reset(&why);
		id = mb_set(c, NULL, props, &why, err, &fatal);
		json_decref(props);
		if (fatal)
			goto out;
		if (!id && attempt == 0) {
			helper_anomaly("folder-name-refused", folder, 0,
			    "the destination refused the name '%s' (%s);"
			    " trying a plain one", name.buf, why.buf);
			plain_name(&name);
		}
	}
	if (!id) {
		helper_anomaly("folder-not-created", folder, 0,
		    "the destination refused mailbox '%s': %s", name.buf,
		    why.buf);
		goto out;
	}
	p->mailboxes_created++;
adopted:
	if (load(c, err) < 0) {
		free(id);
		id = NULL;
	}
out:
	free(pending);
	buf_release(&name);
	buf_release(&why);
	return id;
}

static char *
role_id(json_t *list, const char *role)
{
	json_t *m = find_mb(list, "role", role, NULL, 0);

	return m ? xstrdup(json_string_value(json_object_get(m, "id"))) :
	    NULL;
}

static int
depth(const struct arc_folder *f)
{
	const char *s;
	int d = 0;

	if (!f->sep)
		return 0;
	for (s = f->name; *s; s++)
		d += *s == f->sep;
	return d;
}

static int
cmp_depth(const void *a, const void *b)
{
	const struct arc_folder *x = a, *y = b;
	int dx = depth(x), dy = depth(y);

	return dx != dy ? dx - dy : strcmp(x->name, y->name);
}

/* The mailbox of a folder path, made (plain) if the archive lacks it. */
static const char *
parent_of(struct mbctx *c, const char *path, char sep, struct buf *err)
{
	struct push *p = c->p;
	const char *id, *slash, *pid = NULL;
	struct buf parent = BUF_INIT;
	char *made;

	if (!*path)
		return NULL;
	if ((id = map_folder(p, path)))
		return id;
	if ((slash = strrchr(path, sep))) {
		buf_add(&parent, path, (size_t)(slash - path));
		pid = parent_of(c, parent.buf, sep, err);
		if (!pid && err->len)
			goto out;
	}
	made = create(c, path, slash ? slash + 1 : path, pid, NULL, 1, err);
	if (made) {
		map_add(p, path, made);
		arcidx_push_set_mailbox(p->ix, path, made, err);
		free(made);
	}
	id = map_folder(p, path);
out:
	buf_release(&parent);
	return id;
}

static int
folder_to_mailbox(struct mbctx *c, const struct arc_folder *f,
    struct buf *err)
{
	struct push *p = c->p;
	const char *role = role_of(f), *leaf = f->name, *pid = NULL, *slash;
	struct buf parent = BUF_INIT;
	char *id = arcidx_push_mailbox(p->ix, f->name);
	json_t *m = NULL;
	int ret = -1;

	if (f->sep && (slash = strrchr(f->name, f->sep))) {
		buf_add(&parent, f->name, (size_t)(slash - f->name));
		leaf = slash + 1;
		pid = parent_of(c, parent.buf, f->sep, err);
		if (!pid && err->len)
			goto out;
	}
	if (id && !*id) {
		/* pending: create() adopts what a killed run made */
		free(id);
		id = NULL;
	} else if (id && !(m = find_mb(c->list, "id", id, NULL, 0)) &&
	    p->after_cutover) {
		/* the user's to delete, after the flip: not made again */
		helper_anomaly("mailbox-deleted", f->name, 0, "deleted on"
		    " the destination since the cutover; not made again");
		p->user_changed++;
		ret = 0;
		goto out;
	} else if (id && !m) {
		log_info("mailbox of '%s' is gone from the destination;"
		    " making it again", f->name);
		free(id);
		id = NULL;
	}
	if (!id && role && (m = find_mb(c->list, "role", role, NULL, 0)))
		id = xstrdup(json_string_value(json_object_get(m, "id")));
	if (!id) {
		id = create(c, f->name, leaf, pid, role, f->subscribed, err);
		if (!id) {
			ret = err->len ? -1 : 0;
			goto out;
		}
	} else if (m && !json_is_string(json_object_get(m, "role")) &&
	    (!named_for(json_string_value(json_object_get(m, "name")), leaf) ||
	    (pid ? !json_is_string(json_object_get(m, "parentId")) ||
	    strcmp(json_string_value(json_object_get(m, "parentId")), pid) :
	    !json_is_null(json_object_get(m, "parentId"))))) {
		/* renamed or moved at the source since the last push */
		struct buf why = BUF_INIT;
		json_t *props = json_pack("{s:s, s:o}", "name", leaf,
		    "parentId", pid ? json_string(pid) : json_null());
		int fatal;
		char *done = mb_set(c, id, props, &why, err, &fatal);

		json_decref(props);
		if (fatal)
			goto out;
		if (!done)
			helper_anomaly("folder-not-renamed", f->name, 0,
			    "the destination refused: %s", why.buf);
		free(done);
		buf_release(&why);
		if (load(c, err) < 0)
			goto out;
	}
	map_add(p, f->name, id);
	if (arcidx_push_set_mailbox(p->ix, f->name, id, err) < 0)
		goto out;
	ret = 0;
out:
	free(id);
	buf_release(&parent);
	return ret;
}

int
push_mailboxes(struct push *p, struct buf *err)
{
	struct mbctx c = { p, NULL };
	struct arc_folder *f;
	size_t i, nr;
	int ret = -1;

	if (arcidx_folders(p->ix, &f, &nr, err) < 0) {
		arc_folders_free(f, nr);
		return -1;
	}
	if (nr)
		qsort(f, nr, sizeof(*f), cmp_depth);
	if (load(&c, err) < 0)
		goto out;
	/* every create and rename loads the list again: it is current */
	for (i = 0; i < nr; i++)
		if (folder_to_mailbox(&c, &f[i], err) < 0)
			goto out;
	p->inbox_id = role_id(c.list, "inbox");
	p->trash_id = role_id(c.list, "trash");
	ret = 0;
out:
	json_decref(c.list);
	arc_folders_free(f, nr);
	return ret;
}
