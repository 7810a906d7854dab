/*
 * What to do at the source so that it holds what the destination holds.
 *
 * The archive is the source as the last pull saw it (migrate pulls just
 * before); its push state names every email the migration carried, by
 * the body it carries.  Every other email of the destination is the
 * user's own since the flip, known by the SHA-256 of its body.  Then,
 * for each body and folder, the source should hold as many copies as
 * the destination: the missing ones are appended, the surplus removed,
 * and each pair's flags set to the email's keywords.  A surplus that the
 * migration never carried (mail that reached the source after the last
 * push) is never removed.  Copies are counted, not named, so a rerun
 * after a kill -9 plans only what is left: an append that landed before
 * the kill is in the archive after the pull, and counts.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "back.h"
#include "keywords.h"
#include "log.h"
#include "utf7.h"
#include "xalloc.h"

static const struct {
	const char *role, *special;
} roles[] = {
	{ "sent", "\\Sent" }, { "drafts", "\\Drafts" },
	{ "trash", "\\Trash" }, { "junk", "\\Junk" },
	{ "archive", "\\Archive" },
};

struct planner {
	struct back *b;
	json_t *mailboxes;	/* the destination's: id -> object */
	json_t *by_name;	/* folder name -> index */
	json_t *src;		/* "hash\tfolder" -> [[uid, flags], ...] */
	json_t *dst;		/* "hash\tfolder" -> [email id, ...] */
	json_t *pushed;		/* "hash\tfolder" -> copies carried */
	json_t *specials;	/* special-use flag -> folder index */
	json_t *as_pushed;	/* email id -> its keywords as pushed */
	struct buf *err;
};

static char *
key_of(const char *hash, size_t folder)
{
	return xasprintf("%s\t%zu", hash, folder);
}

static size_t
add_folder(struct back *b, const char *name, const char *raw,
    uint32_t uidvalidity, const char *mailbox_id)
{
	struct bfolder *f;

	ALLOC_GROW(b->folders, b->nr_folders + 1, b->alloc_folders);
	f = &b->folders[b->nr_folders];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->raw = xstrdup(raw);
	f->uidvalidity = uidvalidity;
	f->mailbox_id = mailbox_id ? xstrdup(mailbox_id) : NULL;
	return b->nr_folders++;
}

static int
load_folders(struct planner *pl)
{
	struct back *b = pl->b;
	struct arc_folder *f;
	size_t nr, i, x;

	if (arcidx_folders(b->ix, &f, &nr, pl->err) < 0) {
		arc_folders_free(f, nr);
		return -1;
	}
	for (i = 0; i < nr; i++) {
		char *id;

		if (f[i].noselect)
			continue;
		if (f[i].sep && !b->sep)
			b->sep = f[i].sep;
		id = arcidx_push_mailbox(b->ix, f[i].name);
		x = add_folder(b, f[i].name, f[i].raw, f[i].uidvalidity, id);
		free(id);
		json_object_set_new(pl->by_name, f[i].name,
		    json_integer((json_int_t)x));
		if (f[i].special && *f[i].special) {
			char *s = xstrdup(f[i].special), *w, *save = NULL;

			for (w = strtok_r(s, " ", &save); w;
			    w = strtok_r(NULL, " ", &save))
				if (!json_object_get(pl->specials, w))
					json_object_set_new(pl->specials, w,
					    json_integer((json_int_t)x));
			free(s);
		}
	}
	arc_folders_free(f, nr);
	if (!b->sep)
		b->sep = '/';
	return 0;
}

static int
load_mailboxes(struct planner *pl)
{
	struct back *b = pl->b;
	json_t *calls, *resp = NULL, *list, *m;
	size_t i;

	calls = json_pack("[[s, {s:s, s:n, s:[s, s, s]}, s]]", "Mailbox/get",
	    "accountId", b->j->account_id, "ids", "properties", "name",
	    "parentId", "role", "m");
	if (jmap_call(b->j, calls, NULL, &resp, pl->err) < 0) {
		json_decref(calls);
		return -1;
	}
	json_decref(calls);
	list = json_object_get(jmap_response(resp, "m", NULL), "list");
	if (!json_is_array(list)) {
		buf_adds(pl->err, "Mailbox/get failed");
		b->j->fail = EX_PROTOCOL;
		json_decref(resp);
		return -1;
	}
	json_array_foreach(list, i, m)
		json_object_set(pl->mailboxes, json_string_value(
		    json_object_get(m, "id")), m);
	json_decref(resp);
	for (i = 0; i < b->nr_folders; i++)
		b->folders[i].gone = b->folders[i].mailbox_id &&
		    !json_object_get(pl->mailboxes, b->folders[i].mailbox_id);
	return 0;
}

