/*
 * t-db.c: the state's database layer (orchestrator/db.c): a statement
 * sent with db_send_counted() tells what it changed after the commit
 * that read its result, or when asked before it.  On SQLite always; on
 * PostgreSQL too when MIGRATE_TEST_PG names a server (t-state-pg.sh),
 * where the statements go in a pipeline and a failure before it leaves
 * no count and fails the commit.  And rows as PostgreSQL array literals
 * (orchestrator/pgrows.c): their text, and on PostgreSQL, what the
 * server reads of them.
 */
#include "test-lib.h"

#include <string.h>

#include "db.h"
#include "pgrows.h"

static struct db *db;

static struct db_stmt *
bump(int64_t id)
{
	struct db_stmt *st = db_prepare(db, "UPDATE t SET n = n + 1 WHERE"
	    " id = ?1", 1);

	db_bind_int(st, 1, id);
	return st;
}

static int64_t
n_of(int64_t id)
{
	struct db_stmt *st = db_prepare(db, "SELECT n FROM t WHERE id = ?1",
	    0);
	int64_t n = -1;

	db_bind_int(st, 1, id);
	if (db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

static void
counted(void)
{
	struct db_stmt *one = bump(1), *none = bump(2), *other;

	/* read with the commit's round trip */
	check_int(db_begin(db), ==, 0);
	check_int(db_send_counted(one), ==, 0);
	check_int(db_commit(db), ==, 0);
	check_int(db_changes(one), ==, 1);
	check_int(n_of(1), ==, 1);

	/* no row: 0, not a failure */
	db_reset(none);
	db_bind_int(none, 1, 2);
	check_int(db_begin(db), ==, 0);
	check_int(db_send_counted(none), ==, 0);
	check_int(db_commit(db), ==, 0);
	check_int(db_changes(none), ==, 0);

	/* asked before the commit, with other writes sent after it */
	other = db_prepare(db, "INSERT INTO t(id, n) VALUES(?1, 0)", 0);
	db_bind_int(other, 1, 3);
	db_reset(one);
	db_bind_int(one, 1, 1);
	check_int(db_begin(db), ==, 0);
	check_int(db_send_counted(one), ==, 0);
	check_int(db_send(other), ==, 0);
	check_int(db_changes(one), ==, 1);
	check_int(db_commit(db), ==, 0);
	check_int(n_of(1), ==, 2);
	check_int(n_of(3), ==, 0);
	db_finalize(other);

	/* PostgreSQL: a failure before it in the pipeline leaves no count,
	 * and the commit fails (SQLite runs each at once, and goes on) */
	if (db_is_pg(db)) {
		other = db_prepare(db, "INSERT INTO t(id, n) VALUES(1, 0)", 0);
		db_reset(one);
		db_bind_int(one, 1, 1);
		check_int(db_begin(db), ==, 0);
		check_int(db_send(other), ==, 0);
		check_int(db_send_counted(one), ==, 0);
		check_int(db_commit(db), ==, -1);
		check_int(db_changes(one), ==, -1);
		check_int(n_of(1), ==, 2);
		db_finalize(other);
	}

	db_finalize(one);
	db_finalize(none);
}

/* strings that an array literal quotes, and a real to the last bit */
static const char *const texts[] = { "plain", "NULL", "a \"quoted\" word",
    "back\\slash\\", "{,} braces, commas", "", "line\nbreak",
    "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93", NULL };
#define NTEXTS	(sizeof(texts) / sizeof(texts[0]))

static void
fill(struct pgrows *r)
{
	size_t i;

	for (i = 0; i < NTEXTS; i++) {
		pgrows_text(r, 1, texts[i]);
		pgrows_int(r, 0, (int64_t)i - 1);
		pgrows_real(r, 2, 1796675559.4620554 + (double)i / 3);
		pgrows_end(r);
	}
}

static void
literals(void)
{
	struct pgrows r;
	char *t;

	pgrows_init(&r, 3);
	t = pgrows_col(&r, 1);
	check_str(t, "{}");
	free(t);
	fill(&r);
	t = pgrows_col(&r, 1);
	check_str(t, "{\"plain\",\"NULL\",\"a \\\"quoted\\\" word\","
	    "\"back\\\\slash\\\\\",\"{,} braces, commas\",\"\","
	    "\"line\nbreak\",\"\xc3\xa9t\xc3\xa9 \xe2\x9c\x93\",NULL}");
	free(t);
	t = pgrows_col(&r, 0);
	check_str(t, "{-1,0,1,2,3,4,5,6,7}");
	free(t);
	pgrows_clear(&r);
	check_int(r.nr, ==, 0);
	pgrows_int(&r, 0, 42);
	pgrows_text(&r, 1, NULL);
	pgrows_real(&r, 2, 0.5);
	pgrows_end(&r);
	t = pgrows_col(&r, 2);
	check_str(t, "{0.5}");
	free(t);
	pgrows_release(&r);
}

/* PostgreSQL reads back each value as it was, in order. */
static void
arrays(void)
{
	struct db_stmt *st = db_prepare(db, "SELECT a, b, c FROM"
	    " unnest(CAST(?1 AS BIGINT[]), CAST(?2 AS TEXT[]), CAST(?3 AS"
	    " DOUBLE PRECISION[])) WITH ORDINALITY AS x(a, b, c, o) ORDER BY"
	    " o", 0);
	struct pgrows r;
	const char *got;
	char *t;
	size_t i = 0;
	int k;

	pgrows_init(&r, 3);
	fill(&r);
	for (k = 0; k < 3; k++) {
		t = pgrows_col(&r, k);
		db_bind_text(st, k + 1, t);
		free(t);
	}
	while (db_step(st) == DB_ROW && i < NTEXTS) {
		check_int(db_col_int(st, 0), ==, (int64_t)i - 1);
		got = db_col_text(st, 1);
		if (texts[i])
			check_str(got ? got : "(null)", texts[i]);
		else
			check(got == NULL);
		check(db_col_real(st, 2) == 1796675559.4620554 +
		    (double)i / 3);
		i++;
	}
	check_int(i, ==, NTEXTS);
	db_finalize(st);
	pgrows_release(&r);
}

static void
on(const char *where)
{
	struct buf err = BUF_INIT;

	if (db_open(&db, where, &err) < 0) {
		printf("# %s\n", err.buf);
		check(!"the database opens");
		buf_release(&err);
		return;
	}
	check_int(db_exec(db, "DROP TABLE IF EXISTS t; CREATE TABLE t(id"
	    " INTEGER PRIMARY KEY, n INTEGER NOT NULL)"), ==, 0);
	check_int(db_exec(db, "INSERT INTO t(id, n) VALUES(1, 0)"), ==, 0);
	counted();
	if (db_is_pg(db))
		arrays();
	db_exec(db, "DROP TABLE t");
	db_close(db);
	buf_release(&err);
}

int
main(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char dir[] = "/tmp/t-db.XXXXXX", path[64];
	const char *pg = getenv("MIGRATE_TEST_PG");
	int i;

	if (!mkdtemp(dir))
		return 1;
	TEST("array literals", literals());
	snprintf(path, sizeof(path), "%s/state.db", dir);
	TEST("sqlite", on(path));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/state.db%s", dir, sfx[i]);
		unlink(path);
	}
	rmdir(dir);
	if (pg && *pg)
		TEST("postgresql", on(pg));
	return test_done();
}
