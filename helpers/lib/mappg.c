/*
 * mappg.c: the mapping store in PostgreSQL (libpq), which several
 * proxies share (mapping_int.h).
 *
 * The tables are the SQLite store's.  Every new version is announced in
 * its own transaction on the channel migrate_mapping (NOTIFY "version
 * N"), and so are the lines of mapping_tell(), so that each proxy that
 * follows the store (mapping_listen()) learns of a flip when it is
 * committed, and only then.
 */
#include "compat.h"

#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "mapping_int.h"
#include "pgconn.h"
#include "xalloc.h"

#define CHANNEL	"migrate_mapping"

struct mappg {
	struct mapping m;
	PGconn *conn;
	char sqlstate[6];	/* of the last query that failed */
};

#define CONN(m)	(((struct mappg *)(m))->conn)

static const char schema[] =
	"BEGIN;"
	/* two writers making the tables at once would collide */
	"SELECT pg_advisory_xact_lock(7236);"
	"CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY,"
	"  value text NOT NULL);"
	"CREATE TABLE IF NOT EXISTS routes(identifier text PRIMARY KEY,"
	"  account text NOT NULL, route text NOT NULL"
	"  CHECK (route IN ('source', 'destination')),"
	"  version bigint NOT NULL, updated bigint NOT NULL);"
	"CREATE INDEX IF NOT EXISTS routes_version ON routes(version);"
	"CREATE TABLE IF NOT EXISTS pop3_uidls(account text NOT NULL,"
	"  dest text NOT NULL, src text NOT NULL, PRIMARY KEY(account, dest));"
	"INSERT INTO meta VALUES('version', '0'), ('format', '1')"
	"  ON CONFLICT DO NOTHING;"
	"COMMIT;";

static int
pg_error(struct mapping *m, const char *what, struct buf *err)
{
	buf_addf(err, "mapping store: %s: ", what);
	pgconn_message(err, PQerrorMessage(CONN(m)));
	return -1;
}

/* The query's result when it went as `want` says, else NULL (err set). */
static PGresult *
query(struct mapping *m, ExecStatusType want, const char *what,
    const char *sql, int nparams, const char *const *params,
    struct buf *err)
{
	struct mappg *pg = (struct mappg *)m;
	const char *state;
	PGresult *res;

	pg->sqlstate[0] = '\0';
	if (PQstatus(CONN(m)) != CONNECTION_OK) {
		buf_addf(err, "mapping store: %s: not connected to the"
		    " database", what);
		return NULL;
	}
	/* without parameters, as a script: the schema is several */
	res = nparams ? PQexecParams(CONN(m), sql, nparams, NULL, params,
	    NULL, NULL, 0) : PQexec(CONN(m), sql);
	if (PQresultStatus(res) == want)
		return res;
	if ((state = PQresultErrorField(res, PG_DIAG_SQLSTATE)))
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state);
	PQclear(res);
	pg_error(m, what, err);
	return NULL;
}

/* A reader of a store no writer has made yet (undefined_table): no
 * rows, no error. */
static int
not_made(struct mapping *m)
{
	return !strcmp(((struct mappg *)m)->sqlstate, "42P01");
}

/* `line` for the followers, when the transaction commits. */
static int
announce(struct mapping *m, const char *line, struct buf *err)
{
	PGresult *res = query(m, PGRES_TUPLES_OK, "cannot announce",
	    "SELECT pg_notify('" CHANNEL "', $1)", 1, &line, err);

	PQclear(res);
	return res ? 0 : -1;
}

static int
run(struct mapping *m, const char *what, const char *sql, int nparams,
    const char *const *params, struct buf *err)
{
	PGresult *res = query(m, PGRES_COMMAND_OK, what, sql, nparams, params,
	    err);

	PQclear(res);
	return res ? 0 : -1;
}

static void
pg_close(struct mapping *m)
{
	PQfinish(CONN(m));
	free(m);
}

