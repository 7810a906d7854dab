/*
 * list.c: the account's folders (LIST, STATUS, NAMESPACE) and what
 * changed since the last pass: new, renamed, gone.
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

static const char *const special_uses[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
	"\\Trash", "\\Important",
};

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
			if (p->public_ns && n == 1)
				continue;	/* the login's own: not read */
			if (n == (p->public_ns ? 3 : 1) && !p->ns_prefix) {
				const char *s = val_str(&d->items[1]);

				p->ns_prefix = xstrdup(prefix);
				p->ns_sep = s && strlen(s) == 1 ? s[0] : 0;
			} else if (n > 1) {
				char *name = xasprintf("%s%s", n == 2 ?
				    "other:" : "shared:", prefix);

				strlist_add(&p->other_ns, name);
				free(name);
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

/* The other users' or shared namespace ("other:PREFIX", "shared:PREFIX")
 * that `raw` lies in, or NULL: the account's own folders have none. */
static const char *
other_ns(const struct pull *p, const char *raw)
{
	size_t i;

	for (i = 0; i < p->other_ns.nr; i++) {
		const char *prefix = strchr(p->other_ns.v[i], ':') + 1;

		if (*prefix && !strncmp(raw, prefix, strlen(prefix)))
			return p->other_ns.v[i];
	}
	return NULL;
}

/*
 * A folder of another user's (or a public one) that the account sees:
 * recorded for the report with its owner, the first name after the
 * prefix, and never copied: its owner's own migration carries it, once.
 */
static void
seen_folder(struct pull *p, const struct folder *f, const char *ns)
{
	const char *prefix = strchr(ns, ':') + 1;
	const char *rest = f->raw + strlen(prefix);
	size_t n = f->sep ? strcspn(rest, (char[]){ f->sep, 0 }) :
	    strlen(rest);
	int other = !strncmp(ns, "other:", 6);

	json_array_append_new(p->seen, json_pack("{s:s, s:s, s:s%}",
	    "folder", f->name, "namespace", other ? "other" : "shared",
	    "owner", other ? rest : "", other ? n : 0));
}

static int
selected(struct pull *p, struct folder *f)
{
	size_t i;

	if (other_ns(p, f->raw))
		return 0;
	/* --public: under the public prefix only (the login's own folders
	 * have none, where the server keeps them at the root) */
	if (p->public_ns && (strncmp(f->raw, p->ns_prefix,
	    strlen(p->ns_prefix)) || !f->raw[strlen(p->ns_prefix)]))
		return 0;
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
	const char *ns;
	size_t i, nr;
	int rc;

	if (p->im->caps & IMAP_CAP_NAMESPACE) {
		if (imap_simple(p->im, on_namespace, p, err, "NAMESPACE") < 0)
			return -1;
		buf_reset(err);
	}
	if (p->public_ns && (!p->ns_prefix || !*p->ns_prefix)) {
		buf_adds(err, "the server has no namespace of public folders"
		    " (NAMESPACE)");
		p->im->lc.fail = EX_UNAVAILABLE;
		return -1;
	}
	for (i = 0; i < p->other_ns.nr; i++) {
		if (!strncmp(p->other_ns.v[i], "other:", 6))
			log_info("other users' folders under '%s' are their"
			    " owners' to carry; the report lists those seen",
			    p->other_ns.v[i] + 6);
		else
			helper_anomaly("namespace-shared", NULL, 0, "the server"
			    " has a namespace '%s' of public folders; only the"
			    " plan's accounts.public_folders account moves"
			    " them", p->other_ns.v[i] + 7);
	}
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
			p->im->lc.fail = EX_PROTOCOL;
		return -1;
	}
	if (!p->public_ns && !folder_by_raw(p, "INBOX")) {
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
		if ((ns = other_ns(p, f->raw)))
			seen_folder(p, f, ns);
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
