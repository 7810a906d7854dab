#include "compat.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>

#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "db.h"
#include "fileio.h"
#include "log.h"
#include "now.h"
#include "plan.h"
#include "schema.h"
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

/* A worker writes only the accounts it holds (or that no one does) */
#define MINE(me) "(CAST(" me " AS TEXT) IS NULL OR owner IS NULL OR" \
	" owner = " me ")"


static const char *const sql[S_NR] = {
	[S_GET] = "SELECT " ACC_COLS " FROM accounts WHERE account = ?1",
	[S_LIST_WAVE] = "SELECT " ACC_COLS " FROM accounts WHERE wave = ?1"
	    " AND in_plan <> 0 ORDER BY ord",
	[S_LIST_ALL] = "SELECT " ACC_COLS " FROM accounts WHERE in_plan"
	    " <> 0 ORDER BY ord",
	[S_INSERT] = "INSERT INTO accounts(account, login, ord, entered)"
	    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(account) DO UPDATE SET"
	    " login = ?2, ord = ?3, in_plan = 1",
	[S_MARK] = "UPDATE accounts SET in_plan = 0",
	[S_ENTER] = "UPDATE accounts SET state = ?2, resume = ?3, step = NULL,"
	    " entered = ?4, attempts = ?5, error_class = ?6, error = ?7,"
	    " finished = CASE WHEN ?2 = 'migrated' THEN ?4 ELSE finished END"
	    " WHERE id = ?1 AND state = ?8 AND " MINE("?9"),
	[S_TRANSITION] = "INSERT INTO transitions(account_id, ts, from_state,"
	    " to_state, why, operator) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_STEP] = "UPDATE accounts SET step = ?2,"
	    " started = coalesce(started, ?3) WHERE id = ?1",
	[S_CKPT] = "INSERT INTO checkpoints(account_id, helper, token)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(account_id, helper) DO UPDATE"
	    " SET token = ?3",
	[S_CKPT_LAST] = "UPDATE accounts SET checkpoint = ?2 || ':' || ?3"
	    " WHERE id = ?1",
	[S_CKPT_GET] = "SELECT helper, token FROM checkpoints WHERE"
	    " account_id = ?1",
	[S_RUN] = "INSERT INTO runs(account_id, helper, step, started, ended,"
	    " exit, done, error, worker) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	    " ?8, ?9)",
	[S_ANOMALY] = "INSERT INTO anomalies(account_id, helper, kind, event)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[S_COUNTERS] = "UPDATE accounts SET messages = messages + ?2,"
	    " bytes = bytes + ?3, anomalies = anomalies + ?4, deltas = ?5"
	    " WHERE id = ?1",
	[S_ITEMS] = "INSERT INTO items(account_id, kind, count) VALUES(?1, ?2,"
	    " ?3) ON CONFLICT(account_id, kind) DO UPDATE SET count = ?3",
	[S_ASSESSED] = "UPDATE accounts SET assessed_messages = ?2,"
	    " assessed_bytes = ?3 WHERE id = ?1",
	[S_FINDING] = "INSERT INTO findings(account_id, kind, n) VALUES(?1,"
	    " ?2, ?3) ON CONFLICT(account_id, kind) DO UPDATE SET n = ?3",
	[S_FAILURE] = "UPDATE accounts SET attempts = ?2, error_class = ?3,"
	    " error = ?4, not_before = ?5 WHERE id = ?1 AND " MINE("?6"),
	[S_QUEUE] = "INSERT INTO audit_queue(kind, line) VALUES(?1, ?2)",
	[S_WAVE] = "UPDATE accounts SET wave = ?2 WHERE account = ?1",
};

struct state {
	struct db *db;
	struct db_stmt *st[S_NR];
	pthread_mutex_t lock;
	double group_began;	/* 0: no transaction open */
	int broken;		/* a commit failed: stop writing */
	char *operator;		/* who runs this command, or NULL */
	char *worker;		/* the worker's name, accounts shared */
	struct {		/* the other files' statements, kept */
		const char *sql;
		struct db_stmt *st;
	} kept[24];
};