static int
pg_begin(struct mapping *m, struct buf *err)
{
	PGresult *res;

	if (run(m, "cannot begin", "BEGIN", 0, NULL, err) < 0)
		return -1;
	/* one writer at a time, as SQLite's BEGIN IMMEDIATE */
	res = query(m, PGRES_TUPLES_OK, "cannot begin", "SELECT value FROM"
	    " meta WHERE key = 'version' FOR UPDATE", 0, NULL, err);
	if (!res) {
		PQclear(PQexec(CONN(m), "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	return 0;
}

static int
pg_end(struct mapping *m, int ok, struct buf *err)
{
	if (ok && run(m, "cannot commit", "COMMIT", 0, NULL, err) == 0)
		return 0;
	if (PQstatus(CONN(m)) == CONNECTION_OK)
		PQclear(PQexec(CONN(m), "ROLLBACK"));
	return -1;
}

static int64_t
pg_version(struct mapping *m)
{
	struct buf err = BUF_INIT;
	PGresult *res = query(m, PGRES_TUPLES_OK, "version", "SELECT value"
	    " FROM meta WHERE key = 'version'", 0, NULL, &err);
	int64_t v = res || !not_made(m) ? -1 : 0;

	if (res && PQntuples(res) == 1)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	buf_release(&err);
	return v;
}

static int
pg_bump(struct mapping *m, struct buf *err)
{
	PGresult *res = query(m, PGRES_TUPLES_OK, "cannot count",
	    "UPDATE meta SET value = (value::bigint + 1)::text"
	    " WHERE key = 'version' RETURNING 'version ' || value", 0, NULL,
	    err);
	const char *line;
	int ret;

	if (!res)
		return -1;
	line = PQgetvalue(res, 0, 0);
	ret = announce(m, line, err);
	PQclear(res);
	return ret;
}

/* The route a one-column query gives: 0, 1 no row (or no table), -1. */
static int
route_of(struct mapping *m, const char *what, const char *sql,
    const char *param, enum route *r, struct buf *err)
{
	size_t len0 = err->len;
	PGresult *res = query(m, PGRES_TUPLES_OK, what, sql, param ? 1 : 0,
	    param ? &param : NULL, err);
	int ret = 1;

	if (!res && not_made(m))
		buf_setlen(err, len0);
	else if (!res)
		ret = -1;
	else if (PQntuples(res) == 1)
		ret = route_parse(PQgetvalue(res, 0, 0), r) < 0 ? -1 : 0;
	PQclear(res);
	return ret;
}

static int
pg_lookup(struct mapping *m, const char *id, enum route *r, struct buf *err)
{
	return route_of(m, "cannot look up", "SELECT route FROM routes"
	    " WHERE identifier = $1", id, r, err);
}

static int
pg_put_route(struct mapping *m, const char *id, const char *account,
    enum route r, int *changed, struct buf *err)
{
	const char *p[3] = { id, account, route_name(r) };
	PGresult *res = query(m, PGRES_COMMAND_OK, "cannot write a route",
	    "INSERT INTO routes(identifier, account, route, version, updated)"
	    " VALUES($1, $2, $3, (SELECT value::bigint + 1 FROM meta"
	    " WHERE key = 'version'), extract(epoch FROM now())::bigint)"
	    " ON CONFLICT(identifier) DO UPDATE SET account = $2, route = $3,"
	    " version = excluded.version, updated = excluded.updated"
	    " WHERE routes.route <> $3 OR routes.account <> $2", 3, p, err);

	if (!res)
		return -1;
	if (atoi(PQcmdTuples(res)) > 0)
		++*changed;
	PQclear(res);
	return 0;
}

static int
pg_rows(struct mapping *m, struct row **rows_r, size_t *nr_r,
    struct buf *err)
{
	size_t len0 = err->len, nr = 0, alloc = 0;
	PGresult *res = query(m, PGRES_TUPLES_OK, "cannot read the routes",
	    "SELECT identifier, account, route FROM routes"
	    " ORDER BY identifier COLLATE \"C\"", 0, NULL, err);
	struct row *rows = NULL;
	int i;

	*rows_r = NULL;
	*nr_r = 0;
	if (!res && not_made(m))
		buf_setlen(err, len0);
	if (!res)
		return not_made(m) ? 0 : -1;
	for (i = 0; i < PQntuples(res); i++)
		row_add(&rows, &nr, &alloc, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
	*rows_r = rows;
	*nr_r = nr;
	return 0;
}

static int
pg_get_default(struct mapping *m, enum route *r, struct buf *err)
{
	return route_of(m, "cannot read the default route", "SELECT value"
	    " FROM meta WHERE key = 'default'", NULL, r, err);
}

static int
pg_put_default(struct mapping *m, enum route r, struct buf *err)
{
	const char *p = route_name(r);

	return run(m, "cannot write the default route", "INSERT INTO meta"
	    " VALUES('default', $1) ON CONFLICT(key) DO UPDATE SET value = $1",
	    1, &p, err);
}

static int
pg_put_uidls(struct mapping *m, const char *acc, const char *const *dest,
    const char *const *src, size_t nr, struct buf *err)
{
	size_t i;

	if (run(m, "cannot record the POP3 ids", "DELETE FROM pop3_uidls"
	    " WHERE account = $1", 1, &acc, err) < 0)
		return -1;
	for (i = 0; i < nr; i++) {
		const char *p[3] = { acc, dest[i], src[i] };

		if (run(m, "cannot record the POP3 ids", "INSERT INTO"
		    " pop3_uidls(account, dest, src) VALUES($1, $2, $3)"
		    " ON CONFLICT(account, dest) DO UPDATE SET src = $3", 3,
		    p, err) < 0)
			return -1;
	}
	return 0;
}

static int
pg_uidls(struct mapping *m, const char *id, struct uidl_pair **pairs_r,
    size_t *nr_r, struct buf *err)
{
	size_t len0 = err->len;
	PGresult *res = query(m, PGRES_TUPLES_OK, "cannot read the POP3 ids",
	    "SELECT dest, src FROM pop3_uidls WHERE account = coalesce("
	    "(SELECT account FROM routes WHERE identifier = $1), $1)"
	    " ORDER BY dest COLLATE \"C\"", 1, &id, err);
	struct uidl_pair *v;
	int i, n;

	if (!res && not_made(m))
		buf_setlen(err, len0);
	if (!res)
		return not_made(m) ? 0 : -1;
	n = PQntuples(res);
	v = n ? xcalloc(n, sizeof(*v)) : NULL;
	for (i = 0; i < n; i++) {
		v[i].dest = xstrdup(PQgetvalue(res, i, 0));
		v[i].src = xstrdup(PQgetvalue(res, i, 1));
	}
	PQclear(res);
	*pairs_r = v;
	*nr_r = n;
	return 0;
}

static int
pg_tell(struct mapping *m, const char *lines, struct buf *err)
{
	const char *p = lines;

	while (*p) {
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n);
		int ret = n ? announce(m, line, err) : 0;

		free(line);
		if (ret < 0)
			return -1;
		p += n + (p[n] == '\n');
	}
	return 0;
}

static const struct mapping_ops pg_ops = {
	.close = pg_close, .begin = pg_begin, .end = pg_end,
	.version = pg_version, .bump = pg_bump, .lookup = pg_lookup,
	.put_route = pg_put_route, .rows = pg_rows,
	.get_default = pg_get_default, .put_default = pg_put_default,
	.put_uidls = pg_put_uidls, .uidls = pg_uidls, .tell = pg_tell,
};

/* The mapping store's connection: pgconn_open()'s. */
int
mappg_open(struct mapping **mp, const char *url, int mode, struct buf *err)
{
	PGconn *c = pgconn_open(url, "mapping store", err);
	struct mappg *pg;

	if (!c)
		return -1;
	pg = xcalloc(1, sizeof(*pg));
	pg->m.ops = &pg_ops;
	pg->conn = c;
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		pg_error(&pg->m, "cannot connect", err);
		if (mode != MAPPING_FOLLOW) {
			pg_close(&pg->m);
			return -1;
		}
	} else if (mode == MAPPING_WRITE &&
	    run(&pg->m, "cannot set up", schema, 0, NULL, err) < 0) {
		pg_close(&pg->m);
		return -1;
	}
	*mp = &pg->m;
	return 0;
}

static struct mappg *
followed(struct mapping *m, struct buf *err)
{
	if (m->ops == &pg_ops)
		return (struct mappg *)m;
	buf_adds(err, "the mapping store is a file: nothing to follow");
	return NULL;
}

int
mapping_listen(struct mapping *m, struct buf *err)
{
	struct mappg *pg = followed(m, err);

	if (!pg || run(m, "cannot listen", "LISTEN " CHANNEL, 0, NULL,
	    err) < 0)
		return -1;
	return PQsocket(pg->conn);
}

int
mapping_heard(struct mapping *m, void (*fn)(void *arg, const char *line),
    void *arg, struct buf *err)
{
	struct mappg *pg = followed(m, err);
	PGnotify *n;

	if (!pg)
		return -1;
	if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK)
		return pg_error(m, "lost", err);
	while ((n = PQnotifies(pg->conn))) {
		if (!strcmp(n->relname, CHANNEL))
			fn(arg, n->extra);
		PQfreemem(n);
	}
	return 0;
}

int64_t
mapping_changes(struct mapping *m, int64_t since,
    void (*fn)(void *arg, const char *id, enum route r), void *arg,
    struct buf *err)
{
	char since_s[32];
	const char *p = since_s;
	size_t len0 = err->len;
	int64_t version;
	PGresult *res;
	enum route r;
	int i;

	if (!followed(m, err))
		return -1;
	version = pg_version(m);
	if (version < 0)
		return pg_error(m, "cannot read the version", err);
	snprintf(since_s, sizeof(since_s), "%" PRId64, since);
	res = query(m, PGRES_TUPLES_OK, "cannot read the changes",
	    "SELECT identifier, route, version FROM routes WHERE version > $1",
	    1, &p, err);
	if (!res && not_made(m))
		buf_setlen(err, len0);
	if (!res)
		return not_made(m) ? 0 : -1;
	for (i = 0; i < PQntuples(res); i++) {
		/* a change committed since the version was read: counted
		 * here, so that its own announcement finds nothing new */
		int64_t v = strtoll(PQgetvalue(res, i, 2), NULL, 10);

		if (v > version)
			version = v;
		if (route_parse(PQgetvalue(res, i, 1), &r) == 0)
			fn(arg, PQgetvalue(res, i, 0), r);
	}
	PQclear(res);
	return version;
}

int
mapping_reconnect(struct mapping *m, int start, int *fd_r, struct buf *err)
{
	struct mappg *pg = followed(m, err);
	PostgresPollingStatusType st;

	if (!pg)
		return -1;
	if (start && !PQresetStart(pg->conn))
		return pg_error(m, "cannot connect", err);
	st = PQresetPoll(pg->conn);
	*fd_r = PQsocket(pg->conn);
	switch (st) {
	case PGRES_POLLING_OK:
		return 0;
	case PGRES_POLLING_READING:
		return 1;
	case PGRES_POLLING_WRITING:
		return 2;
	default:
		return pg_error(m, "cannot connect", err);
	}
}