static ssize_t
folder_by_id(struct back *b, const char *id)
{
	size_t i;

	for (i = 0; i < b->nr_folders; i++)
		if (b->folders[i].mailbox_id &&
		    !strcmp(b->folders[i].mailbox_id, id))
			return (ssize_t)i;
	return -1;
}

/*
 * The source folder a destination mailbox is: the one the migration made
 * it from; else the folder of its role, or of its name under its parent's
 * folder; else one to create at the source.
 */
static ssize_t
folder_of(struct planner *pl, const char *id, int depth)
{
	struct back *b = pl->b;
	json_t *m = json_object_get(pl->mailboxes, id), *x;
	const char *name, *role, *parent;
	struct buf path = BUF_INIT, raw = BUF_INIT;
	ssize_t f = folder_by_id(b, id), pf;
	size_t i;

	if (f >= 0 || !m || depth > 64)
		return f;
	name = json_string_value(json_object_get(m, "name"));
	role = json_string_value(json_object_get(m, "role"));
	parent = json_string_value(json_object_get(m, "parentId"));
	if (!name)
		return -1;
	for (i = 0; role && i < ARRAY_SIZE(roles); i++)
		if (!strcmp(role, roles[i].role) && (x = json_object_get(
		    pl->specials, roles[i].special)))
			f = (ssize_t)json_integer_value(x);
	if (f < 0 && role && !strcmp(role, "inbox"))
		f = (x = json_object_get(pl->by_name, "INBOX")) ?
		    (ssize_t)json_integer_value(x) : -1;
	if (f < 0 && parent) {
		if ((pf = folder_of(pl, parent, depth + 1)) < 0)
			return -1;
		buf_addf(&path, "%s%c", b->folders[pf].name, b->sep);
	}
	if (f < 0) {
		buf_adds(&path, name);
		if ((x = json_object_get(pl->by_name, path.buf)))
			f = (ssize_t)json_integer_value(x);
	}
	if (f < 0) {
		if (b->utf8)
			buf_adds(&raw, path.buf);
		else
			utf7_encode(path.buf, path.len, &raw);
		f = (ssize_t)add_folder(b, path.buf, raw.buf, 0, id);
		json_object_set_new(pl->by_name, path.buf,
		    json_integer((json_int_t)f));
	} else if (!b->folders[f].mailbox_id) {
		b->folders[f].mailbox_id = xstrdup(id);
	}
	buf_release(&path);
	buf_release(&raw);
	return f;
}

static void
count_in(json_t *map, const char *key, json_t *item)
{
	json_t *a = json_object_get(map, key);

	if (!a) {
		a = json_array();
		json_object_set_new(map, key, a);
	}
	json_array_append_new(a, item);
}

/* What the migration carried: which email is which body, and where. */
static int
load_units(struct planner *pl)
{
	struct back *b = pl->b;
	struct arc_unit *u;
	size_t nr, i;

	if (arcidx_push_units(b->ix, &u, &nr, pl->err) < 0)
		return -1;
	for (i = 0; i < nr; i++) {
		char *mbs, *w, *save = NULL;

		if (!u[i].email_id || (strcmp(u[i].state, "done") &&
		    strcmp(u[i].state, "rescued")))
			continue;
		json_object_set_new(b->identity, u[i].email_id,
		    json_string(u[i].hash));
		json_object_set_new(pl->as_pushed, u[i].email_id, json_string(
		    u[i].keywords ? u[i].keywords : ""));
		mbs = xstrdup(u[i].mailboxes ? u[i].mailboxes : "");
		for (w = strtok_r(mbs, " ", &save); w;
		    w = strtok_r(NULL, " ", &save)) {
			ssize_t f = folder_by_id(b, w);
			char *k;
			json_t *n;

			if (f < 0)
				continue;
			k = key_of(u[i].hash, (size_t)f);
			n = json_object_get(pl->pushed, k);
			json_object_set_new(pl->pushed, k, json_integer(
			    (n ? json_integer_value(n) : 0) + 1));
			free(k);
		}
		free(mbs);
	}
	arc_units_free(u, nr);
	return 0;
}

static int
each_msg(void *arg, const struct arc_msg *m, const char *folder)
{
	struct planner *pl = arg;
	json_t *x = json_object_get(pl->by_name, folder);
	char *k;

	if (!x || arc_flags_has(m->flags, "\\Deleted", 8))
		return 0;
	k = key_of(m->hash, (size_t)json_integer_value(x));
	count_in(pl->src, k, json_pack("[I, s]", (json_int_t)m->uid,
	    m->flags));
	free(k);
	return 0;
}

int
back_body(struct back *b, const char *email_id, const char *hash,
    struct buf *out, struct buf *err)
{
	json_t *e = json_object_get(b->emails, email_id);
	const char *blob = json_string_value(json_object_get(e, "blobId"));
	unsigned char md[32];
	char hex[SEG_HASH_HEX + 1];
	int r;

