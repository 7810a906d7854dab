#include "compat.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>

#include <jansson.h>
#include <sqlite3.h>

#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "now.h"
#include "plan.h"
#include "schema.h"
#include "sqlrows.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

enum stmt {
	S_GET,
	S_LIST_WAVE,
	S_LIST_ALL,
	S_INSERT,
	S_MARK,
	S_ENTER,
	S_TRANSITION,
	S_STEP,
	S_CKPT,
	S_CKPT_LAST,
	S_CKPT_GET,
	S_RUN,
	S_ANOMALY,
	S_COUNTERS,
	S_ITEMS,
	S_ASSESSED,
	S_FINDING,
	S_FAILURE,
	S_QUEUE,
	S_WAVE,
	S_NR
};

#define ACC_COLS "id, account, login, wave, state, resume, step, attempts," \
	" not_before, error_class, error, messages, bytes, anomalies, deltas," \
	" checkpoint"

static const char *const sql[S_NR] = {
	[S_GET] = "SELECT " ACC_COLS " FROM accounts WHERE account = ?1",
	[S_LIST_WAVE] = "SELECT " ACC_COLS " FROM accounts WHERE wave = ?1"
	    " AND in_plan ORDER BY ord",
	[S_LIST_ALL] = "SELECT " ACC_COLS " FROM accounts WHERE in_plan"
	    " ORDER BY ord",
	[S_INSERT] = "INSERT INTO accounts(account, login, ord, entered)"
	    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(account) DO UPDATE SET"
	    " login = ?2, ord = ?3, in_plan = 1",
	[S_MARK] = "UPDATE accounts SET in_plan = 0",
	[S_ENTER] = "UPDATE accounts SET state = ?2, resume = ?3, step = NULL,"
	    " entered = ?4, attempts = ?5, error_class = ?6, error = ?7,"
	    " finished = CASE WHEN ?2 = 'migrated' THEN ?4 ELSE finished END"
	    " WHERE id = ?1 AND state = ?8",
	[S_TRANSITION] = "INSERT INTO transitions(account_id, ts, from_state,"
	    " to_state, why, operator) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_STEP] = "UPDATE accounts SET step = ?2,"
	    " started = coalesce(started, ?3) WHERE id = ?1",
	[S_CKPT] = "INSERT INTO checkpoints(account_id, helper, token)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT DO UPDATE SET token = ?3",
	[S_CKPT_LAST] = "UPDATE accounts SET checkpoint = ?2 || ':' || ?3"
	    " WHERE id = ?1",
	[S_CKPT_GET] = "SELECT token FROM checkpoints WHERE account_id = ?1"
	    " AND helper = ?2",
	[S_RUN] = "INSERT INTO runs(account_id, helper, step, started, ended,"
	    " exit, done, error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_ANOMALY] = "INSERT INTO anomalies(account_id, helper, kind, event)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[S_COUNTERS] = "UPDATE accounts SET messages = messages + ?2,"
	    " bytes = bytes + ?3, anomalies = anomalies + ?4, deltas = ?5"
	    " WHERE id = ?1",
	[S_ITEMS] = "INSERT OR REPLACE INTO items(account_id, kind, count)"
	    " VALUES(?1, ?2, ?3)",
	[S_ASSESSED] = "UPDATE accounts SET assessed_messages = ?2,"
	    " assessed_bytes = ?3 WHERE id = ?1",
	[S_FINDING] = "INSERT INTO findings(account_id, kind, n) VALUES(?1,"
	    " ?2, ?3) ON CONFLICT DO UPDATE SET n = excluded.n",
	[S_FAILURE] = "UPDATE accounts SET attempts = ?2, error_class = ?3,"
	    " error = ?4, not_before = ?5 WHERE id = ?1",
	[S_QUEUE] = "INSERT INTO audit_queue(kind, line) VALUES(?1, ?2)",
	[S_WAVE] = "UPDATE accounts SET wave = ?2 WHERE account = ?1",
};

