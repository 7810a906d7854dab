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

#define MAX_FLAGS	256

static const char *const system_flags[] = {
	"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
};

static const char *const special_uses[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
	"\\Trash", "\\Important",
};

/* What one FETCH response says about a message. */
struct fetched {
	long long uid;
	int has_flags;
	char *flags;		/* normalized */
	long long size;		/* RFC822.SIZE, -1 if absent */
	long long modseq;
	const char *date;	/* INTERNALDATE as sent */
	int64_t time;
	int has_body;
	size_t body_len;
	char *mid;		/* from a HEADER.FIELDS (MESSAGE-ID) literal */
};

static void
fetched_release(struct fetched *x)
{
	free(x->flags);
	free(x->mid);
	memset(x, 0, sizeof(*x));
}

void
msginfo_release(struct msginfo *m)
{
	free(m->flags);
	free(m->mid);
	memset(m, 0, sizeof(*m));
}

/*
 * Flags as the archive keeps them: system flags in their usual case,
 * \Recent (a session's, not the message's) dropped, keywords as they are.
 */
static void
norm_flags(const struct imap_val *list, struct fetched *x)
{
	const char *v[MAX_FLAGS];
	size_t i, k, nr = 0;

	for (i = 0; i < list->nr && nr < MAX_FLAGS; i++) {
		const struct imap_val *f = &list->items[i];
		const char *s = f->str;

		if (f->type != IMAP_ATOM || imap_atom_is(f, "\\Recent"))
			continue;
		for (k = 0; k < ARRAY_SIZE(system_flags); k++)
			if (!strcasecmp(s, system_flags[k]))
				s = system_flags[k];
		v[nr++] = s;
	}
	x->flags = arc_flags_join(v, nr);
	x->has_flags = 1;
}

static int64_t
parse_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	while (*s == ' ')
		s++;
	end = strptime(s, "%d-%b-%Y %H:%M:%S %z", &tm);
	if (!end)
		return 0;
	return (int64_t)timegm(&tm) - tm.tm_gmtoff;
}

/* Read a FETCH response's items; -1 when it is not one. */
static int
parse_fetch(const struct imap_resp *r, struct fetched *x)
{
	const struct imap_val *items;
	size_t i;

	memset(x, 0, sizeof(*x));
	x->size = x->modseq = x->uid = -1;
	if (r->vals.nr < 3 || !imap_atom_is(&r->vals.items[1], "FETCH") ||
	    r->vals.items[2].type != IMAP_LIST)
		return -1;
	items = &r->vals.items[2];
	for (i = 0; i + 1 < items->nr; i += 2) {
		const struct imap_val *k = &items->items[i];
		const struct imap_val *v = &items->items[i + 1];

		if (imap_atom_is(k, "UID"))
			x->uid = imap_number(v);
		else if (imap_atom_is(k, "FLAGS") && v->type == IMAP_LIST)
			norm_flags(v, x);
		else if (imap_atom_is(k, "RFC822.SIZE"))
			x->size = imap_number(v);
		else if (imap_atom_is(k, "MODSEQ") && v->type == IMAP_LIST &&
		    v->nr == 1)
			x->modseq = imap_number(&v->items[0]);
		else if (imap_atom_is(k, "INTERNALDATE") &&
		    v->type == IMAP_STRING) {
			x->date = v->str;
			x->time = parse_date(v->str);
		} else if (imap_atom_is(k, "BODY[]") &&
		    v->type == IMAP_STRING) {
			x->has_body = 1;
			x->body_len = v->len;
		} else if (k->type == IMAP_ATOM &&
		    !strncasecmp(k->str, "BODY[HEADER.FIELDS", 18) &&
		    v->type == IMAP_STRING && v->str)
			x->mid = store_header_mid(v->str, v->len);
	}
	return 0;
}

