#include "test-lib.h"

#include <dirent.h>
#include <signal.h>
#include <time.h>

#include "buf.h"
#include "proc.h"

static char fake[4096];

struct lines {
	struct buf out, err;
	int nout, nerr;
	int stop_at;		/* abort on this stdout line number; 0: never */
};

static int
collect(void *cb, enum proc_stream s, const char *line, size_t len)
{
	struct lines *l = cb;

	if (s == PROC_STDOUT) {
		buf_add(&l->out, line, len);
		buf_addch(&l->out, '\n');
		if (++l->nout == l->stop_at)
			return -1;
	} else {
		buf_add(&l->err, line, len);
		buf_addch(&l->err, '\n');
		l->nerr++;
	}
	return 0;
}

static void
lines_init(struct lines *l)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->out, 0);
	buf_init(&l->err, 0);
}

static void
lines_release(struct lines *l)
{
	buf_release(&l->out);
	buf_release(&l->err);
}

/* Run fake-helper with `steps` and `in` on stdin; return its status. */
static int
run(const char **steps, const char *in, struct proc_io *io, struct lines *l,
    unsigned *flags, struct buf *err)
{
	const char *argv[32];
	struct child c = CHILD_INIT;
	int n = 0;

	argv[n++] = fake;
	while (*steps && n < 31)
		argv[n++] = *steps++;
	argv[n] = NULL;
	c.argv = argv;
	io->in = in;
	io->in_len = in ? strlen(in) : 0;
	io->on_line = collect;
	io->cb = l;
	return proc_pipe(&c, io, flags, err);
}

