/*
 * sync.c: one folder's plan (what to fetch, what changed, what was
 * expunged) and its assessment.
 */
#include "compat.h"

#include <fnmatch.h>
#include <strings.h>
#include <time.h>

#include "evline.h"
#include "helper.h"
#include "log.h"
#include "now.h"
#include "pull.h"
#include "utf7.h"
#include "xalloc.h"

/* The sweep: what the server has now, without bodies */

struct sweep {
	struct pull *p;
	struct folder *f;
	struct msginfo *m;
	size_t nr, alloc;
};

static int
on_sweep(void *arg, struct imap_resp *r, struct buf *err)
{
	struct sweep *s = arg;
	struct fetched x;
	struct msginfo *m;

	if (parse_fetch(r, &x) < 0)
		return 0;
	if (x.uid <= 0 || x.uid > UINT32_MAX || !x.has_flags) {
		fetched_release(&x);
		return 0;	/* an unsolicited update */
	}
	ALLOC_GROW(s->m, s->nr + 1, s->alloc);
	m = &s->m[s->nr++];
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)x.uid;
	m->size = x.size > 0 ? (uint64_t)x.size : 0;
	m->modseq = x.modseq > 0 ? (uint64_t)x.modseq : 0;
	m->time = x.time;
	m->flags = x.flags;
	m->mid = x.mid;
	x.flags = x.mid = NULL;
	fetched_release(&x);
	(void)err;
	return 0;
}

struct present {
	uint32_t *uids;
	size_t nr;
};