static int
cmp_msginfo(const void *a, const void *b)
{
	const struct msginfo *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static const struct arc_msg *
find_old(const struct arc_msg *m, size_t nr, uint32_t uid)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m[mid].uid == uid)
			return &m[mid];
		if (m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* LIST, LSUB, STATUS and NAMESPACE */

struct listing {
	struct pull *p;
	int lsub;
};

static struct folder *
folder_by_raw(struct pull *p, const char *raw)
{
	size_t i;

	for (i = 0; i < p->nr_folders; i++)
		if (!strcmp(p->folders[i].raw, raw) ||
		    (!strcasecmp(raw, "INBOX") &&
		    !strcasecmp(p->folders[i].raw, "INBOX")))
			return &p->folders[i];
	return NULL;
}

static const char *
val_str(const struct imap_val *v)
{
	if (v->type == IMAP_STRING || v->type == IMAP_ATOM)
		return v->str ? v->str : "";
	return NULL;
}

static void
take_status(struct folder *f, const struct imap_val *l)
{
	size_t i;

	for (i = 0; i + 1 < l->nr; i += 2) {
		long long n = imap_number(&l->items[i + 1]);

		if (n < 0)
			continue;
		if (imap_atom_is(&l->items[i], "MESSAGES"))
			f->st_messages = (uint32_t)n;
		else if (imap_atom_is(&l->items[i], "UIDNEXT"))
			f->st_uidnext = (uint32_t)n;
		else if (imap_atom_is(&l->items[i], "UIDVALIDITY"))
			f->st_uidvalidity = (uint32_t)n;
		else if (imap_atom_is(&l->items[i], "HIGHESTMODSEQ"))
			f->st_modseq = (uint64_t)n;
	}
	f->has_status = 1;
}

static int
on_list(void *arg, struct imap_resp *r, struct buf *err)
{
	struct listing *l = arg;
	struct pull *p = l->p;
	const struct imap_val *v = &r->vals;
	struct folder *f;
	struct buf special = BUF_INIT;
	const char *raw, *sep;
	size_t i, k;
	int noselect = 0, subscribed = 0;

	if (v->nr >= 3 && imap_atom_is(&v->items[0], "STATUS") &&
	    v->items[2].type == IMAP_LIST) {
		if ((raw = val_str(&v->items[1])) &&
		    (f = folder_by_raw(p, raw)))
			take_status(f, &v->items[2]);
		return 0;
	}
	if (v->nr < 4 || !(imap_atom_is(&v->items[0], "LIST") ||
	    imap_atom_is(&v->items[0], "LSUB")) ||
	    v->items[1].type != IMAP_LIST || !(raw = val_str(&v->items[3])))
		return 0;
	sep = v->items[2].type == IMAP_STRING ? v->items[2].str : NULL;
	for (i = 0; i < v->items[1].nr; i++) {
		const struct imap_val *a = &v->items[1].items[i];

		if (imap_atom_is(a, "\\Noselect") ||
		    imap_atom_is(a, "\\NonExistent"))
			noselect = 1;
		else if (imap_atom_is(a, "\\Subscribed"))
			subscribed = 1;
		for (k = 0; k < ARRAY_SIZE(special_uses); k++)
			if (imap_atom_is(a, special_uses[k])) {
				if (special.len)
					buf_addch(&special, ' ');
				buf_adds(&special, special_uses[k]);
			}
	}
	f = folder_by_raw(p, raw);
	if (l->lsub) {
		/* LSUB marks folders; it lists no new ones to read */
		if (f)
			f->subscribed = 1;
		buf_release(&special);
		return 0;
	}
	if (!f) {
		ALLOC_GROW(p->folders, p->nr_folders + 1, p->alloc_folders);
		f = &p->folders[p->nr_folders++];
		memset(f, 0, sizeof(*f));
		f->raw = xstrdup(!strcasecmp(raw, "INBOX") ? "INBOX" : raw);
		f->special = buf_detach(&special, NULL);
	} else {
		buf_release(&special);
	}
	f->sep = sep && strlen(sep) == 1 ? sep[0] : 0;
	f->noselect |= noselect;
	f->subscribed |= subscribed;
	(void)err;
	return 0;
}

static int
on_namespace(void *arg, struct imap_resp *r, struct buf *err)
{
	struct pull *p = arg;
	const struct imap_val *v = &r->vals;
	size_t n, i;

	if (v->nr < 4 || !imap_atom_is(&v->items[0], "NAMESPACE"))
		return 0;
	for (n = 1; n <= 3; n++) {
		const struct imap_val *ns = &v->items[n];

		if (ns->type != IMAP_LIST)
			continue;
		for (i = 0; i < ns->nr; i++) {
			const struct imap_val *d = &ns->items[i];
			const char *prefix;

			if (d->type != IMAP_LIST || d->nr < 2 ||
			    !(prefix = val_str(&d->items[0])))
				continue;
			if (n == 1 && !p->ns_prefix) {
				const char *s = val_str(&d->items[1]);

				p->ns_prefix = xstrdup(prefix);
				p->ns_sep = s && strlen(s) == 1 ? s[0] : 0;
			} else if (n > 1) {
				ALLOC_GROW(p->other_ns.v, p->other_ns.nr + 1,
				    p->other_ns.alloc);
				p->other_ns.v[p->other_ns.nr++] =
				    xasprintf("%s%s", n == 2 ? "other:" :
				    "shared:", prefix);
			}
		}
	}
	(void)err;
	return 0;
}

static int
matches(const struct strlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		if (!fnmatch(l->v[i], name, 0))
			return 1;
	return 0;
}

static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *s = list;

	while ((s = strcasestr(s, word))) {
		if ((s == list || s[-1] == ' ') && (!s[n] || s[n] == ' '))
			return 1;
		s += n;
	}
	return 0;
}