static struct db_stmt *
stmt(struct state *s, enum stmt i)
{
	if (!s->st[i] && !(s->st[i] = db_prepare(s->db, sql[i], 1)))
		fatalx(EX_SOFTWARE, "state: cannot prepare: %s",
		    db_errmsg(s->db));
	db_reset(s->st[i]);
	return s->st[i];
}

/* A statement run now (`wait`), or a write whose outcome can wait for
 * the group's commit (db_send()): 0, or -1, logged. */
static int
run_stmt(struct state *s, struct db_stmt *st, int wait)
{
	if ((wait ? db_step(st) : db_send(st)) < 0) {
		log_warnx("state: %s", db_errmsg(s->db));
		return -1;
	}
	return 0;
}

#define done(s, st) run_stmt((s), (st), 1)
#define sent(s, st) run_stmt((s), (st), 0)

/* Begin a group unless one is open; the caller holds the lock. */
static int
group(struct state *s)
{
	if (s->broken)
		return -1;
	if (s->group_began)
		return 0;
	if (db_begin(s->db) < 0) {
		log_warnx("state: cannot begin: %s", db_errmsg(s->db));
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
	struct db_stmt *st = stmt(s, which);

	db_bind_va(st, types, ap);
	return sent(s, st);
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
	if (db_commit(s->db) < 0) {
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

/* Each migration in a transaction of its own that reads the version again:
 * a status beside the apply that makes the state may have run it. */
static int
migrate_schema(struct state *s, struct buf *err)
{
	const struct migration *m;
	int have = db_user_version(s->db);

	for (m = migrations; m->name; m++) {
		if (m->version <= have)
			continue;
		if (db_begin(s->db) < 0)
			goto fail;
		if ((have = db_user_version(s->db)) >= m->version) {
			db_commit(s->db);
			continue;
		}
		if (db_migrate(s->db, m->sql, m->version) < 0) {
			db_rollback(s->db);
			goto fail;
		}
		if (db_commit(s->db) < 0)
			goto fail;
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
fail:
	buf_addf(err, "state: schema migration %s: %s", m->name,
	    db_errmsg(s->db));
	return -1;
}

int
state_open(struct state **sp, const char *dir, struct buf *err)
{
	struct state *s;
	char *where = state_where(dir, err);

	if (!where)
		return -1;
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	if (db_open(&s->db, where, err) < 0 || migrate_schema(s, err) < 0) {
		free(where);
		state_close(s);
		return -1;
	}
	free(where);
	*sp = s;
	return 0;
}

void
state_close(struct state *s)
{
	int i;

	if (!s)
		return;
	if (s->db)
		state_flush(s);
	for (i = 0; i < S_NR; i++)
		db_finalize(s->st[i]);
	for (i = 0; i < (int)(sizeof(s->kept) / sizeof(s->kept[0])); i++)
		db_finalize(s->kept[i].st);
	db_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->operator);
	free(s->worker);
	free(s);
}

struct db *
state_lock_db(struct state *s)
{
	pthread_mutex_lock(&s->lock);
	return s->db;
}

struct db_stmt *
state_kept(struct state *s, const char *text)
{
	size_t i, n = sizeof(s->kept) / sizeof(s->kept[0]);

	for (i = 0; i < n && s->kept[i].sql; i++)
		if (s->kept[i].sql == text) {
			db_reset(s->kept[i].st);
			return s->kept[i].st;
		}
	if (i == n)
		fatalx(EX_SOFTWARE, "state: too many statements kept");
	if (!(s->kept[i].st = db_prepare(s->db, text, 1)))
		return NULL;
	s->kept[i].sql = text;
	return s->kept[i].st;
}

struct db *
state_lock_group(struct state *s)
{
	pthread_mutex_lock(&s->lock);
	if (group(s) == 0)
		return s->db;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void
state_unlock_db(struct state *s)
{
	pthread_mutex_unlock(&s->lock);
}

int64_t
state_add_plan(struct state *s, const char *path, const char *name,
    const char *sha256)
{
	struct db_stmt *st;
	int64_t id = -1;

	pthread_mutex_lock(&s->lock);
	if (group(s) == 0 && (st = db_prepare(s->db, "INSERT INTO"
	    " plans(applied, path, name, sha256) VALUES(?1, ?2, ?3, ?4)"
	    " RETURNING id", 0))) {
		db_bind_real(st, 1, now_seconds());
		db_bind_text(st, 2, path);
		db_bind_text(st, 3, name);
		db_bind_text(st, 4, sha256);
		if (db_step(st) == DB_ROW)
			id = db_col_int(st, 0);
		else
			log_warnx("state: %s", db_errmsg(s->db));
		db_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return id;
}

/* How many accounts the state has; the caller holds the lock. */
static int64_t
count_locked(struct state *s)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT count(*) FROM"
	    " accounts", 0);
	int64_t n = 0;

	if (st && db_step(st) == DB_ROW)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

int
state_sync_accounts(struct state *s, const struct account_spec *v, size_t nr,
    size_t *added_r, struct buf *err)
{
	struct db_stmt *st;
	size_t i;
	int ret = 0;
	int64_t before;
	double now = now_seconds();

	pthread_mutex_lock(&s->lock);
	if (group(s) < 0 || done(s, stmt(s, S_MARK)) < 0) {
		ret = -1;
		goto out;
	}
	before = count_locked(s);
	for (i = 0; i < nr && ret == 0; i++) {
		st = stmt(s, S_INSERT);
		db_bind_text(st, 1, v[i].account);
		db_bind_text(st, 2, v[i].login);
		db_bind_int(st, 3, (int64_t)i);
		db_bind_real(st, 4, now);
		ret = sent(s, st);
	}
	if (ret == 0)
		*added_r = count_locked(s) - before;
	ret = ret < 0 ? -1 : commit_locked(s);
out:
	if (ret < 0)
		buf_addf(err, "state: cannot record the accounts: %s",
		    db_errmsg(s->db));
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int
state_set_wave(struct state *s, const char *account, const char *wave)
{
	return write_one(s, S_WAVE, "ss", account, wave);
}

/* The row `st` is on (its columns ACC_COLS) into `a`. */
void
state_read_account(struct db_stmt *st, struct account *a)
{
	const char *t = db_col_text(st, 5);

	memset(a, 0, sizeof(*a));
	a->id = db_col_int(st, 0);
	a->account = db_col_str(st, 1);
	a->login = db_col_str(st, 2);
	a->wave = db_col_str(st, 3);
	state_parse(db_col_text(st, 4), &a->state);
	/* where a failed or held account resumes */
	a->resume = t && state_parse(t, &a->resume) == 0 ? a->resume :
	    ST_PENDING;
	a->step = db_col_str(st, 6);
	a->attempts = (int)db_col_int(st, 7);
	a->not_before = db_col_real(st, 8);
	a->error_class = db_col_str(st, 9);
	a->error = db_col_str(st, 10);
	a->messages = db_col_int(st, 11);
	a->bytes = db_col_int(st, 12);
	a->anomalies = db_col_int(st, 13);
	a->deltas = db_col_int(st, 14);
	a->checkpoint = db_col_str(st, 15);
}

void
account_free(struct account *a)
{
	free(a->account);
	free(a->login);
	free(a->wave);
	free(a->step);
	free(a->error_class);
	free(a->error);
	free(a->checkpoint);
	json_decref(a->checkpoints);
	memset(a, 0, sizeof(*a));
}

int
state_accounts(struct state *s, const char *wave, struct account **v_r,
    size_t *nr_r)
{
	struct account *v = NULL;
	struct db_stmt *st;
	size_t nr = 0, alloc = 0;
	int rc;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, wave ? S_LIST_WAVE : S_LIST_ALL);
	if (wave)
		db_bind_text(st, 1, wave);
	while ((rc = db_step(st)) == DB_ROW) {
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xreallocarray(v, alloc, sizeof(*v));
		}
		state_read_account(st, &v[nr++]);
	}
	db_reset(st);
	pthread_mutex_unlock(&s->lock);
	*v_r = v;
	*nr_r = nr;
	return rc == DB_DONE ? 0 : -1;
}

int
state_account(struct state *s, const char *account, struct account *a)
{
	struct db_stmt *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, S_GET);
	db_bind_text(st, 1, account);
	if ((rc = db_step(st)) == DB_ROW)
		state_read_account(st, a);
	db_reset(st);
	pthread_mutex_unlock(&s->lock);
	return rc == DB_ROW ? 0 : -1;
}

static int
queue_locked(struct state *s, const char *kind, const char *line)
{
	struct db_stmt *st = stmt(s, S_QUEUE);

	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, line);
	return sent(s, st);
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
	struct db_stmt *st;
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
	db_bind_int(st, 1, a->id);
	db_bind_text(st, 2, state_name(to));
	if (to == ST_FAILED || to == ST_HELD)
		db_bind_text(st, 3, state_name(resume));
	db_bind_real(st, 4, now);
	/* failing, holding and going back keep the count of attempts */
	db_bind_int(st, 5, to == ST_FAILED || to == ST_HELD || back ?
	    a->attempts : 0);
	if (to == ST_FAILED || to == ST_HELD) {
		db_bind_text(st, 6, a->error_class);
		db_bind_text(st, 7, a->error);
	}
	db_bind_text(st, 8, state_name(from));
	db_bind_text(st, 9, s->worker);
	if (done(s, st) < 0)
		goto out;
	if (db_changes(st) != 1) {
		buf_addf(err, "%s: is no longer %s (changed by another"
		    " command, such as migrate hold%s); ", a->account,
		    state_name(from), s->worker ? ", or taken by another"
		    " worker when this one's lease ran out" : "");
		goto out;
	}
	st = stmt(s, S_TRANSITION);
	db_bind_int(st, 1, a->id);
	db_bind_real(st, 2, now);
	db_bind_text(st, 3, state_name(from));
	db_bind_text(st, 4, state_name(to));
	db_bind_text(st, 5, why);
	db_bind_text(st, 6, s->operator);
	if (sent(s, st) < 0 || queue_locked(s, "event", line) < 0 ||
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
		if (a->checkpoints)
			json_object_set_new(a->checkpoints, helper,
			    json_string(token));
	}
	return ret;
}

/* Every helper's token, read at the first asking: the apply that runs the
 * account writes them, and keeps them (state_checkpoint()). */
char *
state_checkpoint_of(struct state *s, struct account *a, const char *helper)
{
	struct db_stmt *st;
	json_t *rows, *t;
	size_t i;

	if (!a->checkpoints) {
		pthread_mutex_lock(&s->lock);
		st = stmt(s, S_CKPT_GET);
		db_bind_int(st, 1, a->id);
		rows = db_json_rows(st);
		db_reset(st);
		pthread_mutex_unlock(&s->lock);
		a->checkpoints = json_object();
		json_array_foreach(rows, i, t)
			json_object_set(a->checkpoints, json_string_value(
			    json_object_get(t, "helper")), json_object_get(t,
			    "token"));
		json_decref(rows);
	}
	t = json_object_get(a->checkpoints, helper);
	return t ? xstrdup(json_string_value(t)) : NULL;
}

int
state_record_run(struct state *s, struct account *a, const char *helper,
    const char *step, double started, int exit_code, const char *done_json,
    const char *error)
{
	return write_one(s, S_RUN, "issddnsss", a->id, helper, step, started,
	    now_seconds(), exit_code, done_json, error, s->worker);
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

void
state_set_worker(struct state *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	free(s->worker);
	s->worker = name ? xstrdup(name) : NULL;
	pthread_mutex_unlock(&s->lock);
}

const char *
state_worker(struct state *s)
{
	return s->worker;
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
	int ret = write_one(s, S_FAILURE, "inssds", a->id, a->attempts, cls,
	    error, not_before, s->worker);

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
	struct db_stmt *st;
	int ret = -1;

	pthread_mutex_lock(&s->lock);
	if (group(s) == 0 && (st = db_prepare(s->db, "DELETE FROM"
	    " audit_queue WHERE id <= ?1", 0))) {
		db_bind_int(st, 1, upto);
		ret = done(s, st);
		db_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}
