/*
 * runner.c: the phases of a plan and each account's way through them.
 *
 * The main thread runs the phases in order.  For each it loads the
 * accounts the phase concerns and starts up to limits.parallel_accounts
 * workers; a worker takes the next account that is due, drives it through
 * its helpers (imap-pull, jmap-push, map-flip) until the phase is done
 * with it, and takes the next.  Meanwhile the main thread commits the
 * state in groups, commits the audit log in batches and draws the
 * progress.  Every state change goes through enter_state().
 */
#include "compat.h"

#include <dirent.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "buf.h"
#include "evline.h"
#include "exec_path.h"
#include "fileio.h"
#include "log.h"
#include "opt.h"
#include "plan.h"
#include "proc.h"
#include "runner.h"
#include "secret.h"
#include "state.h"
#include "xalloc.h"

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
	int64_t done, total;
	struct child *child;	/* while a helper runs */
	double since;
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
	char *run_id;
	char *master_password;	/* wiped at the end */
	FILE *logf;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum phase phase;
	const char *phase_name;
	struct item *items;
	size_t nr_items, nr_done, nr_failed;
	size_t cursor;		/* items before it are all taken */
	size_t remaining;	/* items not done */
	int conns;		/* source connections in use */
	struct slot *slots;
	int nr_slots;
	int flips;		/* flips not yet in the audit repository */
	double phase_start;
	int fake;		/* MIGRATE_FAKE_HELPERS: the bookkeeping bench */
	int drawn;		/* lines of the last progress display */
};

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	stopping = sig;
}

/*
 * A line for people: the log file, and stderr unless a display runs or
 * it is a helper's (`quiet`; with MIGRATE_LOG_LEVEL=debug those too).
 */