/* Turn a server's name into the archive's, and say what is odd in it. */
static void
name_folder(struct pull *p, struct folder *f)
{
	struct buf name = BUF_INIT;
	const char *n;
	size_t plen = p->ns_prefix ? strlen(p->ns_prefix) : 0;
	size_t i;

	if (p->utf8 && utf8_valid(f->raw, strlen(f->raw)))
		buf_adds(&name, f->raw);
	else if (p->utf8 || utf7_decode(f->raw, strlen(f->raw), &name) < 0) {
		buf_reset(&name);
		buf_add_sanitized(&name, f->raw, strlen(f->raw), 1000);
		f->name_anomaly = 1;
		helper_anomaly("name-undecodable", name.buf, 0,
		    "folder name is not valid %s; kept as '%s'",
		    p->utf8 ? "UTF-8" : "modified UTF-7", name.buf);
	}
	n = name.buf;
	if (plen && strcmp(n, "INBOX") && !strncmp(n, p->ns_prefix, plen) &&
	    n[plen])
		n += plen;
	f->name = xstrdup(n);
	buf_release(&name);
	for (i = 0; f->name[i]; i++)
		if ((unsigned char)f->name[i] < 0x20 || f->name[i] == 0x7f ||
		    (f->name[i] == '/' && f->sep != '/'))
			break;
	if (f->name[i] || f->name[0] == ' ' ||
	    (i && f->name[i - 1] == ' '))
		helper_anomaly("name-needs-escaping", f->name, 0,
		    "folder name holds characters the destination may not"
		    " take as they are");
}

static int
selected(struct pull *p, struct folder *f)
{
	size_t i;

	for (i = 0; i < p->other_ns.nr; i++) {
		const char *prefix = strchr(p->other_ns.v[i], ':') + 1;

		if (*prefix && !strncmp(f->raw, prefix, strlen(prefix)))
			return 0;
	}
	if (p->include.nr && !matches(&p->include, f->name))
		return 0;
	if (matches(&p->exclude, f->name))
		return 0;
	if (p->subscribed_only && !f->subscribed && strcmp(f->name, "INBOX"))
		return 0;
	for (i = 0; i < p->skip_special.nr; i++)
		if (has_word(f->special, p->skip_special.v[i]))
			return 0;
	return 1;
}

