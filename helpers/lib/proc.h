/*
 * proc.h: run a child process without a shell, in the shape of git's
 * run-command.
 *
 *	struct child c = CHILD_INIT;
 *	const char *argv[] = { "/path/to/imap-pull", "--account", a, NULL };
 *	c.argv = argv;
 *	c.in = c.out = c.err = PROC_PIPE;
 *	if (proc_start(&c, &err) < 0) ...
 *	... write c.in, read c.out and c.err ...
 *	status = proc_finish(&c);
 *
 * or let proc_pipe() start the child, feed its stdin, hand every line of
 * its stdout and stderr to callbacks in one poll loop (no deadlock however
 * much either side writes), enforce time limits and wait for it.
 *
 * The child runs in a session (and process group) of its own, with fds 3
 * and up closed and signals reset; if it cannot be executed, proc_start()
 * says why (errno from the child, through a close-on-exec pipe).
 */
#ifndef MIGRATE_PROC_H
#define MIGRATE_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct buf;

enum {
	PROC_INHERIT = 0,	/* keep the parent's fd */
	PROC_PIPE = -1,		/* make a pipe; the parent's end is put here */
	PROC_NULL = -2,		/* /dev/null */
};

struct child {
	const char *const *argv;	/* argv[0] is run via PATH if no '/' */
	const char *const *env;		/* "K=V" sets, "K" unsets; may be NULL */
	const char *dir;		/* chdir there first; may be NULL */
	int in, out, err;		/* PROC_* or an fd >= 1 to use */
	pid_t pid;
};

#define CHILD_INIT { NULL, NULL, NULL, PROC_INHERIT, PROC_INHERIT, \
	PROC_INHERIT, -1 }

int proc_start(struct child *c, struct buf *err);

/*
 * Close the parent's pipe ends still open and wait for the child.  Returns
 * its exit code, 128+n when killed by signal n, or -1 if waiting failed.
 */
int proc_finish(struct child *c);

/* Signal the child's whole process group. */
void proc_kill(struct child *c, int sig);

enum proc_stream { PROC_STDOUT = 1, PROC_STDERR = 2 };

/*
 * A line callback gets each line without its newline (a last line without
 * one too).  Returning -1 stops the run: the child's group is killed.
 */
typedef int (*proc_line_fn)(void *cb, enum proc_stream s, const char *line,
    size_t len);

struct proc_io {
	const char *in;		/* bytes for stdin, then it is closed */
	size_t in_len;
	proc_line_fn on_line;	/* may be NULL: lines are dropped */
	void *cb;
	void (*on_start)(void *cb, pid_t pid);	/* may be NULL */
	size_t max_line;	/* 0: 1 MiB; a longer stdout line is an error,
				 * a longer stderr line is cut in pieces */
	int timeout_ms;		/* whole run; 0: none */
	int idle_timeout_ms;	/* without output; 0: none */
	int kill_grace_ms;	/* TERM to KILL; 0: 2000 */
};

enum proc_result_flags {
	PROC_TIMED_OUT = 1 << 0,
	PROC_IDLE_OUT = 1 << 1,
	PROC_ABORTED = 1 << 2,	/* a callback or a read failed */
};

/*
 * Start `c` (its in/out/err are made pipes) and service it until it exits.
 * Returns its status as proc_finish() does, or -1 if it could not start;
 * `flags_r` (may be NULL) tells whether it was stopped by a limit or an
 * abort, and `err` says why.
 */
int proc_pipe(struct child *c, struct proc_io *io, unsigned *flags_r,
    struct buf *err);

#endif