static void ATTR_PRINTF(3, 4)
say_to(struct run *r, int quiet, const char *fmt, ...)
{
	va_list ap;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	pthread_mutex_lock(&r->lock);
	if (r->logf) {
		fprintf(r->logf, "%s ", when);
		va_start(ap, fmt);
		vfprintf(r->logf, fmt, ap);
		va_end(ap);
		fputc('\n', r->logf);
		fflush(r->logf);
	}
	if (!r->o->progress && (!quiet || log_get_level() >= LOG_LEVEL_DEBUG)) {
		fputs("migrate: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&r->lock);
}

#define say(r, ...) say_to(r, 0, __VA_ARGS__)

/* Account-specific paths in the state directory. */
static char *
archive_of(struct run *r, const struct account *a)
{
	return xasprintf("%s/archives/%s", r->p->state_dir, a->account);
}

static char *
report_of(struct run *r, const struct account *a, const char *what)
{
	return xasprintf("%s/reports/%s.%s.json", r->p->state_dir, a->account,
	    what);
}

/* A login template with {account}, {login}, {local} replaced; NULL is
 * the address. */
static char *
login_of(const char *fmt, const struct account *a)
{
	struct buf b = BUF_INIT;
	const char *at = strchr(a->account, '@');

	if (!fmt)
		return xstrdup(a->account);
	while (*fmt) {
		if (!strncmp(fmt, "{account}", 9))
			buf_adds(&b, a->account), fmt += 9;
		else if (!strncmp(fmt, "{login}", 7))
			buf_adds(&b, a->login), fmt += 7;
		else if (!strncmp(fmt, "{local}", 7))
			buf_add(&b, a->account, at ? (size_t)(at - a->account) :
			    strlen(a->account)), fmt += 7;
		else
			buf_addch(&b, *fmt++);
	}
	return buf_detach(&b, NULL);
}

/* The login at the destination: destination.auth.login. */
static char *
dest_login(struct run *r, const struct account *a)
{
	return login_of(r->p->destination.auth.login, a);
}

/* --- running one helper ------------------------------------------------ */

struct hrun {
	struct run *r;
	struct account *a;
	struct slot *slot;
	const char *helper;
	json_t *done;
	int hello;
	struct buf proto_err;
	struct buf last_err;	/* its last stderr line: the reason */
	pid_t pid;
};

static int
on_line(void *cb, enum proc_stream s, const char *line, size_t len)
{
	struct hrun *h = cb;
	struct run *r = h->r;
	struct evline ev;
	const char *tok, *kind;
	int64_t v;

	if (s == PROC_STDERR) {
		buf_setlen(&h->last_err, 0);
		buf_add_sanitized(&h->last_err, line, len, 400);
		say_to(r, 1, "%.*s", (int)len, line);
		return 0;
	}
	if (evline_parse(&ev, line, len, &h->proto_err) < 0)
		return -1;
	if (!h->hello && ev.type != EV_HELLO) {
		buf_addf(&h->proto_err, "%s did not begin with hello",
		    h->helper);
		evline_release(&ev);
		return -1;
	}
	switch (ev.type) {
	case EV_HELLO:
		h->hello = 1;
		break;
	case EV_PROGRESS:
		pthread_mutex_lock(&r->lock);
		if (evline_int(&ev, "messages", &v) == 0)
			h->slot->done = v;
		if (evline_int(&ev, "messages_total", &v) == 0)
			h->slot->total = v;
		pthread_mutex_unlock(&r->lock);
		break;
	case EV_CHECKPOINT:
		if ((tok = evline_str(&ev, "token")))
			state_checkpoint(r->s, h->a, h->helper, tok);
		break;
	case EV_ANOMALY:
		kind = evline_str(&ev, "kind");
		{
			char *dump = evline_dump(&ev);

			state_record_anomaly(r->s, h->a, h->helper,
			    kind ? kind : "?", dump);
			free(dump);
		}
		break;
	case EV_DONE:
		json_decref(h->done);
		h->done = json_incref(ev.obj);
		break;
	case EV_FOLDER:
		break;
	}
	evline_release(&ev);
	return 0;
}

/*
 * STATE/run/PID for each helper running, with the run's id: a rerun after
 * a crash stops the helpers the dead apply left behind (they are in
 * sessions of their own and would hold archives and connections).
 */
static void
on_start(void *cb, pid_t pid)
{
	struct hrun *h = cb;
	char *path = xasprintf("%s/run/%ld", h->r->p->state_dir, (long)pid);
	struct buf err = BUF_INIT;

	if (file_write_atomic(path, h->r->run_id, strlen(h->r->run_id), 0600,
	    &err) < 0)
		say(h->r, "%s", err.buf);
	h->pid = pid;
	buf_release(&err);
	free(path);
}

static void
forget_pid(struct run *r, pid_t pid)
{
	char *path = xasprintf("%s/run/%ld", r->p->state_dir, (long)pid);

	unlink(path);
	free(path);
}

/* Whether process `pid` carries MIGRATE_RUN_ID=`id` in its environment. */
static int
has_run_id(long pid, const char *id)
{
	char *path = xasprintf("/proc/%ld/environ", pid);
	char *want = xasprintf("MIGRATE_RUN_ID=%s", id);
	struct buf env = BUF_INIT, err = BUF_INIT;
	size_t off = 0;
	int found = 0;

	if (file_read(path, &env, &err) == 0)
		while (off < env.len && !found) {
			found = !strcmp(env.buf + off, want);
			off += strlen(env.buf + off) + 1;
		}
	buf_release(&env);
	buf_release(&err);
	free(want);
	free(path);
	return found;
}

/* Stop what an earlier apply left running, before any new helper runs. */
static void
reap_orphans(struct run *r)
{
	char *dir = xasprintf("%s/run", r->p->state_dir);
	struct buf id = BUF_INIT, err = BUF_INIT;
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0, i;

	while (d && (e = readdir(d))) {
		char *path;
		long pid = strtol(e->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		buf_setlen(&id, 0);
		if (file_read(path, &id, &err) == 0 && id.len &&
		    has_run_id(pid, id.buf)) {
			say(r, "stopping helper %ld, left by an earlier apply",
			    pid);
			kill(-(pid_t)pid, SIGTERM);
			for (i = 0; i < 50 && has_run_id(pid, id.buf); i++)
				usleep(100000);
			kill(-(pid_t)pid, SIGKILL);
			n++;
		}
		unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
	/* a group killed is reaped by init; give it a moment to go */
	if (n)
		usleep(200000);
	buf_release(&id);
	buf_release(&err);
	free(dir);
}

/* The bench's stand-in for a helper: its events, with no process. */
static int
fake_helper(struct hrun *h)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "{\"v\":1,\"ts\":%.3f,\"event\":"
	    "\"hello\",\"name\":\"%s\",\"version\":\"0\",\"protocol\":1}",
	    now_seconds(), h->helper);
	on_line(h, PROC_STDOUT, line, n);
	n = snprintf(line, sizeof(line), "{\"v\":1,\"ts\":%.3f,\"event\":"
	    "\"checkpoint\",\"token\":\"seg:1\"}", now_seconds());
	on_line(h, PROC_STDOUT, line, n);
	n = snprintf(line, sizeof(line), "{\"v\":1,\"ts\":%.3f,\"event\":"
	    "\"done\",\"messages\":0,\"bytes\":0}", now_seconds());
	on_line(h, PROC_STDOUT, line, n);
	return 0;
}

/*
 * Run helper `name` with `args` (NULL-terminated) and `secrets` on its
 * stdin for account `a`.  `done_r` (may be NULL) gets its done event.
 * Records the run.  Returns the outcome; `err` says why it failed.
 */
static enum outcome
helper(struct run *r, struct slot *sl, struct account *a, const char *name,
    const char *step, const char **args, struct secrets *sec,
    json_t **done_r, int *exit_r, struct buf *err)
{
	struct hrun h = { r, a, sl, name, NULL, 0, BUF_INIT, BUF_INIT, 0 };
	struct buf in = BUF_INIT, why = BUF_INIT;
	char *path = exec_path_of(name), *e_acc, *e_run, *e_lvl, *e_ckpt = NULL;
	char *tok;
	const char *env[5];
	const char **argv;
	struct child c = CHILD_INIT;
	struct proc_io io = { 0 };
	unsigned flags = 0;
	size_t n = 0, i;
	double started = now_seconds();
	enum outcome o;
	int code;
	char *done_json = NULL;

	for (i = 0; args[i]; i++)
		;
	argv = xcalloc(i + 2, sizeof(*argv));
	argv[0] = path;
	for (i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	e_acc = xasprintf("MIGRATE_ACCOUNT=%s", a->account);
	e_run = xasprintf("MIGRATE_RUN_ID=%s", r->run_id);
	e_lvl = xasprintf("MIGRATE_LOG_LEVEL=%s", getenv("MIGRATE_LOG_LEVEL") ?
	    getenv("MIGRATE_LOG_LEVEL") : "info");
	env[n++] = e_acc;
	env[n++] = e_run;
	env[n++] = e_lvl;
	/* the last token this helper gave for this account */
	if ((tok = state_checkpoint_of(r->s, a, name))) {
		env[n++] = e_ckpt = xasprintf("MIGRATE_CHECKPOINT=%s", tok);
		free(tok);
	}
	env[n] = NULL;

	pthread_mutex_lock(&r->lock);
	snprintf(sl->what, sizeof(sl->what), "%s", step);
	sl->done = sl->total = 0;
	sl->child = &c;
	pthread_mutex_unlock(&r->lock);

	if (r->fake) {
		code = fake_helper(&h);
	} else {
		if (sec)
			secrets_format(sec, &in);
		else
			buf_adds(&in, "\n");
		c.argv = argv;
		c.env = env;
		io.in = in.buf;
		io.in_len = in.len;
		io.on_line = on_line;
		io.on_start = on_start;
		io.cb = &h;
		io.timeout_ms = (int)(r->p->limits.helper_timeout * 1000);
		code = proc_pipe(&c, &io, &flags, &why);
		if (h.pid)
			forget_pid(r, h.pid);
		buf_release_wipe(&in);
	}
	pthread_mutex_lock(&r->lock);
	sl->child = NULL;
	pthread_mutex_unlock(&r->lock);

	if (code == 0 && !h.done)
		buf_addf(&h.proto_err, "%s exited 0 without a done event",
		    name);
	if (h.proto_err.len) {
		buf_addf(err, "%s: protocol error: %s", name, h.proto_err.buf);
		o = PERMANENT;
		if (code == 0)
			code = 76;
	} else if (code == 0) {
		o = OK;
	} else if (stopping) {
		buf_addf(err, "%s stopped", name);
		o = STOPPED;
	} else {
		if (code < 0)
			buf_addf(err, "%s: %s", name, why.buf);
		else if (flags & PROC_TIMED_OUT)
			buf_addf(err, "%s took longer than %lld s", name,
			    r->p->limits.helper_timeout);
		else
			buf_addf(err, "%s exited %d%s%s", name, code,
			    h.last_err.len ? ": " : "", h.last_err.buf);
		/*
		 * migrate-helper(7): these will not get better by waiting,
		 * nor will a helper that cannot be run at all
		 */
		o = code < 0 || code == 64 || code == 65 || code == 77 ||
		    code == 78 ? PERMANENT : RETRY;
	}
	if (h.done)
		done_json = json_dumps(h.done, JSON_COMPACT);
	state_record_run(r->s, a, name, step, started, code, done_json,
	    o == OK ? NULL : err->buf);
	free(done_json);
	if (done_r)
		*done_r = h.done;
	else
		json_decref(h.done);
	if (exit_r)
		*exit_r = code;
	buf_release(&h.proto_err);
	buf_release(&h.last_err);
	buf_release(&why);
	free(e_acc);
	free(e_run);
	free(e_lvl);
	free(e_ckpt);
	free(argv);
	free(path);
	return o;
}

/* A hook: the operator's command, with the account in its environment. */
static enum outcome
hook(struct run *r, struct slot *sl, struct account *a, const char *name,
    const char *cmd, struct buf *err)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct hrun h = { r, a, sl, name, NULL, 1, BUF_INIT, BUF_INIT, 0 };
	char *e[4];
	const char *env[5];
	struct child c = CHILD_INIT;
	struct proc_io io = { 0 };
	struct buf why = BUF_INIT;
	unsigned flags = 0;
	int code, i;

	if (!cmd || r->fake)
		return OK;
	e[0] = xasprintf("MIGRATE_ACCOUNT=%s", a->account);
	e[1] = xasprintf("MIGRATE_LOGIN=%s", a->login);
	e[2] = xasprintf("MIGRATE_WAVE=%s", a->wave ? a->wave : "");
	e[3] = xasprintf("MIGRATE_HOOK=%s", name);
	for (i = 0; i < 4; i++)
		env[i] = e[i];
	env[4] = NULL;
	c.argv = argv;
	c.env = env;
	io.in = "";
	io.on_line = on_line;	/* both streams are logged: stdout too */
	io.cb = &h;
	io.timeout_ms = 600000;
	h.hello = 1;
	code = proc_pipe(&c, &io, &flags, &why);
	for (i = 0; i < 4; i++)
		free(e[i]);
	if (code != 0) {
		buf_addf(err, "hook %s %s", name, code < 0 ? why.buf :
		    "failed");
		if (code > 0)
			buf_addf(err, " (exit %d)", code);
	}
	json_decref(h.done);
	buf_release(&h.proto_err);
	buf_release(&h.last_err);
	buf_release(&why);
	return code == 0 ? OK : stopping ? STOPPED : RETRY;
}

/* --- the steps ---------------------------------------------------------- */

/* A helper's arguments, ended by NULL; `owned` ones are freed. */
struct args {
	const char **v;
	char **owned;
	size_t n, nown;
};

static void
arg(struct args *a, const char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static const char *
own(struct args *a, char *s)
{
	a->owned = xreallocarray(a->owned, a->nown + 1, sizeof(*a->owned));
	return a->owned[a->nown++] = s;
}

static void
args_free(struct args *a)
{
	while (a->nown > 0)
		free(a->owned[--a->nown]);
	free(a->owned);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/*
 * scheme://host[:port] into --host, --port and --tls: TLS from the first
 * byte when the scheme is `tls_scheme` (NULL: never), else STARTTLS; the
 * port `port`, or `tls_port` for TLS from the first byte, unless given.
 */
static void
url_args(struct args *v, const char *u, const char *tls_scheme,
    const char *port, const char *tls_port)
{
	const char *host = strstr(u, "://") + 3;
	int implicit = tls_scheme && !strncmp(u, tls_scheme,
	    strlen(tls_scheme)) && u[strlen(tls_scheme)] == ':';
	const char *end = host + strcspn(host, "/");
	const char *colon = memchr(host, ':', end - host);

	if (*host == '[') {	/* [v6]:port */
		const char *rb = memchr(host, ']', end - host);

		colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		arg(v, "--host");
		arg(v, own(v, xstrndup(host + 1, rb ? (size_t)(rb - host - 1) :
		    0)));
	} else {
		arg(v, "--host");
		arg(v, own(v, xstrndup(host, (colon ? colon : end) - host)));
	}
	arg(v, "--port");
	arg(v, own(v, colon ? xstrndup(colon + 1, end - colon - 1) :
	    xstrdup(implicit ? tls_port : port)));
	arg(v, "--tls");
	arg(v, implicit ? "implicit" : "starttls");
}

/* The options common to the helpers that read the source (imap-pull and
 * sieve-pull): TLS, the master user. */
static void
source_args(struct run *r, struct args *v)
{
	const struct server *src = &r->p->source;

	if (src->ca_file) {
		arg(v, "--ca-file");
		arg(v, src->ca_file);
	}
	if (src->insecure)
		arg(v, "--insecure");
	if (src->allow_plaintext)
		arg(v, "--allow-plaintext");
	if (src->auth.master_user) {
		arg(v, "--auth-user");
		arg(v, src->auth.master_user);
		if (src->auth.master_separator) {
			arg(v, "--master-separator");
			arg(v, src->auth.master_separator);
		}
	}
}

static int
source_secrets(struct run *r, struct account *a, struct secrets *sec,
    struct buf *err)
{
	char *pw;
	int ret;

	if (r->fake)
		return 0;
	if (r->p->source.auth.master_user)
		return secrets_set(sec, "password", r->master_password);
	pw = secret_password(&r->p->source.auth.passwords, a->account,
	    a->login, err);
	if (!pw)
		return -1;
	ret = secrets_set(sec, "password", pw);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (ret < 0)
		buf_adds(err, "the password cannot be carried (a newline?)");
	return ret;
}

/* The destination's secret: its token if the plan gives one and
 * `password_only` is not set, else the account's password. */
static int
dest_secrets(struct run *r, struct account *a, int password_only,
    struct secrets *sec, struct buf *err)
{
	const struct auth *da = &r->p->destination.auth;
	const struct secret_ref *ref = da->passwords.kind != SECRET_NONE ?
	    &da->passwords : &r->p->source.auth.passwords;
	int token = da->token.kind != SECRET_NONE && !password_only;
	char *v;
	int ret;

	if (r->fake)
		return 0;
	if (token)
		v = secret_resolve(&da->token, a->account, err);
	else
		v = secret_password(ref, a->account, a->login, err);
	if (!v)
		return -1;
	ret = secrets_set(sec, token ? "token" : "password", v);
	explicit_bzero(v, strlen(v));
	free(v);
	if (ret < 0)
		buf_adds(err, "the secret cannot be carried (a newline?)");
	return ret;
}

/*
 * A push helper's exit 65 when all it holds against the account is what
 * the destination refused (its done event: "refused" > 0, "differences"
 * 0): those are the account's anomalies, kept in the archive, not a
 * failure; no retry makes a server take what it refuses.
 */
static enum outcome
only_refusals(struct run *r, struct account *a, enum outcome o, int code,
    json_t *done, const char *what, struct buf *err)
{
	json_int_t refused = json_integer_value(json_object_get(done,
	    "refused"));

	if (o == PERMANENT && code == 65 && refused > 0 &&
	    json_integer_value(json_object_get(done, "differences")) == 0) {
		say(r, "%s: %" JSON_INTEGER_FORMAT " %s refused by the"
		    " destination (anomalies, kept in the archive)",
		    a->account, refused, what);
		buf_setlen(err, 0);
		o = OK;
	}
	if (o == OK && refused > 0)
		state_add_counters(r->s, a, 0, 0, refused);
	return o;
}

/* The Sieve scripts, after the mail: sieve-pull, when the plan has
 * source.sieve. */
static enum outcome
sieve_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;

	if (r->p->source.sieve_dir) {
		/* Dovecot's sieve directory on this machine: no login */
		arg(&v, "--dir");
		arg(&v, own(&v, login_of(r->p->source.sieve_dir, a)));
		if (r->p->source.sieve_active) {
			arg(&v, "--active");
			arg(&v, own(&v, login_of(r->p->source.sieve_active,
			    a)));
		}
	} else {
		url_args(&v, r->p->source.sieve, NULL, "4190", NULL);
		source_args(r, &v);
	}
	arg(&v, "--user");
	arg(&v, a->login);
	arg(&v, "--mode");
	arg(&v, mode);
	if (!strcmp(mode, "assess")) {
		arg(&v, "--report");
		arg(&v, own(&v, report_of(r, a, "assess-sieve")));
	} else {
		arg(&v, "--archive");
		arg(&v, own(&v, archive_of(r, a)));
	}
	if (!r->p->source.sieve_dir && source_secrets(r, a, &sec, err) < 0) {
		args_free(&v);
		return PERMANENT;
	}
	o = helper(r, sl, a, "sieve-pull", !strcmp(mode, "assess") ?
	    "assess" : "pull", v.v, &sec, &done, NULL, err);
	if (o == OK && done) {
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "anomalies")));
		state_set_items(r->s, a, "Sieve scripts", json_integer_value(
		    json_object_get(done, "scripts")));
	}
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

/*
 * sieve-push, when the plan has destination.sieve; with `verify_only`, a
 * comparison only.  Scripts the destination refused are the account's
 * anomalies (their reasons in the helper's events and the archive), not a
 * failure: no retry makes a server take an extension it lacks.
 */
static enum outcome
sieve_push(struct run *r, struct slot *sl, struct account *a,
    int verify_only, struct buf *err)
{
	const struct server *d = &r->p->destination;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	int code = 0;

	url_args(&v, d->sieve, NULL, "4190", NULL);
	if (d->ca_file) {
		arg(&v, "--ca-file");
		arg(&v, d->ca_file);
	}
	if (d->insecure)
		arg(&v, "--insecure");
	if (d->allow_plaintext)
		arg(&v, "--allow-plaintext");
	arg(&v, "--user");
	arg(&v, own(&v, dest_login(r, a)));
	arg(&v, "--archive");
	arg(&v, own(&v, archive_of(r, a)));
	arg(&v, "--report");
	arg(&v, own(&v, report_of(r, a, "verify-sieve")));
	if (verify_only)
		arg(&v, "--verify-only");
	if (dest_secrets(r, a, 1, &sec, err) < 0) {
		args_free(&v);
		return PERMANENT;
	}
	o = helper(r, sl, a, "sieve-push", verify_only ? "verify" : "push",
	    v.v, &sec, &done, &code, err);
	o = only_refusals(r, a, o, code, done, "Sieve scripts", err);
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

/* Calendars and contacts, after the mail: dav-pull, when the plan has
 * source.dav.  It logs in as each account, with its password. */
static enum outcome
dav_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, int files, struct buf *err)
{
	const struct server *s = &r->p->source;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	char *pw = NULL;

	arg(&v, "--url");
	arg(&v, files ? own(&v, login_of(s->files, a)) : s->dav);
	if (files)
		arg(&v, "--files");
	arg(&v, "--user");
	arg(&v, own(&v, login_of(s->dav_login ? s->dav_login : "{login}",
	    a)));
	arg(&v, "--mode");
	arg(&v, mode);
	if (!strcmp(mode, "assess")) {
		arg(&v, "--report");
		arg(&v, own(&v, report_of(r, a, files ? "assess-files" :
		    "assess-dav")));
	} else {
		arg(&v, "--archive");
		arg(&v, own(&v, archive_of(r, a)));
	}
	if (s->ca_file) {
		arg(&v, "--ca-file");
		arg(&v, s->ca_file);
	}
	if (s->insecure)
		arg(&v, "--insecure");
	if (!r->fake && s->auth.passwords.kind != SECRET_NONE) {
		if (!(pw = secret_password(&s->auth.passwords, a->account,
		    a->login, err)) || secrets_set(&sec, "password", pw) < 0) {
			if (pw)
				buf_adds(err, "the password cannot be carried");
			o = PERMANENT;
			goto out;
		}
	} else if (dest_secrets(r, a, 1, &sec, err) < 0) {
		o = PERMANENT;
		goto out;
	}
	o = helper(r, sl, a, "dav-pull", !strcmp(mode, "assess") ? "assess" :
	    "pull", v.v, &sec, &done, NULL, err);
	if (o == OK && done) {
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "anomalies")));
		if (files) {
			state_set_items(r->s, a, "files", json_integer_value(
			    json_object_get(done, "files")));
		} else {
			state_set_items(r->s, a, "events", json_integer_value(
			    json_object_get(done, "events")));
			state_set_items(r->s, a, "contacts",
			    json_integer_value(json_object_get(done,
			    "contacts")));
		}
	}
