#include "compat.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "proc.h"
#include "xalloc.h"

extern char **environ;

/* Report errno to the parent through the close-on-exec pipe and exit. */
static void ATTR_NORETURN
child_die(int notify, int err)
{
	ssize_t ATTR_UNUSED n = write(notify, &err, sizeof(err));

	_exit(127);
}

static int
child_fd(int want, int pipefd, int nullfd)
{
	if (want == PROC_PIPE)
		return pipefd;
	if (want == PROC_NULL)
		return nullfd;
	return want;
}

/* Whether `var` (K=V) is one that `env` sets or unsets. */
static int
named_in(const char *var, const char *const *env)
{
	size_t len;

	for (; env && *env; env++) {
		len = strcspn(*env, "=");
		if (!strncmp(var, *env, len) && var[len] == '=')
			return 1;
	}
	return 0;
}

/*
 * The child's environment: ours with c->env applied, made before the
 * fork, since the child of a threaded process must not allocate (another
 * thread may have held the allocator's lock at the fork).
 */
static char **
child_environ(const struct child *c)
{
	const char *const *e;
	size_t n = 0, k = 0, i;
	char **v;

	for (i = 0; environ[i]; i++)
		n++;
	for (e = c->env; e && *e; e++)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; environ[i]; i++)
		if (!named_in(environ[i], c->env))
			v[k++] = environ[i];
	for (e = c->env; e && *e; e++)
		if (strchr(*e, '='))
			v[k++] = (char *)*e;
	return v;
}

static void
child_setup(struct child *c, int fds[3][2], int notify, char **envp)
{
	static const int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP,
	    SIGCHLD, SIGQUIT, SIGALRM };
	int want[3] = { c->in, c->out, c->err }, nullfd = -1, i;
	sigset_t set;
	size_t s;

	for (s = 0; s < ARRAY_SIZE(sigs); s++)
		signal(sigs[s], SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (setsid() < 0)
		child_die(notify, errno);

	for (i = 0; i < 3; i++)
		if (want[i] == PROC_NULL && nullfd < 0 &&
		    (nullfd = open("/dev/null", O_RDWR)) < 0)
			child_die(notify, errno);
	for (i = 0; i < 3; i++) {
		int fd;

		if (want[i] == PROC_INHERIT)
			continue;
		fd = child_fd(want[i], i == 0 ? fds[0][0] : fds[i][1], nullfd);
		if (fd != i && dup2(fd, i) < 0)
			child_die(notify, errno);
	}
	/* close everything else but the notify pipe (close-on-exec) */
	if (notify > 3)
		close_range(3, (unsigned)notify - 1, 0);
	close_range((unsigned)notify + 1, ~0U, 0);

	if (c->dir && chdir(c->dir) < 0)
		child_die(notify, errno);
	execvpe(c->argv[0], (char *const *)c->argv, envp);
	child_die(notify, errno);
}

