/*
 * adopt.c: a push state that is new or lost (a rerun from another host,
 * a second migration after a rollback) against a destination that
 * already holds the account's mail.  Emails are adopted by their bodies
 * (same size and date, then the same SHA-256), mailboxes by name when
 * they hold nothing but the archive's mail: nothing is made twice.
 */
#include "compat.h"

#include <openssl/evp.h>

#include "keywords.h"
#include "log.h"
#include "helper.h"
#include "push.h"
#include "xalloc.h"

struct key {
	uint64_t size;
	int64_t time;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->time < y->time ? -1 : x->time > y->time;
}

struct keys {
	struct key *v;
	size_t nr, alloc;
};

static int
on_msg(void *arg, const struct arc_msg *m, const char *folder)
{
	struct keys *k = arg;

	ALLOC_GROW(k->v, k->nr + 1, k->alloc);
	k->v[k->nr].size = m->size;
	k->v[k->nr++].time = m->time;
	return 0;
}

/* An email's (size, date) on the destination. */
static struct key
key_of(json_t *e)
{
	struct key k;

	k.size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	k.time = push_parse_utc(json_string_value(json_object_get(e,
	    "receivedAt")));
	return k;
}

/* Dates, in order. */
static int
cmp_time(const void *a, const void *b)
{
	const int64_t *t = a, *u = b;

	return *t < *u ? -1 : *t > *u;
}

/*
 * A mailbox of the destination with the name of one of the archive's is
 * this account's, from an earlier migration, when it is empty or holds
 * at least one of the archive's messages (by date: a rescued copy has a
 * size of its own); the user may have put mail of their own beside it.
 * Only one that holds none of the archive's mail is the user's own.
 */
int
push_mailbox_adoptable(struct push *p, const char *mailbox_id,
    struct buf *err)
{
	struct keys k = { NULL, 0, 0 };
	json_t *all = json_object(), *filter, *e;
	const char *id;
	int64_t *times = NULL, t;
	size_t i;
	int ret = -1;

	filter = json_pack("{s:s}", "inMailbox", mailbox_id);
	if (jmap_fetch_emails(p->j, all, filter, err) < 0)
		goto out;
	ret = 1;
	if (!json_object_size(all))
		goto out;
	if (arcidx_all_msgs(p->ix, on_msg, &k, err) < 0) {
		ret = -1;
		goto out;
	}
	times = xcalloc(k.nr + 1, sizeof(*times));
	for (i = 0; i < k.nr; i++)
		times[i] = k.v[i].time;
	qsort(times, k.nr, sizeof(*times), cmp_time);
	ret = 0;
	json_object_foreach(all, id, e) {
		t = key_of(e).time;
		if (k.nr && bsearch(&t, times, k.nr, sizeof(*times),
		    cmp_time)) {
			ret = 1;
			break;
		}
	}
out:
	free(times);
	free(k.v);
	json_decref(filter);
	json_decref(all);
	return ret;
}

/* A destination email, for matching: its key and whether it is taken. */
struct cand {
	struct key k;
	const char *id;
	json_t *e;
	int taken;
};

static int
cmp_cand(const void *a, const void *b)
{
	return cmp_key(&((const struct cand *)a)->k,
	    &((const struct cand *)b)->k);
}

/* Whether the body of blob `blob` is `hash`. */
static int
same_body(struct push *p, const char *blob, const char *hash,
    struct buf *body, struct buf *err)
{
	unsigned char md[32];
	char hex[SEG_HASH_HEX + 1];

	buf_reset(body);
	if (!blob || jmap_download(p->j, blob, body, err) < 0)
		return blob ? -1 : 0;
	EVP_Digest(body->buf, body->len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, hex);
	return !strcmp(hex, hash);
}

/* Adopt for `w` the first candidate with its key and its body. */
static int
adopt_one(struct push *p, struct want *w, struct cand *c, size_t nr,
    struct buf *body, struct buf *err)
{
	struct cand want = { { w->size, w->time }, NULL, NULL, 0 }, *hit;
	struct arc_unit u;
	char *mbs, *kws;
	int same, ret;

	hit = bsearch(&want, c, nr, sizeof(*c), cmp_cand);
	while (hit && hit > c && !cmp_cand(hit - 1, &want))
		hit--;
	for (; hit && hit < c + nr && !cmp_cand(hit, &want); hit++) {
		if (hit->taken)
			continue;
		same = same_body(p, json_string_value(json_object_get(hit->e,
		    "blobId")), w->hash, body, err);
		if (same < 0)
			return -1;
		if (!same)
			continue;
		hit->taken = 1;
		/*
		 * Before the cutover, as it is there: the update that
		 * follows makes it the source's, member by member.  After
		 * it (the user lives on the destination), as the source
		 * has it: what differs there is the user's doing, and
		 * stays.
		 */
		if (p->after_cutover) {
			mbs = xstrdup(w->mailboxes);
			kws = xstrdup(w->keywords);
		} else {
			mbs = kw_of_set(json_object_get(hit->e,
			    "mailboxIds"));
			kws = kw_of_set(json_object_get(hit->e,
			    "keywords"));
		}
		memset(&u, 0, sizeof(u));
		memcpy(u.hash, w->hash, sizeof(u.hash));
		u.k = w->k;
		u.state = "done";
		u.email_id = (char *)hit->id;
		u.mailboxes = mbs;
		u.keywords = kws;
		ret = arcidx_push_set(p->ix, &u, err);
		free(mbs);
		free(kws);
		if (ret < 0)
			return -1;
		p->adopted++;
		return 1;
	}
	return 0;
}

int
push_adopt(struct push *p, struct buf *err)
{
	json_t *all;
	struct cand *c;
	struct buf body = BUF_INIT;
	const char *id;
	json_t *e;
	size_t nr = 0, i;
	int ret = -1;

	/* only a state that knows nothing of the destination yet */
	if (p->nr_units || !p->nr_want)
		return 0;
	all = json_object();
	if (jmap_fetch_emails(p->j, all, NULL, err) < 0)
		goto out_all;
	c = xcalloc(json_object_size(all) + 1, sizeof(*c));
	json_object_foreach(all, id, e) {
		c[nr].k = key_of(e);
		c[nr].id = id;
		c[nr++].e = e;
	}
	if (!nr) {
		ret = 0;
		goto out;
	}
	log_info("no push state, and the destination holds %zu emails:"
	    " adopting those with the archive's bodies", nr);
	qsort(c, nr, sizeof(*c), cmp_cand);
	buf_init(&body, 256u << 20);
	if (arcidx_begin(p->ix, err) < 0)
		goto out;
	for (i = 0; i < p->nr_want; i++)
		if (adopt_one(p, &p->want[i], c, nr, &body, err) < 0) {
			arcidx_commit(p->ix, &(struct buf)BUF_INIT);
			goto out;
		}
	if (arcidx_commit(p->ix, err) < 0)
		goto out;
	/* the wants see what was adopted */
	ret = push_plan_join(p, err);
out:
	buf_release(&body);
	free(c);
out_all:
	json_decref(all);
	return ret;
}