/* The archive's folder of this name, not yet claimed by another. */
static const struct arc_folder *
old_by_name(struct pull *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_old; i++)
		if (!strcmp(p->old[i].name, name))
			return &p->old[i];
	return NULL;
}

static int
listed(struct pull *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_folders; i++)
		if (!strcmp(p->folders[i].name, name))
			return 1;
	return 0;
}

static int
on_status(void *arg, struct imap_resp *r, struct buf *err)
{
	struct folder *f = arg;

	if (r->vals.nr >= 3 && imap_atom_is(&r->vals.items[0], "STATUS") &&
	    r->vals.items[2].type == IMAP_LIST)
		take_status(f, &r->vals.items[2]);
	(void)err;
	return 0;
}

/*
 * A folder that is new to the archive while one the archive knows has
 * gone, with the same UIDVALIDITY, was renamed: its messages are carried
 * over, not fetched again.
 */
static int
find_renames(struct pull *p, struct buf *err)
{
	struct buf cmd = BUF_INIT;
	size_t i, k;
	int gone = 0, rc, ret = -1;

	for (k = 0; k < p->nr_old; k++)
		if (!listed(p, p->old[k].name) && p->old[k].uidvalidity)
			gone++;
	if (!gone)
		return 0;
	for (i = 0; i < p->nr_folders; i++) {
		struct folder *f = &p->folders[i];
		json_t *rec;

		if (f->old || f->noselect)
			continue;
		if (!f->has_status) {
			buf_reset(&cmd);
			buf_adds(&cmd, "STATUS ");
			imap_quote(&cmd, f->raw);
			buf_adds(&cmd, " (UIDVALIDITY)");
			rc = imap_simple(p->im, on_status, f, err, "%s",
			    cmd.buf);
			if (rc < 0)
				goto out;
			if (rc == 0) {
				buf_reset(err);
				continue;
			}
		}
		for (k = 0; k < p->nr_old; k++) {
			struct arc_folder *o = &p->old[k];

			if (o->uidvalidity != f->st_uidvalidity ||
			    listed(p, o->name))
				continue;
			log_info("folder '%s' was renamed to '%s'", o->name,
			    f->name);
			rec = json_pack("{s:s, s:s, s:s, s:s}", "t",
			    "folder-rename", "from", o->name, "to", f->name,
			    "raw", f->raw);
			rc = store_record(&p->st, rec, err);
			json_decref(rec);
			if (rc < 0)
				goto out;
			/* the archive's folder now goes by the new name */
			free(o->name);
			o->name = xstrdup(f->name);
			f->old = o;
			break;
		}
	}
	ret = 0;
out:
	buf_release(&cmd);
	return ret;
}