int
proc_start(struct child *c, struct buf *err)
{
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int want[3] = { c->in, c->out, c->err }, notify[2], i, cerr = 0;
	char **envp;
	ssize_t n;

	if (!c->argv || !c->argv[0]) {
		buf_adds(err, "no program to run");
		return -1;
	}
	for (i = 0; i < 3; i++) {
		if (want[i] != PROC_PIPE)
			continue;
		if (pipe2(fds[i], O_CLOEXEC) < 0) {
			buf_addf(err, "cannot make a pipe: %s",
			    strerror(errno));
			goto fail;
		}
	}
	if (pipe2(notify, O_CLOEXEC) < 0) {
		buf_addf(err, "cannot make a pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	envp = child_environ(c);
	c->pid = fork();
	if (c->pid < 0) {
		buf_addf(err, "cannot fork: %s", strerror(errno));
		free(envp);
		close(notify[0]);
		close(notify[1]);
		goto fail;
	}
	if (c->pid == 0) {
		close(notify[0]);
		child_setup(c, fds, notify[1], envp);
	}
	free(envp);
	close(notify[1]);
	do {
		n = read(notify[0], &cerr, sizeof(cerr));
	} while (n < 0 && errno == EINTR);
	close(notify[0]);
	if (n == sizeof(cerr)) {
		int st;

		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		buf_addf(err, "cannot run '%s': %s", c->argv[0],
		    strerror(cerr));
		goto fail;
	}

	/* keep the parent's ends of the pipes */
	if (want[0] == PROC_PIPE) {
		close(fds[0][0]);
		c->in = fds[0][1];
	}
	if (want[1] == PROC_PIPE) {
		close(fds[1][1]);
		c->out = fds[1][0];
	}
	if (want[2] == PROC_PIPE) {
		close(fds[2][1]);
		c->err = fds[2][0];
	}
	return 0;
fail:
	for (i = 0; i < 3; i++) {
		if (fds[i][0] >= 0)
			close(fds[i][0]);
		if (fds[i][1] >= 0)
			close(fds[i][1]);
	}
	return -1;
}

void
proc_kill(struct child *c, int sig)
{
	if (c->pid > 0 && kill(-c->pid, sig) < 0 && errno == ESRCH)
		kill(c->pid, sig);
}

int
proc_finish(struct child *c)
{
	int st, *fds[3] = { &c->in, &c->out, &c->err }, i;
	pid_t r;

	for (i = 0; i < 3; i++) {
		if (*fds[i] > 2) {
			close(*fds[i]);
			*fds[i] = PROC_INHERIT;
		}
	}
	if (c->pid <= 0)
		return -1;
	do {
		r = waitpid(c->pid, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	/* the child's own children may linger in its group: end them */
	kill(-c->pid, SIGKILL);
	c->pid = -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct stream {
	int fd;
	enum proc_stream which;
	struct buf line;
	int discarding;
};

/* Hand complete lines of `s` to the callback; -1 to stop. */
static int
flush_lines(struct stream *s, struct proc_io *io, int eof, struct buf *err)
{
	size_t max = io->max_line ? io->max_line : 1024 * 1024;
	char *nl;

	while ((nl = memchr(s->line.buf, '\n', s->line.len)) ||
	    s->line.len > max || (eof && s->line.len)) {
		size_t len = nl ? (size_t)(nl - s->line.buf) : s->line.len;
		size_t eat = nl ? len + 1 : len;

		if (len > max) {
			if (s->which == PROC_STDOUT) {
				buf_addf(err, "a stdout line is longer than "
				    "%zu bytes", max);
				return -1;
			}
			len = eat = max;
		}
		if (io->on_line &&
		    io->on_line(io->cb, s->which, s->line.buf, len) < 0) {
			if (!err->len)
				buf_adds(err, "stopped by the line handler");
			return -1;
		}
		buf_consume(&s->line, eat);
	}
	return 0;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* proc_pipe()'s run: the child, its streams and its clocks. */
struct pump {
	struct child *c;
	struct proc_io *io;
	struct stream st[2];
	size_t in_off;
	int64_t start, last, kill_at;
	unsigned flags;
	int open_streams;
};

/* SIGTERM now, SIGKILL after the grace. */
static void
stop_child(struct pump *p)
{
	proc_kill(p->c, SIGTERM);
	p->kill_at = now_ms() + (p->io->kill_grace_ms ?
	    p->io->kill_grace_ms : 2000);
}

/*
 * The timeouts: a child over its time or silent too long is stopped, one
 * that outlives the grace killed.  The poll timeout until the next
 * deadline (-1: none).
 */
static int
check_clocks(struct pump *p, struct buf *err)
{
	const struct proc_io *io = p->io;
	int64_t t = now_ms(), deadline = -1;

	if (p->kill_at < 0 && io->timeout_ms && t - p->start >= io->timeout_ms) {
		p->flags |= PROC_TIMED_OUT;
		buf_addf(err, "timed out after %d ms", io->timeout_ms);
	}
	if (p->kill_at < 0 && io->idle_timeout_ms &&
	    t - p->last >= io->idle_timeout_ms) {
		p->flags |= PROC_IDLE_OUT;
		buf_addf(err, "no output for %d ms", io->idle_timeout_ms);
	}
	if (p->kill_at < 0 && p->flags)
		stop_child(p);
	if (p->kill_at >= 0 && t >= p->kill_at) {
		proc_kill(p->c, SIGKILL);
		p->kill_at = INT64_MAX;
	}
	if (p->kill_at >= 0 && p->kill_at != INT64_MAX)
		deadline = p->kill_at;
	else if (p->kill_at < 0) {
		if (io->timeout_ms)
			deadline = p->start + io->timeout_ms;
		if (io->idle_timeout_ms && (deadline < 0 ||
		    p->last + io->idle_timeout_ms < deadline))
			deadline = p->last + io->idle_timeout_ms;
	}
	if (deadline < 0)
		return -1;
	return deadline > t ? (int)(deadline - t) : 0;
}

/* More of the input to the child's stdin; closed when all is written. */
static void
feed(struct pump *p)
{
	struct child *c = p->c;
	ssize_t w = write(c->in, p->io->in + p->in_off,
	    p->io->in_len - p->in_off);

	if (w < 0 && errno != EAGAIN && errno != EINTR)
		p->in_off = p->io->in_len;	/* EPIPE: gone */
	else if (w > 0)
		p->in_off += (size_t)w;
	if (p->in_off >= p->io->in_len) {
		close(c->in);
		c->in = PROC_INHERIT;
	}
}

/* What a stream has to read: its lines to the callback, or its end. */
static void
drain(struct pump *p, struct stream *s, struct buf *err)
{
	char chunk[65536];
	ssize_t got = read(s->fd, chunk, sizeof(chunk));

	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		if (!s->discarding && !(p->flags & PROC_ABORTED) &&
		    flush_lines(s, p->io, 1, err) < 0) {
			p->flags |= PROC_ABORTED;
			proc_kill(p->c, SIGTERM);
			p->kill_at = now_ms() + 2000;
		}
		close(s->fd);
		if (s->which == PROC_STDOUT)
			p->c->out = PROC_INHERIT;
		else
			p->c->err = PROC_INHERIT;
		s->fd = -1;
		p->open_streams--;
		return;
	}
	p->last = now_ms();
	if (s->discarding || (p->flags & PROC_ABORTED))
		return;
	buf_add(&s->line, chunk, (size_t)got);
	if (flush_lines(s, p->io, 0, err) < 0) {
		/* keep reading (and dropping) until EOF */
		s->discarding = 1;
		p->flags |= PROC_ABORTED;
		stop_child(p);
	}
}

int
proc_pipe(struct child *c, struct proc_io *io, unsigned *flags_r,
    struct buf *err)
{
	struct pump p = { c, io, { { 0 } }, 0, 0, 0, -1, 0, 2 };
	int i, k, status;
	void (*oldpipe)(int);

	c->in = c->out = c->err = PROC_PIPE;
	if (proc_start(c, err) < 0)
		return -1;
	if (io->on_start)
		io->on_start(io->cb, c->pid);
	oldpipe = signal(SIGPIPE, SIG_IGN);
	p.st[0].fd = c->out;
	p.st[0].which = PROC_STDOUT;
	p.st[1].fd = c->err;
	p.st[1].which = PROC_STDERR;
	for (i = 0; i < 2; i++) {
		buf_init(&p.st[i].line, 0);
		set_nonblock(p.st[i].fd);
	}
	set_nonblock(c->in);
	if (!io->in_len) {
		close(c->in);
		c->in = PROC_INHERIT;
	}
	p.start = p.last = now_ms();
	while (p.open_streams) {
		struct pollfd pfd[3];
		int n = 0, timeout = check_clocks(&p, err);

		for (i = 0; i < 2; i++)
			if (p.st[i].fd >= 0)
				pfd[n++] = (struct pollfd){ p.st[i].fd, POLLIN,
				    0 };
		if (c->in > 2)
			pfd[n++] = (struct pollfd){ c->in, POLLOUT, 0 };
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			buf_addf(err, "poll: %s", strerror(errno));
			p.flags |= PROC_ABORTED;
			proc_kill(c, SIGKILL);
			break;
		}
		for (i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == c->in) {
				feed(&p);
				continue;
			}
			for (k = 0; k < 2; k++)
				if (p.st[k].fd == pfd[i].fd)
					drain(&p, &p.st[k], err);
		}
	}
	for (i = 0; i < 2; i++)
		buf_release(&p.st[i].line);
	status = proc_finish(c);
	signal(SIGPIPE, oldpipe);
	if (flags_r)
		*flags_r = p.flags;
	return status;
}