out:
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

/* dav-push, when the plan has destination.dav; with `verify_only`, a
 * comparison only. */
static enum outcome
dav_push(struct run *r, struct slot *sl, struct account *a, int verify_only,
    int files, struct buf *err)
{
	const struct server *d = &r->p->destination;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	int code = 0;

	arg(&v, "--url");
	arg(&v, files ? own(&v, login_of(d->files, a)) : d->dav);
	if (files)
		arg(&v, "--files");
	arg(&v, "--user");
	arg(&v, own(&v, dest_login(r, a)));
	arg(&v, "--archive");
	arg(&v, own(&v, archive_of(r, a)));
	arg(&v, "--report");
	arg(&v, own(&v, report_of(r, a, files ? "verify-files" :
	    "verify-dav")));
	if (d->ca_file) {
		arg(&v, "--ca-file");
		arg(&v, d->ca_file);
	}
	if (d->insecure)
		arg(&v, "--insecure");
	if (verify_only)
		arg(&v, "--verify-only");
	if (dest_secrets(r, a, 1, &sec, err) < 0) {
		args_free(&v);
		return PERMANENT;
	}
	o = helper(r, sl, a, "dav-push", verify_only ? "verify" : "push",
	    v.v, &sec, &done, &code, err);
	o = only_refusals(r, a, o, code, done, files ? "files" : "calendar"
	    " and contact resources", err);
	if (o == OK && done)
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "conflicts")));
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