static int
on_search(void *arg, struct imap_resp *r, struct buf *err)
{
	struct present *pr = arg;
	const struct imap_val *v = &r->vals;
	size_t i, nr = 0;
	long long n;

	if (!v->nr || !imap_atom_is(&v->items[0], "SEARCH"))
		return 0;
	pr->uids = xreallocarray(pr->uids, pr->nr + v->nr, sizeof(uint32_t));
	for (i = 1; i < v->nr; i++)
		if ((n = imap_number(&v->items[i])) > 0 && n <= UINT32_MAX)
			pr->uids[pr->nr + nr++] = (uint32_t)n;
	pr->nr += nr;
	(void)err;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * What to do in a folder: compare what the server has with what the
 * archive has, write the records for what changed without a body (new
 * flags, expunged messages, messages already stored under another UID),
 * and leave the UIDs whose bodies are to be fetched in f->fetch.
 */
/* One folder's plan under way. */
struct plan {
	struct pull *p;
	struct folder *f;
	const struct arc_folder *o;	/* the archive's, NULL when new */
	struct arc_msg *old;		/* its messages */
	size_t nr_old;
	int fresh;			/* a new UIDVALIDITY (or folder) */
	int partial;			/* CHANGEDSINCE the last pass */
	struct sweep s;
	struct present pr;
};

/*
 * Whether the folder is as the last pass left it (f->unchanged set) or
 * cannot be examined: 1, nothing to plan; 0 go on; -1 failed.
 */
static int
unchanged(struct plan *pl, struct buf *err)
{
	struct pull *p = pl->p;
	struct folder *f = pl->f;
	const struct arc_folder *o = pl->o;
	int rc;

	/* LIST-STATUS may already say that nothing changed */
	if (o && o->synced && f->has_status && !meta_changed(f) &&
	    (p->im->caps & IMAP_CAP_CONDSTORE) && f->st_modseq &&
	    f->st_uidvalidity == o->uidvalidity &&
	    f->st_uidnext == o->uidnext && f->st_messages == o->messages &&
	    f->st_modseq == o->highestmodseq)
		return f->unchanged = 1;
	if ((rc = examine(p, p->im, f, err)) <= 0)
		return rc < 0 ? -1 : 1;
	pl->fresh = !o || o->uidvalidity != f->uidvalidity;
	if (!pl->fresh && o->synced && !meta_changed(f) &&
	    (p->im->caps & IMAP_CAP_CONDSTORE) && f->modseq &&
	    f->uidnext == o->uidnext && f->exists == o->messages &&
	    f->modseq == o->highestmodseq)
		return f->unchanged = 1;
	return 0;
}

/* UID FETCH 1:* of the flags and sizes (or what changed since). */
static int
sweep(struct plan *pl, struct buf *err)
{
	struct pull *p = pl->p;
	struct buf cmd = BUF_INIT;
	int rc;

	if (!pl->f->exists)
		return 0;
	buf_adds(&cmd, "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE");
	if (p->im->caps & IMAP_CAP_CONDSTORE)
		buf_adds(&cmd, " MODSEQ");
	/* to find bodies stored before under other UIDs */
	if (pl->fresh && arcidx_last_seq(p->st.ix))
		buf_adds(&cmd, " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
	buf_addch(&cmd, ')');
	if (pl->partial)
		buf_addf(&cmd, " (CHANGEDSINCE %" PRIu64 ")",
		    pl->o->highestmodseq);
	rc = imap_simple(p->im, on_sweep, &pl->s, err, "%s", cmd.buf);
	buf_release(&cmd);
	if (rc == 0)
		p->im->lc.fail = EX_PROTOCOL;
	if (pl->s.nr)
		qsort(pl->s.m, pl->s.nr, sizeof(*pl->s.m), cmp_msginfo);
	return rc == 1 ? 0 : -1;
}

/* Which of the archive's messages are still there, into pl->pr. */
static int
present(struct plan *pl, struct buf *err)
{
	struct present *pr = &pl->pr;
	size_t i, k, new_since = 0;
	int rc;

	if (!pl->partial) {
		pr->uids = xreallocarray(NULL, pl->s.nr + 1,
		    sizeof(*pr->uids));
		for (i = 0; i < pl->s.nr; i++)
			pr->uids[i] = pl->s.m[i].uid;
		pr->nr = pl->s.nr;
		return 0;
	}
	if (!pl->nr_old)
		return 0;
	for (i = 0; i < pl->s.nr; i++)
		if (pl->s.m[i].uid >= pl->o->uidnext)
			new_since++;
	if (pl->f->exists - new_since == pl->nr_old) {
		/* none gone: all of the archive's are present */
		pr->uids = xreallocarray(NULL, pl->nr_old + 1,
		    sizeof(*pr->uids));
		for (k = 0; k < pl->nr_old; k++)
			pr->uids[k] = pl->old[k].uid;
		pr->nr = pl->nr_old;
		return 0;
	}
	rc = imap_simple(pl->p->im, on_search, pr, err,
	    "UID SEARCH UID 1:%" PRIu32, pl->o->uidnext - 1);
	if (rc != 1) {
		if (rc == 0)
			pl->p->im->lc.fail = EX_PROTOCOL;
		return -1;
	}
	if (pr->nr)
		qsort(pr->uids, pr->nr, sizeof(*pr->uids), cmp_u32);
	return 0;
}

/* An expunge record for each of the archive's messages gone. */
static int
expunged(struct plan *pl, struct buf *err)
{
	struct folder *f = pl->f;
	size_t k;
	json_t *rec;
	int rc;

	for (k = 0; k < pl->nr_old; k++) {
		if (pl->pr.nr && bsearch(&pl->old[k].uid, pl->pr.uids,
		    pl->pr.nr, sizeof(*pl->pr.uids), cmp_u32))
			continue;
		rec = json_pack("{s:s, s:s, s:I, s:I}", "t", "expunge",
		    "folder", f->name, "uidvalidity",
		    (json_int_t)f->uidvalidity, "uid",
		    (json_int_t)pl->old[k].uid);
		rc = store_record(&pl->p->st, rec, err);
		json_decref(rec);
		if (rc < 0)
			return -1;
		f->removed++;
	}
	return 0;
}

/*
 * Each message the sweep saw: its new flags recorded, its body found in
 * the archive by Message-ID, size and date, or put on the list to fetch.
 */
static int
place(struct plan *pl, struct msginfo *m, struct buf *err)
{
	struct pull *p = pl->p;
	struct folder *f = pl->f;
	const struct arc_msg *a = find_old(pl->old, pl->nr_old, m->uid);
	char hash[SEG_HASH_HEX + 1];
	json_t *rec;
	int rc;

	if (a) {
		if (!strcmp(a->flags, m->flags))
			return 0;
		rec = json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:I}", "t",
		    "flags", "folder", f->name, "uidvalidity",
		    (json_int_t)f->uidvalidity, "uid", (json_int_t)m->uid,
		    "flags", store_flags_json(m->flags, 1), "keywords",
		    store_flags_json(m->flags, 0), "modseq",
		    (json_int_t)m->modseq);
		rc = store_record(&p->st, rec, err);
		json_decref(rec);
		if (rc < 0)
			return -1;
		f->changed++;
		return 0;
	}
	if (pl->partial && m->uid < pl->o->uidnext)
		/* not archived, yet older than the last pass */
		log_debug("'%s' UID %" PRIu32 " reappeared", f->name, m->uid);
	f->new_msgs++;
	if (m->mid && arcidx_blob_match(p->st.ix, m->size, m->mid, m->time,
	    hash) == 1) {
		if (msg_record(p, f, m->uid, hash, m->size, NULL, m->time,
		    m->flags, m->modseq, err) < 0)
			return -1;
		f->matched++;
		return 0;
	}
	ALLOC_GROW(f->fetch, f->nr_fetch + 1, f->alloc_fetch);
	f->fetch[f->nr_fetch++] = *m;
	memset(m, 0, sizeof(*m));
	f->fetch_bytes += f->fetch[f->nr_fetch - 1].size;
	return 0;
}

