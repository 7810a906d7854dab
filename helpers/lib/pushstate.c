/*
 * pushstate.c: what the push helpers record of the destination, in the
 * archive index beside what was pulled.
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "arcidx_int.h"
#include "log.h"
#include "xalloc.h"

char *
arcidx_push_mailbox(struct arcidx *ix, const char *folder)
{
	sqlite3_stmt *s = arc_stmt(ix, S_PUSH_MB_GET);
	char *v = NULL;

	arc_bind_str(s, 1, folder);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = arc_col_dup(s, 0);
	sqlite3_reset(s);
	return v;
}

int
arcidx_push_set_mailbox(struct arcidx *ix, const char *folder,
    const char *id, struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_PUSH_MB_PUT);

	arc_bind_str(s, 1, folder);
	arc_bind_str(s, 2, id);
	return arc_step_done(ix, s, err);
}

/*
 * The sharing last given to `folder`'s mailbox `mbox`, in *last (NULL
 * when none was, or it was given to another mailbox of that name).
 */
int
arcidx_push_share(struct arcidx *ix, const char *folder, const char *mbox,
    json_t **last, struct buf *err)
{
	sqlite3_stmt *s;
	int rc;

	*last = NULL;
	if (!(s = arc_prepare(ix, "SELECT share FROM push_shares WHERE"
	    " folder = ?1 AND mailbox_id = ?2", err)))
		return -1;
	arc_bind_str(s, 1, folder);
	arc_bind_str(s, 2, mbox);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*last = json_loads((const char *)sqlite3_column_text(s, 0), 0,
		    NULL);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		arc_db_fail(ix, "cannot read a mailbox's sharing", err);
		return -1;
	}
	return 0;
}

int
arcidx_push_set_share(struct arcidx *ix, const char *folder,
    const char *mbox, json_t *share, struct buf *err)
{
	char *text = json_dumps(share, JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3_stmt *s;
	int rc;

	if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO push_shares(folder,"
	    " mailbox_id, share) VALUES(?1, ?2, ?3)", err))) {
		free(text);
		return -1;
	}
	arc_bind_str(s, 1, folder);
	arc_bind_str(s, 2, mbox);
	arc_bind_str(s, 3, text);
	rc = arc_step_once(ix, s, err);
	free(text);
	return rc;
}

static const struct sql_col unit_cols[] = {
	SQL_COL(SQL_CHARS, struct arc_unit, hash),
	SQL_COL(SQL_NUM, struct arc_unit, k),
	SQL_COL(SQL_STR, struct arc_unit, state),
	SQL_COL(SQL_STR, struct arc_unit, email_id),
	SQL_COL(SQL_STR, struct arc_unit, mailboxes),
	SQL_COL(SQL_STR, struct arc_unit, keywords),
	SQL_COL(SQL_STR, struct arc_unit, error),
};
static const struct sql_row unit_row =
    SQL_ROW(struct arc_unit, unit_cols, NULL);

int
arcidx_push_units(struct arcidx *ix, struct arc_unit **u_r, size_t *nr_r,
    struct buf *err)
{
	void *v;
	int ret = arc_rows(ix, "SELECT hash, k, state, email_id, mailboxes,"
	    " keywords, error FROM push_emails ORDER BY hash, k", NULL, NULL,
	    &unit_row, &v, nr_r, "push state", err);

	*u_r = v;
	return ret;
}

int
arcidx_push_set(struct arcidx *ix, const struct arc_unit *u,
    struct buf *err)
{
	sqlite3_stmt *s = arc_stmt(ix, S_PUSH_PUT);

	arc_bind_str(s, 1, u->hash);
	sqlite3_bind_int(s, 2, u->k);
	arc_bind_str(s, 3, u->state);
	arc_bind_str(s, 4, u->email_id && *u->email_id ? u->email_id : NULL);
	arc_bind_str(s, 5, u->mailboxes);
	arc_bind_str(s, 6, u->keywords);
	arc_bind_str(s, 7, u->error && *u->error ? u->error : NULL);
	return arc_step_done(ix, s, err);
}

void
arc_units_free(struct arc_unit *u, size_t nr)
{
	sql_rows_free(u, nr, &unit_row);
}

int
arcidx_push_sieve_set(struct arcidx *ix, const char *name, const char *hash,
    const char *state, const char *error, struct buf *err)
{
	sqlite3_stmt *s;

	if (!state)
		return arc_exec2(ix, "DELETE FROM push_sieve WHERE name = ?1",
		    name, NULL, err);
	if (!(s = arc_prepare(ix, "INSERT OR REPLACE INTO push_sieve(name,"
	    " hash, state, error) VALUES(?1, ?2, ?3, ?4)", err)))
		return -1;
	arc_bind_str(s, 1, name);
	arc_bind_str(s, 2, hash);
	arc_bind_str(s, 3, state);
	arc_bind_str(s, 4, error && *error ? error : NULL);
	return arc_step_once(ix, s, err);
}