static enum outcome
pull(struct run *r, struct slot *sl, struct account *a, const char *mode,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	size_t i;
	long long want = p->limits.connections_per_account;

	if (want > p->limits.connections_per_source)
		want = p->limits.connections_per_source;
	url_args(&v, p->source.imap, "imaps", "143", "993");
	source_args(r, &v);
	if (p->source.compress)
		arg(&v, "--compress");
	arg(&v, "--user");
	arg(&v, a->login);
	arg(&v, "--mode");
	arg(&v, mode);
	if (!strcmp(mode, "assess")) {
		arg(&v, "--report");
		arg(&v, own(&v, report_of(r, a, "assess")));
	} else {
		arg(&v, "--archive");
		arg(&v, own(&v, archive_of(r, a)));
	}
	for (i = 0; i < p->folders.include.nr; i++) {
		arg(&v, "--include");
		arg(&v, p->folders.include.v[i]);
	}
	for (i = 0; i < p->folders.exclude.nr; i++) {
		arg(&v, "--exclude");
		arg(&v, p->folders.exclude.v[i]);
	}
	for (i = 0; i < p->folders.skip_special_use.nr; i++) {
		arg(&v, "--skip-special-use");
		arg(&v, p->folders.skip_special_use.v[i]);
	}
	if (p->folders.subscribed_only)
		arg(&v, "--subscribed-only");
	if (want > 1) {
		arg(&v, "--connections");
		arg(&v, own(&v, xasprintf("%lld", want)));
	}
	if (p->limits.bytes_per_second > 0) {
		/* the limit is for all accounts together */
		arg(&v, "--max-bytes-per-second");
		arg(&v, own(&v, xasprintf("%lld", p->limits.bytes_per_second /
		    p->limits.parallel_accounts + 1)));
	}
	if (source_secrets(r, a, &sec, err) < 0) {
		args_free(&v);
		return PERMANENT;
	}
	/* the per-source connection budget */
	pthread_mutex_lock(&r->lock);
	while (r->conns + want > p->limits.connections_per_source)
		pthread_cond_wait(&r->cond, &r->lock);
	r->conns += want;
	pthread_mutex_unlock(&r->lock);

	o = helper(r, sl, a, "imap-pull", !strcmp(mode, "assess") ? "assess" :
	    "pull", v.v, &sec, &done, NULL, err);

	pthread_mutex_lock(&r->lock);
	r->conns -= want;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (o == OK && done) {
		json_t *m = json_object_get(done, "messages");
		json_t *b = json_object_get(done, "bytes");
		json_t *an = json_object_get(done, "anomalies");

		state_add_counters(r->s, a, json_integer_value(m),
		    json_integer_value(b), json_integer_value(an));
	}
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	if (o == OK && (p->source.sieve || p->source.sieve_dir))
		o = sieve_pull(r, sl, a, mode, err);
	if (o == OK && p->source.dav)
		o = dav_pull(r, sl, a, mode, 0, err);
	if (o == OK && p->source.files)
		o = dav_pull(r, sl, a, mode, 1, err);
	return o;
}