int
sync_list(struct pull *p, struct buf *err)
{
	struct listing l = { p, 0 };
	struct folder *kept;
	size_t i, nr;
	int rc;

	if (p->im->caps & IMAP_CAP_NAMESPACE) {
		if (imap_simple(p->im, on_namespace, p, err, "NAMESPACE") < 0)
			return -1;
		buf_reset(err);
	}
	for (i = 0; i < p->other_ns.nr; i++)
		helper_anomaly(!strncmp(p->other_ns.v[i], "other:", 6) ?
		    "namespace-other" : "namespace-shared", NULL, 0,
		    "the server has a namespace '%s' of other users' or"
		    " shared folders; it is not read",
		    strchr(p->other_ns.v[i], ':') + 1);
	if ((p->im->caps & IMAP_CAP_LIST_EXTENDED) &&
	    (p->im->caps & IMAP_CAP_LIST_STATUS))
		rc = imap_simple(p->im, on_list, &l, err, "LIST \"\" \"*\""
		    " RETURN (SUBSCRIBED%s STATUS (MESSAGES UIDNEXT"
		    " UIDVALIDITY%s))", p->im->caps & IMAP_CAP_SPECIAL_USE ?
		    " SPECIAL-USE" : "", p->im->caps & IMAP_CAP_CONDSTORE ?
		    " HIGHESTMODSEQ" : "");
	else {
		rc = imap_simple(p->im, on_list, &l, err, "LIST \"\" \"*\"");
		if (rc == 1) {
			l.lsub = 1;
			rc = imap_simple(p->im, on_list, &l, err,
			    "LSUB \"\" \"*\"");
		}
	}
	if (rc != 1) {
		if (rc == 0)
			p->im->fail = EX_PROTOCOL;
		return -1;
	}
	if (!folder_by_raw(p, "INBOX")) {
		/* every account has one, listed or not */
		ALLOC_GROW(p->folders, p->nr_folders + 1, p->alloc_folders);
		memset(&p->folders[p->nr_folders], 0, sizeof(*p->folders));
		p->folders[p->nr_folders].raw = xstrdup("INBOX");
		p->folders[p->nr_folders++].special = xstrdup("");
	}
	/* decode, select, and sort by name so runs are repeatable */
	kept = p->folders;
	for (i = nr = 0; i < p->nr_folders; i++) {
		struct folder *f = &p->folders[i];

		name_folder(p, f);
		if (!selected(p, f)) {
			log_debug("folder '%s' not selected", f->name);
			free(f->raw);
			free(f->name);
			free(f->special);
			continue;
		}
		kept[nr++] = *f;
	}
	p->nr_folders = nr;
	for (i = 0; i < p->nr_folders; i++)
		p->folders[i].old = old_by_name(p, p->folders[i].name);
	if (p->so.mode != STORE_ASSESS && find_renames(p, err) < 0)
		return -1;
	return 0;
}

int
sync_deleted(struct pull *p, struct buf *err)
{
	struct folder probe;
	json_t *rec;
	size_t k;
	int rc;

	for (k = 0; k < p->nr_old; k++) {
		struct arc_folder *o = &p->old[k];

		if (listed(p, o->name))
			continue;
		/* a folder outside the selection is kept, not deleted */
		memset(&probe, 0, sizeof(probe));
		probe.raw = o->raw;
		probe.name = o->name;
		probe.special = o->special;
		probe.subscribed = o->subscribed;
		if (!selected(p, &probe))
			continue;
		log_info("folder '%s' is gone from the server", o->name);
		rec = json_pack("{s:s, s:s}", "t", "folder-delete", "name",
		    o->name);
		rc = store_record(&p->st, rec, err);
		json_decref(rec);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* EXAMINE */

static int
on_examine(void *arg, struct imap_resp *r, struct buf *err)
{
	struct folder *f = arg;
	const struct imap_val *v = &r->vals, *c = &r->code;
	long long n;

	if (v->nr == 2 && imap_atom_is(&v->items[1], "EXISTS") &&
	    (n = imap_number(&v->items[0])) >= 0)
		f->exists = (uint32_t)n;
	if (c->nr == 2 && (n = imap_number(&c->items[1])) >= 0) {
		if (imap_atom_is(&c->items[0], "UIDVALIDITY"))
			f->uidvalidity = (uint32_t)n;
		else if (imap_atom_is(&c->items[0], "UIDNEXT"))
			f->uidnext = (uint32_t)n;
		else if (imap_atom_is(&c->items[0], "HIGHESTMODSEQ"))
			f->modseq = (uint64_t)n;
	}
	(void)err;
	return 0;
}

static int
examine(struct pull *p, struct imap *im, struct folder *f, struct buf *err)
{
	struct buf cmd = BUF_INIT;
	int rc;

	f->exists = f->uidvalidity = f->uidnext = 0;
	f->modseq = 0;
	buf_adds(&cmd, "EXAMINE ");
	imap_quote(&cmd, f->raw);
	if (im->caps & IMAP_CAP_CONDSTORE)
		buf_adds(&cmd, " (CONDSTORE)");
	rc = imap_simple(im, on_examine, f, err, "%s", cmd.buf);
	buf_release(&cmd);
	if (rc == 0) {
		/* gone since LIST, or not ours to read: say so, go on */
		helper_anomaly("folder-unreadable", f->name, 0, "%s",
		    err->buf);
		buf_reset(err);
		return 0;
	}
	if (rc < 0)
		return -1;
	if (!f->uidvalidity) {
		buf_addf(err, "the server gave no UIDVALIDITY for '%s'",
		    f->name);
		im->fail = EX_PROTOCOL;
		return -1;
	}
	return 1;
}

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

static int
folder_record(struct pull *p, struct folder *f, struct buf *err)
{
	json_t *rec, *sp = json_array();
	char sep[2] = { f->sep, 0 };
	const char *s = f->special, *e;
	int ret;

	while (s && *s) {
		e = strchr(s, ' ');
		if (!e)
			e = s + strlen(s);
		json_array_append_new(sp, json_stringn(s, (size_t)(e - s)));
		s = *e ? e + 1 : e;
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:I}", "t",
	    "folder", "name", f->name, "raw", f->raw, "sep", sep,
	    "special", sp, "subscribed", f->subscribed, "noselect",
	    f->noselect, "uidvalidity", (json_int_t)f->uidvalidity);
	ret = store_record(&p->st, rec, err);
	json_decref(rec);
	return ret;
}

static int
synced_record(struct pull *p, struct folder *f, struct buf *err)
{
	json_t *rec;
	int ret;

	rec = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "t",
	    "folder-synced", "name", f->name, "uidvalidity",
	    (json_int_t)f->uidvalidity, "uidnext", (json_int_t)f->uidnext,
	    "highestmodseq", (json_int_t)f->modseq, "messages",
	    (json_int_t)f->exists);
	ret = store_record(&p->st, rec, err);
	json_decref(rec);
	return ret;
}

