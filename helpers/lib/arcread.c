/*
 * arcread.c: what the helpers read from the archive index.
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "arcidx_int.h"
#include "log.h"
#include "xalloc.h"

int
arcidx_has_blob(struct arcidx *ix, const char *hash)
{
	sqlite3_stmt *s = arc_stmt(ix, S_BLOB_HAS);
	int rc;

	arc_bind_str(s, 1, hash);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
arcidx_blob_match(struct arcidx *ix, uint64_t size, const char *mid,
    int64_t time, char *hash_r)
{
	sqlite3_stmt *s = arc_stmt(ix, S_BLOB_MATCH);
	int rc, found = 0;

	arc_bind_str(s, 1, mid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 3, time);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (found++)
			break;
		snprintf(hash_r, SEG_HASH_HEX + 1, "%s",
		    (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return found == 1;
}

static void
fill_folder(sqlite3_stmt *s, void *elem)
{
	struct arc_folder *x = elem;
	const char *sep = (const char *)sqlite3_column_text(s, 2);

	x->name = arc_col_dup(s, 0);
	x->raw = arc_col_dup(s, 1);
	x->sep = sep ? sep[0] : 0;
	x->special = arc_col_dup(s, 3);
	x->subscribed = sqlite3_column_int(s, 4);
	x->noselect = sqlite3_column_int(s, 5);
	x->uidvalidity = (uint32_t)sqlite3_column_int64(s, 6);
	x->synced = sqlite3_column_int(s, 7);
	x->uidnext = (uint32_t)sqlite3_column_int64(s, 8);
	x->highestmodseq = (uint64_t)sqlite3_column_int64(s, 9);
	x->messages = (uint32_t)sqlite3_column_int64(s, 10);
}

int
arcidx_folders(struct arcidx *ix, struct arc_folder **f_r, size_t *nr_r,
    struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT name, raw, sep, special, subscribed,"
	    " noselect, uidvalidity, synced, uidnext, highestmodseq, messages"
	    " FROM folders ORDER BY name", NULL, NULL, sizeof(**f_r),
	    fill_folder, &v, nr_r, "folders", err);

	*f_r = v;
	return ret;
}

void
arc_folders_free(struct arc_folder *f, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(f[i].name);
		free(f[i].raw);
		free(f[i].special);
	}
	free(f);
}

static void
fill_msg(sqlite3_stmt *s, void *elem)
{
	struct arc_msg *x = elem;

	x->uid = (uint32_t)sqlite3_column_int64(s, 0);
	snprintf(x->hash, sizeof(x->hash), "%s",
	    (const char *)sqlite3_column_text(s, 1));
	x->flags = arc_col_dup(s, 2);
	x->modseq = (uint64_t)sqlite3_column_int64(s, 3);
	x->size = (uint64_t)sqlite3_column_int64(s, 4);
	x->time = (int64_t)sqlite3_column_int64(s, 5);
	x->source_id = sqlite3_column_type(s, 6) == SQLITE_NULL ? NULL :
	    arc_col_dup(s, 6);
}

int
arcidx_msgs(struct arcidx *ix, const char *folder, struct arc_msg **m_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT uid, hash, flags, modseq, size, time,"
	    " source_id FROM messages WHERE folder = ?1 ORDER BY uid", folder,
	    NULL, sizeof(**m_r), fill_msg, &v, nr_r, "messages", err);

	*m_r = v;
	return ret;
}

void
arc_msgs_free(struct arc_msg *m, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(m[i].flags);
		free(m[i].source_id);
	}
	free(m);
}

long long
arcidx_blob_seq(struct arcidx *ix, const char *hash)
{
	return arc_query_one(ix, "SELECT seq FROM blobs WHERE hash = ?1", hash,
	    -1, NULL);
}

int
arcidx_blob_read(struct arcidx *ix, const char *hash, struct buf *out,
    struct buf *err)
{
	struct buf path = BUF_INIT, want = BUF_INIT;
	struct seg_reader *r = NULL;
	const char *name;
	char chunk[16384];
	uint64_t size;
	long long seq = arcidx_blob_seq(ix, hash);
	ssize_t n;
	int rc, ret = -1;

	if (seq <= 0)
		return seq < 0 ? -1 : 0;
	buf_addf(&path, "%s/" SEG_DIR "/", ix->dir);
	seg_name((unsigned)seq, &path);
	buf_addf(&want, SEG_BLOB_PREFIX "%s.eml", hash);
	if (seg_reader_open(&r, path.buf, err) < 0)
		goto out;
	while ((rc = seg_reader_next(r, &name, &size, err)) == 1)
		if (!strcmp(name, want.buf))
			break;
	if (rc == 0)
		buf_addf(err, "%s does not hold %s", path.buf, want.buf);
	if (rc != 1)
		goto out;
	while ((n = seg_reader_data(r, chunk, sizeof(chunk), err)) > 0)
		if (buf_add(out, chunk, (size_t)n) < 0) {
			buf_addf(err, "%s: over the size allowed", want.buf);
			goto out;
		}
	if (n == 0)
		ret = 1;
out:
	seg_reader_free(&r);
	buf_release(&path);
	buf_release(&want);
	return ret;
}

int
arcidx_msg_hash(struct arcidx *ix, const char *folder, uint32_t uid,
    char *hash_r)
{
	return (int)arc_query_one(ix, "SELECT hash FROM messages WHERE"
	    " folder = ?1 AND uid = ?2", folder, uid, hash_r);
}

int
arcidx_each_hash(struct arcidx *ix, int (*fn)(void *arg, const char *hash),
    void *arg)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(ix->db, "SELECT DISTINCT hash FROM messages",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	while (!ret && (rc = sqlite3_step(s)) == SQLITE_ROW)
		ret = fn(arg, (const char *)sqlite3_column_text(s, 0));
	if (!ret && rc != SQLITE_DONE)
		ret = -1;
	sqlite3_finalize(s);
	return ret;
}

char *
arcidx_meta(struct arcidx *ix, const char *key)
{
	sqlite3_stmt *s = arc_stmt(ix, S_META_GET);
	char *v = NULL;

	arc_bind_str(s, 1, key);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = arc_col_dup(s, 0);
	sqlite3_reset(s);
	return v;
}

int
arcidx_counts(struct arcidx *ix, uint64_t *folders, uint64_t *messages,
    uint64_t *blobs, uint64_t *bytes)
{
	sqlite3_stmt *s;
	int rc;

	/* the bodies of messages: blobs hold Sieve scripts too */
	if (sqlite3_prepare_v2(ix->db, "WITH b AS (SELECT size FROM blobs"
	    " WHERE hash IN (SELECT hash FROM messages)) SELECT (SELECT"
	    " count(*) FROM folders), (SELECT count(*) FROM messages),"
	    " (SELECT count(*) FROM b), (SELECT total(size) FROM b)", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*folders = (uint64_t)sqlite3_column_int64(s, 0);
		*messages = (uint64_t)sqlite3_column_int64(s, 1);
		*blobs = (uint64_t)sqlite3_column_int64(s, 2);
		*bytes = (uint64_t)sqlite3_column_double(s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
arcidx_all_msgs(struct arcidx *ix, int (*fn)(void *arg,
    const struct arc_msg *m, const char *folder), void *arg,
    struct buf *err)
{
	struct arc_msg m;
	sqlite3_stmt *s;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(ix->db, "SELECT folder, uid, hash, flags,"
	    " size, time FROM messages ORDER BY hash, folder, uid", -1, &s,
	    NULL) != SQLITE_OK)
		return arc_db_fail(ix, "cannot read messages", err);
	while (!ret && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.uid = (uint32_t)sqlite3_column_int64(s, 1);
		snprintf(m.hash, sizeof(m.hash), "%s",
		    (const char *)sqlite3_column_text(s, 2));
		m.flags = (char *)sqlite3_column_text(s, 3);
		m.size = (uint64_t)sqlite3_column_int64(s, 4);
		m.time = sqlite3_column_int64(s, 5);
		ret = fn(arg, &m, (const char *)sqlite3_column_text(s, 0));
	}
	if (!ret && rc != SQLITE_DONE)
		ret = arc_db_fail(ix, "cannot read messages", err);
	sqlite3_finalize(s);
	return ret;
}

static void
fill_sieve(sqlite3_stmt *s, void *elem)
{
	struct arc_sieve *x = elem;

	x->name = arc_col_dup(s, 0);
	snprintf(x->hash, sizeof(x->hash), "%s",
	    (const char *)sqlite3_column_text(s, 1));
	x->size = (uint64_t)sqlite3_column_int64(s, 2);
	x->active = sqlite3_column_int(s, 3);
	x->push_hash = arc_col_dup(s, 4);
	x->push_state = arc_col_dup(s, 5);
	x->push_error = arc_col_dup(s, 6);
}

int
arcidx_sieve(struct arcidx *ix, struct arc_sieve **v_r, size_t *nr_r,
    struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT s.name, s.hash, s.size, s.active,"
	    " p.hash, p.state, p.error FROM sieve_scripts s LEFT JOIN"
	    " push_sieve p USING (name) UNION ALL SELECT name, '', 0, 0, hash,"
	    " state, error FROM push_sieve WHERE name NOT IN (SELECT name FROM"
	    " sieve_scripts) ORDER BY 1", NULL, NULL, sizeof(**v_r),
	    fill_sieve, &v, nr_r, "the scripts", err);

	*v_r = v;
	return ret;
}

void
arc_sieve_free(struct arc_sieve *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].name);
		free(v[i].push_hash);
		free(v[i].push_state);
		free(v[i].push_error);
	}
	free(v);
}