	buf_reset(out);
	if (hash && *hash && (r = arcidx_blob_read(b->ix, hash, out,
	    err)) != 0)
		return r < 0 ? -1 : 0;
	if (!blob) {
		buf_addf(err, "email %s has no blobId", email_id);
		return -1;
	}
	if (jmap_download(b->j, blob, out, err) < 0)
		return -1;
	b->downloaded++;
	b->bytes += out->len;
	EVP_Digest(out->buf, out->len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, hex);
	if (hash && *hash && strcmp(hash, hex)) {
		buf_addf(err, "email %s changed while it was carried back",
		    email_id);
		return -1;
	}
	if (!hash || !*hash)
		json_object_set_new(b->identity, email_id, json_string(hex));
	return 0;
}

/* The words of `list` that `minus` lacks, or with `plus`: sorted. */
static char *
words_edit(const char *list, const char *plus, const char *minus)
{
	char *s = xasprintf("%s %s", list, plus ? plus : ""), *w, *save = NULL;
	char *out;
	const char *v[512];
	size_t n = 0, i;

	for (w = strtok_r(s, " ", &save); w && n < ARRAY_SIZE(v);
	    w = strtok_r(NULL, " ", &save)) {
		if (minus && arc_flags_has(minus, w, strlen(w)))
			continue;
		for (i = 0; i < n && strcmp(v[i], w); i++)
			;
		if (i == n)
			v[n++] = w;
	}
	out = arc_flags_join(v, n);
	free(s);
	return out;
}

/*
 * The keywords a source copy should have: the email's, for one of the
 * user's own; for one the migration carried, the copy's own with what
 * the user changed since (a body in two folders is one email with the
 * keywords of both: each copy keeps its own but for the user's changes).
 */
static char *
keywords_wanted(struct planner *pl, const char *id, const char *have)
{
	json_t *x = json_object_get(pl->as_pushed, id);
	json_t *e = json_object_get(pl->b->emails, id);
	char *now = kw_of_set(json_object_get(e, "keywords"));
	char *added, *removed, *out;

	if (!x)
		return now;
	added = words_edit(now, NULL, json_string_value(x));
	removed = words_edit(json_string_value(x), NULL, now);
	out = words_edit(have, added, removed);
	free(added);
	free(removed);
	free(now);
	return out;
}

static struct baction *
add_act(struct back *b, enum bact what, size_t folder, const char *hash)
{
	struct baction *a;

	ALLOC_GROW(b->acts, b->nr_acts + 1, b->alloc_acts);
	a = &b->acts[b->nr_acts++];
	memset(a, 0, sizeof(*a));
	a->what = what;
	a->folder = folder;
	memcpy(a->hash, hash, SEG_HASH_HEX);
	return a;
}

/* The destination's emails: each one's body, and in which folders. */
static int
load_emails(struct planner *pl)
{
	struct back *b = pl->b;
	struct buf body = BUF_INIT;
	const char *id, *mb;
	json_t *e, *x;

	if (jmap_fetch_emails(b->j, b->emails, NULL, pl->err) < 0)
		return -1;
	json_object_foreach(b->emails, id, e) {
		const char *hash;

		if (!json_object_get(b->identity, id)) {
			struct bnew *n;

			if (back_body(b, id, NULL, &body, pl->err) < 0) {
				buf_release(&body);
				return -1;
			}
			ALLOC_GROW(b->news, b->nr_news + 1, b->alloc_news);
			n = &b->news[b->nr_news++];
			n->email_id = xstrdup(id);
			memcpy(n->hash, json_string_value(json_object_get(
			    b->identity, id)), sizeof(n->hash));
			n->mailboxes = NULL;
			n->keywords = kw_of_set(json_object_get(e, "keywords"));
		}
		hash = json_string_value(json_object_get(b->identity, id));
		json_object_foreach(json_object_get(e, "mailboxIds"), mb, x) {
			ssize_t f = folder_of(pl, mb, 0);
			char *k;

			if (f < 0) {
				buf_addf(pl->err, "email %s is in mailbox %s,"
				    " which the destination does not list",
				    id, mb);
				buf_release(&body);
				return -1;
			}
			k = key_of(hash, (size_t)f);
			count_in(pl->dst, k, json_string(id));
			free(k);
		}
	}
	buf_release(&body);
	return 0;
}

