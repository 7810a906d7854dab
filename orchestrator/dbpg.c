/*
 * dbpg.c: the state in PostgreSQL, which workers on several hosts share
 * (db.h).
 *
 * Statements are SQLite's: ?N becomes $N outside quotes, and the schema's
 * migrations are rewritten word by word (pg_ddl()).  The first migration
 * also makes the few SQLite functions the state's queries use.  The
 * schema's version is meta's row 'schema_version'.
 *
 * Within a transaction, the writes whose outcome can wait (db_send()) go
 * in a pipeline, up to PIPE_MAX of them, without a round trip each; any
 * other call reads the pipeline's results first (unpipe()), and a failure
 * among them fails the commit.  BEGIN and COMMIT go in it too: BEGIN
 * with the first statement, COMMIT with the last.
 */
#include "compat.h"

#include <ctype.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "log.h"
#include "pgconn.h"
#include "xalloc.h"

#define PIPE_MAX 256

struct pdb {
	struct db db;
	PGconn *c;
	struct buf err;
	int names;	/* statements prepared so far */
	int in_tx;	/* between begin and commit or rollback */
	int piped;	/* statements sent, results not read */
	int failed;	/* a statement of the transaction failed */
	struct pstmt *counted;	/* sent, its count awaited */
	int counted_at;		/* its place in the pipeline */
};

struct pstmt {
	struct db_stmt st;
	char *sql;		/* with $N */
	char name[16];		/* kept ones: "" until prepared */
	int keep, nparams;
	char **vals;
	Oid *types;
	PGresult *res;
	int row, nrows;
	int64_t changes;	/* -1 while db_send_counted()'s is awaited */
};

#define C(db)	(((struct pdb *)(db))->c)
#define P(st)	((struct pstmt *)(st))

/* the type oids (pg_type.h) */
#define BOOLOID		16
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23
#define FLOAT4OID	700
#define FLOAT8OID	701
#define NUMERICOID	1700

static const char compat[] =
	"CREATE FUNCTION json_extract(doc text, path text) RETURNS text"
	" LANGUAGE sql IMMUTABLE AS $$ SELECT doc::jsonb #>>"
	" string_to_array(substr(path, 3), '.') $$;"
	"CREATE FUNCTION json_type(doc text, path text) RETURNS text"
	" LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_typeof(doc::jsonb #>"
	" string_to_array(substr(path, 3), '.')) $$;"
	"CREATE FUNCTION json_array_length(doc text, path text) RETURNS"
	" bigint LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN"
	" json_type(doc, path) = 'array' THEN jsonb_array_length(doc::jsonb"
	" #> string_to_array(substr(path, 3), '.')) ELSE 0 END $$;"
	"CREATE FUNCTION json_valid(doc text) RETURNS boolean LANGUAGE"
	" plpgsql IMMUTABLE AS $$ BEGIN PERFORM doc::jsonb; RETURN doc IS"
	" NOT NULL; EXCEPTION WHEN others THEN RETURN false; END $$;"
	"CREATE FUNCTION instr(s text, t text) RETURNS integer LANGUAGE sql"
	" IMMUTABLE AS $$ SELECT strpos(s, t) $$;"
	"CREATE FUNCTION max(a anycompatible, b anycompatible) RETURNS"
	" anycompatible LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS"
	" NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END $$;"
	"CREATE FUNCTION min(a anycompatible, b anycompatible) RETURNS"
	" anycompatible LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS"
	" NULL OR b IS NULL THEN NULL ELSE least(a, b) END $$;"
	"CREATE FUNCTION datetime(t double precision, a text, b text)"
	" RETURNS text LANGUAGE sql STABLE AS $$ SELECT"
	" to_char(to_timestamp(t), 'YYYY-MM-DD HH24:MI:SS') $$;"
	"CREATE FUNCTION julianday(t text) RETURNS double precision"
	" LANGUAGE sql STABLE AS $$ SELECT extract(epoch FROM now())::double"
	" precision / 86400 + 2440587.5 $$;"
	"CREATE FUNCTION group_concat_step(acc text, s text, sep text)"
	" RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN s IS"
	" NULL THEN acc WHEN acc IS NULL THEN s ELSE acc || sep || s END $$;"
	"CREATE AGGREGATE group_concat(text, text) (sfunc ="
	" group_concat_step, stype = text);";