static void
fill_davcol(sqlite3_stmt *s, void *elem)
{
	struct arc_davcol *x = elem;

	x->path = arc_col_dup(s, 0);
	x->kind = arc_col_dup(s, 1);
	x->name = arc_col_dup(s, 2);
	x->props = arc_col_dup(s, 3);
	x->sync_token = arc_col_dup(s, 4);
	x->shared = sqlite3_column_int(s, 5);
	x->resources = (uint64_t)sqlite3_column_int64(s, 6);
}

int
arcidx_dav_collections(struct arcidx *ix, struct arc_davcol **v_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT path, kind, name, props, sync_token,"
	    " shared, (SELECT count(*) FROM dav_resources r WHERE"
	    " r.collection = c.path) FROM dav_collections c ORDER BY path",
	    NULL, NULL, sizeof(**v_r), fill_davcol, &v, nr_r,
	    "the collections", err);

	*v_r = v;
	return ret;
}

void
arc_davcols_free(struct arc_davcol *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].path);
		free(v[i].kind);
		free(v[i].name);
		free(v[i].props);
		free(v[i].sync_token);
	}
	free(v);
}

static void
fill_davres(sqlite3_stmt *s, void *elem)
{
	struct arc_davres *x = elem;

	x->name = arc_col_dup(s, 0);
	snprintf(x->hash, sizeof(x->hash), "%s",
	    (const char *)sqlite3_column_text(s, 1));
	x->size = (uint64_t)sqlite3_column_int64(s, 2);
	x->etag = arc_col_dup(s, 3);
	x->type = arc_col_dup(s, 4);
}

int
arcidx_dav_resources(struct arcidx *ix, const char *collection,
    struct arc_davres **v_r, size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT name, hash, size, etag, type FROM"
	    " dav_resources WHERE collection = ?1 ORDER BY name", collection,
	    NULL, sizeof(**v_r), fill_davres, &v, nr_r, "the resources", err);

	*v_r = v;
	return ret;
}

void
arc_davres_free(struct arc_davres *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].name);
		free(v[i].etag);
		free(v[i].type);
	}
	free(v);
}