int
sync_plan(struct pull *p, struct folder *f, struct buf *err)
{
	struct plan pl = { p, f, f->old, NULL, 0, 0, 0, { p, f, NULL, 0, 0 },
	    { NULL, 0 } };
	const struct arc_folder *o = f->old;
	size_t i;
	int rc, ret = -1;

	if (f->noselect) {
		f->unchanged = o && !meta_changed(f);
		if (!f->unchanged && folder_record(p, f, err) < 0)
			return -1;
		return 0;
	}
	if ((rc = unchanged(&pl, err)) != 0)
		return rc < 0 ? -1 : 0;
	if (o && pl.fresh)
		helper_anomaly("uidvalidity-changed", f->name, 0,
		    "UIDVALIDITY went from %" PRIu32 " to %" PRIu32
		    "; messages are matched again by content",
		    o->uidvalidity, f->uidvalidity);
	if ((pl.fresh || meta_changed(f)) && folder_record(p, f, err) < 0)
		goto out;
	if (!pl.fresh && arcidx_msgs(p->st.ix, o->name, &pl.old, &pl.nr_old,
	    err) < 0)
		goto out;
	pl.partial = !pl.fresh && o->synced && o->highestmodseq &&
	    f->modseq && (p->im->caps & IMAP_CAP_CONDSTORE) && o->uidnext;
	if (sweep(&pl, err) < 0 || present(&pl, err) < 0 ||
	    expunged(&pl, err) < 0)
		goto out;
	for (i = 0; i < pl.s.nr; i++)
		if (place(&pl, &pl.s.m[i], err) < 0)
			goto out;
	if (!f->nr_fetch && synced_record(p, f, err) < 0)
		goto out;
	ret = 0;
out:
	for (i = 0; i < pl.s.nr; i++)
		msginfo_release(&pl.s.m[i]);
	free(pl.s.m);
	free(pl.pr.uids);
	arc_msgs_free(pl.old, pl.nr_old);
	return ret;
}

/* assess: a dry run without bodies, but for a timed sample */

/*
 * With --sample-bytes, in the first folder that has messages: read the
 * bodies of its newest ones (each of 1 MiB at most, what the parser
 * keeps in memory; 200 at most) up to that many bytes, and time it: how
 * fast this source gives mail, before anything is pulled.
 */
