/*
 * stateloc.c: where the state's tables are, DIR/state.db or the
 * PostgreSQL database that DIR/database names (the plan's 'database'),
 * and the lock of the one apply that writes it.
 */
#include "compat.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "buf.h"
#include "db.h"
#include "fileio.h"
#include "log.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

/* DIR/database's URL, or NULL when there is no such file. */
static char *
bound_url(const char *dir)
{
	struct buf b = BUF_INIT, e = BUF_INIT;
	char *path = xasprintf("%s/" STATE_DATABASE_FILE, dir);
	char *url = NULL;

	if (file_read(path, &b, &e) == 0) {
		buf_chomp(&b);
		url = buf_detach(&b, NULL);
	}
	buf_release(&e);
	free(path);
	return url;
}

char *
state_where(const char *dir, struct buf *err)
{
	char *url;

	if (db_where_is_url(dir))
		return xstrdup(dir);
	if (mkdir_p(dir, err) < 0)
		return NULL;
	if ((url = bound_url(dir)))
		return url;
	return xasprintf("%s/state.db", dir);
}

/*
 * Whether DIR/state.db holds a state: a plan was applied to it.  A status
 * run before the first apply makes an empty one (or is making it, its
 * tables not there yet), which does not count; it is removed.
 */
static int
sqlite_state(const char *dir)
{
	char *path = xasprintf("%s/state.db", dir), *side;
	struct buf err = BUF_INIT;
	struct db_stmt *st;
	struct db *db;
	struct stat sb;
	int held = 0;

	if (stat(path, &sb) < 0) {
		free(path);
		return 0;
	}
	if (db_open(&db, path, &err) < 0)
		held = 1;	/* it cannot be read: leave it */
	else {
		if ((st = db_prepare(db, "SELECT count(*) FROM plans", 0)) &&
		    db_step(st) == DB_ROW && db_col_int(st, 0) > 0)
			held = 1;
		db_finalize(st);
		db_close(db);
	}
	buf_release(&err);
	if (!held) {
		unlink(path);
		side = xasprintf("%s-wal", path);
		unlink(side);
		free(side);
		side = xasprintf("%s-shm", path);
		unlink(side);
		free(side);
	}
	free(path);
	return held;
}

int
state_bind(const char *dir, const char *url, struct buf *err)
{
	char *have = bound_url(dir), *path, *line;
	int ret = -1;

	if (have) {
		if (url && !strcmp(have, url))
			ret = 0;
		else
			buf_addf(err, "the state of %s is in the database %s,"
			    " and the plan %s: a state does not move; put"
			    " 'database: %s' back in the plan", dir, have, url ?
			    "names another" : "names none", have);
		free(have);
		return ret;
	}
	if (!url)
		return 0;
	if (sqlite_state(dir)) {
		buf_addf(err, "%s holds a state in state.db already; the plan's"
		    " 'database' cannot move it: give the plan another 'state'"
		    " directory, or remove 'database'", dir);
		return -1;
	}
	path = xasprintf("%s/" STATE_DATABASE_FILE, dir);
	line = xasprintf("%s\n", url);
	ret = file_write_atomic(path, line, strlen(line), 0644, err);
	free(line);
	free(path);
	return ret;
}

int
state_lock_apply(const char *dir, int *fd_r, struct buf *err)
{
	char *path = xasprintf("%s/apply.lock", dir);
	char pid[32] = "";
	int fd;
	ssize_t n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		buf_addf(err, "another 'migrate plan apply' (pid %s) works on"
		    " %s; wait for it, or stop it", *pid ? pid : "?", dir);
		close(fd);
		free(path);
		return -1;
	}
	if (ftruncate(fd, 0) == 0) {
		n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (pwrite(fd, pid, n, 0) != n)
			log_warn("%s", path);
	}
	free(path);
	*fd_r = fd;
	return 0;
}