static const char *
pg_errmsg(struct db *db)
{
	return ((struct pdb *)db)->err.buf;
}

static void
set_error(struct db *db, const char *msg)
{
	struct buf *b = &((struct pdb *)db)->err;

	buf_setlen(b, 0);
	pgconn_message(b, msg);
}

static void
pg_close(struct db *db)
{
	PQfinish(C(db));
	buf_release(&((struct pdb *)db)->err);
	free(db);
}

/* A result's outcome: 0 when it is `want`ed or rows, else -1. */
static int
outcome(struct db *db, PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return 0;
	set_error(db, r ? PQresultErrorMessage(r) : PQerrorMessage(C(db)));
	return -1;
}

/*
 * The pipeline's results read and the pipeline closed: what db_send()
 * sent has run; a failure is kept for the commit.  The last statement's
 * result goes to *last_r when it is not NULL; the counted one's count to
 * it.
 */
static void
unpipe_to(struct db *db, PGresult **last_r)
{
	struct pdb *p = (struct pdb *)db;
	PGresult *r;
	ExecStatusType s;
	int nulls = 0;

	if (!p->piped)
		return;
	if (PQpipelineSync(p->c) != 1)
		nulls = p->piped + 2;
	while (nulls <= p->piped + 1) {
		if (!(r = PQgetResult(p->c))) {
			nulls++;
			continue;
		}
		s = PQresultStatus(r);
		if (p->counted && nulls == p->counted_at &&
		    s == PGRES_COMMAND_OK)
			p->counted->changes = atoll(PQcmdTuples(r));
		if (s == PGRES_FATAL_ERROR && !p->failed) {
			set_error(db, PQresultErrorMessage(r));
			p->failed = 1;
		}
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (last_r) {
			PQclear(*last_r);
			*last_r = r;
		} else
			PQclear(r);
	}
	if (nulls > p->piped + 1) {	/* the connection is lost */
		set_error(db, PQerrorMessage(p->c));
		p->failed = 1;
	}
	PQexitPipelineMode(p->c);
	p->piped = 0;
	p->counted = NULL;
}

static void
unpipe(struct db *db)
{
	unpipe_to(db, NULL);
}

static int
pg_exec(struct db *db, const char *sql)
{
	PGresult *r;
	int ret;

	unpipe(db);
	r = PQexec(C(db), sql);
	ret = outcome(db, r);
	PQclear(r);
	return ret;
}

/* `sql` (no parameters) into the pipeline, which it opens if need be:
 * 0, or -1 when the connection cannot. */
static int
pipe_text(struct pdb *p, const char *sql)
{
	if (!p->piped && PQenterPipelineMode(p->c) != 1)
		return -1;
	if (!PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		if (!p->piped)
			PQexitPipelineMode(p->c);
		return -1;
	}
	p->piped++;
	return 0;
}

/* BEGIN goes with the transaction's first statement, in its round trip */
static int
pg_begin(struct db *db)
{
	struct pdb *p = (struct pdb *)db;

	p->failed = 0;
	if (pipe_text(p, "BEGIN") < 0 && pg_exec(db, "BEGIN") < 0)
		return -1;
	p->in_tx = 1;
	return 0;
}

/* A transaction in which a statement failed is rolled back, and fails:
 * SQLite would have kept the statements that worked; PostgreSQL keeps
 * none of them. */
static int
pg_commit(struct db *db)
{
	struct pdb *p = (struct pdb *)db;
	PGresult *r = NULL;
	int ret;

	/* COMMIT goes after what is in the pipeline, in its round trip */
	if (!p->failed && pipe_text(p, "COMMIT") == 0)
		unpipe_to(db, &r);
	else
		unpipe(db);
	p->in_tx = 0;
	if (p->failed || PQtransactionStatus(C(db)) == PQTRANS_INERROR) {
		log_warnx("state: a statement failed (%s), the transaction is"
		    " rolled back", p->failed ? pg_errmsg(db) : "see above");
		PQclear(r);
		pg_exec(db, "ROLLBACK");
		p->failed = 0;
		return -1;
	}
	if (!r)
		r = PQexec(C(db), "COMMIT");
	ret = outcome(db, r);
	if (ret == 0 && strcmp(PQcmdStatus(r), "COMMIT")) {
		set_error(db, "the transaction was rolled back");
		ret = -1;
	}
	PQclear(r);
	if (ret < 0)
		log_warnx("state: cannot commit: %s", pg_errmsg(db));
	return ret;
}

