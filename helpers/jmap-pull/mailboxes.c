/*
 * mailboxes.c: the source's mailboxes as the archive's folders.
 *
 * A folder is named by its mailbox's path ("/" between levels; the inbox
 * is INBOX whatever the server calls it) and keeps the mailbox id as its
 * raw name, so that a mailbox renamed at the source is a folder renamed
 * in the archive, with its messages, and a mailbox deleted and made anew
 * under the same name is a new folder.
 */
#include "compat.h"

#include "helper.h"
#include "jpull.h"
#include "log.h"
#include "xalloc.h"

#define MAX_DEPTH	64

static const struct {
	const char *role, *special;
} roles[] = {
	{ "all", "\\All" }, { "archive", "\\Archive" },
	{ "drafts", "\\Drafts" }, { "flagged", "\\Flagged" },
	{ "important", "\\Important" }, { "junk", "\\Junk" },
	{ "sent", "\\Sent" }, { "trash", "\\Trash" },
};

struct jfolder *
folder_by_id(struct jpull *p, const char *id)
{
	size_t i;

	for (i = 0; id && i < p->nr_folders; i++)
		if (!strcmp(p->folders[i].id, id))
			return &p->folders[i];
	return NULL;
}

void
folders_free(struct jpull *p)
{
	size_t i;

	for (i = 0; i < p->nr_folders; i++) {
		free(p->folders[i].id);
		free(p->folders[i].name);
		free(p->folders[i].special);
	}
	free(p->folders);
	p->folders = NULL;
	p->nr_folders = 0;
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* One level of a path: a "/" in a mailbox's name would make two. */
static void
add_level(struct jpull *p, struct buf *path, const char *name)
{
	size_t at = path->len;

	buf_adds(path, name);
	if (!strchr(name, '/'))
		return;
	for (; at < path->len; at++)
		if (path->buf[at] == '/')
			path->buf[at] = '_';
	helper_anomaly("folder-name", name, 0, "a mailbox name with '/' is"
	    " archived with '_' instead");
}

/* The path of mailbox `m` among `all` (id -> mailbox). */
static char *
mailbox_path(struct jpull *p, json_t *all, json_t *m)
{
	json_t *chain[MAX_DEPTH];
	struct buf path = BUF_INIT;
	size_t n = 0;

	while (m && n < MAX_DEPTH) {
		chain[n++] = m;
		m = json_object_get(all, jstr(m, "parentId") ?
		    jstr(m, "parentId") : "");
	}
	while (n--) {
		const char *role = jstr(chain[n], "role");

		if (path.len)
			buf_addch(&path, '/');
		if (role && !strcmp(role, "inbox") && !path.len)
			buf_adds(&path, "INBOX");
		else
			add_level(p, &path, jstr(chain[n], "name") ?
			    jstr(chain[n], "name") : "");
	}
	return buf_detach(&path, NULL);
}

static const struct arc_folder *
old_by_raw(struct jpull *p, const char *raw)
{
	size_t i;

	for (i = 0; i < p->nr_old; i++)
		if (!strcmp(p->old[i].raw, raw))
			return &p->old[i];
	return NULL;
}

static void
set_folders(struct jpull *p, json_t *all)
{
	const char *id;
	json_t *m;
	size_t k = 0, i;

	p->folders = xcalloc(json_object_size(all) + 1, sizeof(*p->folders));
	json_object_foreach(all, id, m) {
		struct jfolder *f = &p->folders[k++];
		const char *role = jstr(m, "role");

		f->id = xstrdup(id);
		f->name = mailbox_path(p, all, m);
		f->subscribed = json_is_true(json_object_get(m,
		    "isSubscribed"));
		for (i = 0; role && i < ARRAY_SIZE(roles); i++)
			if (!strcmp(role, roles[i].role))
				f->special = xstrdup(roles[i].special);
		f->old = old_by_raw(p, id);
		f->next_uid = f->old && f->old->uidnext ? f->old->uidnext : 1;
	}
	p->nr_folders = k;
}

/* The folders as the archive has them, when no mailbox changed. */
static void
folders_from_archive(struct jpull *p)
{
	size_t i;

	p->folders = xcalloc(p->nr_old + 1, sizeof(*p->folders));
	for (i = 0; i < p->nr_old; i++) {
		struct jfolder *f = &p->folders[i];

		f->id = xstrdup(p->old[i].raw);
		f->name = xstrdup(p->old[i].name);
		f->special = p->old[i].special && *p->old[i].special ?
		    xstrdup(p->old[i].special) : NULL;
		f->subscribed = p->old[i].subscribed;
		f->old = &p->old[i];
		f->next_uid = f->old->uidnext ? f->old->uidnext : 1;
	}
	p->nr_folders = p->nr_old;
}

/*
 * Delta: whether any mailbox changed since the last pass.  1 yes (or the
 * server cannot tell), 0 no, -1 on error.
 */
static int
mailboxes_changed(struct jpull *p, struct buf *err)
{
	json_t *calls, *resp = NULL, *r;
	const char *name;
	int ret = 1;

	calls = json_pack("[[s, {s:s, s:s}, s]]", "Mailbox/changes",
	    "accountId", p->j->account_id, "sinceState", p->mailbox_state,
	    "c");
	if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
		json_decref(calls);
		return helper_fail(p->j->fail);
	}
	json_decref(calls);
	r = jmap_response(resp, "c", &name);
	if (r && !strcmp(name, "Mailbox/changes") &&
	    !json_array_size(json_object_get(r, "created")) &&
	    !json_array_size(json_object_get(r, "updated")) &&
	    !json_array_size(json_object_get(r, "destroyed")) &&
	    !json_is_true(json_object_get(r, "hasMoreChanges")) &&
	    jstr(r, "newState")) {
		p->new_mailbox_state = xstrdup(jstr(r, "newState"));
		ret = 0;
	} else if (r && !strcmp(name, "error")) {
		log_info("Mailbox/changes: %s; reading every mailbox",
		    jstr(r, "type") ? jstr(r, "type") : "error");
	}
	json_decref(resp);
	return ret;
}

