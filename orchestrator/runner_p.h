/*
 * runner_p.h: the runner's private declarations, shared by its four files:
 *
 * runner.c	the phases of a plan, its threads, migrate worker's loop
 * chain.c	one account's way through a phase: its steps, in one place
 * lease.c	the accounts workers share: claims, leases, the audit
 * steps.c	each step's helper: its arguments and its secrets
 * rollback.c	the way back: carry-back, then the flip to the source
 * exec.c	running a helper (or a hook) and reading its events
 */
#ifndef MIGRATE_RUNNER_P_H
#define MIGRATE_RUNNER_P_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include <jansson.h>

#include "opt.h"
#include "plan.h"
#include "runner.h"
#include "state.h"

struct buf;
struct child;
struct secrets;

enum phase {
	PH_ASSESSMENT,
	PH_MOVE,	/* the pilot and each wave */
	PH_DELTA,
	PH_FINALIZE,
};

enum outcome {
	OK,
	RETRY,		/* failed for now: try again after a backoff */
	PERMANENT,	/* failed until an operator acts */
	STOPPED,	/* interrupted: no state change */
};

struct slot {
	char account[256];
	char what[48];
	char folder[64];	/* or collection, as its progress names it */
	int64_t done, total;	/* messages */
	int64_t bytes, bytes_total;
	struct child *child;	/* while a helper runs */
	double since;		/* the account's start */
	double step_since;	/* its helper's */
};

struct item {
	struct account a;
	int status;		/* 0 to do, 1 taken, 2 done */
};

struct run {
	struct plan *p;
	struct state *s;
	struct audit *au;
	const struct apply_opts *o;
	char *mapping_txt;
	char *share_ready;	/* STATE/share-ready: see share.c */
	int samples;		/* assessments asked for a sample (pull.c) */
	char *run_id;
	char *master_password;	/* wiped at the end */
	FILE *logf;		/* written by say_to() only, unbuffered */
	/* the plan's mapping, read: kept once open (steps.c) */
	struct mapping *mapping;
	pthread_mutex_t mapping_lock;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum phase phase;
	const char *phase_name;
	struct item *items;
	size_t nr_items, nr_done, nr_failed;
	size_t phase_total;	/* its accounts, the failed ones set aside too */
	size_t cursor;		/* items before it are all taken */
	size_t remaining;	/* items not done */
	int conns;		/* source connections in use */
	struct slot *slots;
	int nr_slots;
	int flips;		/* flips not yet in the audit repository */
	double phase_start;
	int fake;		/* MIGRATE_FAKE_HELPERS: the bookkeeping bench */
	int drawn;		/* lines of the last progress display */
	char eta_line[160];	/* the whole plan's ETA, as last drawn */
	char *dest_sieve;	/* its SIEVE capability (pull.c) */
	int64_t disk_held;	/* what running pulls may write (disk.c) */
	double window, ssthresh, cut_at;	/* source connections (load.c) */
	double quickest;	/* the lowest of the pulls' latency_ms */
	int dest_sieve_asked;	/* 1 while being asked, 2 after */
	double eta_at;		/* when it was computed */

	/* the state shared by workers (lease.c) */
	int shared;
	int coordinator;	/* plan apply: opens the phases, the audit */
	int64_t phase_id;	/* the phase open in the state */
	int64_t claim_ord;	/* where in the plan claims go on from */
	struct claimed *queue;	/* claimed, for the threads: QUEUE_LEN() */
	size_t qhead, queued;	/* the next in queue, how many are left */
	int claiming;		/* a thread claims for the others */
	double fruitless;	/* when a claim last found nothing */
	int said_idle;		/* that no worker runs, in this phase */
	double lease;		/* seconds */
	int live;		/* workers alive, this one too */
	double renewed, polled, audited, orphans_at, folded, counted;
	double poll_every;	/* seconds between counts of what is left */
};

/* accounts claimed ahead for the threads at most: sixteen each, a claim
 * (a statement) for that many (lease.c) */
#define QUEUE_LEN(r)	(16 * (size_t)(r)->nr_slots)

/* How work_one() left an account: to do again (later, or by another
 * worker), done with in this phase, or failed for good. */
enum worked {
	W_AGAIN,
	W_DONE,
	W_FAILED,
};


