/*
 * exec.c: running a helper or a hook for an account: its arguments and
 * secrets in, its event lines out (migrate-helper(7)), its outcome by
 * its exit status; the helpers an earlier apply left running.
 */
#include "compat.h"

#include <dirent.h>
#include <time.h>

#include "buf.h"
#include "evline.h"
#include "exec_path.h"
#include "fileio.h"
#include "log.h"
#include "now.h"
#include "proc.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

/*
 * A line for people: the log file, and stderr unless a display runs or
 * it is a helper's (`quiet`; with MIGRATE_LOG_LEVEL=debug those too).
 */
void ATTR_PRINTF(3, 4)
say_to(struct run *r, int quiet, const char *fmt, ...)
{
	va_list ap;
	struct buf msg = BUF_INIT, line = BUF_INIT;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	/* each line in one write, to the log (opened to append) and to
	 * stderr: the threads' lines do not mix, and none waits on a lock */
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (r->logf) {
		buf_addf(&line, "%s %s\n", when, msg.buf);
		write_fully(fileno(r->logf), line.buf, line.len);
	}
	if (!r->o->progress && (!quiet || log_get_level() >=
	    LOG_LEVEL_DEBUG)) {
		buf_setlen(&line, 0);
		buf_addf(&line, "migrate: %s\n", msg.buf);
		write_fully(STDERR_FILENO, line.buf, line.len);
	}
	buf_release(&msg);
	buf_release(&line);
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
		if (evline_int(&ev, "bytes", &v) == 0)
			h->slot->bytes = v;
		if (evline_int(&ev, "bytes_total", &v) == 0)
			h->slot->bytes_total = v;
		if ((tok = evline_str(&ev, "folder")) ||
		    (tok = evline_str(&ev, "collection")))
			snprintf(h->slot->folder, sizeof(h->slot->folder),
			    "%s", tok);
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
 * A process's start time (/proc/PID/stat, field 22, in clock ticks since
 * boot), or 0 when there is no such process.  Readable for any process,
 * even one that made itself undumpable as the helpers do: with its pid it
 * names one process, whatever reuses the pid later.
 */
static unsigned long long
start_time(long pid)
{
	char *path = xasprintf("/proc/%ld/stat", pid);
	struct buf stat = BUF_INIT, err = BUF_INIT;
	unsigned long long t = 0;
	const char *p;
	int field;

	if (file_read(path, &stat, &err) == 0 &&
	    (p = strrchr(stat.buf, ')'))) {
		/* after the command's ")" comes field 3; 22 is 19 on */
		for (field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		if (p)
			t = strtoull(p + 1, NULL, 10);
	}
	buf_release(&stat);
	buf_release(&err);
	free(path);
	return t;
}

/*
 * STATE/run/PID for each helper running, with the run's id and the
 * helper's start time: a rerun after a crash stops the helpers the dead
 * apply left behind (they are in sessions of their own and would hold
 * archives and connections).
 */
static void
on_start(void *cb, pid_t pid)
{
	struct hrun *h = cb;
	char *path = xasprintf("%s/run/%ld", h->r->p->state_dir, (long)pid);
	char *line = xasprintf("%s %llu\n", h->r->run_id, start_time(pid));
	struct buf err = BUF_INIT;

	if (file_write_atomic(path, line, strlen(line), 0600, &err) < 0)
		say(h->r, "%s", err.buf);
	h->pid = pid;
	buf_release(&err);
	free(line);
	free(path);
}

static void
forget_pid(struct run *r, pid_t pid)
{
	char *path = xasprintf("%s/run/%ld", r->p->state_dir, (long)pid);

	unlink(path);
	free(path);
}

/* Whether the helper a run file names ("RUNID STARTTIME") still runs. */
static int
still_runs(long pid, const char *line)
{
	const char *sp = strchr(line, ' ');
	unsigned long long t = sp ? strtoull(sp + 1, NULL, 10) : 0;

	return t && start_time(pid) == t;
}
/* Stop what an earlier apply or rollback left running, before any new
 * helper runs. */
void
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
		if (file_read(path, &id, &err) == 0 && still_runs(pid, id.buf)) {
			say(r, "stopping helper %ld, left by an earlier run",
			    pid);
			kill(-(pid_t)pid, SIGTERM);
			for (i = 0; i < 50 && still_runs(pid, id.buf); i++)
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
 * What came of a helper's run (migrate-helper(7)): its exit code, and
 * whether it spoke the protocol; `err` says why when it did not end well.
 */
static enum outcome
judge(struct run *r, struct hrun *h, const char *name, int *code_r,
    unsigned flags, const char *why, struct buf *err)
{
	enum outcome o;

	if (*code_r == 0 && !h->done)
		buf_addf(&h->proto_err, "%s exited 0 without a done event",
		    name);
	if (h->proto_err.len) {
		buf_addf(err, "%s: protocol error: %s", name, h->proto_err.buf);
		o = PERMANENT;
		if (*code_r == 0)
			*code_r = 76;
	} else if (*code_r == 0) {
		o = OK;
	} else if (stopping) {
		buf_addf(err, "%s stopped", name);
		o = STOPPED;
	} else {
		if (*code_r < 0)
			buf_addf(err, "%s: %s", name, why);
		else if (flags & PROC_TIMED_OUT)
			buf_addf(err, "%s took longer than %lld s", name,
			    r->p->limits.helper_timeout);
		else
			buf_addf(err, "%s exited %d%s%s", name, *code_r,
			    h->last_err.len ? ": " : "", h->last_err.buf);
		/*
		 * migrate-helper(7): these will not get better by waiting,
		 * nor will a helper that cannot be run at all
		 */
		o = *code_r < 0 || *code_r == 64 || *code_r == 65 ||
		    *code_r == 77 || *code_r == 78 ? PERMANENT : RETRY;
	}
	return o;
}

/*
 * Run helper `name` with `args` (NULL-terminated) and `secrets` on its
 * stdin for account `a`.  `done_r` (may be NULL) gets its done event.
 * Records the run.  Returns the outcome; `err` says why it failed.
 */
enum outcome
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
	sl->done = sl->total = sl->bytes = sl->bytes_total = 0;
	sl->folder[0] = '\0';
	sl->step_since = now_seconds();
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

	o = judge(r, &h, name, &code, flags, why.buf, err);
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
enum outcome
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

