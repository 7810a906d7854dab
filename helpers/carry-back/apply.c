/*
 * Doing the plan at the source: folders created, emails appended with
 * their flags and dates, flags set, copies removed, folders the user
 * removed removed when nothing is left in them; then the user's own
 * emails recorded in the push state, as carried, so that a later push
 * takes them for what they are and imports nothing twice.
 */
#include "compat.h"

#include <time.h>

#include "back.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "xalloc.h"

static int
failed(struct back *b, int code)
{
	if (!b->im->lc.fail)
		b->im->lc.fail = code;
	return -1;
}

static int
create_folders(struct back *b, struct buf *err)
{
	struct buf cmd = BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < b->nr_folders; i++) {
		struct bfolder *f = &b->folders[i];

		if (f->uidvalidity || f->gone || !f->kept || !f->mailbox_id)
			continue;
		buf_reset(&cmd);
		imap_quote(&cmd, f->raw);
		rc = imap_simple(b->im, NULL, NULL, err, "CREATE %s", cmd.buf);
		if (rc < 0)
			break;
		if (rc == 0) {
			/* made by a run that was killed before it said so */
			log_info("CREATE %s: %s", f->name, err->buf);
			buf_reset(err);
		} else {
			b->created++;
		}
		imap_simple(b->im, NULL, NULL, err, "SUBSCRIBE %s", cmd.buf);
		buf_reset(err);
		if (arcidx_push_set_mailbox(b->ix, f->name, f->mailbox_id,
		    err) < 0) {
			rc = -1;
			break;
		}
		rc = 1;
	}
	buf_release(&cmd);
	return i < b->nr_folders ? failed(b, EX_TEMPFAIL) : 0;
}

static int
append_one(struct back *b, struct baction *a, struct buf *body,
    struct buf *err)
{
	struct bfolder *f = &b->folders[a->folder];
	struct buf cmd = BUF_INIT;
	const char *hash = json_string_value(json_object_get(b->identity,
	    a->email_id));
	unsigned tag;
	int rc;

	if (back_body(b, a->email_id, hash, body, err) < 0)
		return failed(b, EX_TEMPFAIL);
	if (memchr(body->buf, '\0', body->len)) {
		helper_anomaly("not-carried-back", f->name, 0, "email %s holds"
		    " a NUL byte, which IMAP APPEND cannot carry", a->email_id);
		return 0;
	}
	imap_quote(&cmd, f->raw);
	buf_addf(&cmd, " (%s)", a->flags);
	if (a->time >= 0) {
		time_t t = (time_t)a->time;
		struct tm tm;
		char when[64];

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%d-%b-%Y %H:%M:%S +0000", &tm);
		buf_addf(&cmd, " \"%s\"", when);
	}
	/* a synchronizing literal: the body goes at the server's '+' */
	buf_reset(&b->im->cmd);
	buf_add(&b->im->cmd, body->buf, body->len);
	buf_adds(&b->im->cmd, "\r\n");
	tag = imap_send(b->im, err, "APPEND %s {%zu}", cmd.buf, body->len);
	buf_release(&cmd);
	if (!tag)
		return -1;
	rc = imap_wait(b->im, tag, NULL, NULL, err);
	buf_release(&b->im->cmd);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		helper_anomaly("not-carried-back", f->name, 0, "the source"
		    " refused email %s: %s", a->email_id, err->buf);
		buf_reset(err);
		return 0;
	}
	a->done = 1;
	b->appended++;
	return 0;
}

static int
on_select(void *arg, struct imap_resp *r, struct buf *err)
{
	uint32_t *uv = arg;

	if (imap_atom_is(&r->code.items[0], "UIDVALIDITY") && r->code.nr > 1)
		*uv = (uint32_t)imap_number(&r->code.items[1]);
	(void)err;
	return 0;
}

static int
select_folder(struct back *b, struct bfolder *f, struct buf *err)
{
	struct buf name = BUF_INIT;
	uint32_t uv = 0;
	int rc;

	imap_quote(&name, f->raw);
	rc = imap_simple(b->im, on_select, &uv, err, "SELECT %s", name.buf);
	buf_release(&name);
	if (rc != 1)
		return failed(b, rc == 0 ? EX_TEMPFAIL : b->im->lc.fail);
	if (f->uidvalidity && uv != f->uidvalidity) {
		buf_addf(err, "%s: UIDVALIDITY is %u at the source, %u in the"
		    " archive: pull again first", f->name, uv, f->uidvalidity);
		return failed(b, EX_TEMPFAIL);
	}
	return 0;
}

/* The flags and removals of one folder, acts[from, to). */
static int
change_folder(struct back *b, size_t from, size_t to, struct buf *err)
{
	struct bfolder *f = &b->folders[b->acts[from].folder];
	uint32_t *gone = NULL;
	size_t i, n = 0, alloc = 0;
	struct buf set = BUF_INIT;
	int ret = -1;

	if (select_folder(b, f, err) < 0)
		return -1;
	for (i = from; i < to; i++) {
		struct baction *a = &b->acts[i];

		if (a->what == B_DELETE) {
			ALLOC_GROW(gone, n + 1, alloc);
			gone[n++] = a->uid;
			continue;
		}
		if (imap_simple(b->im, NULL, NULL, err, "UID STORE %u"
		    " FLAGS.SILENT (%s)", a->uid, a->flags) != 1)
			goto out;
		a->done = 1;
		b->flagged++;
	}
	if (n && !(b->im->caps & IMAP_CAP_UIDPLUS)) {
		helper_anomaly("not-carried-back", f->name, 0, "%zu messages"
		    " removed at the destination stay: the source has no"
		    " UIDPLUS, and EXPUNGE would take other messages", n);
		n = 0;
	}
	while (n) {
		size_t k = imap_format_set(&set, gone, n, 500);

		if (imap_simple(b->im, NULL, NULL, err, "UID STORE %s"
		    " +FLAGS.SILENT (\\Deleted)", set.buf) != 1 ||
		    imap_simple(b->im, NULL, NULL, err, "UID EXPUNGE %s",
		    set.buf) != 1)
			goto out;
		b->deleted += k;
		memmove(gone, gone + k, (n - k) * sizeof(*gone));
		n -= k;
		buf_reset(&set);
	}
	/* no CLOSE: it would expunge what the user flagged \Deleted */
	for (i = from; i < to; i++)
		b->acts[i].done = 1;
	ret = 0;
out:
	if (ret < 0 && !b->im->lc.fail)
		b->im->lc.fail = EX_TEMPFAIL;
	free(gone);
	buf_release(&set);
	return ret;
}