static int
meta_changed(const struct folder *f)
{
	const struct arc_folder *o = f->old;

	return strcmp(o->raw, f->raw) || o->sep != f->sep ||
	    strcmp(o->special, f->special) || o->subscribed != f->subscribed ||
	    o->noselect != f->noselect;
}

static int
msg_record(struct pull *p, struct folder *f, uint32_t uid, const char *hash,
    uint64_t size, const char *date, int64_t time, const char *flags,
    uint64_t modseq, struct buf *err)
{
	json_t *rec;
	int ret;

	rec = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:s?, s:I, s:o, s:o,"
	    " s:I}", "t", "msg", "folder", f->name, "uidvalidity",
	    (json_int_t)f->uidvalidity, "uid", (json_int_t)uid, "hash", hash,
	    "size", (json_int_t)size, "date", date, "time", (json_int_t)time,
	    "flags", store_flags_json(flags, 1), "keywords", store_flags_json(flags, 0),
	    "modseq", (json_int_t)modseq);
	ret = store_record(&p->st, rec, err);
	json_decref(rec);
	return ret;
}

/*
 * What to do in a folder: compare what the server has with what the
 * archive has, write the records for what changed without a body (new
 * flags, expunged messages, messages already stored under another UID),
 * and leave the UIDs whose bodies are to be fetched in f->fetch.
 */