static void
t_events_and_secrets(void)
{
	const char *steps[] = { "hello", "secrets", "err:to people",
	    "exit:75", NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT;
	unsigned flags = 99;

	lines_init(&l);
	check_int(run(steps, "password=pw\nuser=u\n\n", &io, &l, &flags,
	    &err), ==, 75);
	check_int(flags, ==, 0);
	check_int(l.nout, ==, 2);
	check(strstr(l.out.buf, "\"event\":\"hello\"") != NULL);
	check(strstr(l.out.buf, "\"secret_keys\":\"password,user\"") != NULL);
	check(strstr(l.out.buf, "pw\"") == NULL);
	check_str(l.err.buf, "to people\n");
	lines_release(&l);
	buf_release(&err);
}

static void
t_no_deadlock(void)
{
	/* 1 MB in while the child writes it back, with stderr in between */
	const char *steps[] = { "spew:20000", "cat", NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf in = BUF_INIT, err = BUF_INIT;
	int i;

	buf_adds(&in, "\n");	/* the empty secrets block */
	for (i = 0; i < 100000; i++)
		buf_addf(&in, "line %06d\n", i);
	lines_init(&l);
	check_int(run(steps, in.buf, &io, &l, NULL, &err), ==, 0);
	check_int(l.nerr, ==, 20000);
	check_int(l.nout, ==, 20000 + 100000);
	check(l.out.len > in.len);
	check(!memcmp(l.out.buf + l.out.len - (in.len - 1), in.buf + 1,
	    in.len - 1));
	lines_release(&l);
	buf_release(&in);
	buf_release(&err);
}

static void
t_exit_and_signal(void)
{
	const char *sig[] = { "kill:9", NULL };
	const char *noexit[] = { "raw:a line without newline is kept",
	    NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT;

	lines_init(&l);
	check_int(run(sig, NULL, &io, &l, NULL, &err), ==, 128 + 9);
	check_int(run(noexit, NULL, &io, &l, NULL, &err), ==, 0);
	check_str(l.out.buf, "a line without newline is kept\n");
	lines_release(&l);
	buf_release(&err);
}

static void
t_cannot_run(void)
{
	const char *argv[] = { "/nonexistent/helper", NULL };
	struct child c = CHILD_INIT;
	struct buf err = BUF_INIT;

	c.argv = argv;
	check_int(proc_start(&c, &err), ==, -1);
	check(strstr(err.buf, "cannot run '/nonexistent/helper'") != NULL);
	check(strstr(err.buf, "No such file") != NULL);
	buf_release(&err);
}

static void
t_env(void)
{
	const char *argv[] = { "sh", "-c", "echo \"$MIGRATE_ACCOUNT:${HOME-unset}\"",
	    NULL };
	const char *env[] = { "MIGRATE_ACCOUNT=alice@example.org", "HOME",
	    NULL };
	struct child c = CHILD_INIT;
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT;

	lines_init(&l);
	c.argv = argv;
	c.env = env;
	io.on_line = collect;
	io.cb = &l;
	check_int(proc_pipe(&c, &io, NULL, &err), ==, 0);
	check_str(l.out.buf, "alice@example.org:unset\n");
	lines_release(&l);
	buf_release(&err);
}

static long
elapsed_ms(struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
t_timeouts(void)
{
	const char *slow[] = { "hello", "sleep:30000", NULL };
	const char *stubborn[] = { "ignore-term", "child-sleep:30000",
	    "sleep:30000", NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT;
	struct timespec t0;
	unsigned flags = 0;

	lines_init(&l);
	io.timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_int(run(slow, NULL, &io, &l, &flags, &err), ==, 128 + SIGTERM);
	check(flags & PROC_TIMED_OUT);
	check(strstr(err.buf, "timed out") != NULL);
	check(elapsed_ms(&t0) < 5000);

	/* TERM ignored: KILL after the grace, and the grandchild dies too */
	memset(&io, 0, sizeof(io));
	io.idle_timeout_ms = 200;
	io.kill_grace_ms = 200;
	buf_reset(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_int(run(stubborn, NULL, &io, &l, &flags, &err), ==, 128 + SIGKILL);
	check(flags & PROC_IDLE_OUT);
	check(elapsed_ms(&t0) < 5000);
	lines_release(&l);
	buf_release(&err);
}

/* Processes of group `pgid` still running (zombies do not count). */
static int
group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char path[300], stat[512], *p, state;
		int ppid, grp;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')) &&
		    sscanf(p + 1, " %c %d %d", &state, &ppid, &grp) == 3 &&
		    grp == pgid && state != 'Z')
			n++;
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

static void
t_group_killed(void)
{
	/* the helper exits, its child would sleep on: the group kill ends it */
	const char *steps[] = { "child-sleep:30000", "raw:started", NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT;
	struct child c = CHILD_INIT;
	const char *argv[] = { fake, "child-sleep:30000", NULL };
	int ret;

	lines_init(&l);
	check_int(run(steps, NULL, &io, &l, NULL, &err), ==, 0);
	/* start one by hand to learn its group, then look for survivors */
	c.argv = argv;
	c.in = PROC_NULL;
	check_int(proc_start(&c, &err), ==, 0);
	{
		pid_t pgid = c.pid;

		check_int(proc_finish(&c), ==, 0);
		usleep(100000);
		ret = group_alive(pgid);
		check_int(ret, ==, 0);
	}
	lines_release(&l);
	buf_release(&err);
}

static void
t_abort_and_long_lines(void)
{
	const char *steps[] = { "spew:1000", "sleep:30000", NULL };
	struct proc_io io = { 0 };
	struct lines l;
	struct buf err = BUF_INIT, longline = BUF_INIT;
	unsigned flags = 0;
	const char *steps2[3] = { NULL, NULL, NULL };

	lines_init(&l);
	l.stop_at = 10;
	io.kill_grace_ms = 200;
	check_int(run(steps, NULL, &io, &l, &flags, &err), ==, 128 + SIGTERM);
	check(flags & PROC_ABORTED);
	check_int(l.nout, ==, 10);
	lines_release(&l);

	/* a stdout line over the limit is an error, a stderr one is cut */
	buf_adds(&longline, "raw:");
	while (longline.len < 5000)
		buf_addch(&longline, 'x');
	steps2[0] = longline.buf;
	lines_init(&l);
	memset(&io, 0, sizeof(io));
	io.max_line = 1000;
	buf_reset(&err);
	flags = 0;
	run(steps2, NULL, &io, &l, &flags, &err);
	check(flags & PROC_ABORTED);
	check(strstr(err.buf, "longer than 1000") != NULL);
	lines_release(&l);

	longline.buf[0] = 'e';	/* "err:..." */
	longline.buf[1] = 'r';
	longline.buf[2] = 'r';
	lines_init(&l);
	flags = 0;
	check_int(run(steps2, NULL, &io, &l, &flags, &err), ==, 0);
	check_int(flags, ==, 0);
	check_int(l.nerr, ==, 5);
	lines_release(&l);
	buf_release(&err);
	buf_release(&longline);
}

int
main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');

	snprintf(fake, sizeof(fake), "%.*s/../fake-helper",
	    slash ? (int)(slash - argv[0]) : 1, slash ? argv[0] : ".");
	TEST("events", t_events_and_secrets());
	TEST("deadlock", t_no_deadlock());
	TEST("status", t_exit_and_signal());
	TEST("exec", t_cannot_run());
	TEST("env", t_env());
	TEST("timeouts", t_timeouts());
	TEST("group", t_group_killed());
	TEST("abort", t_abort_and_long_lines());
	return test_done();
}
