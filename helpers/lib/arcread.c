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

static const struct sql_col folder_cols[] = {
	SQL_COL(SQL_STR, struct arc_folder, name),
	SQL_COL(SQL_STR, struct arc_folder, raw),
	SQL_COL(SQL_CHAR, struct arc_folder, sep),
	SQL_COL(SQL_STR, struct arc_folder, special),
	SQL_COL(SQL_NUM, struct arc_folder, subscribed),
	SQL_COL(SQL_NUM, struct arc_folder, noselect),
	SQL_COL(SQL_NUM, struct arc_folder, uidvalidity),
	SQL_COL(SQL_NUM, struct arc_folder, synced),
	SQL_COL(SQL_NUM, struct arc_folder, uidnext),
	SQL_COL(SQL_NUM, struct arc_folder, highestmodseq),
	SQL_COL(SQL_NUM, struct arc_folder, messages),
};
static const struct sql_row folder_row =
    SQL_ROW(struct arc_folder, folder_cols, NULL);

int
arcidx_folders(struct arcidx *ix, struct arc_folder **f_r, size_t *nr_r,
    struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT name, raw, sep, special, subscribed,"
	    " noselect, uidvalidity, synced, uidnext, highestmodseq, messages"
	    " FROM folders ORDER BY name", NULL, NULL, &folder_row,
	    &v, nr_r, "folders", err);

	*f_r = v;
	return ret;
}

void
arc_folders_free(struct arc_folder *f, size_t nr)
{
	sql_rows_free(f, nr, &folder_row);
}

static const struct sql_col msg_cols[] = {
	SQL_COL(SQL_NUM, struct arc_msg, uid),
	SQL_COL(SQL_CHARS, struct arc_msg, hash),
	SQL_COL(SQL_STR, struct arc_msg, flags),
	SQL_COL(SQL_NUM, struct arc_msg, modseq),
	SQL_COL(SQL_NUM, struct arc_msg, size),
	SQL_COL(SQL_NUM, struct arc_msg, time),
	SQL_COL(SQL_STR_NULL, struct arc_msg, source_id),
};
static const struct sql_row msg_row =
    SQL_ROW(struct arc_msg, msg_cols, NULL);

int
arcidx_msgs(struct arcidx *ix, const char *folder, struct arc_msg **m_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT uid, hash, flags, modseq, size, time,"
	    " source_id FROM messages WHERE folder = ?1 ORDER BY uid", folder,
	    NULL, &msg_row, &v, nr_r, "messages", err);

	*m_r = v;
	return ret;
}

void
arc_msgs_free(struct arc_msg *m, size_t nr)
{
	sql_rows_free(m, nr, &msg_row);
}

static const struct sql_col key_cols[] = {
	SQL_COL(SQL_NUM, struct arc_key, uid),
	SQL_COL(SQL_CHARS, struct arc_key, hash),
	SQL_COL(SQL_NUM, struct arc_key, size),
	SQL_COL(SQL_STR, struct arc_key, mid),
};
static const struct sql_row key_row = SQL_ROW(struct arc_key, key_cols, NULL);

int
arcidx_msg_keys(struct arcidx *ix, const char *folder, struct arc_key **v_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT m.uid, m.hash, m.size,"
	    " coalesce(b.mid, '') FROM messages m LEFT JOIN blobs b USING"
	    " (hash) WHERE m.folder = ?1 ORDER BY m.uid", folder, NULL,
	    &key_row, &v, nr_r, "messages", err);

	*v_r = v;
	return ret;
}

void
arc_keys_free(struct arc_key *v, size_t nr)
{
	sql_rows_free(v, nr, &key_row);
}

static const struct sql_col uidl_cols[] = {
	SQL_COL(SQL_STR, struct arc_uidl, uidl),
	SQL_COL(SQL_CHARS, struct arc_uidl, hash),
};
static const struct sql_row uidl_row =
    SQL_ROW(struct arc_uidl, uidl_cols, NULL);

int
arcidx_pop3_uidls(struct arcidx *ix, const char *side, struct arc_uidl **v_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT uidl, hash FROM pop3_uidls WHERE"
	    " side = ?1 ORDER BY k", side, NULL, &uidl_row, &v, nr_r,
	    "POP3 ids", err);

	*v_r = v;
	return ret;
}

void
arc_uidls_free(struct arc_uidl *v, size_t nr)
{
	sql_rows_free(v, nr, &uidl_row);
}

static const struct sql_col pair_cols[] = {
	SQL_COL(SQL_STR, struct arc_uidl_pair, dest),
	SQL_COL(SQL_STR, struct arc_uidl_pair, src),
};
static const struct sql_row pair_row =
    SQL_ROW(struct arc_uidl_pair, pair_cols, NULL);