/* One body in one folder: pair the copies, append or remove the rest. */
static void
plan_key(struct planner *pl, const char *key)
{
	struct back *b = pl->b;
	json_t *s = json_object_get(pl->src, key);
	json_t *d = json_object_get(pl->dst, key);
	json_t *p = json_object_get(pl->pushed, key);
	size_t ns = json_array_size(s), nd = json_array_size(d), i;
	size_t folder = strtoul(strchr(key, '\t') + 1, NULL, 10);
	long long carried = p ? json_integer_value(p) : 0, del;
	char hash[SEG_HASH_HEX + 1];
	struct baction *a;

	memcpy(hash, key, SEG_HASH_HEX);
	hash[SEG_HASH_HEX] = '\0';
	for (i = 0; i < ns && i < nd; i++) {
		json_t *m = json_array_get(s, i);
		const char *id = json_string_value(json_array_get(d, i));
		const char *was = json_string_value(json_array_get(m, 1));
		char *have = kw_from_flags(was);
		char *want = keywords_wanted(pl, id, have);

		if (strcmp(want, have)) {
			a = add_act(b, B_FLAGS, folder, hash);
			a->uid = (uint32_t)json_integer_value(json_array_get(m,
			    0));
			a->email_id = xstrdup(id);
			a->flags = kw_to_flags(want, was);
		}
		free(want);
		free(have);
	}
	for (; i < nd; i++) {
		const char *id = json_string_value(json_array_get(d, i));
		json_t *e = json_object_get(b->emails, id);
		char *kw = kw_of_set(json_object_get(e, "keywords"));
		struct tm tm;

		a = add_act(b, B_APPEND, folder, hash);
		a->email_id = xstrdup(id);
		a->flags = kw_to_flags(kw, NULL);
		memset(&tm, 0, sizeof(tm));
		a->time = strptime(json_string_value(json_object_get(e,
		    "receivedAt")) ? json_string_value(json_object_get(e,
		    "receivedAt")) : "", "%Y-%m-%dT%H:%M:%S", &tm) ?
		    (int64_t)timegm(&tm) : -1;
		free(kw);
	}
	/* never more than the migration carried: the rest came later */
	del = (long long)(ns < (size_t)carried ? ns : (size_t)carried) -
	    (long long)nd;
	for (i = nd; del > 0 && i < ns; i++, del--) {
		a = add_act(b, B_DELETE, folder, hash);
		a->uid = (uint32_t)json_integer_value(json_array_get(
		    json_array_get(s, i), 0));
	}
	if (i < ns || nd > 0)
		b->folders[folder].kept = 1;
}

static int
cmp_act(const void *x, const void *y)
{
	const struct baction *a = x, *b = y;

	/* the appends first, then folder by folder */
	if ((a->what == B_APPEND) != (b->what == B_APPEND))
		return a->what == B_APPEND ? -1 : 1;
	if (a->folder != b->folder)
		return a->folder < b->folder ? -1 : 1;
	if (a->what != b->what)
		return (int)a->what - (int)b->what;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

int
back_plan(struct back *b, struct buf *err)
{
	struct planner pl = { b, json_object(), json_object(), json_object(),
	    json_object(), json_object(), json_object(), json_object(), err };
	const char *k;
	json_t *x;
	size_t i;
	int ret = -1;

	if (load_folders(&pl) < 0 || load_mailboxes(&pl) < 0 ||
	    load_units(&pl) < 0 ||
	    arcidx_all_msgs(b->ix, each_msg, &pl, err) != 0 ||
	    load_emails(&pl) < 0)
		goto out;
	/* the folders the user made there, even empty ones */
	json_object_foreach(pl.mailboxes, k, x)
		if (!json_is_string(json_object_get(x, "role")))
			folder_of(&pl, k, 0);
	json_object_foreach(pl.src, k, x)
		plan_key(&pl, k);
	json_object_foreach(pl.dst, k, x)
		if (!json_object_get(pl.src, k))
			plan_key(&pl, k);
	/* a folder with mail left in it, or a folder of a user's mailbox */
	for (i = 0; i < b->nr_folders; i++)
		if (!b->folders[i].uidvalidity && !b->folders[i].gone)
			b->folders[i].kept = 1;
	if (b->nr_acts)
		qsort(b->acts, b->nr_acts, sizeof(*b->acts), cmp_act);
	for (i = 0; i < b->nr_news; i++) {
		json_t *e = json_object_get(b->emails, b->news[i].email_id);
		json_t *set = json_object_get(e, "mailboxIds");
		const char *v[64], *mb;
		size_t n = 0;

		json_object_foreach(set, mb, x)
			if (n < ARRAY_SIZE(v))
				v[n++] = mb;
		b->news[i].mailboxes = arc_flags_join(v, n);
	}
	ret = 0;
out:
	json_decref(pl.mailboxes);
	json_decref(pl.by_name);
	json_decref(pl.src);
	json_decref(pl.dst);
	json_decref(pl.pushed);
	json_decref(pl.specials);
	json_decref(pl.as_pushed);
	return ret;
}
