/*
 * arcidx_int.h: the archive index's insides, for its own files only:
 * arcdb.c (the database, its statements and small helpers), arcindex.c
 * (opening, locking, catching up with the segments), arcapply.c (a
 * record into rows), arcread.c (what the helpers read) and pushstate.c
 * (what the push helpers record of the destination).
 */
#ifndef MIGRATE_ARCIDX_INT_H
#define MIGRATE_ARCIDX_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "arcindex.h"
#include "buf.h"
#include "sqlrows.h"

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

struct arcidx {
	sqlite3 *db;
	sqlite3_stmt *st[S_NR];
	char *dir;
	int lock_fd;
};

/* The end of a list of text parameters. */
extern const char arcidx_end[];
#define ARCIDX_END	arcidx_end

/* The statements' SQL, prepared when the index is opened. */
extern const char *const arc_stmt_sql[S_NR];

int arc_db_fail(struct arcidx *ix, const char *what, struct buf *err);
int arc_exec(struct arcidx *ix, const char *sql, struct buf *err);
sqlite3_stmt *arc_stmt(struct arcidx *ix, enum stmt which);
/* Step a statement that writes, then reset it: 0, or -1 with `err`. */
int arc_step_done(struct arcidx *ix, sqlite3_stmt *s, struct buf *err);
/* The same for a statement of its own, then finalized. */
int arc_step_once(struct arcidx *ix, sqlite3_stmt *s, struct buf *err);
/* A statement of its own, or NULL with `err`. */
sqlite3_stmt *arc_prepare(struct arcidx *ix, const char *sql,
    struct buf *err);
void arc_bind_str(sqlite3_stmt *s, int i, const char *v);
const char *arc_jstr(json_t *o, const char *key);
sqlite3_int64 arc_jint(json_t *o, const char *key);
char *arc_col_dup(sqlite3_stmt *s, int i);
long long arc_query_one(struct arcidx *ix, const char *sql, const char *s1,
    long long n2, char *text_r);
/*
 * The rows of `sql` (text parameters ?1 and ?2; NULL: none) as an array
 * of `row` (sql_rows()) into *v_r, their count in *nr_r.  0, or -1 with
 * `err` saying it cannot read `what`; what was read is in *v_r all the
 * same, to be freed as usual.
 */
int arc_rows(struct arcidx *ix, const char *sql, const char *a,
    const char *b, const struct sql_row *row, void **v_r, size_t *nr_r,
    const char *what, struct buf *err);
/* One statement with text parameters ?1 and ?2 (NULL: none). */
int arc_exec2(struct arcidx *ix, const char *sql, const char *a, const char *b,
    struct buf *err);

/* arcapply.c: one record of a segment's manifest into rows. */
int arc_apply_record(struct arcidx *ix, unsigned seq, json_t *o,
    struct buf *err);

#endif
