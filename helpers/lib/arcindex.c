#include "compat.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "arcindex.h"
#include "buf.h"
#include "log.h"
#include "xalloc.h"


const char arcidx_end[] = "";

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS segments(seq INTEGER PRIMARY KEY,"
	"  helper TEXT, mode TEXT, time INTEGER, records INTEGER);"
	"CREATE TABLE IF NOT EXISTS blobs(hash TEXT PRIMARY KEY,"
	"  size INTEGER NOT NULL, seq INTEGER NOT NULL, mid TEXT,"
	"  time INTEGER) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS blobs_by_mid ON blobs(mid, size);"
	"CREATE TABLE IF NOT EXISTS folders(name TEXT PRIMARY KEY,"
	"  raw TEXT NOT NULL, sep TEXT, special TEXT, subscribed INTEGER,"
	"  noselect INTEGER, uidvalidity INTEGER, synced INTEGER NOT NULL"
	"  DEFAULT 0, uidnext INTEGER, highestmodseq INTEGER,"
	"  messages INTEGER) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS messages(folder TEXT NOT NULL,"
	"  uid INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,"
	"  hash TEXT NOT NULL, size INTEGER, time INTEGER, date TEXT,"
	"  flags TEXT NOT NULL, modseq INTEGER, seq INTEGER, source_id TEXT,"
	"  PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	/* jmap-push's: what the destination holds */
	"CREATE TABLE IF NOT EXISTS push_mailboxes(folder TEXT PRIMARY KEY,"
	"  mailbox_id TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS push_emails(hash TEXT NOT NULL,"
	"  k INTEGER NOT NULL, state TEXT NOT NULL, email_id TEXT,"
	"  mailboxes TEXT, keywords TEXT, error TEXT,"
	"  PRIMARY KEY(hash, k)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sieve_scripts(name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL, size INTEGER, active INTEGER NOT NULL)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS dav_collections(path TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL, name TEXT, props TEXT, sync_token TEXT,"
	"  shared INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS dav_resources(collection TEXT NOT NULL,"
	"  name TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER, etag TEXT,"
	"  type TEXT, PRIMARY KEY(collection, name)) WITHOUT ROWID;"
	/* a WebDAV file tree (dav-pull --files): paths relative to its root,
	 * directories ending in "/" */
	"CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, dir INTEGER"
	"  NOT NULL, hash TEXT, size INTEGER, type TEXT, mtime TEXT, etag TEXT)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS push_files(path TEXT PRIMARY KEY, hash"
	"  TEXT, etag TEXT, state TEXT NOT NULL, error TEXT) WITHOUT ROWID;"
	/* dav-push's: where each collection went, what each resource is */
	"CREATE TABLE IF NOT EXISTS push_dav_collections(path TEXT PRIMARY"
	"  KEY, dest TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS push_dav_resources(collection TEXT NOT"
	"  NULL, name TEXT NOT NULL, hash TEXT, etag TEXT, state TEXT NOT NULL,"
	"  error TEXT, PRIMARY KEY(collection, name)) WITHOUT ROWID;"
	/* sieve-push's: what the destination was given */
	"CREATE TABLE IF NOT EXISTS push_sieve(name TEXT PRIMARY KEY,"
	"  hash TEXT, state TEXT NOT NULL, error TEXT) WITHOUT ROWID;";

enum stmt {
	S_SEGMENT,
	S_FOLDER_GET,
	S_FOLDER_PUT,
	S_FOLDER_SYNCED,
	S_FOLDER_RENAME,
	S_FOLDER_DELETE,
	S_MSGS_RENAME,
	S_PUSH_MB_RENAME,
	S_MSGS_DELETE,
	S_BLOB_PUT,
	S_BLOB_HAS,
	S_BLOB_MATCH,
	S_MSG_PUT,
	S_MSG_FLAGS,
	S_MSG_EXPUNGE,
	S_META_PUT,
	S_META_GET,
	S_PUSH_MB_GET,
	S_PUSH_MB_PUT,
	S_PUSH_PUT,
	S_NR
};

static const char *const stmt_sql[S_NR] = {
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

struct arcidx {
	sqlite3 *db;
	sqlite3_stmt *st[S_NR];
	char *dir;
	int lock_fd;
};

const char *
arcidx_dir(const struct arcidx *ix)
{
	return ix->dir;
}

static int
db_fail(struct arcidx *ix, const char *what, struct buf *err)
{
	buf_addf(err, "%s/" ARCIDX_FILE ": %s: %s", ix->dir, what,
	    sqlite3_errmsg(ix->db));
	return -1;
}

static int
exec(struct arcidx *ix, const char *sql, struct buf *err)
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

static sqlite3_stmt *
stmt(struct arcidx *ix, enum stmt which)
{
	sqlite3_stmt *s = ix->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int
take_lock(struct arcidx *ix, struct buf *err)
{
	char *path = xasprintf("%s/" ARCIDX_LOCK, ix->dir);
	int ret = -1;

	ix->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ix->lock_fd < 0)
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
	else if (flock(ix->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			buf_addf(err, "archive '%s' is in use by another"
			    " process", ix->dir);
			ret = -2;
		} else {
			buf_addf(err, "cannot lock '%s': %s", path,
			    strerror(errno));
		}
	} else
		ret = 0;
	free(path);
	return ret;
}

/*
 * An index of version 1 lacks messages.source_id (the id a JMAP source
 * gives an email).  The archives it describes came from IMAP, so the
 * column is simply empty for them.
 */
static int
upgrade(struct arcidx *ix, struct buf *err)
{
	sqlite3_stmt *s;
	int v = 0;

	if (sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read the version", err);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v == 1 && exec(ix, "ALTER TABLE messages ADD COLUMN source_id"
	    " TEXT", err) < 0)
		return -1;
	return exec(ix, "PRAGMA user_version = 2", err);
}

int
arcidx_open(struct arcidx **ix_r, const char *dir, int lock,
    struct buf *err)
{
	struct arcidx *ix = xcalloc(1, sizeof(*ix));
	char *path = NULL;
	int i, ret = -1;

	*ix_r = NULL;
	ix->lock_fd = -1;
	ix->dir = xstrdup(dir);
	if (lock && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		buf_addf(err, "cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (lock && (ret = take_lock(ix, err)) < 0)
		goto out;
	ret = -1;
	path = xasprintf("%s/" ARCIDX_FILE, dir);
	if (sqlite3_open_v2(path, &ix->db, lock ? SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		db_fail(ix, "cannot open", err);
		goto out;
	}
	sqlite3_busy_timeout(ix->db, 10000);
	if (lock && (exec(ix, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;", err) < 0 ||
	    exec(ix, schema, err) < 0 || upgrade(ix, err) < 0))
		goto out;
	for (i = 0; i < S_NR; i++)
		if (sqlite3_prepare_v3(ix->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &ix->st[i], NULL) != SQLITE_OK) {
			db_fail(ix, "cannot prepare", err);
			goto out;
		}
	ret = 0;
out:
	free(path);
	if (ret < 0)
		arcidx_close(&ix);
	*ix_r = ix;
	return ret;
}

void
arcidx_close(struct arcidx **ixp)
{
	struct arcidx *ix = *ixp;
	int i;

	if (!ix)
		return;
	for (i = 0; i < S_NR; i++)
		sqlite3_finalize(ix->st[i]);
	sqlite3_close(ix->db);
	if (ix->lock_fd >= 0)
		close(ix->lock_fd);
	free(ix->dir);
	free(ix);
	*ixp = NULL;
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

static int
step_done(struct arcidx *ix, sqlite3_stmt *s, struct buf *err)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_fail(ix, "cannot update", err);
	return 0;
}

static void
bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static sqlite3_int64
jint(json_t *o, const char *key)
{
	return (sqlite3_int64)json_integer_value(json_object_get(o, key));
}

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
	sqlite3_stmt *s = stmt(ix, S_FOLDER_GET);
	const char *name = jstr(o, "name");
	sqlite3_int64 uidv = jint(o, "uidvalidity");
	json_t *sp = json_object_get(o, "special");
	struct buf special = BUF_INIT;
	char sepstr[2] = { 0, 0 };
	const char *sep = jstr(o, "sep");
	size_t i;
	json_t *e;
	int reset = 0, ret;

	bind_str(s, 1, name);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_int64(s, 0) != uidv)
		reset = 1;
	sqlite3_reset(s);
	if (reset) {
		s = stmt(ix, S_MSGS_DELETE);
		bind_str(s, 1, name);
		if (step_done(ix, s, err) < 0)
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
	s = stmt(ix, S_FOLDER_PUT);
	bind_str(s, 1, name);
	bind_str(s, 2, jstr(o, "raw") ? jstr(o, "raw") : name);
	bind_str(s, 3, sepstr);
	bind_str(s, 4, special.buf);
	sqlite3_bind_int(s, 5, json_is_true(json_object_get(o,
	    "subscribed")));
	sqlite3_bind_int(s, 6, json_is_true(json_object_get(o,
	    "noselect")));
	sqlite3_bind_int64(s, 7, uidv);
	ret = step_done(ix, s, err);
	sqlite3_reset(s);
	buf_release(&special);
	return ret;
}

/* One statement with text parameters ?1 and ?2 (NULL: none). */
static int
exec2(struct arcidx *ix, const char *sql, const char *a, const char *b,
    struct buf *err)
{
	sqlite3_stmt *s;
	int ret;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, a);
	bind_str(s, 2, b);
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}

/* A script, as it is now at the source (or gone): one is active at most. */
static int
apply_sieve(struct arcidx *ix, json_t *o, int put, struct buf *err)
{
	const char *name = jstr(o, "name");
	sqlite3_stmt *s;
	int ret;

	if (!name)
		return buf_adds(err, "a sieve record without a name"), -1;
	if (!put)
		return exec2(ix, "DELETE FROM sieve_scripts WHERE name = ?1",
		    name, NULL, err);
	if (json_is_true(json_object_get(o, "active")) &&
	    exec2(ix, "UPDATE sieve_scripts SET active = 0", NULL, NULL,
	    err) < 0)
		return -1;
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO"
	    " sieve_scripts(name, hash, size, active) VALUES(?1, ?2, ?3, ?4)",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, name);
	bind_str(s, 2, jstr(o, "hash") ? jstr(o, "hash") : "");
	sqlite3_bind_int64(s, 3, jint(o, "size"));
	sqlite3_bind_int(s, 4, json_is_true(json_object_get(o, "active")));
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}

/* A WebDAV file tree's records: file, file-dir, file-delete (a
 * directory's delete takes what is in it). */
static int
apply_file(struct arcidx *ix, const char *t, json_t *o, struct buf *err)
{
	const char *path = jstr(o, "path");
	sqlite3_stmt *s;
	int ret;

	if (!path)
		return buf_addf(err, "a %s record without a path", t), -1;
	if (!strcmp(t, "file-delete"))
		return exec2(ix, "DELETE FROM files WHERE path = ?1 OR (?2 = '/'"
		    " AND substr(path, 1, length(?1)) = ?1)", path,
		    path[0] && path[strlen(path) - 1] == '/' ? "/" : "", err);
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO files(path, dir,"
	    " hash, size, type, mtime, etag) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7)", -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, path);
	sqlite3_bind_int(s, 2, !strcmp(t, "file-dir"));
	bind_str(s, 3, jstr(o, "hash"));
	sqlite3_bind_int64(s, 4, jint(o, "size"));
	bind_str(s, 5, jstr(o, "type"));
	bind_str(s, 6, jstr(o, "mtime"));
	bind_str(s, 7, jstr(o, "etag"));
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}

/* The DAV records: collection, collection-delete, resource, delete. */
static int
apply_dav(struct arcidx *ix, const char *what, json_t *o, struct buf *err)
{
	const char *path = jstr(o, "path"), *col = jstr(o, "collection");
	const char *name = jstr(o, "name");
	sqlite3_stmt *s;
	char *props;
	int ret;

	if (!strcmp(what, "collection-delete"))
		return exec2(ix, "DELETE FROM dav_resources WHERE collection ="
		    " ?1", path, NULL, err) < 0 ? -1 : exec2(ix, "DELETE FROM"
		    " dav_collections WHERE path = ?1", path, NULL, err);
	if (!strcmp(what, "delete"))
		return exec2(ix, "DELETE FROM dav_resources WHERE collection ="
		    " ?1 AND name = ?2", col, name, err);
	if (!strcmp(what, "collection")) {
		if (!path)
			return buf_adds(err, "a dav-collection without a path"),
			    -1;
		if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO"
		    " dav_collections(path, kind, name, props, sync_token,"
		    " shared) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &s,
		    NULL) != SQLITE_OK)
			return db_fail(ix, "cannot prepare", err);
		props = json_dumps(json_object_get(o, "props"), JSON_COMPACT |
		    JSON_SORT_KEYS | JSON_ENCODE_ANY);
		bind_str(s, 1, path);
		bind_str(s, 2, jstr(o, "kind") ? jstr(o, "kind") : "");
		bind_str(s, 3, name);
		bind_str(s, 4, props);
		bind_str(s, 5, jstr(o, "sync_token"));
		sqlite3_bind_int(s, 6, json_is_true(json_object_get(o,
		    "shared")));
		ret = step_done(ix, s, err);
		sqlite3_finalize(s);
		free(props);
		return ret;
	}
	if (strcmp(what, "resource"))
		return 0;	/* a kind this version does not index */
	if (!col || !name)
		return buf_adds(err, "a dav-resource without its collection or"
		    " name"), -1;
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO dav_resources("
	    "collection, name, hash, size, etag, type) VALUES(?1, ?2, ?3, ?4,"
	    " ?5, ?6)", -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, col);
	bind_str(s, 2, name);
	bind_str(s, 3, jstr(o, "hash") ? jstr(o, "hash") : "");
	sqlite3_bind_int64(s, 4, jint(o, "size"));
	bind_str(s, 5, jstr(o, "etag"));
	bind_str(s, 6, jstr(o, "type"));
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}