int
sync_plan(struct pull *p, struct folder *f, struct buf *err)
{
	const struct arc_folder *o = f->old;
	struct arc_msg *old = NULL;
	struct sweep s = { p, f, NULL, 0, 0 };
	struct present pr = { NULL, 0 };
	struct buf cmd = BUF_INIT;
	size_t nr_old = 0, i, k, new_since = 0;
	int fresh, partial, rc, ret = -1;
	json_t *rec;
	char hash[SEG_HASH_HEX + 1];

	if (f->noselect) {
		f->unchanged = o && !meta_changed(f);
		if (!f->unchanged && folder_record(p, f, err) < 0)
			return -1;
		return 0;
	}
	/* LIST-STATUS may already say that nothing changed */
	if (o && o->synced && f->has_status && !meta_changed(f) &&
	    (p->im->caps & IMAP_CAP_CONDSTORE) && f->st_modseq &&
	    f->st_uidvalidity == o->uidvalidity &&
	    f->st_uidnext == o->uidnext && f->st_messages == o->messages &&
	    f->st_modseq == o->highestmodseq) {
		f->unchanged = 1;
		return 0;
	}
	if ((rc = examine(p, p->im, f, err)) <= 0)
		return rc;
	fresh = !o || o->uidvalidity != f->uidvalidity;
	if (!fresh && o->synced && !meta_changed(f) &&
	    (p->im->caps & IMAP_CAP_CONDSTORE) && f->modseq &&
	    f->uidnext == o->uidnext && f->exists == o->messages &&
	    f->modseq == o->highestmodseq) {
		f->unchanged = 1;
		return 0;
	}
	if (o && fresh)
		helper_anomaly("uidvalidity-changed", f->name, 0,
		    "UIDVALIDITY went from %" PRIu32 " to %" PRIu32
		    "; messages are matched again by content",
		    o->uidvalidity, f->uidvalidity);
	if ((fresh || meta_changed(f)) && folder_record(p, f, err) < 0)
		goto out;
	if (!fresh && arcidx_msgs(p->st.ix, o->name, &old, &nr_old, err) < 0)
		goto out;
	partial = !fresh && o->synced && o->highestmodseq && f->modseq &&
	    (p->im->caps & IMAP_CAP_CONDSTORE) && o->uidnext;
	if (f->exists) {
		buf_adds(&cmd, "UID FETCH 1:* (UID FLAGS RFC822.SIZE"
		    " INTERNALDATE");
		if (p->im->caps & IMAP_CAP_CONDSTORE)
			buf_adds(&cmd, " MODSEQ");
		/* to find bodies stored before under other UIDs */
		if (fresh && arcidx_last_seq(p->st.ix))
			buf_adds(&cmd, " BODY.PEEK[HEADER.FIELDS"
			    " (MESSAGE-ID)]");
		buf_addch(&cmd, ')');
		if (partial)
			buf_addf(&cmd, " (CHANGEDSINCE %" PRIu64 ")",
			    o->highestmodseq);
		rc = imap_simple(p->im, on_sweep, &s, err, "%s", cmd.buf);
		if (rc != 1) {
			if (rc == 0)
				p->im->fail = EX_PROTOCOL;
			goto out;
		}
	}
	if (s.nr)
		qsort(s.m, s.nr, sizeof(*s.m), cmp_msginfo);
	/* which of the archive's messages are still there */
	if (partial && nr_old) {
		for (i = 0; i < s.nr; i++)
			if (s.m[i].uid >= o->uidnext)
				new_since++;
		if (f->exists - new_since != nr_old) {
			rc = imap_simple(p->im, on_search, &pr, err,
			    "UID SEARCH UID 1:%" PRIu32, o->uidnext - 1);
			if (rc != 1) {
				if (rc == 0)
					p->im->fail = EX_PROTOCOL;
				goto out;
			}
			if (pr.nr)
				qsort(pr.uids, pr.nr, sizeof(*pr.uids),
				    cmp_u32);
		} else {
			/* none gone: all of the archive's are present */
			pr.uids = xreallocarray(NULL, nr_old + 1,
			    sizeof(*pr.uids));
			for (k = 0; k < nr_old; k++)
				pr.uids[k] = old[k].uid;
			pr.nr = nr_old;
		}
	} else if (!partial) {
		pr.uids = xreallocarray(NULL, s.nr + 1, sizeof(*pr.uids));
		for (i = 0; i < s.nr; i++)
			pr.uids[i] = s.m[i].uid;
		pr.nr = s.nr;
	}
	for (k = 0; k < nr_old; k++) {
		if (pr.nr && bsearch(&old[k].uid, pr.uids, pr.nr,
		    sizeof(*pr.uids), cmp_u32))
			continue;
		rec = json_pack("{s:s, s:s, s:I, s:I}", "t", "expunge",
		    "folder", f->name, "uidvalidity",
		    (json_int_t)f->uidvalidity, "uid",
		    (json_int_t)old[k].uid);
		rc = store_record(&p->st, rec, err);
		json_decref(rec);
		if (rc < 0)
			goto out;
		f->removed++;
	}
	for (i = 0; i < s.nr; i++) {
		struct msginfo *m = &s.m[i];
		const struct arc_msg *a = find_old(old, nr_old, m->uid);

		if (a) {
			if (!strcmp(a->flags, m->flags))
				continue;
			rec = json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:I}",
			    "t", "flags", "folder", f->name, "uidvalidity",
			    (json_int_t)f->uidvalidity, "uid",
			    (json_int_t)m->uid, "flags",
			    store_flags_json(m->flags, 1), "keywords",
			    store_flags_json(m->flags, 0), "modseq",
			    (json_int_t)m->modseq);
			rc = store_record(&p->st, rec, err);
			json_decref(rec);
			if (rc < 0)
				goto out;
			f->changed++;
			continue;
		}
		if (partial && m->uid < o->uidnext) {
			/* not archived, yet older than the last pass */
			log_debug("'%s' UID %" PRIu32 " reappeared", f->name,
			    m->uid);
		}
		f->new_msgs++;
		if (m->mid && arcidx_blob_match(p->st.ix, m->size, m->mid,
		    m->time, hash) == 1) {
			if (msg_record(p, f, m->uid, hash, m->size, NULL,
			    m->time, m->flags, m->modseq, err) < 0)
				goto out;
			f->matched++;
			continue;
		}
		ALLOC_GROW(f->fetch, f->nr_fetch + 1, f->alloc_fetch);
		f->fetch[f->nr_fetch++] = *m;
		memset(m, 0, sizeof(*m));
		f->fetch_bytes += f->fetch[f->nr_fetch - 1].size;
	}
	if (!f->nr_fetch && synced_record(p, f, err) < 0)
		goto out;
	ret = 0;