static int
sample(struct pull *p, const struct sweep *s, struct buf *err)
{
	struct buf set = BUF_INIT;
	uint64_t bytes = 0;
	size_t i, n = 0;
	double t0;
	int rc;

	for (i = s->nr; i-- > 0 && bytes < p->sample_bytes && n < 200;) {
		if (!s->m[i].size || s->m[i].size > (1u << 20))
			continue;
		buf_addf(&set, "%s%" PRIu32, n++ ? "," : "", s->m[i].uid);
		bytes += s->m[i].size;
	}
	if (!n)
		return 0;
	t0 = now_seconds();
	rc = imap_simple(p->im, NULL, NULL, err, "UID FETCH %s (BODY.PEEK[])",
	    set.buf);
	buf_release(&set);
	if (rc != 1) {
		if (rc == 0)
			p->im->lc.fail = EX_PROTOCOL;
		return -1;
	}
	p->sample_seconds = now_seconds() - t0;
	p->sample_got = bytes;
	log_info("sample: %zu bodies, %" PRIu64 " bytes in %.2f s", n, bytes,
	    p->sample_seconds);
	return 0;
}

static int
cmp_mid(const void *a, const void *b)
{
	const struct msginfo *x = a, *y = b;

	return strcmp(x->mid ? x->mid : "", y->mid ? y->mid : "");
}

int
sync_assess(struct pull *p, struct folder *f, struct buf *err)
{
	struct sweep s = { p, f, NULL, 0, 0 };
	uint64_t bytes = 0, largest = 0, over = 0, dups = 0;
	int64_t oldest = 0, newest = 0;
	json_t *o;
	size_t i;
	int rc;

	if (!f->noselect) {
		if ((rc = examine(p, p->im, f, err)) <= 0)
			return rc;
		if (f->exists) {
			rc = imap_simple(p->im, on_sweep, &s, err,
			    "UID FETCH 1:* (UID FLAGS RFC822.SIZE"
			    " INTERNALDATE BODY.PEEK[HEADER.FIELDS"
			    " (MESSAGE-ID)])");
			if (rc != 1) {
				if (rc == 0)
					p->im->lc.fail = EX_PROTOCOL;
				return -1;
			}
		}
	}
	for (i = 0; i < s.nr; i++) {
		struct msginfo *m = &s.m[i];

		bytes += m->size;
		if (m->size > largest)
			largest = m->size;
		if (m->time && (!oldest || m->time < oldest))
			oldest = m->time;
		if (m->time > newest)
			newest = m->time;
		if (p->so.size_limit && m->size > p->so.size_limit) {
			over++;
			helper_anomaly("over-size-limit", f->name, m->uid,
			    "%" PRIu64 " bytes, over the limit of %" PRIu64,
			    m->size, p->so.size_limit);
		}
	}
	if (p->sample_bytes && !p->sample_got && s.nr &&
	    sample(p, &s, err) < 0) {
		for (i = 0; i < s.nr; i++)
			msginfo_release(&s.m[i]);
		free(s.m);
		return -1;
	}
	if (s.nr)
		qsort(s.m, s.nr, sizeof(*s.m), cmp_mid);
	for (i = 1; i < s.nr; i++)
		if (s.m[i].mid && s.m[i - 1].mid &&
		    !strcmp(s.m[i].mid, s.m[i - 1].mid))
			dups++;
	if (dups)
		helper_anomaly("duplicate-message-id", f->name, 0,
		    "%" PRIu64 " messages share a Message-ID with another"
		    " in the folder", dups);
	if (!f->noselect && !s.nr)
		helper_anomaly("empty-folder", f->name, 0,
		    "the folder has no messages");
	p->msgs_total += s.nr;
	p->bytes_total += bytes;
	o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I}", "name", f->name, "raw", f->raw, "special", f->special,
	    "subscribed", f->subscribed, "messages", (json_int_t)s.nr,
	    "bytes", (json_int_t)bytes, "largest", (json_int_t)largest,
	    "oldest", (json_int_t)oldest, "newest", (json_int_t)newest,
	    "over_size_limit", (json_int_t)over, "duplicate_message_ids",
	    (json_int_t)dups);
	if (f->acl && json_object_size(f->acl))
		json_object_set(o, "acl", f->acl);
	json_array_append_new(p->report_folders, o);
	evline_write(1, "folder", "{s:s, s:I, s:I, s:I}", "name", f->name,
	    "messages", (json_int_t)s.nr, "bytes", (json_int_t)bytes,
	    "largest", (json_int_t)largest);
	for (i = 0; i < s.nr; i++)
		msginfo_release(&s.m[i]);
	free(s.m);
	return 0;
}
