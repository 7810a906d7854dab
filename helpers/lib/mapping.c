#include "compat.h"

#include <ctype.h>

#include <sqlite3.h>

#include "buf.h"
#include "mapping.h"
#include "xalloc.h"

struct mapping {
	sqlite3 *db;
	int no_uidls;		/* a reader of a store older than POP3 ids */
};

static const char schema[] =
	"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS routes(identifier TEXT PRIMARY KEY,"
	"  account TEXT NOT NULL, route TEXT NOT NULL"
	"  CHECK (route IN ('source', 'destination')),"
	"  version INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
	/* a migrated account's POP3 ids: the destination's, and the
	 * source's for the same message (pop3-uidl(8)) */
	"CREATE TABLE IF NOT EXISTS pop3_uidls(account TEXT NOT NULL,"
	"  dest TEXT NOT NULL, src TEXT NOT NULL, PRIMARY KEY(account, dest))"
	"  WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('version', 0);"
	"INSERT OR IGNORE INTO meta VALUES('format', 1);";

const char *
route_name(enum route r)
{
	return r == ROUTE_DESTINATION ? "destination" : "source";
}

int
route_parse(const char *s, enum route *r)
{
	if (!strcmp(s, "source"))
		*r = ROUTE_SOURCE;
	else if (!strcmp(s, "destination"))
		*r = ROUTE_DESTINATION;
	else
		return -1;
	return 0;
}

static int
db_error(struct mapping *m, const char *what, struct buf *err)
{
	buf_addf(err, "mapping store: %s: %s", what, sqlite3_errmsg(m->db));
	return -1;
}

static int
has_table(struct mapping *m, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = ?1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK)
		found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/*
 * A writer makes the schema and keeps the WAL files when it closes
 * (SQLITE_FCNTL_PERSIST_WAL), so that a reader that may not write the
 * store or its directory, migrate-proxy once it has dropped root, can
 * still open it: a read-only connection to a WAL database needs its
 * -wal and -shm files to exist.  A reader never writes, not even the
 * schema; a store from before pop3_uidls simply has no pairs.
 */
int
mapping_open(struct mapping **mp, const char *path, int create,
    struct buf *err)
{
	struct mapping *m = xcalloc(1, sizeof(*m));
	int flags = SQLITE_OPEN_NOMUTEX, persist = 1;

	flags |= create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	    SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &m->db, flags, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open the mapping store '%s': %s", path,
		    m->db ? sqlite3_errmsg(m->db) : "out of memory");
		mapping_close(m);
		return -1;
	}
	sqlite3_busy_timeout(m->db, 10000);
	if (create && (sqlite3_file_control(m->db, "main",
	    SQLITE_FCNTL_PERSIST_WAL, &persist) != SQLITE_OK ||
	    sqlite3_exec(m->db, schema, NULL, NULL, NULL) != SQLITE_OK)) {
		buf_addf(err, "'%s': ", path);
		db_error(m, "cannot set up", err);
		mapping_close(m);
		return -1;
	}
	m->no_uidls = !create && !has_table(m, "pop3_uidls");
	*mp = m;
	return 0;
}

void
mapping_close(struct mapping *m)
{
	if (!m)
		return;
	sqlite3_close(m->db);
	free(m);
}

static char *
lower(const char *s)
{
	char *l = xstrdup(s), *p;

	for (p = l; *p; p++)
		*p = tolower((unsigned char)*p);
	return l;
}

size_t
mapping_forms(const char *account, const char *domain, char ***forms_r)
{
	char **forms = xcalloc(2, sizeof(*forms));
	const char *at = strchr(account, '@');
	size_t n = 0;

	forms[n++] = lower(account);
	if (domain && *domain) {
		char *other = NULL;

		if (!at)
			other = xasprintf("%s@%s", account, domain);
		else if (!strcasecmp(at + 1, domain))
			other = xstrndup(account, at - account);
		if (other)
			forms[n++] = lower(other);
		free(other);
	}
	*forms_r = forms;
	return n;
}

