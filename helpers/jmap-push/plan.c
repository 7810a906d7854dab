/*
 * What the destination should hold (the wants, one per email body and
 * folder set, from the archive) joined with what the push state records
 * (the units), and how a result is recorded.
 */
#include "compat.h"

#include <ctype.h>
#include <time.h>

#include "log.h"
#include "push.h"
#include "segment.h"
#include "xalloc.h"

/* --- what the destination should hold ---------------------------------- */

struct member {
	char *folder;
	uint32_t uid;
	char *flags;
	int64_t time;
	int to_trash;		/* \Deleted at the source: into Trash */
};

struct group {
	struct push *p;
	char hash[SEG_HASH_HEX + 1];
	uint64_t size;
	struct member *m;
	size_t nr, alloc;
	struct buf *err;
};

/* IMAP flags to JMAP keywords, lower case (keywords ignore case). */
static void
add_keywords(const char *flags, char **v, size_t *nr, size_t max)
{
	static const struct {
		const char *flag, *keyword;
	} sys[] = {
		{ "\\Seen", "$seen" }, { "\\Flagged", "$flagged" },
		{ "\\Answered", "$answered" }, { "\\Draft", "$draft" },
	};
	const char *s = flags, *e;
	size_t i, n;

	while (*s && *nr < max) {
		e = strchr(s, ' ');
		n = e ? (size_t)(e - s) : strlen(s);
		if (*s == '\\') {
			/* \Deleted and unknown system flags are not carried */
			for (i = 0; i < ARRAY_SIZE(sys); i++)
				if (strlen(sys[i].flag) == n &&
				    !strncmp(s, sys[i].flag, n))
					v[(*nr)++] = xstrdup(sys[i].keyword);
		} else if (n) {
			char *k = xstrndup(s, n);

			for (i = 0; i < n; i++)
				k[i] = (char)tolower((unsigned char)k[i]);
			v[(*nr)++] = k;
		}
		s = e ? e + 1 : s + n;
	}
}

static void
flush_group(struct group *g)
{
	struct push *p = g->p;
	size_t i, k, maxk = 0, nf = 0;
	size_t *first = xcalloc(g->nr + 1, sizeof(*first));

	/* members come by folder, then UID: find where each folder starts */
	for (i = 0; i < g->nr; i++) {
		if (i == 0 || strcmp(g->m[i].folder, g->m[i - 1].folder))
			first[nf++] = i;
	}
	first[nf] = g->nr;
	for (i = 0; i < nf; i++)
		if (first[i + 1] - first[i] > maxk)
			maxk = first[i + 1] - first[i];
	for (k = 0; k < maxk; k++) {
		const char *mb[64];
		char *kw[256];
		size_t nmb = 0, nkw = 0, x;
		struct want *w;

		ALLOC_GROW(p->want, p->nr_want + 1, p->alloc_want);
		w = &p->want[p->nr_want++];
		memset(w, 0, sizeof(*w));
		memcpy(w->hash, g->hash, sizeof(w->hash));
		w->k = (int)k;
		w->size = g->size;
		for (i = 0; i < nf; i++) {
			struct member *m;
			const char *id;

			if (first[i + 1] - first[i] <= k)
				continue;
			m = &g->m[first[i] + k];
			if (!w->folder) {
				w->folder = xstrdup(m->folder);
				w->uid = m->uid;
				w->time = m->time;
			}
			id = m->to_trash ? p->trash_id : map_folder(p,
			    m->folder);
			if (id && nmb < ARRAY_SIZE(mb))
				mb[nmb++] = id;
			add_keywords(m->flags, kw, &nkw, ARRAY_SIZE(kw));
		}
		w->mailboxes = arc_flags_join(mb, nmb);
		w->keywords = arc_flags_join((const char **)kw, nkw);
		for (x = 0; x < nkw; x++)
			free(kw[x]);
	}
	free(first);
	for (i = 0; i < g->nr; i++) {
		free(g->m[i].folder);
		free(g->m[i].flags);
	}
	g->nr = 0;
}

