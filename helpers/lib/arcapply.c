/*
 * arcapply.c: a record of a segment's manifest into the index's rows.
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "arcidx_int.h"
#include "log.h"
#include "xalloc.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
arc_flags_join(const char **v, size_t nr)
{
	struct buf out = BUF_INIT;
	size_t i;

	if (nr)
		qsort(v, nr, sizeof(*v), cmp_str);
	for (i = 0; i < nr; i++) {
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		if (out.len)
			buf_addch(&out, ' ');
		buf_adds(&out, v[i]);
	}
	return buf_detach(&out, NULL);
}

int
arc_flags_has(const char *list, const char *w, size_t n)
{
	const char *s = list, *e;

	while (*s) {
		e = strchr(s, ' ');
		if (!e)
			e = s + strlen(s);
		if ((size_t)(e - s) == n && !strncmp(s, w, n))
			return 1;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* "flags" and "keywords" of a record in the archive's form. */
static char *
flag_string(json_t *o)
{
	const char *keys[] = { "flags", "keywords" }, *v[256];
	size_t i, k, nr = 0;
	json_t *a, *e;

	for (k = 0; k < 2; k++) {
		a = json_object_get(o, keys[k]);
		json_array_foreach(a, i, e)
			if (json_is_string(e) && nr < ARRAY_SIZE(v))
				v[nr++] = json_string_value(e);
	}
	return arc_flags_join(v, nr);
}

static int
apply_folder(struct arcidx *ix, json_t *o, struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_FOLDER_GET);
	const char *name = arc_jstr(o, "name");
	sqlite3_int64 uidv = arc_jint(o, "uidvalidity");
	json_t *sp = json_object_get(o, "special");
	struct buf special = BUF_INIT;
	char sepstr[2] = { 0, 0 };
	const char *sep = arc_jstr(o, "sep");
	size_t i;
	json_t *e;
	int reset = 0, ret;

	arc_bind_str(s, 1, name);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_int64(s, 0) != uidv)
		reset = 1;
	sqlite3_reset(s);
	if (reset) {
		s = arc_stmt(ix, S_MSGS_DELETE);
		arc_bind_str(s, 1, name);
		if (arc_step_done(ix, s, err) < 0)
			return -1;
	}
	json_array_foreach(sp, i, e) {
		if (special.len)
			buf_addch(&special, ' ');
		buf_adds(&special, json_string_value(e) ?
		    json_string_value(e) : "");
	}
	if (sep && strlen(sep) == 1)
		sepstr[0] = sep[0];
	s = arc_stmt(ix, S_FOLDER_PUT);
	arc_bind_str(s, 1, name);
	arc_bind_str(s, 2, arc_jstr(o, "raw") ? arc_jstr(o, "raw") : name);
	arc_bind_str(s, 3, sepstr);
	arc_bind_str(s, 4, special.buf);
	sqlite3_bind_int(s, 5, json_is_true(json_object_get(o,
	    "subscribed")));
	sqlite3_bind_int(s, 6, json_is_true(json_object_get(o,
	    "noselect")));
	sqlite3_bind_int64(s, 7, uidv);
	ret = arc_step_done(ix, s, err);
	buf_release(&special);
	return ret;
}

/* A script, as it is now at the source (or gone): one is active at most. */
static int
apply_sieve(struct arcidx *ix, json_t *o, int put, struct buf *err)
{
	const char *name = arc_jstr(o, "name");
	sqlite3_stmt *s;

	if (!name)
		return buf_adds(err, "a sieve record without a name"), -1;
	if (!put)
		return arc_exec2(ix, "DELETE FROM sieve_scripts WHERE"
		    " name = ?1", name, NULL, err);
	if (json_is_true(json_object_get(o, "active")) &&
	    arc_exec2(ix, "UPDATE sieve_scripts SET active = 0", NULL, NULL,
	    err) < 0)
		return -1;
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO"
	    " sieve_scripts(name, hash, size, active) VALUES(?1, ?2, ?3, ?4)",
	    -1, &s, NULL) != SQLITE_OK)
		return arc_db_fail(ix, "cannot prepare", err);
	arc_bind_str(s, 1, name);
	arc_bind_str(s, 2, arc_jstr(o, "hash") ? arc_jstr(o, "hash") : "");
	sqlite3_bind_int64(s, 3, arc_jint(o, "size"));
	sqlite3_bind_int(s, 4, json_is_true(json_object_get(o, "active")));
	return arc_step_once(ix, s, err);
}

/* A WebDAV file tree's records: file, file-dir, file-delete (a
 * directory's delete takes what is in it). */