int64_t
mapping_version(struct mapping *m)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(m->db, "SELECT value FROM meta"
	    " WHERE key = 'version'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Write one row unless it already says so, with the version this
 * transaction will bump the store to.
 */
static int
put_route(struct mapping *m, const char *id, const char *account,
    enum route r, int *changed, struct buf *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(m->db, "INSERT INTO routes(identifier,"
	    " account, route, version, updated) VALUES(?1, ?2, ?3,"
	    " (SELECT value + 1 FROM meta WHERE key = 'version'),"
	    " strftime('%s', 'now')) ON CONFLICT(identifier) DO UPDATE SET"
	    " account = ?2, route = ?3, version = excluded.version,"
	    " updated = excluded.updated"
	    " WHERE route != ?3 OR account != ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, route_name(r), -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(m, "cannot write a route", err);
	if (sqlite3_changes(m->db) > 0)
		++*changed;
	return 0;
}

/*
 * Count in `moved` whether routing `id` to `r` sends it elsewhere than it
 * goes now (no row: the source), so that writing a route that changes
 * nothing for the proxy kicks nobody.
 */
static int
moved_from(struct mapping *m, const char *id, enum route r, int *moved,
    struct buf *err)
{
	enum route now = ROUTE_SOURCE;
	int found = mapping_lookup(m, id, &now, err);

	if (found < 0 || (found == 1 && mapping_default(m, &now, err) < 0))
		return -1;
	if (now != r)
		++*moved;
	return 0;
}

/* One change of the store (any number of rows): the next version. */
static int
bump(struct mapping *m, struct buf *err)
{
	if (sqlite3_exec(m->db, "UPDATE meta SET value = value + 1"
	    " WHERE key = 'version'", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(m, "cannot count", err);
	return 0;
}

int
mapping_default(struct mapping *m, enum route *r, struct buf *err)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*r = ROUTE_SOURCE;
	if (sqlite3_prepare_v2(m->db, "SELECT value FROM meta"
	    " WHERE key = 'default'", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = route_parse((const char *)sqlite3_column_text(st, 0), r);
	else if (rc != SQLITE_DONE)
		ret = db_error(m, "cannot read the default route", err);
	sqlite3_finalize(st);
	return ret;
}

/* Within a transaction: the default route, counted in `changed`. */
static int
put_default(struct mapping *m, enum route r, int *changed,
    struct buf *err)
{
	sqlite3_stmt *st;
	enum route now;
	int rc;

	if (mapping_default(m, &now, err) < 0)
		return -1;
	if (now == r)
		return 0;
	if (sqlite3_prepare_v2(m->db, "INSERT OR REPLACE INTO meta"
	    " VALUES('default', ?1)", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	sqlite3_bind_text(st, 1, route_name(r), -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(m, "cannot write the default route", err);
	++*changed;
	return 0;
}

static int
begin(struct mapping *m, struct buf *err)
{
	if (sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_error(m, "cannot begin", err);
	return 0;
}

static int
end(struct mapping *m, int ok, int64_t *version_r, struct buf *err)
{
	if (!ok) {
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(m, "cannot commit", err);
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (version_r)
		*version_r = mapping_version(m);
	return 0;
}

int
mapping_set(struct mapping *m, const char *account, const char *const *ids,
    size_t nr_ids, enum route r, int *changed_r, int64_t *version_r,
    struct buf *err)
{
	char *acc = lower(account);
	int changed = 0, moved = 0, ok;
	size_t i;

	if (begin(m, err) < 0) {
		free(acc);
		return -1;
	}
	ok = moved_from(m, acc, r, &moved, err) == 0 &&
	    put_route(m, acc, acc, r, &changed, err) == 0;
	for (i = 0; ok && i < nr_ids; i++) {
		char *id = lower(ids[i]);

		ok = moved_from(m, id, r, &moved, err) == 0 &&
		    put_route(m, id, acc, r, &changed, err) == 0;
		free(id);
	}
	free(acc);
	if (ok && changed)
		ok = bump(m, err) == 0;
	*changed_r = moved > 0;
	return end(m, ok, version_r, err);
}

int
mapping_set_uidls(struct mapping *m, const char *account,
    const char *const *dest, const char *const *src, size_t nr,
    struct buf *err)
{
	char *acc = lower(account);
	sqlite3_stmt *s = NULL;
	int ok;
	size_t i;

	if (begin(m, err) < 0) {
		free(acc);
		return -1;
	}
	ok = sqlite3_prepare_v2(m->db, "DELETE FROM pop3_uidls WHERE account"
	    " = ?1", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, acc, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	s = NULL;
	if (ok)
		ok = sqlite3_prepare_v2(m->db, "INSERT OR REPLACE INTO"
		    " pop3_uidls(account, dest, src) VALUES(?1, ?2, ?3)", -1,
		    &s, NULL) == SQLITE_OK;
	for (i = 0; ok && i < nr; i++) {
		ok = sqlite3_bind_text(s, 1, acc, -1, SQLITE_STATIC) ==
		    SQLITE_OK && sqlite3_bind_text(s, 2, dest[i], -1,
		    SQLITE_STATIC) == SQLITE_OK && sqlite3_bind_text(s, 3,
		    src[i], -1, SQLITE_STATIC) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_DONE;
		sqlite3_reset(s);
	}
	if (!ok)
		db_error(m, "cannot record the POP3 ids", err);
	sqlite3_finalize(s);
	free(acc);
	return end(m, ok, NULL, err);
}

int
mapping_uidls(struct mapping *m, const char *id, struct uidl_pair **pairs_r,
    size_t *nr_r, struct buf *err)
{
	sqlite3_stmt *st;
	char *l = lower(id);
	struct uidl_pair *v = NULL;
	size_t nr = 0, alloc = 0;
	int rc;

	*pairs_r = NULL;
	*nr_r = 0;
	if (m->no_uidls) {
		free(l);
		return 0;
	}
	/* an identifier without a row is its own account (the default
	 * route); BINARY order is strcmp(3)'s, for bsearch(3) */
	if (sqlite3_prepare_v2(m->db, "SELECT dest, src FROM pop3_uidls"
	    " WHERE account = coalesce((SELECT account FROM routes"
	    " WHERE identifier = ?1), ?1) ORDER BY dest", -1, &st, NULL) !=
	    SQLITE_OK) {
		free(l);
		return db_error(m, "cannot prepare", err);
	}
	sqlite3_bind_text(st, 1, l, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr].dest = xstrdup((const char *)sqlite3_column_text(st, 0));
		v[nr++].src = xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	free(l);
	if (rc != SQLITE_DONE) {
		uidl_pairs_free(v, nr);
		return db_error(m, "cannot read the POP3 ids", err);
	}
	*pairs_r = v;
	*nr_r = nr;
	return 0;
}

void
uidl_pairs_free(struct uidl_pair *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].dest);
		free(v[i].src);
	}
	free(v);
}

struct row {
	char *id, *account;
	enum route r;
};

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->id, ((const struct row *)b)->id);
}

static void
rows_free(struct row *rows, size_t nr)
{
	while (nr--) {
		free(rows[nr].id);
		free(rows[nr].account);
	}
	free(rows);
}

/* The export's lines, sorted by identifier. */
static int
parse_export(const char *text, size_t len, struct row **rows_r,
    size_t *nr_r, enum route *dflt_r, struct buf *err)
{
	const char *p = text, *eot = text + len;
	struct row *rows = NULL;
	size_t nr = 0, alloc = 0;
	unsigned lineno = 0;

	while (p < eot) {
		const char *nl = memchr(p, '\n', eot - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(eot - p);
		char *line = xstrndup(p, n), *sp;
		enum route r;

		lineno++;
		p += n + (nl ? 1 : 0);
		if (!strcmp(line, MAPPING_DEFAULT_LINE))
			*dflt_r = ROUTE_DESTINATION;
		if (!*line || *line == '#') {
			free(line);
			continue;
		}
		sp = strpbrk(line, " \t");
		if (!sp || route_parse(sp + strspn(sp, " \t"), &r) < 0) {
			buf_addf(err, "line %u: not \"identifier source|"
			    "destination\"", lineno);
			free(line);
			rows_free(rows, nr);
			return -1;
		}
		*sp = '\0';
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			rows = xreallocarray(rows, alloc, sizeof(*rows));
		}
		rows[nr].id = lower(line);
		rows[nr].account = NULL;
		rows[nr++].r = r;
		free(line);
	}
	if (nr)
		qsort(rows, nr, sizeof(*rows), row_cmp);
	*rows_r = rows;
	*nr_r = nr;
	return 0;
}

static int
read_rows(struct mapping *m, struct row **rows_r, size_t *nr_r,
    struct buf *err)
{
	struct row *rows = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(m->db, "SELECT identifier, account, route"
	    " FROM routes ORDER BY identifier", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			rows = xreallocarray(rows, alloc, sizeof(*rows));
		}
		rows[nr].id = xstrdup((const char *)sqlite3_column_text(st, 0));
		rows[nr].account = xstrdup((const char *)
		    sqlite3_column_text(st, 1));
		route_parse((const char *)sqlite3_column_text(st, 2),
		    &rows[nr++].r);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rows_free(rows, nr);
		return db_error(m, "cannot read the routes", err);
	}
	*rows_r = rows;
	*nr_r = nr;
	return 0;
}

/* Note `id` in the list of changed identifiers when `changed` grew. */
static void
note_changed(char ***ids, size_t *nr, const char *id, int before, int after)
{
	if (after == before)
		return;
	*ids = xreallocarray(*ids, *nr + 1, sizeof(**ids));
	(*ids)[(*nr)++] = xstrdup(id);
}

int
mapping_restore(struct mapping *m, const char *text, size_t len,
    char ***ids_r, size_t *changed_r, int64_t *version_r, struct buf *err)
{
	struct row *want, *have = NULL, *w, *h;
	size_t nr_want, nr_have = 0, i;
	int changed = 0, ok = 1, before;
	enum route dflt = ROUTE_SOURCE;

	*ids_r = NULL;
	*changed_r = 0;

	if (parse_export(text, len, &want, &nr_want, &dflt, err) < 0)
		return -1;
	if (begin(m, err) < 0) {
		rows_free(want, nr_want);
		return -1;
	}
	if (read_rows(m, &have, &nr_have, err) < 0) {
		rows_free(want, nr_want);
		return end(m, 0, NULL, err);
	}
	/* identifiers the export does not name go back to the source */
	for (i = 0; ok && i < nr_have; i++) {
		h = &have[i];
		w = nr_want ? bsearch(h, want, nr_want, sizeof(*want),
		    row_cmp) : NULL;
		before = changed;
		if (!w && h->r != ROUTE_SOURCE)
			ok = put_route(m, h->id, h->account, ROUTE_SOURCE,
			    &changed, err) == 0;
		note_changed(ids_r, changed_r, h->id, before, changed);
	}
	for (i = 0; ok && i < nr_want; i++) {
		w = &want[i];
		h = nr_have ? bsearch(w, have, nr_have, sizeof(*have),
		    row_cmp) : NULL;
		before = changed;
		ok = put_route(m, w->id, h ? h->account : w->id, w->r,
		    &changed, err) == 0;
		note_changed(ids_r, changed_r, w->id, before, changed);
	}
	if (ok)
		ok = put_default(m, dflt, &changed, err) == 0;
	if (ok && changed)
		ok = bump(m, err) == 0;
	rows_free(want, nr_want);
	rows_free(have, nr_have);
	return end(m, ok, version_r, err);
}

int
mapping_set_default(struct mapping *m, enum route r, int *changed_r,
    int64_t *version_r, struct buf *err)
{
	int changed = 0, ok;

	if (begin(m, err) < 0)
		return -1;
	ok = put_default(m, r, &changed, err) == 0;
	if (ok && changed)
		ok = bump(m, err) == 0;
	*changed_r = changed;
	return end(m, ok, version_r, err);
}

int
mapping_lookup(struct mapping *m, const char *id, enum route *r,
    struct buf *err)
{
	sqlite3_stmt *st;
	char *l = lower(id);
	int rc, ret = 1;

	if (sqlite3_prepare_v2(m->db, "SELECT route FROM routes"
	    " WHERE identifier = ?1", -1, &st, NULL) != SQLITE_OK) {
		free(l);
		return db_error(m, "cannot prepare", err);
	}
	sqlite3_bind_text(st, 1, l, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = route_parse((const char *)sqlite3_column_text(st, 0),
		    r) < 0 ? -1 : 0;
	else if (rc != SQLITE_DONE)
		ret = db_error(m, "cannot look up", err);
	sqlite3_finalize(st);
	free(l);
	return ret;
}

int
mapping_export(struct mapping *m, struct buf *out, struct buf *err)
{
	sqlite3_stmt *st;
	enum route dflt;
	int rc;

	if (mapping_default(m, &dflt, err) < 0)
		return -1;
	if (dflt == ROUTE_DESTINATION)
		buf_addf(out, "%s\n", MAPPING_DEFAULT_LINE);

	if (sqlite3_prepare_v2(m->db, "SELECT identifier, route FROM routes"
	    " ORDER BY identifier", -1, &st, NULL) != SQLITE_OK)
		return db_error(m, "cannot prepare", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		buf_addf(out, "%s %s\n", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(m, "cannot read the routes", err);
	return 0;
}