static int
apply_record(struct arcidx *ix, unsigned seq, json_t *o, struct buf *err)
{
	const char *t = jstr(o, "t");
	sqlite3_stmt *s;
	char *flags;
	int ret;

	if (!t)
		return buf_adds(err, "record without \"t\""), -1;
	if (!strcmp(t, "segment")) {
		s = stmt(ix, S_SEGMENT);
		sqlite3_bind_int64(s, 1, seq);
		bind_str(s, 2, jstr(o, "helper"));
		bind_str(s, 3, jstr(o, "mode"));
		sqlite3_bind_int64(s, 4, jint(o, "time"));
		sqlite3_bind_int64(s, 5, 0);
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "folder"))
		return apply_folder(ix, o, err);
	if (!strcmp(t, "folder-synced")) {
		s = stmt(ix, S_FOLDER_SYNCED);
		bind_str(s, 1, jstr(o, "name"));
		sqlite3_bind_int64(s, 2, jint(o, "uidnext"));
		sqlite3_bind_int64(s, 3, jint(o, "highestmodseq"));
		sqlite3_bind_int64(s, 4, jint(o, "messages"));
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "folder-rename")) {
		s = stmt(ix, S_FOLDER_RENAME);
		bind_str(s, 1, jstr(o, "from"));
		bind_str(s, 2, jstr(o, "to"));
		bind_str(s, 3, jstr(o, "raw") ? jstr(o, "raw") :
		    jstr(o, "to"));
		if (step_done(ix, s, err) < 0)
			return -1;
		s = stmt(ix, S_MSGS_RENAME);
		bind_str(s, 1, jstr(o, "from"));
		bind_str(s, 2, jstr(o, "to"));
		if (step_done(ix, s, err) < 0)
			return -1;
		/* its mailbox on the destination is renamed, not made anew */
		s = stmt(ix, S_PUSH_MB_RENAME);
		bind_str(s, 1, jstr(o, "from"));
		bind_str(s, 2, jstr(o, "to"));
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "folder-delete")) {
		s = stmt(ix, S_FOLDER_DELETE);
		bind_str(s, 1, jstr(o, "name"));
		if (step_done(ix, s, err) < 0)
			return -1;
		s = stmt(ix, S_MSGS_DELETE);
		bind_str(s, 1, jstr(o, "name"));
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "blob")) {
		s = stmt(ix, S_BLOB_PUT);
		bind_str(s, 1, jstr(o, "hash"));
		sqlite3_bind_int64(s, 2, jint(o, "size"));
		sqlite3_bind_int64(s, 3, seq);
		bind_str(s, 4, jstr(o, "mid"));
		sqlite3_bind_int64(s, 5, jint(o, "time"));
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "msg")) {
		flags = flag_string(o);
		s = stmt(ix, S_MSG_PUT);
		bind_str(s, 1, jstr(o, "folder"));
		sqlite3_bind_int64(s, 2, jint(o, "uid"));
		sqlite3_bind_int64(s, 3, jint(o, "uidvalidity"));
		bind_str(s, 4, jstr(o, "hash"));
		sqlite3_bind_int64(s, 5, jint(o, "size"));
		sqlite3_bind_int64(s, 6, jint(o, "time"));
		bind_str(s, 7, jstr(o, "date"));
		bind_str(s, 8, flags);
		sqlite3_bind_int64(s, 9, jint(o, "modseq"));
		sqlite3_bind_int64(s, 10, seq);
		bind_str(s, 11, jstr(o, "id"));
		ret = step_done(ix, s, err);
		sqlite3_reset(s);
		free(flags);
		return ret;
	}
	if (!strcmp(t, "flags")) {
		flags = flag_string(o);
		s = stmt(ix, S_MSG_FLAGS);
		bind_str(s, 1, jstr(o, "folder"));
		sqlite3_bind_int64(s, 2, jint(o, "uid"));
		bind_str(s, 3, flags);
		sqlite3_bind_int64(s, 4, jint(o, "modseq"));
		ret = step_done(ix, s, err);
		sqlite3_reset(s);
		free(flags);
		return ret;
	}
	if (!strcmp(t, "expunge")) {
		s = stmt(ix, S_MSG_EXPUNGE);
		bind_str(s, 1, jstr(o, "folder"));
		sqlite3_bind_int64(s, 2, jint(o, "uid"));
		return step_done(ix, s, err);
	}
	if (!strcmp(t, "sieve") || !strcmp(t, "sieve-delete"))
		return apply_sieve(ix, o, !strcmp(t, "sieve"), err);
	if (!strncmp(t, "dav-", 4) && strcmp(t, "dav-pass"))
		return apply_dav(ix, t + 4, o, err);
	if (!strcmp(t, "file") || !strcmp(t, "file-dir") ||
	    !strcmp(t, "file-delete"))
		return apply_file(ix, t, o, err);
	if (!strcmp(t, "pass") || !strcmp(t, "sieve-pass") ||
	    !strcmp(t, "dav-pass") || !strcmp(t, "jmap-pass")) {
		char *key = strcmp(t, "pass") ? xasprintf("%.*s.pass",
		    (int)strcspn(t, "-"), t) : xasprintf("pass.%s",
		    jstr(o, "mode") ? jstr(o, "mode") : "?");
		char *val = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

		s = stmt(ix, S_META_PUT);
		bind_str(s, 1, key);
		bind_str(s, 2, val);
		ret = step_done(ix, s, err);
		sqlite3_reset(s);
		free(key);
		free(val);
		return ret;
	}
	/* a record of a kind this version does not index */
	return 0;
}