static int
apply_file(struct arcidx *ix, const char *t, json_t *o, struct buf *err)
{
	const char *path = arc_jstr(o, "path");
	sqlite3_stmt *s;

	if (!path)
		return buf_addf(err, "a %s record without a path", t), -1;
	if (!strcmp(t, "file-delete"))
		return arc_exec2(ix, "DELETE FROM files WHERE path = ?1 OR"
		    " (?2 = '/' AND substr(path, 1, length(?1)) = ?1)", path,
		    path[0] && path[strlen(path) - 1] == '/' ? "/" : "", err);
	if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO files(path, dir,"
	    " hash, size, type, mtime, etag) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7)", err)))
		return -1;
	arc_bind_str(s, 1, path);
	sqlite3_bind_int(s, 2, !strcmp(t, "file-dir"));
	arc_bind_str(s, 3, arc_jstr(o, "hash"));
	sqlite3_bind_int64(s, 4, arc_jint(o, "size"));
	arc_bind_str(s, 5, arc_jstr(o, "type"));
	arc_bind_str(s, 6, arc_jstr(o, "mtime"));
	arc_bind_str(s, 7, arc_jstr(o, "etag"));
	return arc_step_once(ix, s, err);
}

/* The DAV records: collection, collection-delete, resource, delete. */
static int
apply_dav(struct arcidx *ix, const char *what, json_t *o, struct buf *err)
{
	const char *path = arc_jstr(o, "path");
	const char *col = arc_jstr(o, "collection");
	const char *name = arc_jstr(o, "name");
	sqlite3_stmt *s;
	char *props;
	int ret;

	if (!strcmp(what, "collection-delete"))
		return arc_exec2(ix, "DELETE FROM dav_resources WHERE"
		    " collection = ?1", path, NULL, err) < 0 ? -1 :
		    arc_exec2(ix, "DELETE FROM dav_collections WHERE"
		    " path = ?1", path, NULL, err);
	if (!strcmp(what, "delete"))
		return arc_exec2(ix, "DELETE FROM dav_resources WHERE"
		    " collection = ?1 AND name = ?2", col, name, err);
	if (!strcmp(what, "collection")) {
		if (!path)
			return buf_adds(err, "a dav-collection without a path"),
			    -1;
		if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO"
		    " dav_collections(path, kind, name, props, sync_token,"
		    " shared) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err)))
			return -1;
		props = json_dumps(json_object_get(o, "props"), JSON_COMPACT |
		    JSON_SORT_KEYS | JSON_ENCODE_ANY);
		arc_bind_str(s, 1, path);
		arc_bind_str(s, 2, arc_jstr(o, "kind") ? arc_jstr(o, "kind") :
		    "");
		arc_bind_str(s, 3, name);
		arc_bind_str(s, 4, props);
		arc_bind_str(s, 5, arc_jstr(o, "sync_token"));
		sqlite3_bind_int(s, 6, json_is_true(json_object_get(o,
		    "shared")));
		ret = arc_step_once(ix, s, err);
		free(props);
		return ret;
	}
	if (strcmp(what, "resource"))
		return 0;	/* a kind this version does not index */
	if (!col || !name)
		return buf_adds(err, "a dav-resource without its collection or"
		    " name"), -1;
	if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO dav_resources("
	    "collection, name, hash, size, etag, type) VALUES(?1, ?2, ?3, ?4,"
	    " ?5, ?6)", err)))
		return -1;
	arc_bind_str(s, 1, col);
	arc_bind_str(s, 2, name);
	arc_bind_str(s, 3, arc_jstr(o, "hash") ? arc_jstr(o, "hash") : "");
	sqlite3_bind_int64(s, 4, arc_jint(o, "size"));
	arc_bind_str(s, 5, arc_jstr(o, "etag"));
	arc_bind_str(s, 6, arc_jstr(o, "type"));
	return arc_step_once(ix, s, err);
}

/* The records, each by its "t"; arc_apply_record() finds the handler. */
struct handler {
	const char *t;
	int (*apply)(struct arcidx *ix, unsigned seq, const char *t,
	    json_t *o, struct buf *err);
};

static int
rec_segment(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_SEGMENT);

	sqlite3_bind_int64(s, 1, seq);
	arc_bind_str(s, 2, arc_jstr(o, "helper"));
	arc_bind_str(s, 3, arc_jstr(o, "mode"));
	sqlite3_bind_int64(s, 4, arc_jint(o, "time"));
	sqlite3_bind_int64(s, 5, 0);
	return arc_step_done(ix, s, err);
}

static int
rec_folder(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	return apply_folder(ix, o, err);
}

static int
rec_folder_synced(struct arcidx *ix, unsigned seq, const char *t,
    json_t *o, struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_FOLDER_SYNCED);

	arc_bind_str(s, 1, arc_jstr(o, "name"));
	sqlite3_bind_int64(s, 2, arc_jint(o, "uidnext"));
	sqlite3_bind_int64(s, 3, arc_jint(o, "highestmodseq"));
	sqlite3_bind_int64(s, 4, arc_jint(o, "messages"));
	return arc_step_done(ix, s, err);
}

