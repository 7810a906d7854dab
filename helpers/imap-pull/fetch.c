/*
 * fetch.c: fetching the bodies a plan wants, over one connection,
 * into the archive.
 */
#include "compat.h"

#include <fnmatch.h>
#include <strings.h>
#include <time.h>

#include "evline.h"
#include "helper.h"
#include "log.h"
#include "pull.h"
#include "utf7.h"
#include "xalloc.h"

/* Fetching bodies, on any of the run's connections */

struct fetching {
	struct conn *c;
	struct folder *f;
	size_t next;		/* f->fetch[] index of the next to ask for */
	size_t got;
};

static void
divert_body(void *arg, const struct imap_resp *sofar,
    const struct imap_val *list, size_t len, imap_sink_fn *sink_r,
    void **sarg_r)
{
	struct fetching *fx = arg;

	if (list->nr && imap_atom_is(&list->items[list->nr - 1], "BODY[]")) {
		spool_begin(&fx->c->sp);
		*sink_r = spool_sink;
		*sarg_r = &fx->c->sp;
	}
}

/* Store a body and its message; called with the run's lock held. */
static int
store_message(struct fetching *fx, const struct fetched *x,
    const struct msginfo *m, struct buf *err)
{
	struct pull *p = fx->c->p;
	struct spool *sp = &fx->c->sp;
	struct folder *f = fx->f;
	json_t *rec;
	int known;

	if (x->size >= 0 && (uint64_t)x->size != sp->len)
		helper_anomaly("size-mismatch", f->name, m->uid,
		    "RFC822.SIZE says %lld bytes, the body has %" PRIu64,
		    x->size, sp->len);
	if (!sp->len)
		helper_anomaly("empty-message", f->name, m->uid,
		    "the message has no bytes at all");
	if ((known = store_has_blob(&p->st, sp->hash)) < 0) {
		buf_adds(err, "cannot read the archive's index");
		return -1;
	}
	if (!known) {
		size_t hlen;
		const char *head = spool_head(sp, &hlen);
		char *mid = store_header_mid(head, hlen);
		int rc;

		rec = json_pack("{s:s, s:s, s:I, s:s?, s:I}", "t", "blob",
		    "hash", sp->hash, "size", (json_int_t)sp->len, "mid", mid,
		    "time", (json_int_t)(x->date ? x->time : m->time));
		free(mid);
		rc = store_blob(&p->st, sp, rec, err);
		json_decref(rec);
		if (rc < 0)
			return -1;
	}
	if (msg_record(p, f, m->uid, sp->hash, sp->len, x->date,
	    x->date ? x->time : m->time, x->has_flags ? x->flags : m->flags,
	    x->modseq > 0 ? (uint64_t)x->modseq : m->modseq, err) < 0)
		return -1;
	fx->got++;
	f->got++;
	f->got_bytes += sp->len;
	p->msgs_done++;
	p->bytes_done += sp->len;
	if (store_maybe_commit(&p->st, err) < 0)
		return -1;
	pull_progress(p, f, 0);
	return 0;
}

static int
on_body(void *arg, struct imap_resp *r, struct buf *err)
{
	struct fetching *fx = arg;
	struct conn *c = fx->c;
	struct folder *f = fx->f;
	struct msginfo key, *m;
	struct fetched x;
	int ret = -1;

	if (parse_fetch(r, &x) < 0)
		return 0;
	if (!x.has_body || x.uid <= 0 || x.uid > UINT32_MAX) {
		fetched_release(&x);
		return 0;	/* an unsolicited update */
	}
	key.uid = (uint32_t)x.uid;
	m = bsearch(&key, f->fetch, f->nr_fetch, sizeof(*f->fetch),
	    cmp_msginfo);
	if (!m) {
		buf_addf(err, "the server sent UID %lld of '%s', which was"
		    " not asked for", x.uid, f->name);
		c->im->lc.fail = EX_PROTOCOL;
		goto out;
	}
	if (spool_end(&c->sp, err) < 0) {
		c->im->lc.fail = EX_TEMPFAIL;
		goto out;
	}
	pull_lock(c->p);
	if (c->p->stop) {
		buf_adds(err, "another connection failed");
		ret = -1;
	} else {
		ret = store_message(fx, &x, m, err);
	}
	pull_unlock(c->p);
	if (ret < 0)
		c->im->lc.fail = EX_TEMPFAIL;
out:
	fetched_release(&x);
	return ret;
}

