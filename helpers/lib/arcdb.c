/*
 * arcdb.c: the archive index's database: its statements and the small
 * helpers every part of the index uses.
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "arcidx_int.h"
#include "log.h"
#include "xalloc.h"

const char *const arc_stmt_sql[S_NR] = {
	[S_SEGMENT] = "INSERT INTO segments(seq, helper, mode, time, records)"
	    " VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_FOLDER_GET] = "SELECT uidvalidity FROM folders WHERE name = ?1",
	[S_FOLDER_PUT] = "INSERT INTO folders(name, raw, sep, special,"
	    " subscribed, noselect, uidvalidity, synced) VALUES(?1, ?2, ?3,"
	    " ?4, ?5, ?6, ?7, 0) ON CONFLICT(name) DO UPDATE SET raw = ?2,"
	    " sep = ?3, special = ?4, subscribed = ?5, noselect = ?6,"
	    " uidvalidity = ?7, synced = 0",
	[S_FOLDER_SYNCED] = "UPDATE folders SET synced = 1, uidnext = ?2,"
	    " highestmodseq = ?3, messages = ?4 WHERE name = ?1",
	[S_FOLDER_RENAME] = "UPDATE folders SET name = ?2, raw = ?3"
	    " WHERE name = ?1",
	[S_FOLDER_DELETE] = "DELETE FROM folders WHERE name = ?1",
	[S_MSGS_RENAME] = "UPDATE messages SET folder = ?2 WHERE folder = ?1",
	[S_PUSH_MB_RENAME] = "UPDATE push_mailboxes SET folder = ?2 WHERE"
	    " folder = ?1",
	[S_MSGS_DELETE] = "DELETE FROM messages WHERE folder = ?1",
	[S_BLOB_PUT] = "INSERT OR IGNORE INTO blobs(hash, size, seq, mid,"
	    " time) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_BLOB_HAS] = "SELECT 1 FROM blobs WHERE hash = ?1",
	[S_BLOB_MATCH] = "SELECT hash FROM blobs WHERE mid = ?1 AND"
	    " size = ?2 AND time = ?3 LIMIT 2",
	[S_MSG_PUT] = "INSERT OR REPLACE INTO messages(folder, uid,"
	    " uidvalidity, hash, size, time, date, flags, modseq, seq,"
	    " source_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_MSG_FLAGS] = "UPDATE messages SET flags = ?3, modseq = ?4"
	    " WHERE folder = ?1 AND uid = ?2",
	[S_MSG_EXPUNGE] = "DELETE FROM messages WHERE folder = ?1 AND"
	    " uid = ?2",
	[S_META_PUT] = "INSERT OR REPLACE INTO meta(key, value)"
	    " VALUES(?1, ?2)",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_PUSH_MB_GET] = "SELECT mailbox_id FROM push_mailboxes WHERE"
	    " folder = ?1",
	[S_PUSH_MB_PUT] = "INSERT OR REPLACE INTO push_mailboxes(folder,"
	    " mailbox_id) VALUES(?1, ?2)",
	[S_PUSH_PUT] = "INSERT OR REPLACE INTO push_emails(hash, k, state,"
	    " email_id, mailboxes, keywords, error) VALUES(?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7)",
};

const char *
arcidx_dir(const struct arcidx *ix)
{
	return ix->dir;
}

int
arc_db_fail(struct arcidx *ix, const char *what, struct buf *err)
{
	buf_addf(err, "%s/" ARCIDX_FILE ": %s: %s", ix->dir, what,
	    sqlite3_errmsg(ix->db));
	return -1;
}

int
arc_exec(struct arcidx *ix, const char *sql, struct buf *err)
{
	char *msg = NULL;

	if (sqlite3_exec(ix->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		buf_addf(err, "%s/" ARCIDX_FILE ": %s", ix->dir,
		    msg ? msg : "failed");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *
arc_stmt(struct arcidx *ix, enum stmt which)
{
	sqlite3_stmt *s = ix->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int
arc_step_done(struct arcidx *ix, sqlite3_stmt *s, struct buf *err)
{
	int ret = sqlite3_step(s) == SQLITE_DONE ? 0 :
	    arc_db_fail(ix, "cannot update", err);

	sqlite3_reset(s);
	return ret;
}

int
arc_step_once(struct arcidx *ix, sqlite3_stmt *s, struct buf *err)
{
	int ret = arc_step_done(ix, s, err);

	sqlite3_finalize(s);
	return ret;
}

sqlite3_stmt *
arc_prepare(struct arcidx *ix, const char *sql, struct buf *err)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) == SQLITE_OK)
		return s;
	arc_db_fail(ix, "cannot prepare", err);
	return NULL;
}

void
arc_bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

const char *
arc_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

sqlite3_int64
arc_jint(json_t *o, const char *key)
{
	return (sqlite3_int64)json_integer_value(json_object_get(o, key));
}

char *
arc_col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return xstrdup(t ? (const char *)t : "");
}

long long
arc_query_one(struct arcidx *ix, const char *sql, const char *s1,
    long long n2, char *text_r)
{
	sqlite3_stmt *s;
	long long v = -1;
	int rc;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	arc_bind_str(s, 1, s1);
	if (n2 >= 0)
		sqlite3_bind_int64(s, 2, n2);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (text_r)
			snprintf(text_r, SEG_HASH_HEX + 1, "%s",
			    (const char *)sqlite3_column_text(s, 0));
		v = text_r ? 1 : sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		v = 0;
	}
	sqlite3_finalize(s);
	return v;
}

int
arc_rows(struct arcidx *ix, const char *sql, const char *a, const char *b,
    const struct sql_row *row, void **v_r, size_t *nr_r, const char *what,
    struct buf *err)
{
	sqlite3_stmt *s;
	char why[128];
	int rc;

	*v_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else {
		arc_bind_str(s, 1, a);
		arc_bind_str(s, 2, b);
		*v_r = sql_rows(s, row, nr_r, &rc);
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_DONE)
		return 0;
	snprintf(why, sizeof(why), "cannot read %s", what);
	return arc_db_fail(ix, why, err);
}

/* One statement with text parameters ?1 and ?2 (NULL: none). */
int
arc_exec2(struct arcidx *ix, const char *sql, const char *a, const char *b,
    struct buf *err)
{
	sqlite3_stmt *s;

	if (!(s = arc_prepare(ix, sql, err)))
		return -1;
	arc_bind_str(s, 1, a);
	arc_bind_str(s, 2, b);
	return arc_step_once(ix, s, err);
}

unsigned
arcidx_last_seq(struct arcidx *ix)
{
	sqlite3_stmt *s;
	unsigned seq = 0;

	if (sqlite3_prepare_v2(ix->db, "SELECT max(seq) FROM segments", -1,
	    &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = (unsigned)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return seq;
}

int
arcidx_begin(struct arcidx *ix, struct buf *err)
{
	return arc_exec(ix, "BEGIN IMMEDIATE", err);
}

int
arcidx_commit(struct arcidx *ix, struct buf *err)
{
	return arc_exec(ix, "COMMIT", err);
}