/*
 * Messages the destination refused are in the verify report as "not
 * pushed"; with push.accept_refused... no: they stay failures unless the
 * only differences are those, which the report lists per message.
 */
static int
only_refused(const char *report_path, int64_t *nr_r)
{
	json_t *rep = json_load_file(report_path, 0, NULL);
	json_t *diffs = json_object_get(rep, "differences"), *d;
	size_t i;
	int only = rep != NULL && json_is_array(diffs);

	*nr_r = 0;
	json_array_foreach(diffs, i, d) {
		const char *why = json_string_value(json_object_get(d, "why"));

		if (!why || strncmp(why, "not pushed", 10))
			only = 0;
		else
			++*nr_r;
	}
	json_decref(rep);
	return only;
}

static enum outcome
push(struct run *r, struct slot *sl, struct account *a, const char *how,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	char *report = report_of(r, a, "verify");
	const char *step = !strcmp(how, "verify") ? "verify" : "push";
	json_t *done = NULL;
	enum outcome o;
	int code = 0;
	int64_t refused = 0;

	arg(&v, "--url");
	arg(&v, p->destination.jmap);
	arg(&v, "--archive");
	arg(&v, own(&v, archive_of(r, a)));
	if (p->destination.auth.token.kind == SECRET_NONE) {
		arg(&v, "--user");
		arg(&v, own(&v, dest_login(r, a)));
	}
	if (p->destination.ca_file) {
		arg(&v, "--ca-file");
		arg(&v, p->destination.ca_file);
	}
	if (p->destination.insecure)
		arg(&v, "--insecure");
	if (p->push.delete_removed)
		arg(&v, "--delete-removed");
	if (!strcmp(how, "verify")) {
		arg(&v, "--verify-only");
		if (p->push.verify_content)
			arg(&v, "--verify-content");
	}
	if (strcmp(how, "push")) {
		arg(&v, "--verify");
		arg(&v, "--report");
		arg(&v, report);
	}
	if (dest_secrets(r, a, 0, &sec, err) < 0) {
		args_free(&v);
		free(report);
		return PERMANENT;
	}
	o = helper(r, sl, a, "jmap-push", step, v.v, &sec, &done, &code, err);
	/*
	 * 65 with a report whose only differences are messages the
	 * destination refused: carried as far as it can be; they are the
	 * account's anomalies, listed in the report, and no retry helps.
	 */
	if (o == PERMANENT && code == 65 && strcmp(how, "push") &&
	    only_refused(report, &refused)) {
		/* said and counted once, at the verify before the flip */
		if (!strcmp(how, "verify"))
			say(r, "%s: %" PRId64 " messages refused by the"
			    " destination, listed in %s", a->account, refused,
			    report);
		else
			refused = 0;
		buf_setlen(err, 0);
		o = OK;
	} else if (o == PERMANENT && code == 65 && !strcmp(how, "push")) {
		/* refusals are judged by the verify that follows */
		buf_setlen(err, 0);
		o = OK;
	}
	if (o == OK && refused)
		state_add_counters(r->s, a, 0, 0, refused);
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	free(report);
	if (o == OK && p->destination.sieve)
		o = sieve_push(r, sl, a, !strcmp(how, "verify"), err);
	if (o == OK && p->destination.dav)
		o = dav_push(r, sl, a, !strcmp(how, "verify"), 0, err);
	if (o == OK && p->destination.files)
		o = dav_push(r, sl, a, !strcmp(how, "verify"), 1, err);
	return o;
}

/*
 * Enter `to` after a flip to `route`: the flip's audit line is queued in
 * the same transaction as the state, so a crash loses both or neither and
 * the repository gets each flip once.
 */
static int
enter_flipped(struct run *r, struct account *a, enum acc_state to,
    const char *route, const char *why)
{
	json_t *j = json_pack("{s:f, s:s, s:s, s:s?, s:s?}", "ts",
	    now_seconds(), "account", a->account, "route", route, "wave",
	    a->wave, "why", why);
	char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret;

	ret = enter_state_with(r->s, a, to, why, "flip", line, &err);
	if (ret < 0)
		say(r, "%s", err.buf);
	else
		say(r, "%s: %s -> %s (flipped to the %s)", a->account,
		    state_name(from), state_name(to), route);
	free(line);
	json_decref(j);
	buf_release(&err);
	pthread_mutex_lock(&r->lock);
	r->flips++;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static enum outcome
flip(struct run *r, struct slot *sl, struct account *a, const char *route,
    struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };
	enum outcome o;

	arg(&v, "--store");
	arg(&v, r->p->mapping);
	arg(&v, "--export");
	arg(&v, r->mapping_txt);
	if (r->p->accounts.default_domain) {
		arg(&v, "--domain");
		arg(&v, r->p->accounts.default_domain);
	}
	arg(&v, a->account);
	arg(&v, route);
	o = helper(r, sl, a, "map-flip", "flip", v.v, NULL, NULL, NULL, err);
	args_free(&v);
	return o;
}

static int
enter(struct run *r, struct account *a, enum acc_state to, const char *why)
{
	struct buf err = BUF_INIT;
	enum acc_state from = a->state;
	int ret = enter_state(r->s, a, to, why, &err);

	if (ret < 0)
		say(r, "%s", err.buf);
	else if (to == ST_FAILED)
		say(r, "%s: %s -> failed (%s): %s", a->account,
		    state_name(from), a->error_class, a->error);
	else
		say(r, "%s: %s -> %s", a->account, state_name(from),
		    state_name(to));
	buf_release(&err);
	return ret;
}