out:
	for (i = 0; i < s.nr; i++)
		msginfo_release(&s.m[i]);
	free(s.m);
	free(pr.uids);
	arc_msgs_free(old, nr_old);
	buf_release(&cmd);
	return ret;
}

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
		c->im->fail = EX_PROTOCOL;
		goto out;
	}
	if (spool_end(&c->sp, err) < 0) {
		c->im->fail = EX_TEMPFAIL;
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
		c->im->fail = EX_TEMPFAIL;
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
	if (!(tags[0] = send_batch(&fx, err)) && im->fail)
		goto out;
	tags[1] = send_batch(&fx, err);
	if (!tags[1] && im->fail)
		goto out;
	while (tags[0]) {
		rc = imap_wait(im, tags[0], on_body, &fx, err);
		if (rc == 0) {
			im->fail = EX_PROTOCOL;
			goto out;
		}
		if (rc < 0)
			goto out;
		tags[0] = tags[1];
		tags[1] = send_batch(&fx, err);
		if (!tags[1] && im->fail)
			goto out;
	}
	if (fx.got < f->nr_fetch)
		log_info("'%s': %zu of %zu messages went away while being"
		    " read", f->name, f->nr_fetch - fx.got, f->nr_fetch);
	pull_lock(p);
	rc = synced_record(p, f, err);
	pull_unlock(p);
	if (rc < 0) {
		im->fail = EX_TEMPFAIL;
		goto out;
	}
	ret = 0;
out:
	im->src.divert = NULL;
	im->src.divert_arg = NULL;
	return ret;
}

/* assess: a dry run without bodies */

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
					p->im->fail = EX_PROTOCOL;
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
	json_array_append_new(p->report_folders, o);
	evline_write(1, "folder", "{s:s, s:I, s:I, s:I}", "name", f->name,
	    "messages", (json_int_t)s.nr, "bytes", (json_int_t)bytes,
	    "largest", (json_int_t)largest);
	for (i = 0; i < s.nr; i++)
		msginfo_release(&s.m[i]);
	free(s.m);
	return 0;
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
