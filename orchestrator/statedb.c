/*
 * statedb.c: the state's connections to its database, and the group of
 * writes on each (state.h).
 *
 * On SQLite there is one connection, which every thread shares under
 * the state's lock.  On PostgreSQL a worker thread has a connection of
 * its own (a lane; the main thread keeps the first), so that one
 * thread's round trips do not wait for another's and the server works
 * on several at once.  Each lane has its own lock and its own group of
 * writes, committed as the first's is.
 *
 * The lanes touch different rows: a thread writes the accounts it
 * works on.  What touches other threads' rows does not wait inside a
 * group: a claim runs in a transaction of its own, on a connection of
 * its own (state_claims_lane()), and the renewal of the leases holds
 * every lane with its group committed (state_lock_all()).  A lane's
 * group can then never wait for a row that another lane holds, whose
 * commit would wait for it.
 */
#include "compat.h"

#include <pthread.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "now.h"
#include "schema.h"
#include "state.h"
#include "state_int.h"
#include "xalloc.h"

#define GROUP_SECONDS	0.2	/* a group of writes is committed at the latest
				 * that long after it began */
#define LANES	10	/* the main thread's, up to eight for the workers,
			 * and the claims' */
#define CLAIMS	(LANES - 1)
#define KEPT	48	/* statements kept on each */

struct lane {
	struct db *db;
	pthread_mutex_t lock;
	double group_began;	/* 0: no transaction open */
	int tried;		/* its connection opened, or failed to */
	struct pend_set *pend;	/* writes that wait (statepend.c) */
	struct {
		const char *text;
		struct db_stmt *st;
	} kept[KEPT];
};

struct state {
	struct lane lane[LANES];
	int lanes;		/* those used: see state_open() */
	pthread_mutex_t opening;
	char *where;		/* the database, for the lanes */
	int pg;
	int broken;		/* a commit failed: stop writing */
	char *operator;		/* who runs this command, or NULL */
	char *worker;		/* the worker's name, accounts shared */
};

static _Thread_local int lane_no;

void
state_use_lane(struct state *s, int k)
{
	lane_no = k <= 0 ? 0 : 1 + (k - 1) % (s->lanes - 1);
}

int
state_claims_lane(struct state *s, int was)
{
	int now = lane_no;

	lane_no = was >= 0 ? was : s->pg ? CLAIMS : now;
	return now;
}