#define STEP(call) do {					\
	if ((o = (call)) != OK)				\
		return o;				\
} while (0)

/*
 * Drive `a` as far as the current phase takes it.  Each finished step
 * is recorded before the next begins, so a rerun starts at the first
 * step not done.
 */
static enum outcome
advance(struct run *r, struct slot *sl, struct account *a, struct buf *err)
{
	enum outcome o;
	long long i;

	for (;;) {
		if (stopping)
			return STOPPED;
		switch (a->state) {
		case ST_PENDING:
			if (r->phase == PH_ASSESSMENT) {
				STEP(pull(r, sl, a, "assess", err));
				return enter(r, a, ST_ASSESSED, NULL) ? PERMANENT :
				    OK;
			}
			/* FALLTHROUGH */
		case ST_ASSESSED:
			if (r->phase != PH_MOVE)
				return OK;
			/* FALLTHROUGH */
		case ST_ROLLED_BACK:
			if (a->state == ST_ROLLED_BACK && r->phase != PH_MOVE)
				return OK;
			if (enter(r, a, ST_COPYING, r->phase_name) < 0)
				return PERMANENT;
			break;
		case ST_COPYING:
			if (!a->step) {
				STEP(pull(r, sl, a, "auto", err));
				state_set_step(r->s, a, "pulled");
			}
			if (!strcmp(a->step, "pulled")) {
				STEP(hook(r, sl, a, "before_push",
				    r->p->hooks.before_push, err));
				state_set_step(r->s, a, "provisioned");
			}
			STEP(push(r, sl, a, "push", err));
			if (enter(r, a, ST_COPIED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_COPIED:
			STEP(push(r, sl, a, "verify", err));
			if (enter(r, a, ST_VERIFIED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_VERIFIED:
			STEP(flip(r, sl, a, "destination", err));
			if (enter_flipped(r, a, ST_CUTOVER, "destination",
			    a->wave) < 0)
				return PERMANENT;
			break;
		case ST_CUTOVER:
			/* what arrived at the source until the flip */
			if (!a->step) {
				STEP(pull(r, sl, a, "auto", err));
				state_set_step(r->s, a, "pulled");
			}
			if (!strcmp(a->step, "pulled")) {
				STEP(push(r, sl, a, "final", err));
				state_set_step(r->s, a, "pushed");
			}
			STEP(hook(r, sl, a, "after_cutover",
			    r->p->hooks.after_cutover, err));
			if (enter(r, a, ST_MIGRATED, NULL) < 0)
				return PERMANENT;
			break;
		case ST_MIGRATED:
			if (r->phase == PH_DELTA) {
				for (i = 0; i < r->p->phases.delta.passes; i++) {
					STEP(pull(r, sl, a, "auto", err));
					STEP(push(r, sl, a, "final", err));
					a->deltas++;
					state_add_counters(r->s, a, 0, 0, 0);
				}
				return OK;
			}
			if (r->phase == PH_FINALIZE) {
				STEP(hook(r, sl, a, "after_finalize",
				    r->p->hooks.after_finalize, err));
				return enter(r, a, ST_FINALIZED, NULL) ?
				    PERMANENT : OK;
			}
			return OK;
		default:
			return OK;
		}
	}
}

/* --- the phase loop ------------------------------------------------------ */

static double
backoff(struct run *r, int attempts)
{
	double b = (double)r->p->limits.backoff_seconds *
	    pow(2, attempts > 1 ? attempts - 1 : 0);

	return b > 3600 ? 3600 : b;
}

static void *
worker(void *arg)
{
	struct run *r = ((void **)arg)[0];
	struct slot *sl = ((void **)arg)[1];
	struct buf err = BUF_INIT;

	free(arg);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct item *it = NULL;
		double now = now_seconds(), soonest = 0;
		enum outcome o;
		size_t i;
		int waiting = 0;

		if (stopping)
			break;
		for (i = r->cursor; i < r->nr_items; i++) {
			struct item *c = &r->items[i];

			if (c->status != 0) {
				if (i == r->cursor)
					r->cursor++;
				continue;
			}
			if (c->a.not_before > now) {
				if (!waiting || c->a.not_before < soonest)
					soonest = c->a.not_before;
				waiting = 1;
				continue;
			}
			it = c;
			break;
		}
		if (!it && !waiting)
			break;
		if (!it) {
			struct timespec ts;

			ts.tv_sec = (time_t)soonest;
			ts.tv_nsec = (long)((soonest - ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
			continue;
		}
		it->status = 1;
		snprintf(sl->account, sizeof(sl->account), "%s",
		    it->a.account);
		sl->since = now;
		pthread_mutex_unlock(&r->lock);

		buf_setlen(&err, 0);
		if (it->a.state == ST_FAILED)
			enter(r, &it->a, it->a.resume, "retry");
		o = advance(r, sl, &it->a, &err);
		if (o == RETRY || o == PERMANENT) {
			struct account *a = &it->a;
			int again;

			a->attempts++;
			again = o == RETRY && a->attempts <=
			    r->p->limits.retries;
			state_set_failure(r->s, a, o == RETRY ? "retryable" :
			    "permanent", err.buf, again ? now_seconds() +
			    backoff(r, a->attempts) : 0);
			enter(r, a, ST_FAILED, NULL);
			pthread_mutex_lock(&r->lock);
			it->status = again ? 0 : 2;
			if (!again)
				r->nr_failed++;
		} else {
			pthread_mutex_lock(&r->lock);
			it->status = o == STOPPED ? 0 : 2;
			if (o == OK)
				r->nr_done++;
		}
		if (it->status == 0 && (size_t)(it - r->items) < r->cursor)
			r->cursor = it - r->items;
		else if (it->status == 2)
			r->remaining--;
		sl->account[0] = '\0';
		sl->what[0] = '\0';
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	buf_release(&err);
	return NULL;
}

static void
fmt_duration(char *b, size_t n, double s)
{
	if (s < 0 || !isfinite(s))
		snprintf(b, n, "?");
	else if (s < 90)
		snprintf(b, n, "%.0fs", s);
	else if (s < 5400)
		snprintf(b, n, "%.0fm", s / 60);
	else
		snprintf(b, n, "%.1fh", s / 3600);
}

/* The display on a terminal: a bar, then a line per running account. */
static void
draw(struct run *r, int final)
{
	struct buf b = BUF_INIT;
	size_t total = r->nr_items, done, i;
	double el = now_seconds() - r->phase_start, eta;
	char eta_s[16], el_s[16];
	int width = 30, fill, lines = 1;

	pthread_mutex_lock(&r->lock);
	done = r->nr_done + r->nr_failed;
	eta = done ? el / done * (total - done) : -1;
	fmt_duration(eta_s, sizeof(eta_s), eta);
	fmt_duration(el_s, sizeof(el_s), el);
	fill = total ? (int)(width * done / total) : width;
	if (r->drawn > 1)
		buf_addf(&b, "\033[%dA", r->drawn - 1);
	buf_addf(&b, "\r\033[J%-12.12s [", r->phase_name);
	for (i = 0; i < (size_t)width; i++)
		buf_addch(&b, (int)i < fill ? '#' : '.');
	buf_addf(&b, "] %zu/%zu accounts", done, total);
	if (r->nr_failed)
		buf_addf(&b, ", %zu failed", r->nr_failed);
	buf_addf(&b, ", %s%s%s", el_s, final ? "" : ", eta ",
	    final ? "" : eta_s);
	for (i = 0; !final && i < (size_t)r->nr_slots; i++) {
		struct slot *sl = &r->slots[i];

		if (!sl->account[0])
			continue;
		buf_addf(&b, "\n  %-32.32s %-8s", sl->account, sl->what);
		if (sl->total)
			buf_addf(&b, " %" PRId64 "/%" PRId64 " messages",
			    sl->done, sl->total);
		lines++;
	}
	if (final)
		buf_addch(&b, '\n');
	r->drawn = final ? 0 : lines;
	pthread_mutex_unlock(&r->lock);
	fwrite(b.buf, 1, b.len, stderr);
	fflush(stderr);
	buf_release(&b);
}

/* Commit the queued audit lines: a batch, or with `all` until none is left. */
static void
audit_now(struct run *r, int all)
{
	struct buf err = BUF_INIT;
	long n;

	do {
		n = audit_flush(r->au, r->s, r->mapping_txt, &err);
		if (n < 0)
			say(r, "%s", err.buf);
	} while (all && n > 0);
	buf_release(&err);
}

/* Whether account `a` has work in this phase. */
static int
concerns(struct run *r, const struct account *a)
{
	switch (r->phase) {
	case PH_ASSESSMENT:
		return a->state == ST_PENDING || (a->state == ST_FAILED &&
		    a->resume == ST_PENDING);
	case PH_MOVE:
		return a->state != ST_HELD && a->state != ST_MIGRATED &&
		    a->state != ST_FINALIZED && a->state != ST_ROLLED_BACK;
	case PH_DELTA:
	case PH_FINALIZE:
		return a->state == ST_MIGRATED || (a->state == ST_FAILED &&
		    a->resume == ST_MIGRATED);
	}
	return 0;
}

/*
 * Run one phase over the accounts of `wave` (NULL: all).  Returns the
 * number of accounts that failed for good, or -1 when stopped.
 */
static long
run_phase(struct run *r, enum phase ph, const char *name, const char *wave)
{
	struct account *v = NULL;
	size_t nr = 0, i, j;
	pthread_t *tids;
	int n, k;
	double last_audit = now_seconds();

	if (state_accounts(r->s, wave, &v, &nr) < 0) {
		say(r, "state: cannot read the accounts");
		return -1;
	}
	r->phase = ph;
	r->phase_name = name;
	r->items = xcalloc(nr ? nr : 1, sizeof(*r->items));
	for (i = j = 0; i < nr; i++) {
		/* a failure that needs an operator stays until one acts */
		if (concerns(r, &v[i]) && !(v[i].state == ST_FAILED &&
		    v[i].error_class && !strcmp(v[i].error_class,
		    "permanent"))) {
			r->items[j].a = v[i];
			r->items[j].a.not_before = 0;
			if (v[i].state == ST_FAILED)
				r->items[j].a.attempts = 0;
			j++;
		} else {
			if (v[i].state == ST_FAILED && concerns(r, &v[i]))
				r->nr_failed++;
			account_free(&v[i]);
		}
	}
	free(v);
	r->nr_items = r->remaining = j;
	r->cursor = 0;
	r->nr_done = 0;
	r->phase_start = now_seconds();
	say(r, "phase %s: %zu accounts", name, r->nr_items);

	n = (int)r->p->limits.parallel_accounts;
	if ((size_t)n > r->nr_items)
		n = (int)r->nr_items;
	r->nr_slots = n;
	r->slots = xcalloc(n ? n : 1, sizeof(*r->slots));
	tids = xcalloc(n ? n : 1, sizeof(*tids));
	for (k = 0; k < n; k++) {
		void **arg = xcalloc(2, sizeof(*arg));

		arg[0] = r;
		arg[1] = &r->slots[k];
		if (pthread_create(&tids[k], NULL, worker, arg) != 0)
			fatalx(EX_OSERR, "cannot start a worker thread");
	}
	for (;;) {
		int busy;
		double now;

		pthread_mutex_lock(&r->lock);
		busy = r->remaining > 0;
		if (stopping) {
			for (k = 0; k < r->nr_slots; k++)
				if (r->slots[k].child &&
				    r->slots[k].child->pid > 0)
					proc_kill(r->slots[k].child, SIGTERM);
			busy = 0;
		}
		pthread_mutex_unlock(&r->lock);
		if (!busy)
			break;
		{
			struct timespec ts = { 0, 100 * 1000000 };

			nanosleep(&ts, NULL);
		}
		state_tick(r->s);
		now = now_seconds();
		if ((r->flips && now - last_audit >= 1) ||
		    now - last_audit >= 30) {
			r->flips = 0;
			audit_now(r, 0);
			last_audit = now;
		}
		if (r->o->progress)
			draw(r, 0);
	}
	for (k = 0; k < n; k++)
		pthread_join(tids[k], NULL);
	free(tids);
	if (r->o->progress)
		draw(r, 1);
	state_flush(r->s);
	r->flips = 0;
	audit_now(r, 1);
	for (i = 0; i < r->nr_items; i++)
		account_free(&r->items[i].a);
	free(r->items);
	r->items = NULL;
	free(r->slots);
	r->slots = NULL;
	r->nr_slots = 0;
	say(r, "phase %s: %zu done, %zu failed", name, r->nr_done,
	    r->nr_failed);
	if (stopping)
		return -1;
	{
		long failed = (long)r->nr_failed;

		r->nr_failed = 0;
		return failed;
	}
}

/* Whether `a` (an address) is what a wave's selection names. */
static int
in_wave(const struct plan *p, const struct wave *w, const char *account)
{
	const char *at = strchr(account, '@');
	size_t i;
	int any = 0;

	if (w->accounts.nr) {
		any = 1;
		for (i = 0; i < w->accounts.nr; i++) {
			char *full = strchr(w->accounts.v[i], '@') ?
			    xstrdup(w->accounts.v[i]) : xasprintf("%s@%s",
			    w->accounts.v[i], p->accounts.default_domain ?
			    p->accounts.default_domain : "");
			int hit = !strcasecmp(full, account);

			free(full);
			if (hit)
				return 1;
		}
	}
	if (w->pattern) {
		any = 1;
		if (fnmatch(w->pattern, account, FNM_CASEFOLD) == 0)
			return 1;
	}
	if (w->domain) {
		any = 1;
		if (at && !strcasecmp(at + 1, w->domain))
			return 1;
	}
	return !any;
}

/* Give each account without a wave the first that selects it. */
static int
assign_waves(struct run *r)
{
	struct plan *p = r->p;
	struct account *v;
	size_t nr, i, k;
	long long *taken = xcalloc(p->phases.nr_waves + 1, sizeof(*taken));

	if (state_accounts(r->s, NULL, &v, &nr) < 0) {
		free(taken);
		return -1;
	}
	for (i = 0; i < nr; i++)
		for (k = 0; k < p->phases.nr_waves; k++)
			if (v[i].wave && !strcmp(v[i].wave,
			    p->phases.waves[k].name))
				taken[k]++;
	for (i = 0; i < nr; i++) {
		if (v[i].wave)
			continue;
		if (p->phases.pilot.present) {
			struct wave pw = { .accounts = p->phases.pilot.accounts };

			if (in_wave(p, &pw, v[i].account)) {
				state_set_wave(r->s, v[i].account, "pilot");
				continue;
			}
		}
		for (k = 0; k < p->phases.nr_waves; k++) {
			struct wave *w = &p->phases.waves[k];

			if ((w->batch && taken[k] >= w->batch) ||
			    !in_wave(p, w, v[i].account))
				continue;
			state_set_wave(r->s, v[i].account, w->name);
			taken[k]++;
			break;
		}
	}
	for (i = 0; i < nr; i++)
		account_free(&v[i]);
	free(v);
	free(taken);
	return state_flush(r->s);
}

static int
run_open(struct run *r, struct plan *p, struct state *s, struct audit *a,
    const struct apply_opts *o, struct buf *err)
{
	char *logdir = xasprintf("%s/log", p->state_dir), *path;
	char *reports = xasprintf("%s/reports", p->state_dir);
	char *archives = xasprintf("%s/archives", p->state_dir);
	char *run = xasprintf("%s/run", p->state_dir);
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->p = p;
	r->s = s;
	r->au = a;
	r->o = o;
	r->fake = getenv("MIGRATE_FAKE_HELPERS") != NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->mapping_txt = xasprintf("%s/mapping.txt", p->state_dir);
	r->run_id = xasprintf("%ld-%ld", (long)time(NULL), (long)getpid());
	if (mkdir_p(logdir, err) < 0 || mkdir_p(reports, err) < 0 ||
	    mkdir_p(archives, err) < 0 || mkdir_p(run, err) < 0)
		ret = -1;
	path = xasprintf("%s/apply.log", logdir);
	if (ret == 0 && !(r->logf = fopen(path, "ae"))) {
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && p->source.auth.master_user && !r->fake &&
	    !(r->master_password = secret_resolve(
	    &p->source.auth.master_password, NULL, err)))
		ret = -1;
	free(path);
	free(logdir);
	free(reports);
	free(archives);
	free(run);
	return ret;
}

static void
run_close(struct run *r)
{
	if (r->master_password) {
		explicit_bzero(r->master_password, strlen(r->master_password));
		free(r->master_password);
	}
	if (r->logf)
		fclose(r->logf);
	free(r->mapping_txt);
	free(r->run_id);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}

int
plan_apply(struct plan *p, struct state *s, struct audit *au,
    const struct apply_opts *o)
{
	struct run r;
	struct buf err = BUF_INIT;
	struct sigaction sa = { 0 };
	long failed = 0;
	size_t k;
	int code = 0;

	if (run_open(&r, p, s, au, o, &err) < 0) {
		log_warnx("%s", err.buf);
		buf_release(&err);
		run_close(&r);
		return EX_CANTCREAT;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* for good, not per child: workers start children at once */
	signal(SIGPIPE, SIG_IGN);
	reap_orphans(&r);
	if (assign_waves(&r) < 0) {
		log_warnx("state: cannot assign the waves");
		run_close(&r);
		return EX_SOFTWARE;
	}
	say(&r, "apply %s: state in %s, the helpers' logs in %s/log/apply.log",
	    p->file, p->state_dir, p->state_dir);
	if (p->phases.assessment.present)
		failed = run_phase(&r, PH_ASSESSMENT, "assessment", NULL);
	if (failed == 0 && p->phases.pilot.present)
		failed = run_phase(&r, PH_MOVE, "pilot", "pilot");
	for (k = 0; failed == 0 && k < p->phases.nr_waves; k++)
		failed = run_phase(&r, PH_MOVE, p->phases.waves[k].name,
		    p->phases.waves[k].name);
	if (failed == 0 && p->phases.delta.present &&
	    p->phases.delta.passes > 0)
		failed = run_phase(&r, PH_DELTA, "delta", NULL);
	if (failed == 0 && p->phases.finalize.present)
		failed = run_phase(&r, PH_FINALIZE, "finalize", NULL);
	if (failed < 0) {
		say(&r, "stopped by signal %d; run the same command again to"
		    " go on", (int)stopping);
		code = 128 + (int)stopping;
	} else if (failed > 0) {
		say(&r, "phase %s ended with %ld failed accounts: see"
		    " 'migrate status', then 'migrate retry' or 'migrate"
		    " hold' them and apply again", r.phase_name, failed);
		code = EX_TEMPFAIL;
	} else {
		say(&r, "apply %s: done", p->file);
	}
	state_flush(s);
	audit_now(&r, 1);
	run_close(&r);
	buf_release(&err);
	return code;
}

int
cut_over(const struct account *a)
{
	enum acc_state x = a->state == ST_FAILED || a->state == ST_HELD ?
	    a->resume : a->state;

	return x == ST_CUTOVER || x == ST_MIGRATED || x == ST_FINALIZED;
}

int
runner_rollback(struct plan *p, struct state *s, struct audit *au,
    struct account *a, const char *why, int flipped, struct buf *err)
{
	struct apply_opts o = { 0, -1 };
	struct slot sl;
	struct run r;
	int ret = -1;

	if (!cut_over(a)) {
		buf_addf(err, "%s is %s: there is nothing to roll back (only"
		    " accounts that were cut over are)", a->account,
		    state_name(a->state));
		return -1;
	}
	if (run_open(&r, p, s, au, &o, err) < 0)
		goto out;
	memset(&sl, 0, sizeof(sl));
	if (!flipped && flip(&r, &sl, a, "source", err) != OK)
		goto out;
	if (enter_flipped(&r, a, ST_ROLLED_BACK, "source", why ? why :
	    "rollback") < 0)
		goto out;
	if (hook(&r, &sl, a, "after_rollback", p->hooks.after_rollback,
	    err) != OK)
		say(&r, "%s: %s", a->account, err->buf);
	state_flush(s);
	audit_now(&r, 1);
	ret = 0;
out:
	run_close(&r);
	return ret;
}

int
runner_restore(struct plan *p, const char *export_path, struct buf *err)
{
	char *mapping_txt = xasprintf("%s/mapping.txt", p->state_dir);
	char *path = exec_path_of("map-flip");
	const char *argv[] = { path, "--store", p->mapping, "--export",
	    mapping_txt, "--restore", export_path, NULL };
	struct child c = CHILD_INIT;
	int code;

	c.argv = argv;
	c.in = PROC_NULL;
	c.out = PROC_NULL;
	code = proc_start(&c, err) < 0 ? -1 : proc_finish(&c);
	if (code > 0)
		buf_addf(err, "map-flip --restore exited %d", code);
	free(mapping_txt);
	free(path);
	return code == 0 ? 0 : -1;
}
