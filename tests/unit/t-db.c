/*
 * t-db.c: the state's database layer (orchestrator/db.c): a statement
 * sent with db_send_counted() tells what it changed after the commit
 * that read its result, or when asked before it.  On SQLite always; on
 * PostgreSQL too when MIGRATE_TEST_PG names a server (t-state-pg.sh),
 * where the statements go in a pipeline and a failure before it leaves
 * no count and fails the commit.
 */
#include "test-lib.h"

#include "db.h"

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