static void
pg_rollback(struct db *db)
{
	pg_exec(db, "ROLLBACK");
	((struct pdb *)db)->in_tx = ((struct pdb *)db)->failed = 0;
}

/* One row's one value, as an integer; -1 when there is none. */
static int
scalar(struct db *db, const char *sql)
{
	PGresult *r;
	int v = -1;

	unpipe(db);
	r = PQexec(C(db), sql);
	if (outcome(db, r) == 0 && PQntuples(r) == 1)
		v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/*
 * Within a transaction, the schema's version is read under a lock that
 * lasts until its end: two migrates making one state run each migration
 * once.
 */
static int
pg_user_version(struct db *db)
{
	int v;

	if (((struct pdb *)db)->in_tx &&
	    pg_exec(db, "SELECT pg_advisory_xact_lock(7150029)") < 0)
		return -1;
	/* pg_class read as a table, which sees what the lock's holder
	 * committed (to_regclass() may not: the catalog's cache), and not
	 * through pg_tables, which a new connection takes longer to plan */
	if (scalar(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n"
	    " ON n.oid = c.relnamespace WHERE c.relname = 'meta' AND"
	    " n.nspname = current_schema()") <= 0)
		return 0;
	v = scalar(db, "SELECT value FROM meta WHERE key = 'schema_version'");
	return v < 0 ? 0 : v;
}

/* SQLite's words in the schema's migrations, and PostgreSQL's. */
static const struct {
	const char *from, *to;
} ddl_words[] = {
	{ "INTEGER PRIMARY KEY AUTOINCREMENT",
	    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" },
	{ "INTEGER PRIMARY KEY",
	    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" },
	{ "WITHOUT ROWID", "" },
	{ "INTEGER", "BIGINT" },
	{ "REAL", "DOUBLE PRECISION" },
};

static int
word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* `sql` with SQLite's words made PostgreSQL's, whole words only; a line
 * that begins "--postgresql: " is PostgreSQL's alone, and runs. */
static char *
pg_ddl(const char *sql)
{
	static const char mine[] = "--postgresql: ";
	struct buf b = BUF_INIT;
	const char *p = sql;
	size_t i, len;

	while (*p) {
		if ((p == sql || p[-1] == '\n') &&
		    !strncmp(p, mine, sizeof(mine) - 1))
			p += sizeof(mine) - 1;
		for (i = 0; i < sizeof(ddl_words) / sizeof(ddl_words[0]); i++) {
			len = strlen(ddl_words[i].from);
			if ((p == sql || !word_char(p[-1])) &&
			    !strncmp(p, ddl_words[i].from, len) &&
			    !word_char(p[len]))
				break;
		}
		if (i < sizeof(ddl_words) / sizeof(ddl_words[0])) {
			buf_adds(&b, ddl_words[i].to);
			p += strlen(ddl_words[i].from);
		} else
			buf_addch(&b, *p++);
	}
	return buf_detach(&b, NULL);
}

static int
pg_migrate(struct db *db, const char *sql, int version)
{
	char *ddl = pg_ddl(sql), *set;
	int ret;

	set = xasprintf("%s%s; INSERT INTO meta(key, value) VALUES"
	    " ('schema_version', '%d') ON CONFLICT(key) DO UPDATE SET value ="
	    " excluded.value", version == 1 ? compat : "", ddl, version);
	ret = pg_exec(db, set);
	free(set);
	free(ddl);
	return ret;
}

/* `sql` with ?N made $N outside quotes; *n_r the highest N. */
static char *
dollars(const char *sql, int *n_r)
{
	struct buf b = BUF_INIT;
	char quote = 0;
	const char *p;
	int n;

	*n_r = 0;
	for (p = sql; *p; p++) {
		if (quote && *p == quote)
			quote = 0;
		else if (!quote && (*p == '\'' || *p == '"'))
			quote = *p;
		if (quote || *p != '?' || !isdigit((unsigned char)p[1])) {
			buf_addch(&b, *p);
			continue;
		}
		buf_addch(&b, '$');
		n = atoi(p + 1);
		if (n > *n_r)
			*n_r = n;
	}
	return buf_detach(&b, NULL);
}

static struct db_stmt *
pg_prepare(struct db *db, const char *sql, int keep)
{
	struct pstmt *st = xcalloc(1, sizeof(*st));

	st->st.db = db;
	st->sql = dollars(sql, &st->nparams);
	st->keep = keep;
	st->vals = xcalloc(st->nparams + 1, sizeof(*st->vals));
	st->types = xcalloc(st->nparams + 1, sizeof(*st->types));
	return &st->st;
}

static void
pg_reset(struct db_stmt *s)
{
	struct pstmt *st = P(s);
	int i;

	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = 0;
	if (((struct pdb *)s->db)->counted == st)
		((struct pdb *)s->db)->counted = NULL;
	for (i = 0; i < st->nparams; i++) {
		free(st->vals[i]);
		st->vals[i] = NULL;
	}
}

static void
pg_finalize(struct db_stmt *s)
{
	struct pstmt *st = P(s);
	char *dealloc;

	pg_reset(s);
	if (*st->name) {
		dealloc = xasprintf("DEALLOCATE %s", st->name);
		pg_exec(s->db, dealloc);
		free(dealloc);
	}
	free(st->vals);
	free(st->types);
	free(st->sql);
	free(st);
}

/* Integers and reals go typed; text goes untyped, for the server to take
 * as the statement needs, as SQLite would. */
static void
pg_bind(struct db_stmt *s, int i, enum db_type type, int64_t v, double d,
    const char *t)
{
	struct pstmt *st = P(s);

	if (i < 1 || i > st->nparams)
		return;
	free(st->vals[i - 1]);
	switch (type) {
	case DB_INT:
		st->vals[i - 1] = xasprintf("%" PRId64, v);
		st->types[i - 1] = INT8OID;
		break;
	case DB_REAL:
		st->vals[i - 1] = xasprintf("%.17g", d);
		st->types[i - 1] = FLOAT8OID;
		break;
	default:
		st->vals[i - 1] = t ? xstrdup(t) : NULL;
		st->types[i - 1] = 0;
	}
}

/* A kept statement is prepared the first time, with the types it is
 * bound with then: 0, or -1 with the error set. */
static int
prepared(struct pstmt *st)
{
	struct pdb *db = (struct pdb *)st->st.db;
	PGresult *r;
	int ret;

	if (!st->keep || *st->name)
		return 0;
	unpipe(&db->db);
	snprintf(st->name, sizeof(st->name), "m%d", ++db->names);
	r = PQprepare(db->c, st->name, st->sql, st->nparams, st->types);
	if ((ret = outcome(&db->db, r)) < 0)
		*st->name = '\0';
	PQclear(r);
	return ret;
}

/* Into the pipeline, prepared (the caller is in pipeline mode). */
static int
pipe_in(struct pstmt *st)
{
	struct pdb *db = (struct pdb *)st->st.db;
	const char *const *vals = (const char *const *)st->vals;
	int sent;

	sent = st->keep ? PQsendQueryPrepared(db->c, st->name, st->nparams,
	    vals, NULL, NULL, 0) : PQsendQueryParams(db->c, st->sql,
	    st->nparams, st->types, vals, NULL, NULL, 0);
	db->piped++;
	if (!sent) {
		set_error(&db->db, PQerrorMessage(db->c));
		db->failed = 1;
	}
	return sent ? 0 : -1;
}

/* What is in the pipeline runs before, in the same round trip. */
static PGresult *
run(struct pstmt *st)
{
	struct pdb *db = (struct pdb *)st->st.db;
	const char *const *vals = (const char *const *)st->vals;
	PGresult *r = NULL;

	if (prepared(st) < 0)
		return NULL;
	if (db->piped) {
		if (pipe_in(st) < 0)
			unpipe(&db->db);
		else
			unpipe_to(&db->db, &r);
		return r;
	}
	if (!st->keep)
		return PQexecParams(db->c, st->sql, st->nparams, st->types,
		    vals, NULL, NULL, 0);
	return PQexecPrepared(db->c, st->name, st->nparams, vals, NULL, NULL,
	    0);
}

static int pg_step(struct db_stmt *s);

/* Outside a transaction, the statement runs now. */
static int
pg_send(struct db_stmt *s, int counted)
{
	struct pstmt *st = P(s);
	struct pdb *db = (struct pdb *)s->db;
	int ret;

	st->changes = -1;
	if (!db->in_tx || db->failed || prepared(st) < 0)
		return db->in_tx ? -1 : pg_step(s) < 0 ? -1 : 0;
	if (!db->piped && PQenterPipelineMode(db->c) != 1)
		return pg_step(s) < 0 ? -1 : 0;
	if (counted) {
		db->counted = st;
		db->counted_at = db->piped;
	}
	ret = pipe_in(st);
	if (db->piped >= PIPE_MAX)
		unpipe(s->db);
	return ret;
}

static int
pg_step(struct db_stmt *s)
{
	struct pstmt *st = P(s);
	struct pdb *db = (struct pdb *)s->db;

	if (!st->res) {
		/* the transaction failed: the first failure is the error */
		if (db->in_tx && db->failed)
			return -1;
		st->res = run(st);
		if (PQresultStatus(st->res) == PGRES_PIPELINE_ABORTED)
			return -1;
		if (!st->res || outcome(s->db, st->res) < 0) {
			db->failed = db->in_tx;
			return -1;
		}
		st->nrows = PQntuples(st->res);
		st->row = -1;
		st->changes = atoll(PQcmdTuples(st->res));
	}
	if (st->row < st->nrows)
		st->row++;
	return st->row < st->nrows ? DB_ROW : DB_DONE;
}

static int64_t
pg_changes(struct db_stmt *s)
{
	if (((struct pdb *)s->db)->counted == P(s))
		unpipe(s->db);
	return P(s)->changes;
}

static int
pg_columns(struct db_stmt *s)
{
	return P(s)->res ? PQnfields(P(s)->res) : 0;
}

static const char *
pg_col_name(struct db_stmt *s, int i)
{
	return PQfname(P(s)->res, i);
}

static enum db_type
pg_col_type(struct db_stmt *s, int i)
{
	struct pstmt *st = P(s);

	if (PQgetisnull(st->res, st->row, i))
		return DB_NULL;
	switch (PQftype(st->res, i)) {
	case BOOLOID:
	case INT2OID:
	case INT4OID:
	case INT8OID:
		return DB_INT;
	case FLOAT4OID:
	case FLOAT8OID:
		return DB_REAL;
	case NUMERICOID:	/* sum(bigint) */
		return strpbrk(PQgetvalue(st->res, st->row, i), ".eE") ?
		    DB_REAL : DB_INT;
	default:
		return DB_TEXT;
	}
}

static int64_t
pg_col_int(struct db_stmt *s, int i)
{
	const char *v = PQgetvalue(P(s)->res, P(s)->row, i);

	if (PQftype(P(s)->res, i) == BOOLOID)
		return *v == 't';
	return strchr(v, '.') ? (int64_t)strtod(v, NULL) : strtoll(v, NULL,
	    10);
}

static double
pg_col_real(struct db_stmt *s, int i)
{
	return strtod(PQgetvalue(P(s)->res, P(s)->row, i), NULL);
}

static const char *
pg_col_text(struct db_stmt *s, int i)
{
	struct pstmt *st = P(s);

	if (PQgetisnull(st->res, st->row, i))
		return NULL;
	if (PQftype(st->res, i) == BOOLOID)
		return *PQgetvalue(st->res, st->row, i) == 't' ? "1" : "0";
	return PQgetvalue(st->res, st->row, i);
}

static const struct db_ops pg_ops = {
	pg_close, pg_errmsg, pg_exec, pg_begin, pg_commit, pg_rollback,
	pg_user_version, pg_migrate, pg_prepare, pg_finalize, pg_reset,
	pg_bind, pg_step, pg_send, pg_changes, pg_columns, pg_col_name, pg_col_type,
	pg_col_int, pg_col_real, pg_col_text,
};

int
dbpg_open(struct db **dbp, const char *url, struct buf *err)
{
	PGconn *c = pgconn_open(url, "state database", err);
	struct pdb *db;

	if (!c)
		return -1;
	if (PQstatus(c) != CONNECTION_OK) {
		buf_adds(err, "state database: cannot connect: ");
		pgconn_message(err, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	db = xcalloc(1, sizeof(*db));
	db->db.ops = &pg_ops;
	db->db.pg = 1;
	db->c = c;
	buf_init(&db->err, 0);
	/* short statements, where compiling a plan costs more than it saves */
	if (pg_exec(&db->db, "SET client_min_messages = warning; SET jit ="
	    " off") < 0) {
		buf_addf(err, "state database: %s", pg_errmsg(&db->db));
		pg_close(&db->db);
		return -1;
	}
	*dbp = &db->db;
	return 0;
}