/* A lane's connection, at the first use. */
static void
open_lane(struct state *s, struct lane *l)
{
	struct buf err = BUF_INIT;

	pthread_mutex_lock(&s->opening);
	if (!l->tried) {
		if (db_open(&l->db, s->where, &err) < 0) {
			log_warnx("%s; this thread shares the first connection",
			    err.buf);
			l->db = NULL;
		} else
			l->pend = pend_new(l->db, s->pg);
		/* the claim's plan does not depend on its values: made once,
		 * not at each (PostgreSQL makes each anew, for the LIMIT) */
		if (l->db && l == &s->lane[CLAIMS] && db_exec(l->db,
		    "SET plan_cache_mode = force_generic_plan") < 0)
			log_warnx("state: %s", db_errmsg(l->db));
		__atomic_store_n(&l->tried, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&s->opening);
	buf_release(&err);
}

/* The calling thread's lane. */
static struct lane *
lane(struct state *s)
{
	struct lane *l = &s->lane[lane_no];

	if (!lane_no || !s->pg)
		return &s->lane[0];
	if (!__atomic_load_n(&l->tried, __ATOMIC_ACQUIRE))
		open_lane(s, l);
	return l->db ? l : &s->lane[0];
}

/* Each migration in a transaction of its own that reads the version again:
 * a status beside the apply that makes the state may have run it. */
static int
migrate_schema(struct db *db, struct buf *err)
{
	const struct migration *m;
	int have = db_user_version(db);

	for (m = migrations; m->name; m++) {
		if (m->version <= have)
			continue;
		if (db_begin(db) < 0)
			goto fail;
		if ((have = db_user_version(db)) >= m->version) {
			db_commit(db);
			continue;
		}
		if (db_migrate(db, m->sql, m->version) < 0) {
			/* its error, before the rollback's clears it */
			buf_addf(err, "state: schema migration %s: %s",
			    m->name, db_errmsg(db));
			db_rollback(db);
			return -1;
		}
		if (db_commit(db) < 0)
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
	    db_errmsg(db));
	return -1;
}

int
state_open(struct state **sp, const char *dir, struct buf *err)
{
	struct state *s;
	long ncpu;
	int i;

	s = xcalloc(1, sizeof(*s));
	for (i = 0; i < LANES; i++)
		pthread_mutex_init(&s->lane[i].lock, NULL);
	pthread_mutex_init(&s->opening, NULL);
	s->lane[0].tried = 1;
	if (!(s->where = state_where(dir, err)) ||
	    db_open(&s->lane[0].db, s->where, err) < 0 ||
	    migrate_schema(s->lane[0].db, err) < 0) {
		state_close(s);
		return -1;
	}
	s->pg = db_is_pg(s->lane[0].db);
	s->lane[0].pend = pend_new(s->lane[0].db, s->pg);
	/* for the workers, twice this host's processors, eight at most:
	 * more wait for each other here (measured on two) */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->lanes = 1 + (ncpu < 1 ? 1 : ncpu > (CLAIMS - 1) / 2 ? CLAIMS - 1 :
	    2 * (int)ncpu);
	*sp = s;
	return 0;
}

void
state_close(struct state *s)
{
	struct lane *l;
	int i, k;

	if (!s)
		return;
	state_flush(s);
	for (i = 0; i < LANES; i++) {
		l = &s->lane[i];
		for (k = 0; k < KEPT; k++)
			db_finalize(l->kept[k].st);
		pend_free(l->pend);
		if (l->db)
			db_close(l->db);
		pthread_mutex_destroy(&l->lock);
	}
	pthread_mutex_destroy(&s->opening);
	free(s->where);
	free(s->operator);
	free(s->worker);
	free(s);
}

struct db *
state_lock_db(struct state *s)
{
	struct lane *l = lane(s);

	pthread_mutex_lock(&l->lock);
	/* what waits goes first, in a group (it may have stayed after a
	 * bare commit): whatever the caller runs comes after */
	if (pend_waiting(l->pend) && (l->group_began || state_group(s) == 0))
		pend_flush(l->pend);
	return l->db;
}

struct pend_set *
state_lock_pend(struct state *s)
{
	struct lane *l = lane(s);

	pthread_mutex_lock(&l->lock);
	if (state_group(s) == 0)
		return l->pend;
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

struct db *
state_db(struct state *s)
{
	return lane(s)->db;
}

void
state_unlock_db(struct state *s)
{
	pthread_mutex_unlock(&lane(s)->lock);
}

int
state_group(struct state *s)
{
	struct lane *l = lane(s);

	if (s->broken)
		return -1;
	if (l->group_began)
		return 0;
	if (db_begin(l->db) < 0) {
		log_warnx("state: cannot begin: %s", db_errmsg(l->db));
		return -1;
	}
	l->group_began = now_seconds();
	return 0;
}

/* With `bare`, what waits on the lane stays for the next group. */
static int
commit_lane(struct state *s, struct lane *l, int bare)
{
	int sent;

	if (!l->group_began)
		return 0;
	l->group_began = 0;
	sent = bare ? 0 : pend_flush(l->pend);
	if (db_commit(l->db) < 0 || sent < 0) {
		s->broken = 1;
		return -1;
	}
	return 0;
}

int
state_commit_locked(struct state *s)
{
	return commit_lane(s, lane(s), 0);
}

int
state_commit_bare_locked(struct state *s)
{
	return commit_lane(s, lane(s), 1);
}

struct db *
state_lock_group(struct state *s)
{
	struct db *db = state_lock_db(s);

	if (state_group(s) == 0)
		return db;
	state_unlock_db(s);
	return NULL;
}

struct db_stmt *
state_kept(struct state *s, const char *text)
{
	struct lane *l = lane(s);
	size_t i;

	for (i = 0; i < KEPT && l->kept[i].text; i++)
		if (l->kept[i].text == text) {
			db_reset(l->kept[i].st);
			return l->kept[i].st;
		}
	if (i == KEPT)
		fatalx(EX_SOFTWARE, "state: too many statements kept");
	if (!(l->kept[i].st = db_prepare(l->db, text, 1)))
		return NULL;
	l->kept[i].text = text;
	return l->kept[i].st;
}

/* Each lane's group committed: when it is old enough (`now` > 0), or
 * now. */
static int
commit_all(struct state *s, double now)
{
	struct lane *l;
	int i, ret = 0;

	for (i = 0; i < LANES; i++) {
		l = &s->lane[i];
		if (!l->db)
			continue;
		pthread_mutex_lock(&l->lock);
		if (now <= 0 || (l->group_began && now - l->group_began >=
		    GROUP_SECONDS))
			ret |= commit_lane(s, l, 0);
		pthread_mutex_unlock(&l->lock);
	}
	return ret;
}

int
state_tick(struct state *s)
{
	return commit_all(s, now_seconds());
}

int
state_flush(struct state *s)
{
	return commit_all(s, 0);
}

int
state_broken(const struct state *s)
{
	return s->broken;
}

struct db *
state_lock_all(struct state *s)
{
	int i;

	for (i = 0; i < LANES; i++) {
		pthread_mutex_lock(&s->lane[i].lock);
		if (s->lane[i].db)
			commit_lane(s, &s->lane[i], 0);
	}
	return s->lane[0].db;
}

void
state_unlock_all(struct state *s)
{
	int i;

	for (i = LANES - 1; i >= 0; i--)
		pthread_mutex_unlock(&s->lane[i].lock);
}

void
state_set_operator(struct state *s, const char *who)
{
	free(s->operator);
	s->operator = who ? xstrdup(who) : NULL;
}

/* Read often, on the way to a write: it takes no lock (a lock flushes
 * what waits on the lane). */
int
state_shared(struct state *s)
{
	return s->pg;
}

/* the advisory lock's key: "migrate" */
#define COORDINATOR_KEY	0x6d69677261746500LL

int
state_lock_coordinator(struct state *s, struct buf *err)
{
	struct db_stmt *st;
	struct db *db;
	int rc = -1, got = 0;

	if (!s->pg)
		return 0;
	db = state_lock_db(s);
	if ((st = db_prepare(db, "SELECT CASE WHEN pg_try_advisory_lock(?1)"
	    " THEN 1 ELSE 0 END", 0))) {
		db_bind_int(st, 1, COORDINATOR_KEY);
		if ((rc = db_step(st)) == DB_ROW)
			got = db_col_int(st, 0) == 1;
		db_finalize(st);
	}
	if (rc != DB_ROW)
		buf_addf(err, "state: %s", db_errmsg(db));
	else if (!got)
		buf_adds(err, "another 'migrate plan apply' works on the"
		    " plan's database, from another state directory or host;"
		    " wait for it, or stop it");
	state_unlock_db(s);
	return got ? 0 : -1;
}

const char *
state_operator(struct state *s)
{
	return s->operator;
}

void
state_set_worker(struct state *s, const char *name)
{
	free(s->worker);
	s->worker = name ? xstrdup(name) : NULL;
}

const char *
state_worker(struct state *s)
{
	return s->worker;
}