/* Statement `which` with the record's `a` and `b` as ?1 and ?2. */
static int
two(struct arcidx *ix, enum stmt which, json_t *o, const char *a,
    const char *b, struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, which);

	arc_bind_str(s, 1, arc_jstr(o, a));
	if (b)
		arc_bind_str(s, 2, arc_jstr(o, b));
	return arc_step_done(ix, s, err);
}

static int
rec_folder_rename(struct arcidx *ix, unsigned seq, const char *t,
    json_t *o, struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_FOLDER_RENAME);

	arc_bind_str(s, 1, arc_jstr(o, "from"));
	arc_bind_str(s, 2, arc_jstr(o, "to"));
	arc_bind_str(s, 3, arc_jstr(o, "raw") ? arc_jstr(o, "raw") :
	    arc_jstr(o, "to"));
	if (arc_step_done(ix, s, err) < 0 ||
	    two(ix, S_MSGS_RENAME, o, "from", "to", err) < 0 ||
	    arc_exec2(ix, "UPDATE folder_acls SET folder = ?2 WHERE folder"
	    " = ?1", arc_jstr(o, "from"), arc_jstr(o, "to"), err) < 0 ||
	    arc_exec2(ix, "UPDATE push_shares SET folder = ?2 WHERE folder"
	    " = ?1", arc_jstr(o, "from"), arc_jstr(o, "to"), err) < 0)
		return -1;
	/* its mailbox on the destination is renamed, not made anew */
	return two(ix, S_PUSH_MB_RENAME, o, "from", "to", err);
}

static int
rec_folder_delete(struct arcidx *ix, unsigned seq, const char *t,
    json_t *o, struct buf *err)
{
	if (two(ix, S_FOLDER_DELETE, o, "name", NULL, err) < 0 ||
	    arc_exec2(ix, "DELETE FROM folder_acls WHERE folder = ?1",
	    arc_jstr(o, "name"), NULL, err) < 0 ||
	    arc_exec2(ix, "DELETE FROM push_shares WHERE folder = ?1",
	    arc_jstr(o, "name"), NULL, err) < 0)
		return -1;
	return two(ix, S_MSGS_DELETE, o, "name", NULL, err);
}

static int
rec_blob(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_BLOB_PUT);

	arc_bind_str(s, 1, arc_jstr(o, "hash"));
	sqlite3_bind_int64(s, 2, arc_jint(o, "size"));
	sqlite3_bind_int64(s, 3, seq);
	arc_bind_str(s, 4, arc_jstr(o, "mid"));
	sqlite3_bind_int64(s, 5, arc_jint(o, "time"));
	return arc_step_done(ix, s, err);
}

static int
rec_msg(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	char *flags = flag_string(o);
	sqlite3_stmt *s = arc_stmt(ix, S_MSG_PUT);
	int ret;

	arc_bind_str(s, 1, arc_jstr(o, "folder"));
	sqlite3_bind_int64(s, 2, arc_jint(o, "uid"));
	sqlite3_bind_int64(s, 3, arc_jint(o, "uidvalidity"));
	arc_bind_str(s, 4, arc_jstr(o, "hash"));
	sqlite3_bind_int64(s, 5, arc_jint(o, "size"));
	sqlite3_bind_int64(s, 6, arc_jint(o, "time"));
	arc_bind_str(s, 7, arc_jstr(o, "date"));
	arc_bind_str(s, 8, flags);
	sqlite3_bind_int64(s, 9, arc_jint(o, "modseq"));
	sqlite3_bind_int64(s, 10, seq);
	arc_bind_str(s, 11, arc_jstr(o, "id"));
	ret = arc_step_done(ix, s, err);
	free(flags);
	return ret;
}

static int
rec_flags(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	char *flags = flag_string(o);
	sqlite3_stmt *s = arc_stmt(ix, S_MSG_FLAGS);
	int ret;

	arc_bind_str(s, 1, arc_jstr(o, "folder"));
	sqlite3_bind_int64(s, 2, arc_jint(o, "uid"));
	arc_bind_str(s, 3, flags);
	sqlite3_bind_int64(s, 4, arc_jint(o, "modseq"));
	ret = arc_step_done(ix, s, err);
	free(flags);
	return ret;
}

static int
rec_expunge(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_MSG_EXPUNGE);

	arc_bind_str(s, 1, arc_jstr(o, "folder"));
	sqlite3_bind_int64(s, 2, arc_jint(o, "uid"));
	return arc_step_done(ix, s, err);
}

static int
rec_sieve(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	return apply_sieve(ix, o, !strcmp(t, "sieve"), err);
}