/* set by a signal, or to STOP_STATE when a write to the state failed:
 * every loop and step stops */
extern volatile sig_atomic_t stopping;
#define STOP_STATE	(-1)
/* the exit code of a stop */
#define STOP_CODE(why)	((why) == STOP_STATE ? EX_TEMPFAIL : 128 + (int)(why))

/*
 * disk.c: before a pull, wait for room on the archives' disk; *held_r is
 * what it holds of it until disk_done().  STOPPED when the apply stops
 * meanwhile.
 */
enum outcome disk_wait(struct run *r, struct slot *sl, struct account *a,
    int64_t *held_r);
void disk_done(struct run *r, int64_t held);
/* Remove an archive, a directory tree (none: 0); -1 with errno set. */
int archive_remove(const char *dir);

/*
 * load.c: the connections the source's pulls may hold together, adapted
 * (AIMD) between one pull's and limits.connections_per_source;
 * load_start() sets them at half the ceiling (with `record`, in the
 * state too).
 * load_acquire() waits until `want` more fit and says when the pull
 * starts, and whether it filled the window (*full_r: no other pull could
 * start beside it); load_release() gives them back with how the pull
 * ended (`why` the error of one that failed for now) and how quickly the
 * source answered it (`latency_ms`, the helper's median; 0 unknown).
 */
void load_start(struct run *r, int record);
/* `live` workers share the ceiling now (recorded when it changes). */
void load_share(struct run *r, int live);
double load_acquire(struct run *r, long long want, int *full_r);
void load_release(struct run *r, long long want, double started, int full,
    enum outcome o, const char *why, double latency_ms);

/* exec.c */
void say_to(struct run *r, int quiet, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
#define say(r, ...) say_to(r, 0, __VA_ARGS__)
void reap_orphans(struct run *r);
/*
 * Run helper `name` with `args` (NULL-terminated) and `secrets` on its
 * stdin for account `a`.  `done_r` (may be NULL) gets its done event.
 * Records the run.  Returns the outcome; `err` says why it failed.
 */
enum outcome helper(struct run *r, struct slot *sl, struct account *a,
    const char *name, const char *step, const char **args,
    struct secrets *sec, json_t **done_r, int *exit_r, struct buf *err);
/* A hook: the operator's command, with the account in its environment. */
enum outcome hook(struct run *r, struct slot *sl, struct account *a,
    const char *name, const char *cmd, struct buf *err);

/* steps.c: a helper's arguments, ended by NULL; `owned` ones are freed */
struct args {
	const char **v;
	char **owned;
	size_t n, nown;
};
void arg(struct args *a, const char *s);
/* A login template with {account}, {login}, {local} replaced; NULL is
 * the address. */
char *login_of(const char *fmt, const struct account *a);
const char *own(struct args *a, char *s);
void args_free(struct args *a);
/* scheme://host[:port] as --host, --port and --tls */
void url_args(struct args *v, const char *u, const char *tls_scheme,
    const char *port, const char *tls_port);
/* The options and the secret of the helpers that read the source. */
void server_args(struct args *v, const struct server *s);
enum outcome pop3_uidl(struct run *r, struct slot *sl, struct account *a,
    int dest, struct buf *err);
void source_args(struct run *r, struct args *v);
/* A pull's --user (when `login` is not NULL) and --mode: for assess the
 * report named `report`, else the account's archive. */
void pull_args(struct run *r, struct args *v, struct account *a,
    const char *login, const char *mode, const char *report);
int source_secrets(struct run *r, struct account *a, struct secrets *sec,
    struct buf *err);
/* map-flip's options that name the mapping: store, export, the proxy */
void mapping_args(struct run *r, struct args *v);
/* steps.c: an account's Sieve scripts, its DAV resources (`files`: its
 * WebDAV file tree), with --mode `mode` */
enum outcome sieve_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, struct buf *err);
enum outcome dav_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, int files, struct buf *err);
/* After an account's last step in this run: its passwords wiped. */
void forget_passwords(struct run *r, const struct account *a);
/* The destination's secret ("token" or "password"). */
int dest_secrets(struct run *r, struct account *a, int password_only,
    struct secrets *sec, struct buf *err);
/* The account's archive, its report `what`, its destination login
 * (caller frees each). */