static int
on_msg(void *arg, const struct arc_msg *m, const char *folder)
{
	struct group *g = arg;
	struct member *x;
	int deleted = m->flags && strstr(m->flags, "\\Deleted") != NULL;

	/*
	 * A copy the user deleted at the source (and whose expunge has not
	 * come yet) is not carried: deleted is deleted.  With --deleted
	 * trash it goes to the Trash, out of the user's way.
	 */
	recon_source(g->p, folder, m->size, deleted &&
	    !(g->p->deleted_to_trash && g->p->trash_id));
	if (deleted && !(g->p->deleted_to_trash && g->p->trash_id)) {
		g->p->deleted_skipped++;
		return 0;
	}
	if (g->nr && strcmp(g->hash, m->hash))
		flush_group(g);
	memcpy(g->hash, m->hash, sizeof(g->hash));
	g->size = m->size;
	ALLOC_GROW(g->m, g->nr + 1, g->alloc);
	x = &g->m[g->nr++];
	x->folder = xstrdup(folder);
	x->uid = m->uid;
	x->flags = xstrdup(m->flags ? m->flags : "");
	x->time = m->time;
	x->to_trash = deleted;
	return 0;
}

int
push_cmp_unit(const char *h1, int k1, const char *h2, int k2)
{
	int c = strcmp(h1, h2);

	return c ? c : k1 - k2;
}

int
push_plan(struct push *p, struct buf *err)
{
	struct group g;

	memset(&g, 0, sizeof(g));
	g.p = p;
	g.err = err;
	if (arcidx_all_msgs(p->ix, on_msg, &g, err) < 0)
		return -1;
	if (g.nr)
		flush_group(&g);
	free(g.m);
	return push_plan_join(p, err);
}

/* --- carrying them ------------------------------------------------------ */

void
push_utc(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "a b c" to {"a": true, "b": true, "c": true} */
json_t *
push_set_of(const char *list)
{
	json_t *o = json_object();
	const char *s = list, *e;

	while (s && *s) {
		e = strchr(s, ' ');
		if (!e)
			e = s + strlen(s);
		{
			char *k = xstrndup(s, (size_t)(e - s));

			json_object_set_new(o, k, json_true());
			free(k);
		}
		s = *e ? e + 1 : e;
	}
	return o;
}

int
push_record(struct push *p, struct want *w, const char *state, const char *id,
    const char *mailboxes, const char *keywords, const char *error,
    struct buf *err)
{
	struct arc_unit u;

	w->touched = 1;
	memset(&u, 0, sizeof(u));
	memcpy(u.hash, w->hash, sizeof(u.hash));
	u.k = w->k;
	u.state = (char *)state;
	u.email_id = (char *)id;
	u.mailboxes = (char *)mailboxes;
	u.keywords = (char *)keywords;
	u.error = (char *)error;
	return arcidx_push_set(p->ix, &u, err);
}

/* Whether a unit's email is on the destination: imported, found there,
 * or carried as a rescue of a message the destination refused. */
int
unit_placed(const struct arc_unit *u)
{
	return u && (!strcmp(u->state, "done") || !strcmp(u->state,
	    "rescued"));
}

int
push_plan_join(struct push *p, struct buf *err)
{
	size_t i = 0, u = 0;

	arc_units_free(p->units, p->nr_units);
	p->units = NULL;
	p->nr_units = 0;
	for (i = 0; i < p->nr_want; i++)
		p->want[i].have = NULL;
	if (arcidx_push_units(p->ix, &p->units, &p->nr_units, err) < 0)
		return -1;
	i = 0;
	while (i < p->nr_want && u < p->nr_units) {
		int c = push_cmp_unit(p->want[i].hash, p->want[i].k,
		    p->units[u].hash, p->units[u].k);

		if (c == 0)
			p->want[i++].have = &p->units[u++];
		else if (c < 0)
			i++;
		else
			u++;
	}
	return 0;
}

const char *
map_folder(struct push *p, const char *folder)
{
	size_t i;

	for (i = 0; i < p->nr_map; i++)
		if (!strcmp(p->map[i].folder, folder))
			return p->map[i].id;
	return NULL;
}

int64_t
push_parse_utc(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (int64_t)timegm(&tm);
}
