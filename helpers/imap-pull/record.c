/*
 * record.c: what a FETCH response says of a message, and the records
 * a pull writes of folders and messages.
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

#define MAX_FLAGS	256

static const char *const system_flags[] = {
	"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
};

void
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
int
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

int
cmp_msginfo(const void *a, const void *b)
{
	const struct msginfo *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

const struct arc_msg *
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

int
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
		im->lc.fail = EX_PROTOCOL;
		return -1;
	}
	return 1;
}

int
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

int
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

int
meta_changed(const struct folder *f)
{
	const struct arc_folder *o = f->old;

	return strcmp(o->raw, f->raw) || o->sep != f->sep ||
	    strcmp(o->special, f->special) || o->subscribed != f->subscribed ||
	    o->noselect != f->noselect;
}

int
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