char *archive_of(struct run *r, const struct account *a);
char *report_of(struct run *r, const struct account *a, const char *what);
/* Whether `a` is the plan's account of the public folders. */
int is_public(const struct run *r, const struct account *a);
/* assess.c: after the assessment, who shares folders and who uses POP3
 * (a report per account for the latter) */
void assess_summary(struct run *r);

/* steps.c: jmap-push's --url, --archive, --user and server options */
void push_args(struct run *r, struct args *v, struct account *a);

/* share.c: sharing that waits for its grantee */
/* Whether an account in state `st` is on the destination. */
int share_on_destination(enum acc_state st);
/* Write r->share_ready: the accounts on the destination (their logins
 * and addresses into `set` too, when not NULL); its lines, or -1. */
long share_ready_write(struct run *r, json_t *set);
/* An account came to the destination or left it: the file is to be
 * written again; and written, if it is to be. */
void share_ready_touch(void);
void share_ready_flush(struct run *r);
/* After a phase: a push of the sharing alone for each account whose
 * pending sharing was judged with fewer accounts ready than now. */
void shares_pass(struct run *r);
char *dest_login(struct run *r, const struct account *a);

/*
 * steps.c: each runs its helper(s) for account `a`.  push()'s `how`:
 * "push", "verify" (a comparison only), "final" (push, then verify) and
 * "after" (the same after the flip: the destination is authoritative).
 */
enum outcome pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, struct buf *err);
enum outcome push(struct run *r, struct slot *sl, struct account *a,
    const char *how, struct buf *err);
enum outcome flip(struct run *r, struct slot *sl, struct account *a,
    const char *route, struct buf *err);
/* Hold the account's logins at the proxy for `seconds` and close its
 * sessions; with 0, release them. */
enum outcome proxy_hold(struct run *r, struct slot *sl, struct account *a,
    long long seconds, struct buf *err);

/* provision.c: make the account on the destination (provision(8)); with
 * `check`, only say what would be done, in its assess-provision report */
enum outcome provision(struct run *r, struct slot *sl, struct account *a,
    int check, struct buf *err);

/* rollback.c: hold, pull, carry-back, pull, carry-back --check; a
 * failure releases the hold */
enum outcome back_window(struct run *r, struct slot *sl, struct account *a,
    struct buf *err);

/*
 * chain.c: an account's turn: a retry resumes it, advance() drives it,
 * a failure is recorded with its backoff.  `moved`: its archive is on
 * another worker, and moved_here() has it pulled again here.
 */
enum worked work_one(struct run *r, struct slot *sl, struct account *a,
    int moved, struct buf *err);
/* runner.c: the run of an apply, a worker, a rollback: its files, its
 * logs. */
int run_open(struct run *r, struct plan *p, struct state *s,
    struct audit *a, const struct apply_opts *o, struct buf *err);
void run_close(struct run *r);

int moved_here(struct run *r, struct slot *sl, struct account *a);

/*
 * lease.c: the accounts shared by workers.  lease_worker() is a thread's
 * loop: claim, work, give back, until the phase has nothing left.
 * lease_watch() is the watch loop's part: the leases renewed, what is
 * left of the phase counted; the coordinator's audit and census.
 * lease_open() and lease_close() are the coordinator's, around a phase;
 * lease_phase_of() the phase of a kind the state names.  audit_now()
 * commits the queued audit lines: a batch, or with `all` every one (none
 * for a worker).
 */
void lease_worker(struct run *r, struct slot *sl);
void lease_watch(struct run *r, double now);
/* How long the watch loop waits before it does again what took `took`
 * seconds: a second, or twenty times that when it is slow (a plan of
 * many accounts). */
double lease_pace(double took);
int lease_open(struct run *r, const char *name, const char *wave);
void lease_close(struct run *r);
int lease_phase_of(const char *kind, enum phase *ph);
void audit_now(struct run *r, int all);

/* display.c: the display on a terminal, redrawn; `final` ends it */
void draw(struct run *r, int final);

/* chain.c */
enum outcome advance(struct run *r, struct slot *sl, struct account *a,
    struct buf *err);
int enter(struct run *r, struct account *a, enum acc_state to,
    const char *why);
int enter_flipped(struct run *r, struct account *a, enum acc_state to,
    const char *route, const char *why, int later);

#endif