static int
rec_dav(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	return apply_dav(ix, t + 4, o, err);
}

static int
rec_file(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	return apply_file(ix, t, o, err);
}

/* A maildrop's POP3 ids on one side, replacing those before */
static int
rec_pop3_uidls(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	const char *side = arc_jstr(o, "side");
	json_t *pair;
	sqlite3_stmt *s;
	size_t i;
	int ret = 0;

	if (!side)
		return buf_adds(err, "a pop3-uidls record without a side"), -1;
	if (arc_exec2(ix, "DELETE FROM pop3_uidls WHERE side = ?1", side,
	    NULL, err) < 0)
		return -1;
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO pop3_uidls(side,"
	    " uidl, hash, k) VALUES(?1, ?2, ?3, ?4)", -1, &s, NULL) !=
	    SQLITE_OK)
		return arc_db_fail(ix, "cannot prepare", err);
	json_array_foreach(json_object_get(o, "uidls"), i, pair) {
		arc_bind_str(s, 1, side);
		arc_bind_str(s, 2, json_string_value(json_array_get(pair, 0)));
		arc_bind_str(s, 3, json_string_value(json_array_get(pair, 1)));
		sqlite3_bind_int64(s, 4, (sqlite3_int64)i);
		if (sqlite3_step(s) != SQLITE_DONE) {
			ret = arc_db_fail(ix, "cannot record a POP3 id", err);
			break;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return ret;
}

/* A folder's ACL, the account's own entry aside, replacing the one before */
static int
rec_folder_acl(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	const char *name = arc_jstr(o, "name"), *id;
	json_t *rights;
	sqlite3_stmt *s;
	int ret = 0;

	if (!name)
		return buf_adds(err, "a folder-acl record without a name"), -1;
	if (arc_exec2(ix, "DELETE FROM folder_acls WHERE folder = ?1", name,
	    NULL, err) < 0)
		return -1;
	if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO folder_acls(folder,"
	    " identifier, rights) VALUES(?1, ?2, ?3)", err)))
		return -1;
	json_object_foreach(json_object_get(o, "acl"), id, rights) {
		arc_bind_str(s, 1, name);
		arc_bind_str(s, 2, id);
		arc_bind_str(s, 3, json_string_value(rights));
		if (sqlite3_step(s) != SQLITE_DONE) {
			ret = arc_db_fail(ix, "cannot record an ACL", err);
			break;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return ret;
}

/* A pass that completed: meta "pass.MODE", or "sieve.pass" and the like */
static int
rec_pass(struct arcidx *ix, unsigned seq, const char *t, json_t *o,
    struct buf *err)
{
	char *key = strcmp(t, "pass") ? xasprintf("%.*s.pass",
	    (int)strcspn(t, "-"), t) : xasprintf("pass.%s",
	    arc_jstr(o, "mode") ? arc_jstr(o, "mode") : "?");
	char *val = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3_stmt *s = arc_stmt(ix, S_META_PUT);
	int ret;

	arc_bind_str(s, 1, key);
	arc_bind_str(s, 2, val);
	ret = arc_step_done(ix, s, err);
	free(key);
	free(val);
	return ret;
}

static const struct handler handlers[] = {
	{ "segment", rec_segment },
	{ "folder", rec_folder },
	{ "folder-synced", rec_folder_synced },
	{ "folder-rename", rec_folder_rename },
	{ "folder-delete", rec_folder_delete },
	{ "folder-acl", rec_folder_acl },
	{ "blob", rec_blob },
	{ "msg", rec_msg },
	{ "flags", rec_flags },
	{ "expunge", rec_expunge },
	{ "sieve", rec_sieve },
	{ "sieve-delete", rec_sieve },
	{ "dav-collection", rec_dav },
	{ "dav-collection-delete", rec_dav },
	{ "dav-resource", rec_dav },
	{ "dav-delete", rec_dav },
	{ "file", rec_file },
	{ "file-dir", rec_file },
	{ "file-delete", rec_file },
	{ "pass", rec_pass },
	{ "sieve-pass", rec_pass },
	{ "dav-pass", rec_pass },
	{ "jmap-pass", rec_pass },
	{ "pop3-uidls", rec_pop3_uidls },
	{ "pop3-pass", rec_pass },
};

int
arc_apply_record(struct arcidx *ix, unsigned seq, json_t *o,
    struct buf *err)
{
	const char *t = arc_jstr(o, "t");
	size_t i;

	if (!t)
		return buf_adds(err, "record without \"t\""), -1;
	for (i = 0; i < ARRAY_SIZE(handlers); i++)
		if (!strcmp(t, handlers[i].t))
			return handlers[i].apply(ix, seq, t, o, err);
	/* a record of a kind this version does not index */
	return 0;
}
