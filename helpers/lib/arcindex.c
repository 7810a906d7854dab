/*
 * arcindex.c: the archive index (migrate-archive(5)): opened, locked,
 * its schema made or upgraded, and caught up with the segments that are
 * not in it yet.
 */
#include "compat.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "arcidx_int.h"
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
	/* the sharing jmap-push last gave each mailbox, as JSON */
	"CREATE TABLE IF NOT EXISTS push_shares(folder TEXT PRIMARY KEY,"
	"  mailbox_id TEXT NOT NULL, share TEXT NOT NULL) WITHOUT ROWID;"
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
	/* pop3-uidl's: each side's POP3 ids, by body (k: their order) */
	"CREATE TABLE IF NOT EXISTS pop3_uidls(side TEXT NOT NULL, uidl TEXT"
	"  NOT NULL, hash TEXT NOT NULL, k INTEGER NOT NULL,"
	"  PRIMARY KEY(side, uidl)) WITHOUT ROWID;"
	/* imap-pull's: who else may use each folder (RFC 4314 rights) */
	"CREATE TABLE IF NOT EXISTS folder_acls(folder TEXT NOT NULL,"
	"  identifier TEXT NOT NULL, rights TEXT NOT NULL,"
	"  PRIMARY KEY(folder, identifier)) WITHOUT ROWID;"
	/* sieve-push's: what the destination was given */
	"CREATE TABLE IF NOT EXISTS push_sieve(name TEXT PRIMARY KEY,"
	"  hash TEXT, state TEXT NOT NULL, error TEXT) WITHOUT ROWID;";

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
		return arc_db_fail(ix, "cannot read the version", err);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v == 1 && arc_exec(ix, "ALTER TABLE messages ADD COLUMN source_id"
	    " TEXT", err) < 0)
		return -1;
	return arc_exec(ix, "PRAGMA user_version = 2", err);
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
		arc_db_fail(ix, "cannot open", err);
		goto out;
	}
	sqlite3_busy_timeout(ix->db, 10000);
	if (lock && (arc_exec(ix, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;", err) < 0 ||
	    arc_exec(ix, schema, err) < 0 || upgrade(ix, err) < 0))
		goto out;
	for (i = 0; i < S_NR; i++)
		if (sqlite3_prepare_v3(ix->db, arc_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &ix->st[i], NULL) != SQLITE_OK) {
			arc_db_fail(ix, "cannot prepare", err);
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

int
arcidx_apply(struct arcidx *ix, unsigned seq, const char *manifest,
    size_t len, struct buf *err)
{
	const char *p = manifest, *end = manifest + len, *nl;
	json_error_t jerr;
	size_t line = 0;
	json_t *o;

	if (arc_exec(ix, "BEGIN IMMEDIATE", err) < 0)
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
		if (arc_apply_record(ix, seq, o, err) < 0) {
			json_decref(o);
			buf_addf(err, " (segment %u, manifest line %zu)", seq,
			    line);
			goto fail;
		}
		json_decref(o);
	}
	if (arc_exec(ix, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	arc_exec(ix, "ROLLBACK", &(struct buf)BUF_INIT);
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