int
arcidx_apply(struct arcidx *ix, unsigned seq, const char *manifest,
    size_t len, struct buf *err)
{
	const char *p = manifest, *end = manifest + len, *nl;
	json_error_t jerr;
	size_t line = 0;
	json_t *o;

	if (exec(ix, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	for (; p < end; p = nl + 1) {
		line++;
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end;
		if (nl == p)
			continue;
		o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		if (!json_is_object(o)) {
			buf_addf(err, "segment %u: manifest line %zu: %s", seq,
			    line, o ? "not an object" : jerr.text);
			json_decref(o);
			goto fail;
		}
		if (apply_record(ix, seq, o, err) < 0) {
			json_decref(o);
			buf_addf(err, " (segment %u, manifest line %zu)", seq,
			    line);
			goto fail;
		}
		json_decref(o);
	}
	if (exec(ix, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	exec(ix, "ROLLBACK", &(struct buf)BUF_INIT);
	return -1;
}

int
arcidx_catch_up(struct arcidx *ix, struct buf *err)
{
	unsigned *seqs = NULL, last = arcidx_last_seq(ix), seq;
	struct buf path = BUF_INIT, manifest = BUF_INIT;
	size_t i, nr;
	int ret = -1;

	if (seg_list(ix->dir, &seqs, &nr, ix->lock_fd >= 0, err) < 0)
		return -1;
	if (last && (!nr || seqs[nr - 1] < last)) {
		buf_addf(err, "archive '%s': segment %u is in the index but"
		    " its file is gone", ix->dir, last);
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (seqs[i] <= last)
			continue;
		if (seqs[i] != last + 1) {
			buf_addf(err, "archive '%s': segment %u is missing",
			    ix->dir, last + 1);
			goto out;
		}
		buf_reset(&path);
		buf_addf(&path, "%s/" SEG_DIR "/", ix->dir);
		seg_name(seqs[i], &path);
		buf_reset(&manifest);
		if (seg_verify(path.buf, &manifest, &seq, NULL, NULL, err) < 0)
			goto out;
		if (seq != seqs[i]) {
			buf_addf(err, "'%s' says it is segment %u", path.buf,
			    seq);
			goto out;
		}
		log_info("recording segment %u found on disk", seq);
		if (arcidx_apply(ix, seq, manifest.buf, manifest.len,
		    err) < 0)
			goto out;
		last = seq;
	}
	ret = 0;
out:
	free(seqs);
	buf_release(&path);
	buf_release(&manifest);
	return ret;
}

int
arcidx_has_blob(struct arcidx *ix, const char *hash)
{
	sqlite3_stmt *s = stmt(ix, S_BLOB_HAS);
	int rc;

	bind_str(s, 1, hash);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
arcidx_blob_match(struct arcidx *ix, uint64_t size, const char *mid,
    int64_t time, char *hash_r)
{
	sqlite3_stmt *s = stmt(ix, S_BLOB_MATCH);
	int rc, found = 0;

	bind_str(s, 1, mid);
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

static char *
col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return xstrdup(t ? (const char *)t : "");
}

int
arcidx_folders(struct arcidx *ix, struct arc_folder **f_r, size_t *nr_r,
    struct buf *err)
{
	struct arc_folder *f = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	const char *sep;
	int rc;

	*f_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT name, raw, sep, special,"
	    " subscribed, noselect, uidvalidity, synced, uidnext,"
	    " highestmodseq, messages FROM folders ORDER BY name", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read folders", err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(f, nr + 1, alloc);
		x = &f[nr++];
		memset(x, 0, sizeof(*x));
		x->name = col_dup(s, 0);
		x->raw = col_dup(s, 1);
		sep = (const char *)sqlite3_column_text(s, 2);
		x->sep = sep ? sep[0] : 0;
		x->special = col_dup(s, 3);
		x->subscribed = sqlite3_column_int(s, 4);
		x->noselect = sqlite3_column_int(s, 5);
		x->uidvalidity = (uint32_t)sqlite3_column_int64(s, 6);
		x->synced = sqlite3_column_int(s, 7);
		x->uidnext = (uint32_t)sqlite3_column_int64(s, 8);
		x->highestmodseq = (uint64_t)sqlite3_column_int64(s, 9);
		x->messages = (uint32_t)sqlite3_column_int64(s, 10);
	}
	sqlite3_finalize(s);
	*f_r = f;
	*nr_r = nr;
	if (rc != SQLITE_DONE) {
		arc_folders_free(f, nr);
		*f_r = NULL;
		*nr_r = 0;
		return db_fail(ix, "cannot read folders", err);
	}
	return 0;
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

int
arcidx_msgs(struct arcidx *ix, const char *folder, struct arc_msg **m_r,
    size_t *nr_r, struct buf *err)
{
	struct arc_msg *m = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc;

	*m_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT uid, hash, flags, modseq,"
	    " size, time, source_id FROM messages WHERE folder = ?1 ORDER BY"
	    " uid", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read messages", err);
	bind_str(s, 1, folder);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(m, nr + 1, alloc);
		x = &m[nr++];
		x->uid = (uint32_t)sqlite3_column_int64(s, 0);
		snprintf(x->hash, sizeof(x->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		x->flags = col_dup(s, 2);
		x->modseq = (uint64_t)sqlite3_column_int64(s, 3);
		x->size = (uint64_t)sqlite3_column_int64(s, 4);
		x->time = (int64_t)sqlite3_column_int64(s, 5);
		x->source_id = sqlite3_column_type(s, 6) == SQLITE_NULL ?
		    NULL : col_dup(s, 6);
	}
	sqlite3_finalize(s);
	*m_r = m;
	*nr_r = nr;
	if (rc != SQLITE_DONE) {
		arc_msgs_free(m, nr);
		*m_r = NULL;
		*nr_r = 0;
		return db_fail(ix, "cannot read messages", err);
	}
	return 0;
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

static long long
query_one(struct arcidx *ix, const char *sql, const char *s1,
    long long n2, char *text_r)
{
	sqlite3_stmt *s;
	long long v = -1;
	int rc;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	bind_str(s, 1, s1);
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

long long
arcidx_blob_seq(struct arcidx *ix, const char *hash)
{
	return query_one(ix, "SELECT seq FROM blobs WHERE hash = ?1", hash,
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
	return (int)query_one(ix, "SELECT hash FROM messages WHERE"
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
	sqlite3_stmt *s = stmt(ix, S_META_GET);
	char *v = NULL;

	bind_str(s, 1, key);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_dup(s, 0);
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
arcidx_begin(struct arcidx *ix, struct buf *err)
{
	return exec(ix, "BEGIN IMMEDIATE", err);
}

int
arcidx_commit(struct arcidx *ix, struct buf *err)
{
	return exec(ix, "COMMIT", err);
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
		return db_fail(ix, "cannot read messages", err);
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
		ret = db_fail(ix, "cannot read messages", err);
	sqlite3_finalize(s);
	return ret;
}

char *
arcidx_push_mailbox(struct arcidx *ix, const char *folder)
{
	sqlite3_stmt *s = stmt(ix, S_PUSH_MB_GET);
	char *v = NULL;

	bind_str(s, 1, folder);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_dup(s, 0);
	sqlite3_reset(s);
	return v;
}

int
arcidx_push_set_mailbox(struct arcidx *ix, const char *folder,
    const char *id, struct buf *err)
{
	sqlite3_stmt *s = stmt(ix, S_PUSH_MB_PUT);
	int ret;

	bind_str(s, 1, folder);
	bind_str(s, 2, id);
	ret = step_done(ix, s, err);
	sqlite3_reset(s);
	return ret;
}

int
arcidx_push_units(struct arcidx *ix, struct arc_unit **u_r, size_t *nr_r,
    struct buf *err)
{
	struct arc_unit *u = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc;

	*u_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT hash, k, state, email_id,"
	    " mailboxes, keywords, error FROM push_emails ORDER BY hash, k",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read push state", err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(u, nr + 1, alloc);
		x = &u[nr++];
		memset(x, 0, sizeof(*x));
		snprintf(x->hash, sizeof(x->hash), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		x->k = sqlite3_column_int(s, 1);
		x->state = col_dup(s, 2);
		x->email_id = col_dup(s, 3);
		x->mailboxes = col_dup(s, 4);
		x->keywords = col_dup(s, 5);
		x->error = col_dup(s, 6);
	}
	sqlite3_finalize(s);
	*u_r = u;
	*nr_r = nr;
	if (rc != SQLITE_DONE)
		return db_fail(ix, "cannot read push state", err);
	return 0;
}

int
arcidx_push_set(struct arcidx *ix, const struct arc_unit *u,
    struct buf *err)
{
	sqlite3_stmt *s = stmt(ix, S_PUSH_PUT);
	int ret;

	bind_str(s, 1, u->hash);
	sqlite3_bind_int(s, 2, u->k);
	bind_str(s, 3, u->state);
	bind_str(s, 4, u->email_id && *u->email_id ? u->email_id : NULL);
	bind_str(s, 5, u->mailboxes);
	bind_str(s, 6, u->keywords);
	bind_str(s, 7, u->error && *u->error ? u->error : NULL);
	ret = step_done(ix, s, err);
	sqlite3_reset(s);
	return ret;
}

void
arc_units_free(struct arc_unit *u, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(u[i].state);
		free(u[i].email_id);
		free(u[i].mailboxes);
		free(u[i].keywords);
		free(u[i].error);
	}
	free(u);
}

int
arcidx_sieve(struct arcidx *ix, struct arc_sieve **v_r, size_t *nr_r,
    struct buf *err)
{
	struct arc_sieve *v = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc;

	*v_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT s.name, s.hash, s.size,"
	    " s.active, p.hash, p.state, p.error FROM sieve_scripts s"
	    " LEFT JOIN push_sieve p USING (name) UNION ALL SELECT name,"
	    " '', 0, 0, hash, state, error FROM push_sieve WHERE name NOT IN"
	    " (SELECT name FROM sieve_scripts) ORDER BY 1", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read the scripts", err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + 1, alloc);
		x = &v[nr++];
		memset(x, 0, sizeof(*x));
		x->name = col_dup(s, 0);
		snprintf(x->hash, sizeof(x->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		x->size = (uint64_t)sqlite3_column_int64(s, 2);
		x->active = sqlite3_column_int(s, 3);
		x->push_hash = col_dup(s, 4);
		x->push_state = col_dup(s, 5);
		x->push_error = col_dup(s, 6);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*nr_r = nr;
	if (rc != SQLITE_DONE)
		return db_fail(ix, "cannot read the scripts", err);
	return 0;
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

int
arcidx_push_sieve_set(struct arcidx *ix, const char *name, const char *hash,
    const char *state, const char *error, struct buf *err)
{
	sqlite3_stmt *s;
	int ret;

	if (!state)
		return exec2(ix, "DELETE FROM push_sieve WHERE name = ?1", name,
		    NULL, err);
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO push_sieve(name,"
	    " hash, state, error) VALUES(?1, ?2, ?3, ?4)", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, name);
	bind_str(s, 2, hash);
	bind_str(s, 3, state);
	bind_str(s, 4, error && *error ? error : NULL);
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}

int
arcidx_dav_collections(struct arcidx *ix, struct arc_davcol **v_r,
    size_t *nr_r, struct buf *err)
{
	struct arc_davcol *v = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc;

	*v_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT path, kind, name, props,"
	    " sync_token, shared, (SELECT count(*) FROM dav_resources r WHERE"
	    " r.collection = c.path) FROM dav_collections c ORDER BY path",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read the collections", err);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + 1, alloc);
		x = &v[nr++];
		x->path = col_dup(s, 0);
		x->kind = col_dup(s, 1);
		x->name = col_dup(s, 2);
		x->props = col_dup(s, 3);
		x->sync_token = col_dup(s, 4);
		x->shared = sqlite3_column_int(s, 5);
		x->resources = (uint64_t)sqlite3_column_int64(s, 6);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*nr_r = nr;
	if (rc != SQLITE_DONE)
		return db_fail(ix, "cannot read the collections", err);
	return 0;
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

int
arcidx_dav_resources(struct arcidx *ix, const char *collection,
    struct arc_davres **v_r, size_t *nr_r, struct buf *err)
{
	struct arc_davres *v = NULL, *x;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc;

	*v_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT name, hash, size, etag, type"
	    " FROM dav_resources WHERE collection = ?1 ORDER BY name", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(ix, "cannot read the resources", err);
	bind_str(s, 1, collection);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + 1, alloc);
		x = &v[nr++];
		x->name = col_dup(s, 0);
		snprintf(x->hash, sizeof(x->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		x->size = (uint64_t)sqlite3_column_int64(s, 2);
		x->etag = col_dup(s, 3);
		x->type = col_dup(s, 4);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*nr_r = nr;
	if (rc != SQLITE_DONE)
		return db_fail(ix, "cannot read the resources", err);
	return 0;
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

/* A query's rows as strings: `cols` columns each, into *v_r (caller frees
 * with arc_rows_free()).  Parameters ?1 and ?2 are `a` and `b`. */
int
arcidx_rows(struct arcidx *ix, const char *sql, const char *a, const char *b,
    int cols, char ***v_r, size_t *nr_r, struct buf *err)
{
	char **v = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc, i;

	*v_r = NULL;
	*nr_r = 0;
	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	bind_str(s, 1, a);
	bind_str(s, 2, b);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + cols, alloc);
		for (i = 0; i < cols; i++)
			v[nr++] = col_dup(s, i);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*nr_r = nr / (size_t)cols;
	if (rc != SQLITE_DONE)
		return db_fail(ix, "cannot read", err);
	return 0;
}

void
arc_rows_free(char **v, size_t nr, int cols)
{
	size_t i;

	for (i = 0; i < nr * (size_t)cols; i++)
		free(v[i]);
	free(v);
}

int
arcidx_exec(struct arcidx *ix, const char *sql, const char *const *params,
    struct buf *err)
{
	sqlite3_stmt *s;
	int i, ret;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(ix, "cannot prepare", err);
	for (i = 0; params && params[i] != ARCIDX_END; i++)
		bind_str(s, i + 1, params[i]);
	ret = step_done(ix, s, err);
	sqlite3_finalize(s);
	return ret;
}