/* Send the FETCH of the next batch; returns its tag, 0 when none. */
static unsigned
send_batch(struct fetching *fx, struct buf *err)
{
	struct imap *im = fx->c->im;
	struct folder *f = fx->f;
	struct buf set = BUF_INIT;
	uint32_t *uids;
	uint64_t bytes = 0;
	size_t n, i;
	unsigned tag;

	if (fx->next >= f->nr_fetch)
		return 0;
	/* a batch is some UIDs, or some MB, whichever comes first */
	for (n = 0; fx->next + n < f->nr_fetch &&
	    n < (size_t)fx->c->p->batch && (n == 0 || bytes < (64u << 20));
	    n++)
		bytes += f->fetch[fx->next + n].size;
	uids = xreallocarray(NULL, n, sizeof(*uids));
	for (i = 0; i < n; i++)
		uids[i] = f->fetch[fx->next + i].uid;
	imap_format_set(&set, uids, n, n);
	fx->next += n;
	tag = imap_send(im, err, "UID FETCH %s (UID FLAGS INTERNALDATE"
	    " RFC822.SIZE%s BODY.PEEK[])", set.buf,
	    im->caps & IMAP_CAP_CONDSTORE ? " MODSEQ" : "");
	free(uids);
	buf_release(&set);
	return tag;
}

int
sync_fetch(struct conn *c, struct folder *f, struct buf *err)
{
	struct fetching fx = { c, f, 0, 0 };
	struct pull *p = c->p;
	struct imap *im = c->im;
	uint32_t planned = f->uidvalidity;
	struct folder now_f;
	unsigned tags[2] = { 0, 0 };
	int rc, ret = -1;

	if (!f->nr_fetch)
		return 0;
	/* EXAMINE again, into a copy: the plan's state is what we record */
	now_f = *f;
	if ((rc = examine(p, im, &now_f, err)) <= 0)
		return rc;
	if (now_f.uidvalidity != planned) {
		helper_anomaly("uidvalidity-changed", f->name, 0,
		    "UIDVALIDITY changed during the run; the folder is read"
		    " again next time");
		return 0;
	}
	im->src.divert = divert_body;
	im->src.divert_arg = &fx;
	/* two commands in flight: the server never waits for us */
	if (!(tags[0] = send_batch(&fx, err)) && im->lc.fail)
		goto out;
	tags[1] = send_batch(&fx, err);
	if (!tags[1] && im->lc.fail)
		goto out;
	while (tags[0]) {
		rc = imap_wait(im, tags[0], on_body, &fx, err);
		if (rc == 0) {
			im->lc.fail = EX_PROTOCOL;
			goto out;
		}
		if (rc < 0)
			goto out;
		tags[0] = tags[1];
		tags[1] = send_batch(&fx, err);
		if (!tags[1] && im->lc.fail)
			goto out;
	}
	if (fx.got < f->nr_fetch)
		log_info("'%s': %zu of %zu messages went away while being"
		    " read", f->name, f->nr_fetch - fx.got, f->nr_fetch);
	pull_lock(p);
	rc = synced_record(p, f, err);
	pull_unlock(p);
	if (rc < 0) {
		im->lc.fail = EX_TEMPFAIL;
		goto out;
	}
	ret = 0;
out:
	im->src.divert = NULL;
	im->src.divert_arg = NULL;
	return ret;
}

void
pull_progress(struct pull *p, const struct folder *f, int force)
{
	json_t *o;

	if (!helper_progress_due(force))
		return;
	o = json_pack("{s:I, s:I, s:I, s:I}", "messages",
	    (json_int_t)p->msgs_done, "bytes", (json_int_t)p->bytes_done,
	    "messages_total", (json_int_t)p->msgs_total, "bytes_total",
	    (json_int_t)p->bytes_total);
	if (f)
		json_object_update_new(o, json_pack("{s:s, s:I, s:I, s:I,"
		    " s:I}", "folder", f->name, "folder_messages",
		    (json_int_t)f->got, "folder_bytes", (json_int_t)f->got_bytes,
		    "folder_messages_total", (json_int_t)f->nr_fetch,
		    "folder_bytes_total", (json_int_t)f->fetch_bytes));
	evline_write(1, "progress", "O", o);
	json_decref(o);
}