struct state {
	sqlite3 *db;
	sqlite3_stmt *st[S_NR];
	pthread_mutex_t lock;
	double group_began;	/* 0: no transaction open */
	int broken;		/* a commit failed: stop writing */
	char *operator;		/* who runs this command, or NULL */
};

static sqlite3_stmt *
stmt(struct state *s, enum stmt i)
{
	if (!s->st[i] && sqlite3_prepare_v3(s->db, sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK)
		fatalx(EX_SOFTWARE, "state: cannot prepare: %s",
		    sqlite3_errmsg(s->db));
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return s->st[i];
}

static int
done(struct state *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("state: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/* Begin a group unless one is open; the caller holds the lock. */
static int
group(struct state *s)
{
	if (s->broken)
		return -1;
	if (s->group_began)
		return 0;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("state: cannot begin: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	s->group_began = now_seconds();
	return 0;
}

/*
 * Bind the arguments by `types` (i int64, n int, d double, s text or
 * NULL) to statement `which` and step it; the caller holds the lock and
 * has begun the group.
 */
static int
vwrite_locked(struct state *s, enum stmt which, const char *types,
    va_list ap)
{
	sqlite3_stmt *st = stmt(s, which);
	int i;

	for (i = 0; types[i]; i++)
		switch (types[i]) {
		case 'i':
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'n':
			sqlite3_bind_int(st, i + 1, va_arg(ap, int));
			break;
		case 'd':
			sqlite3_bind_double(st, i + 1, va_arg(ap, double));
			break;
		default:
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_STATIC);
			break;
		}
	return done(s, st);
}

/* One write, in the group, under the lock: vwrite_locked()'s. */
static int
write_one(struct state *s, enum stmt which, const char *types, ...)
{
	va_list ap;
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = group(s);
	if (ret == 0) {
		va_start(ap, types);
		ret = vwrite_locked(s, which, types, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int
commit_locked(struct state *s)
{
	if (!s->group_began)
		return 0;
	s->group_began = 0;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("state: cannot commit: %s", sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->broken = 1;
		return -1;
	}
	return 0;
}

int
state_tick(struct state *s)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->group_began &&
	    now_seconds() - s->group_began >= STATE_GROUP_MS / 1000.0)
		ret = commit_locked(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int
state_flush(struct state *s)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = commit_locked(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int
user_version(struct state *s)
{
	sqlite3_stmt *st;
	int have = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		have = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return have;
}

/* Each migration in a transaction of its own that reads the version again:
 * a status beside the apply that makes the state may have run it. */
static int
migrate_schema(struct state *s, struct buf *err)
{
	const struct migration *m;
	int have = user_version(s);

	for (m = migrations; m->name; m++) {
		char *set;
		int rc;

		if (m->version <= have)
			continue;
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
		    SQLITE_OK && (have = user_version(s)) >= m->version) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			continue;
		}
		set = xasprintf("%s; PRAGMA user_version = %d; COMMIT;", m->sql,
		    m->version);
		rc = sqlite3_get_autocommit(s->db) ? SQLITE_BUSY :
		    sqlite3_exec(s->db, set, NULL, NULL, NULL);
		free(set);
		if (rc != SQLITE_OK) {
			buf_addf(err, "state: schema migration %s: %s",
			    m->name, sqlite3_errmsg(s->db));
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		have = m->version;
	}
	for (m = migrations; m->name; m++)
		;
	if (have > (m == migrations ? 0 : m[-1].version)) {
		buf_addf(err, "state: the database is of schema %d, newer than"
		    " this migrate knows", have);
		return -1;
	}
	return 0;
}

int
state_open(struct state **sp, const char *dir, struct buf *err)
{
	struct state *s = xcalloc(1, sizeof(*s));
	char *path;

	if (mkdir_p(dir, err) < 0) {
		free(s);
		return -1;
	}
	path = xasprintf("%s/state.db", dir);
	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		buf_addf(err, "cannot open '%s': %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL;"
	    " PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL) != SQLITE_OK) {
		buf_addf(err, "'%s': %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (migrate_schema(s, err) < 0)
		goto fail;
	free(path);
	*sp = s;
	return 0;
fail:
	free(path);
	state_close(s);
	return -1;
}

void
state_close(struct state *s)
{
	int i;

	if (!s)
		return;
	state_flush(s);
	for (i = 0; i < S_NR; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->operator);
	free(s);
}

sqlite3 *
state_lock_db(struct state *s)
{
	pthread_mutex_lock(&s->lock);
	return s->db;
}

void
state_unlock_db(struct state *s)
{
	pthread_mutex_unlock(&s->lock);
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

int64_t
state_add_plan(struct state *s, const char *path, const char *name,
    const char *sha256)
{
	sqlite3_stmt *st;
	int64_t id = -1;

	pthread_mutex_lock(&s->lock);
	if (group(s) == 0 && sqlite3_prepare_v2(s->db, "INSERT INTO"
	    " plans(applied, path, name, sha256) VALUES(?1, ?2, ?3, ?4)", -1,
	    &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, now_seconds());
		sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, sha256, -1, SQLITE_STATIC);
		if (done(s, st) == 0)
			id = sqlite3_last_insert_rowid(s->db);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return id;
}

int
state_sync_accounts(struct state *s, const struct account_spec *v, size_t nr,
    size_t *added_r, struct buf *err)
{
	sqlite3_stmt *st;
	size_t i;
	int ret = 0;
	int64_t before = 0;
	double now = now_seconds();

	pthread_mutex_lock(&s->lock);
	if (group(s) < 0 || done(s, stmt(s, S_MARK)) < 0) {
		ret = -1;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM accounts", -1,
	    &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		before = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (i = 0; i < nr && ret == 0; i++) {
		st = stmt(s, S_INSERT);
		sqlite3_bind_text(st, 1, v[i].account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[i].login, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)i);
		sqlite3_bind_double(st, 4, now);
		ret = done(s, st);
	}
	st = NULL;
	if (ret == 0 && sqlite3_prepare_v2(s->db, "SELECT count(*) FROM"
	    " accounts", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		*added_r = sqlite3_column_int64(st, 0) - before;
	sqlite3_finalize(st);
	ret = ret < 0 ? -1 : commit_locked(s);
out:
	if (ret < 0)
		buf_addf(err, "state: cannot record the accounts: %s",
		    sqlite3_errmsg(s->db));
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int
state_set_wave(struct state *s, const char *account, const char *wave)
{
	sqlite3_stmt *st;
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = group(s);
	if (ret == 0) {
		st = stmt(s, S_WAVE);
		sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, wave, -1, SQLITE_STATIC);
		ret = done(s, st);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

char *
state_col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

/* the state and where a failed or held account resumes */
static void
read_states(sqlite3_stmt *st, void *elem)
{
	struct account *a = elem;
	const char *t = (const char *)sqlite3_column_text(st, 5);

	state_parse((const char *)sqlite3_column_text(st, 4), &a->state);
	a->resume = t && state_parse(t, &a->resume) == 0 ? a->resume :
	    ST_PENDING;
}

static const struct sql_col account_cols[] = {
	SQL_COL(SQL_NUM, struct account, id),
	SQL_COL(SQL_STR_NULL, struct account, account),
	SQL_COL(SQL_STR_NULL, struct account, login),
	SQL_COL(SQL_STR_NULL, struct account, wave),
	{ SQL_SKIP, 0, 0 },	/* state */
	{ SQL_SKIP, 0, 0 },	/* resume */
	SQL_COL(SQL_STR_NULL, struct account, step),
	SQL_COL(SQL_NUM, struct account, attempts),
	SQL_COL(SQL_REAL, struct account, not_before),
	SQL_COL(SQL_STR_NULL, struct account, error_class),
	SQL_COL(SQL_STR_NULL, struct account, error),
	SQL_COL(SQL_NUM, struct account, messages),
	SQL_COL(SQL_NUM, struct account, bytes),
	SQL_COL(SQL_NUM, struct account, anomalies),
	SQL_COL(SQL_NUM, struct account, deltas),
	SQL_COL(SQL_STR_NULL, struct account, checkpoint),
};
static const struct sql_row account_row =
    SQL_ROW(struct account, account_cols, read_states);

void
account_free(struct account *a)
{
	sql_row_clear(a, &account_row);
}

int
state_accounts(struct state *s, const char *wave, struct account **v_r,
    size_t *nr_r)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, wave ? S_LIST_WAVE : S_LIST_ALL);
	if (wave)
		sqlite3_bind_text(st, 1, wave, -1, SQLITE_STATIC);
	*v_r = sql_rows(st, &account_row, nr_r, &rc);
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
state_account(struct state *s, const char *account, struct account *a)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, S_GET);
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		sql_row_read(st, &account_row, a);
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
queue_locked(struct state *s, const char *kind, const char *line)
{
	sqlite3_stmt *st = stmt(s, S_QUEUE);

	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, line, -1, SQLITE_STATIC);
	return done(s, st);
}

int
state_queue_audit(struct state *s, const char *kind, const char *line)
{
	return write_one(s, S_QUEUE, "ss", kind, line);
}

int
enter_state(struct state *s, struct account *a, enum acc_state to,
    const char *why, struct buf *err)
{
	return enter_state_with(s, a, to, why, NULL, NULL, err);
}

int
enter_state_with(struct state *s, struct account *a, enum acc_state to,
    const char *why, const char *kind, const char *extra, struct buf *err)
{
	enum acc_state from = a->state, resume = a->resume;
	double now = now_seconds();
	sqlite3_stmt *st;
	json_t *ev;
	char *line;
	int ret = -1, back;

	/* from failed or held, work goes on where it stopped */
	back = (from == ST_FAILED || from == ST_HELD) && to == resume &&
	    to != ST_FAILED && to != ST_HELD;
	if (!back && !state_allowed(from, to)) {
		buf_addf(err, "%s: cannot go from %s to %s", a->account,
		    state_name(from), state_name(to));
		return -1;
	}
	if (to == ST_FAILED || to == ST_HELD)
		resume = from == ST_FAILED || from == ST_HELD ? a->resume :
		    from;
	ev = json_pack("{s:f, s:s, s:s, s:s, s:s?, s:s?}", "ts", now,
	    "account", a->account, "from", state_name(from), "to",
	    state_name(to), "wave", a->wave, "why", why);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);

	pthread_mutex_lock(&s->lock);
	if (group(s) < 0)
		goto out;
	st = stmt(s, S_ENTER);
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_text(st, 2, state_name(to), -1, SQLITE_STATIC);
	if (to == ST_FAILED || to == ST_HELD)
		sqlite3_bind_text(st, 3, state_name(resume), -1,
		    SQLITE_STATIC);
	sqlite3_bind_double(st, 4, now);
	/* failing, holding and going back keep the count of attempts */
	sqlite3_bind_int(st, 5, to == ST_FAILED || to == ST_HELD || back ?
	    a->attempts : 0);
	if (to == ST_FAILED || to == ST_HELD) {
		sqlite3_bind_text(st, 6, a->error_class, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, a->error, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(st, 8, state_name(from), -1, SQLITE_STATIC);
	if (done(s, st) < 0)
		goto out;
	if (sqlite3_changes(s->db) != 1) {
		buf_addf(err, "%s: is no longer %s (changed by another"
		    " command, such as migrate hold); ", a->account,
		    state_name(from));
		goto out;
	}
	st = stmt(s, S_TRANSITION);
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_double(st, 2, now);
	sqlite3_bind_text(st, 3, state_name(from), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, why, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, s->operator, -1, SQLITE_STATIC);
	if (done(s, st) < 0 || queue_locked(s, "event", line) < 0 ||
	    (kind && queue_locked(s, kind, extra) < 0))
		goto out;
	ret = 0;
out:
	pthread_mutex_unlock(&s->lock);
	free(line);
	if (ret < 0) {
		buf_addf(err, "%s: cannot record the state %s",
		    a->account, state_name(to));
		return -1;
	}
	a->state = to;
	a->resume = resume;
	free(a->step);
	a->step = NULL;
	if (to != ST_FAILED && to != ST_HELD) {
		if (!back)
			a->attempts = 0;
		free(a->error_class);
		free(a->error);
		a->error_class = a->error = NULL;
	}
	return 0;
}

int
state_set_step(struct state *s, struct account *a, const char *step)
{
	int ret = write_one(s, S_STEP, "isd", a->id, step, now_seconds());

	if (ret == 0 && step != a->step) {
		free(a->step);
		a->step = step ? xstrdup(step) : NULL;
	}
	return ret;
}

int
state_checkpoint(struct state *s, struct account *a, const char *helper,
    const char *token)
{
	int ret = write_one(s, S_CKPT, "iss", a->id, helper, token);

	if (ret == 0)
		ret = write_one(s, S_CKPT_LAST, "iss", a->id, helper, token);
	if (ret == 0) {
		free(a->checkpoint);
		a->checkpoint = xasprintf("%s:%s", helper, token);
	}
	return ret;
}

char *
state_checkpoint_of(struct state *s, const struct account *a,
    const char *helper)
{
	sqlite3_stmt *st;
	char *token = NULL;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, S_CKPT_GET);
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_text(st, 2, helper, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		token = state_col_str(st, 0);
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return token;
}

int
state_record_run(struct state *s, struct account *a, const char *helper,
    const char *step, double started, int exit_code, const char *done_json,
    const char *error)
{
	return write_one(s, S_RUN, "issddnss", a->id, helper, step, started,
	    now_seconds(), exit_code, done_json, error);
}

int
state_record_anomaly(struct state *s, struct account *a, const char *helper,
    const char *kind, const char *event_json)
{
	return write_one(s, S_ANOMALY, "isss", a->id, helper, kind,
	    event_json);
}

int
state_set_items(struct state *s, struct account *a, const char *kind,
    int64_t count)
{
	return write_one(s, S_ITEMS, "isi", a->id, kind, count);
}

int
state_set_assessed(struct state *s, struct account *a, int64_t messages,
    int64_t bytes)
{
	return write_one(s, S_ASSESSED, "iii", a->id, messages, bytes);
}

void
state_set_operator(struct state *s, const char *who)
{
	pthread_mutex_lock(&s->lock);
	free(s->operator);
	s->operator = who ? xstrdup(who) : NULL;
	pthread_mutex_unlock(&s->lock);
}

int
state_set_finding(struct state *s, struct account *a, const char *kind,
    int64_t n)
{
	return write_one(s, S_FINDING, "isi", a->id, kind, n);
}

int
state_add_counters(struct state *s, struct account *a, int64_t messages,
    int64_t bytes, int64_t anomalies)
{
	int ret = write_one(s, S_COUNTERS, "iiiii", a->id, messages, bytes,
	    anomalies, a->deltas);

	if (ret == 0) {
		a->messages += messages;
		a->bytes += bytes;
		a->anomalies += anomalies;
	}
	return ret;
}

int
state_set_failure(struct state *s, struct account *a, const char *cls,
    const char *error, double not_before)
{
	int ret = write_one(s, S_FAILURE, "inssd", a->id, a->attempts, cls,
	    error, not_before);

	if (ret == 0) {
		free(a->error_class);
		free(a->error);
		a->error_class = cls ? xstrdup(cls) : NULL;
		a->error = error ? xstrdup(error) : NULL;
		a->not_before = not_before;
	}
	return ret;
}

int
state_audit_done(struct state *s, int64_t upto)
{
	sqlite3_stmt *st;
	int ret = -1;

	pthread_mutex_lock(&s->lock);
	if (group(s) == 0 && sqlite3_prepare_v2(s->db, "DELETE FROM"
	    " audit_queue WHERE id <= ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, upto);
		ret = done(s, st);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}