static int
mailboxes_get(struct jpull *p, json_t **all_r, struct buf *err)
{
	json_t *calls, *resp = NULL, *r, *m;
	const char *name;
	size_t i;

	calls = json_pack("[[s, {s:s, s:n, s:[s, s, s, s, s]}, s]]",
	    "Mailbox/get", "accountId", p->j->account_id, "ids",
	    "properties", "id", "name", "parentId", "role", "isSubscribed",
	    "m");
	if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
		json_decref(calls);
		return helper_fail(p->j->fail);
	}
	json_decref(calls);
	r = jmap_response(resp, "m", &name);
	if (!r || strcmp(name, "Mailbox/get") ||
	    !json_is_array(json_object_get(r, "list"))) {
		buf_addf(err, "Mailbox/get failed: %s", r && jstr(r, "type") ?
		    jstr(r, "type") : "no answer");
		json_decref(resp);
		return helper_fail(EX_PROTOCOL);
	}
	free(p->new_mailbox_state);
	p->new_mailbox_state = jstr(r, "state") ? xstrdup(jstr(r, "state")) :
	    NULL;
	*all_r = json_object();
	json_array_foreach(json_object_get(r, "list"), i, m)
		if (jstr(m, "id"))
			json_object_set(*all_r, jstr(m, "id"), m);
	json_decref(resp);
	return 0;
}

int
jpull_record(struct jpull *p, json_t *rec, struct buf *err)
{
	int ret = store_record(&p->st, rec, err);

	json_decref(rec);
	return ret;
}

static int
folder_record(struct jpull *p, const struct jfolder *f, struct buf *err)
{
	return jpull_record(p, json_pack("{s:s, s:s, s:s, s:s, s:[s?], s:b,"
	    " s:b, s:i}", "t", "folder", "name", f->name, "raw", f->id, "sep", "/",
	    "special", f->special, "subscribed", f->subscribed, "noselect", 0,
	    "uidvalidity", JPULL_UIDVALIDITY), err);
}

static int
same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Whether another current folder is still known by `name`. */
static int
name_held(struct jpull *p, const struct jfolder *self, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_folders; i++)
		if (&p->folders[i] != self && p->folders[i].old &&
		    !strcmp(p->folders[i].old->name, name))
			return 1;
	return 0;
}

static int
rename_folder(struct jpull *p, const char *from, const char *to,
    const char *id, struct buf *err)
{
	log_info("folder '%s' is now '%s'", from, to);
	return jpull_record(p, json_pack("{s:s, s:s, s:s, s:s}", "t",
	    "folder-rename", "from", from, "to", to, "raw", id), err);
}

/*
 * The records that make the archive's folders the mailboxes: deletions
 * first (a new mailbox may take a deleted one's name), then renames (by
 * way of a temporary name when two swap), then new and changed ones.
 */
static int
folder_records(struct jpull *p, struct buf *err)
{
	char **cur = xcalloc(p->nr_folders + 1, sizeof(*cur));
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < p->nr_old; i++)
		if (!folder_by_id(p, p->old[i].raw)) {
			log_info("folder '%s' is gone", p->old[i].name);
			ret = jpull_record(p, json_pack("{s:s, s:s}", "t",
			    "folder-delete", "name", p->old[i].name), err);
		}
	for (i = 0; !ret && i < p->nr_folders; i++) {
		struct jfolder *f = &p->folders[i];

		cur[i] = f->old ? xstrdup(f->old->name) : NULL;
		if (!f->old || !strcmp(f->old->name, f->name) ||
		    !name_held(p, f, f->name))
			continue;
		free(cur[i]);
		cur[i] = xasprintf(".migrate-rename/%s", f->id);
		ret = rename_folder(p, f->old->name, cur[i], f->id, err);
	}
	for (i = 0; !ret && i < p->nr_folders; i++) {
		struct jfolder *f = &p->folders[i];

		if (cur[i] && strcmp(cur[i], f->name)) {
			f->touched = 1;
			ret = rename_folder(p, cur[i], f->name, f->id, err);
		}
		if (!ret && (!f->old || !same(f->old->special, f->special) ||
		    f->old->subscribed != f->subscribed)) {
			f->touched = 1;
			ret = folder_record(p, f, err);
		}
	}
	for (i = 0; i < p->nr_folders; i++)
		free(cur[i]);
	free(cur);
	return ret;
}

int
mailboxes_sync(struct jpull *p, struct buf *err)
{
	json_t *all = NULL;
	int rc;

	if (!p->full && p->mailbox_state) {
		if ((rc = mailboxes_changed(p, err)) < 0)
			return -1;
		if (rc == 0) {
			folders_from_archive(p);
			return 0;
		}
	}
	if (mailboxes_get(p, &all, err) < 0)
		return -1;
	set_folders(p, all);
	json_decref(all);
	if (p->so.mode == STORE_ASSESS)
		return 0;
	return folder_records(p, err);
}