/* A query's rows as strings: `cols` columns each, into *v_r (caller frees
 * with arc_rows_free()).  Parameters ?1 and ?2 are `a` and `b`. */
static int
rows(struct arcidx *ix, const char *sql, const char *a, const char *b,
    int cols, char ***v_r, size_t *nr_r, struct buf *err)
{
	char **v = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *s;
	int rc, i;

	*v_r = NULL;
	*nr_r = 0;
	if (!(s = arc_prepare(ix, sql, err)))
		return -1;
	arc_bind_str(s, 1, a);
	arc_bind_str(s, 2, b);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(v, nr + cols, alloc);
		for (i = 0; i < cols; i++)
			v[nr++] = arc_col_dup(s, i);
	}
	sqlite3_finalize(s);
	*v_r = v;
	*nr_r = nr / (size_t)cols;
	if (rc != SQLITE_DONE)
		return arc_db_fail(ix, "cannot read", err);
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

static int
exec_params(struct arcidx *ix, const char *sql, const char *const *params,
    struct buf *err)
{
	sqlite3_stmt *s;
	int i;

	if (!(s = arc_prepare(ix, sql, err)))
		return -1;
	for (i = 0; params && params[i] != ARCIDX_END; i++)
		arc_bind_str(s, i + 1, params[i]);
	return arc_step_once(ix, s, err);
}

int
arcidx_file_listing(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err)
{
	return rows(ix, "SELECT path, size, mtime, etag FROM files", NULL,
	    NULL, 4, v_r, nr_r, err);
}

int
arcidx_files(struct arcidx *ix, char ***v_r, size_t *nr_r, struct buf *err)
{
	return rows(ix, "SELECT path, dir, hash, type FROM files ORDER BY"
	    " path", NULL, NULL, 4, v_r, nr_r, err);
}

int
arcidx_dav_dests(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err)
{
	return rows(ix, "SELECT path, dest, created FROM"
	    " push_dav_collections", NULL, NULL, 3, v_r, nr_r, err);
}

int
arcidx_dav_dest(struct arcidx *ix, const char *path, char **dest_r,
    struct buf *err)
{
	char **v = NULL;
	size_t nr = 0;

	*dest_r = NULL;
	if (rows(ix, "SELECT dest FROM push_dav_collections WHERE path = ?1",
	    path, NULL, 1, &v, &nr, err) < 0)
		return -1;
	if (nr) {
		*dest_r = v[0];
		v[0] = NULL;
	}
	arc_rows_free(v, nr, 1);
	return 0;
}

int
arcidx_dav_dest_set(struct arcidx *ix, const char *path, const char *dest,
    int created, struct buf *err)
{
	const char *p[] = { path, dest, created ? "1" : "0", ARCIDX_END };

	return exec_params(ix, "INSERT OR REPLACE INTO push_dav_collections"
	    "(path, dest, created) VALUES(?1, ?2, ?3)", p, err);
}

int
arcidx_dav_dest_drop(struct arcidx *ix, const char *path, struct buf *err)
{
	const char *p[] = { path, ARCIDX_END };

	if (exec_params(ix, "DELETE FROM push_dav_resources WHERE"
	    " collection = ?1", p, err) < 0)
		return -1;
	return exec_params(ix, "DELETE FROM push_dav_collections WHERE"
	    " path = ?1", p, err);
}

int
arcidx_dav_pushed(struct arcidx *ix, const char *collection, char ***v_r,
    size_t *nr_r, struct buf *err)
{
	return rows(ix, "SELECT name, hash, etag, state FROM"
	    " push_dav_resources WHERE collection = ?1", collection, NULL, 4,
	    v_r, nr_r, err);
}

int
arcidx_files_pushed(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err)
{
	return rows(ix, "SELECT path, hash, etag, state FROM push_files"
	    " ORDER BY path DESC", NULL, NULL, 4, v_r, nr_r, err);
}

int
arcidx_dav_pushed_set(struct arcidx *ix, const char *collection,
    const char *name, const char *hash, const char *etag, const char *state,
    const char *error, struct buf *err)
{
	const char *p[] = { collection, name, hash, etag && *etag ? etag :
	    NULL, state, error, ARCIDX_END };

	if (!collection && !state)
		return exec_params(ix, "DELETE FROM push_files WHERE"
		    " path = ?2", p, err);
	if (!collection)
		return exec_params(ix, "INSERT OR REPLACE INTO push_files(path,"
		    " hash, etag, state, error) VALUES(?2, ?3, ?4, ?5, ?6)", p,
		    err);
	if (!state)
		return exec_params(ix, "DELETE FROM push_dav_resources WHERE"
		    " collection = ?1 AND name = ?2", p, err);
	return exec_params(ix, "INSERT OR REPLACE INTO push_dav_resources"
	    "(collection, name, hash, etag, state, error) VALUES(?1, ?2, ?3,"
	    " ?4, ?5, ?6)", p, err);
}
