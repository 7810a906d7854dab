/*
 * acl.c: who else may use each folder (RFC 4314), where the server has
 * the ACL extension.  GETACL of each folder the account owns; the
 * entries other than the account's own are recorded with the folder (a
 * "folder-acl" record, migrate-archive(5)) for the push to carry as
 * sharing, and counted in the assessment's report.  A folder whose ACL
 * the account may not read (no "a" right) is an anomaly, not an error.
 */
#include "compat.h"

#include <strings.h>

#include "helper.h"
#include "log.h"
#include "pull.h"
#include "xalloc.h"

struct acl_read {
	struct pull *p;
	struct folder *f;
};

/* The account's own entry: its login, or the name before the domain
 * when the server gives bare names. */
static int
own_entry(const struct pull *p, const char *id)
{
	const char *user = p->conn.user;
	size_t n = strcspn(user, "@");

	if (p->public_ns)
		return 0;	/* public folders: the login is one reader */
	if (!strcasecmp(id, user) || !strcasecmp(id, "owner"))
		return 1;
	return !strchr(id, '@') && strlen(id) == n &&
	    !strncasecmp(id, user, n);
}

/* "* ACL mailbox (identifier rights)*" */
static int
on_acl(void *arg, struct imap_resp *r, struct buf *err)
{
	struct acl_read *a = arg;
	const struct imap_val *v = &r->vals;
	size_t i;

	(void)err;
	if (v->nr < 2 || !imap_atom_is(&v->items[0], "ACL"))
		return 0;
	for (i = 2; i + 1 < v->nr; i += 2) {
		const struct imap_val *id = &v->items[i], *rights =
		    &v->items[i + 1];

		if ((id->type != IMAP_ATOM && id->type != IMAP_STRING) ||
		    (rights->type != IMAP_ATOM &&
		    rights->type != IMAP_STRING) || !id->str || !rights->str)
			continue;
		if (own_entry(a->p, id->str))
			continue;
		json_object_set_new(a->f->acl, id->str,
		    json_string(rights->str));
	}
	return 0;
}

int
sync_acls(struct pull *p, struct buf *err)
{
	struct buf cmd = BUF_INIT;
	struct acl_read a = { p, NULL };
	json_t *rec, *old;
	size_t i;
	int rc = 0, same;

	if (!(p->im->caps & IMAP_CAP_ACL))
		return 0;
	for (i = 0; i < p->nr_folders && rc >= 0; i++) {
		struct folder *f = &p->folders[i];

		if (f->noselect)
			continue;
		a.f = f;
		f->acl = json_object();
		buf_reset(&cmd);
		buf_adds(&cmd, "GETACL ");
		imap_quote(&cmd, f->raw);
		rc = imap_simple(p->im, on_acl, &a, err, "%s", cmd.buf);
		if (rc == 0) {
			helper_anomaly("acl-unreadable", f->name, 0, "%s",
			    err->buf);
			buf_reset(err);
			continue;
		}
		if (rc < 0)
			break;
		if (json_object_size(f->acl)) {
			p->shared_folders++;
			p->acl_entries += json_object_size(f->acl);
			log_info("folder '%s' is shared with %zu others",
			    f->name, json_object_size(f->acl));
		}
		if (p->so.mode == STORE_ASSESS)
			continue;
		/* a delta that finds nothing writes nothing */
		if (!(old = arcidx_folder_acl(p->st.ix, f->name, err))) {
			rc = -1;
			break;
		}
		same = json_equal(old, f->acl);
		json_decref(old);
		if (same)
			continue;
		rec = json_pack("{s:s, s:s, s:O}", "t", "folder-acl", "name",
		    f->name, "acl", f->acl);
		rc = store_record(&p->st, rec, err);
		json_decref(rec);
	}
	buf_release(&cmd);
	return rc < 0 ? -1 : 0;
}