int
arcidx_pop3_pairs(struct arcidx *ix, struct arc_uidl_pair **v_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "WITH side AS (SELECT side, uidl, hash,"
	    " row_number() OVER (PARTITION BY side, hash ORDER BY k) AS n"
	    " FROM pop3_uidls) SELECT d.uidl, s.uidl FROM side d JOIN side s"
	    " ON s.hash = d.hash AND s.n = d.n AND s.side = ?1 WHERE d.side"
	    " = ?2 ORDER BY d.uidl", "source", "destination", &pair_row, &v,
	    nr_r, "POP3 ids", err);

	*v_r = v;
	return ret;
}

void
arc_uidl_pairs_free(struct arc_uidl_pair *v, size_t nr)
{
	sql_rows_free(v, nr, &pair_row);
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

json_t *
arcidx_folder_acl(struct arcidx *ix, const char *folder, struct buf *err)
{
	sqlite3_stmt *s;
	json_t *acl;
	int rc;

	if (!(s = arc_prepare(ix, "SELECT identifier, rights FROM folder_acls"
	    " WHERE folder = ?1", err)))
		return NULL;
	acl = json_object();
	arc_bind_str(s, 1, folder);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_object_set_new(acl, (const char *)sqlite3_column_text(s,
		    0), json_string((const char *)sqlite3_column_text(s, 1)));
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		json_decref(acl);
		arc_db_fail(ix, "cannot read an ACL", err);
		return NULL;
	}
	return acl;
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

static const struct sql_col sieve_cols[] = {
	SQL_COL(SQL_STR, struct arc_sieve, name),
	SQL_COL(SQL_CHARS, struct arc_sieve, hash),
	SQL_COL(SQL_NUM, struct arc_sieve, size),
	SQL_COL(SQL_NUM, struct arc_sieve, active),
	SQL_COL(SQL_STR, struct arc_sieve, push_hash),
	SQL_COL(SQL_STR, struct arc_sieve, push_state),
	SQL_COL(SQL_STR, struct arc_sieve, push_error),
};
static const struct sql_row sieve_row =
    SQL_ROW(struct arc_sieve, sieve_cols, NULL);

int
arcidx_sieve(struct arcidx *ix, struct arc_sieve **v_r, size_t *nr_r,
    struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT s.name, s.hash, s.size, s.active,"
	    " p.hash, p.state, p.error FROM sieve_scripts s LEFT JOIN"
	    " push_sieve p USING (name) UNION ALL SELECT name, '', 0, 0, hash,"
	    " state, error FROM push_sieve WHERE name NOT IN (SELECT name FROM"
	    " sieve_scripts) ORDER BY 1", NULL, NULL, &sieve_row,
	    &v, nr_r, "the scripts", err);

	*v_r = v;
	return ret;
}

void
arc_sieve_free(struct arc_sieve *v, size_t nr)
{
	sql_rows_free(v, nr, &sieve_row);
}

static const struct sql_col davcol_cols[] = {
	SQL_COL(SQL_STR, struct arc_davcol, path),
	SQL_COL(SQL_STR, struct arc_davcol, kind),
	SQL_COL(SQL_STR, struct arc_davcol, name),
	SQL_COL(SQL_STR, struct arc_davcol, props),
	SQL_COL(SQL_STR, struct arc_davcol, sync_token),
	SQL_COL(SQL_NUM, struct arc_davcol, shared),
	SQL_COL(SQL_NUM, struct arc_davcol, resources),
};
static const struct sql_row davcol_row =
    SQL_ROW(struct arc_davcol, davcol_cols, NULL);

int
arcidx_dav_collections(struct arcidx *ix, struct arc_davcol **v_r,
    size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT path, kind, name, props, sync_token,"
	    " shared, (SELECT count(*) FROM dav_resources r WHERE"
	    " r.collection = c.path) FROM dav_collections c ORDER BY path",
	    NULL, NULL, &davcol_row, &v, nr_r,
	    "the collections", err);

	*v_r = v;
	return ret;
}

void
arc_davcols_free(struct arc_davcol *v, size_t nr)
{
	sql_rows_free(v, nr, &davcol_row);
}

static const struct sql_col davres_cols[] = {
	SQL_COL(SQL_STR, struct arc_davres, name),
	SQL_COL(SQL_CHARS, struct arc_davres, hash),
	SQL_COL(SQL_NUM, struct arc_davres, size),
	SQL_COL(SQL_STR, struct arc_davres, etag),
	SQL_COL(SQL_STR, struct arc_davres, type),
};
static const struct sql_row davres_row =
    SQL_ROW(struct arc_davres, davres_cols, NULL);

int
arcidx_dav_resources(struct arcidx *ix, const char *collection,
    struct arc_davres **v_r, size_t *nr_r, struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT name, hash, size, etag, type FROM"
	    " dav_resources WHERE collection = ?1 ORDER BY name", collection,
	    NULL, &davres_row, &v, nr_r, "the resources", err);

	*v_r = v;
	return ret;
}

void
arc_davres_free(struct arc_davres *v, size_t nr)
{
	sql_rows_free(v, nr, &davres_row);
}