static int
on_status(void *arg, struct imap_resp *r, struct buf *err)
{
	long long *messages = arg;
	const struct imap_val *l;
	size_t i;

	if (!imap_atom_is(&r->vals.items[0], "STATUS") || r->vals.nr < 3)
		return 0;
	l = &r->vals.items[2];
	for (i = 0; l->type == IMAP_LIST && i + 1 < l->nr; i += 2)
		if (imap_atom_is(&l->items[i], "MESSAGES"))
			*messages = imap_number(&l->items[i + 1]);
	(void)err;
	return 0;
}

/* A folder whose mailbox the user removed, once nothing is left in it. */
static int
remove_folders(struct back *b, struct buf *err)
{
	struct buf name = BUF_INIT;
	size_t i, j;
	int ret = 0;

	for (i = b->nr_folders; i-- > 0;) {
		struct bfolder *f = &b->folders[i];
		size_t len = strlen(f->name);
		long long messages = -1;
		int child = 0;

		if (!f->gone || f->kept || !strcasecmp(f->name, "INBOX"))
			continue;
		for (j = 0; j < b->nr_folders; j++)
			child |= j != i && !b->folders[j].gone &&
			    !strncmp(b->folders[j].name, f->name, len) &&
			    b->folders[j].name[len] == b->sep;
		buf_reset(&name);
		imap_quote(&name, f->raw);
		if (imap_simple(b->im, on_status, &messages, err,
		    "STATUS %s (MESSAGES)", name.buf) != 1) {
			ret = failed(b, EX_TEMPFAIL);
			break;
		}
		if (messages != 0 || child) {
			helper_anomaly("folder-kept", f->name, 0, "its mailbox"
			    " was removed at the destination; the folder"
			    " stays at the source with %lld messages that"
			    " were never carried%s", messages, child ?
			    ", and folders under it" : "");
			continue;
		}
		if (imap_simple(b->im, NULL, NULL, err, "DELETE %s",
		    name.buf) != 1) {
			ret = failed(b, EX_TEMPFAIL);
			break;
		}
		b->removed_folders++;
	}
	buf_release(&name);
	return ret;
}

/* The user's own emails, now at the source too: carried, as if pushed. */
static int
record_news(struct back *b, struct buf *err)
{
	struct arc_unit *u, nu;
	size_t nr, i, x;
	int ret = 0;

	if (arcidx_push_units(b->ix, &u, &nr, err) < 0)
		return -1;
	if (arcidx_begin(b->ix, err) < 0) {
		arc_units_free(u, nr);
		return -1;
	}
	for (i = 0; i < b->nr_news && ret == 0; i++) {
		struct bnew *n = &b->news[i];
		int k = 0;
		size_t y;

		for (x = 0; x < b->nr_acts; x++)
			if (b->acts[x].what == B_APPEND && !b->acts[x].done &&
			    !strcmp(b->acts[x].email_id, n->email_id))
				break;
		if (x < b->nr_acts)
			continue;	/* not at the source */
		for (x = 0; x < nr; x++)
			if (!strcmp(u[x].hash, n->hash) && u[x].k >= k)
				k = u[x].k + 1;
		for (y = 0; y < i; y++)	/* and after the new ones before */
			k += b->news[y].recorded &&
			    !strcmp(b->news[y].hash, n->hash);
		memset(&nu, 0, sizeof(nu));
		memcpy(nu.hash, n->hash, sizeof(nu.hash));
		nu.k = k;
		nu.state = "done";
		nu.email_id = n->email_id;
		nu.mailboxes = n->mailboxes;
		nu.keywords = n->keywords;
		ret = arcidx_push_set(b->ix, &nu, err);
		n->recorded = ret == 0;
		b->recorded += ret == 0;
	}
	if (arcidx_commit(b->ix, err) < 0)
		ret = -1;
	arc_units_free(u, nr);
	return ret;
}

int
back_apply(struct back *b, struct buf *err)
{
	struct buf body = BUF_INIT;
	size_t i, j;
	int ret = -1;

	if (create_folders(b, err) < 0)
		goto out;
	for (i = 0; i < b->nr_acts && b->acts[i].what == B_APPEND; i++)
		if (append_one(b, &b->acts[i], &body, err) < 0)
			goto out;
	buf_release_wipe(&body);
	while (i < b->nr_acts) {
		for (j = i; j < b->nr_acts &&
		    b->acts[j].folder == b->acts[i].folder; j++)
			;
		if (change_folder(b, i, j, err) < 0)
			goto out;
		i = j;
	}
	if (remove_folders(b, err) < 0 || record_news(b, err) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&body);
	return ret;
}
