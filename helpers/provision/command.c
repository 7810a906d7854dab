/*
 * command.c: provision through the operator's commands, for a destination
 * with no driver of its own.  Each runs with /bin/sh -c, the account in
 * its environment; create and update get the password entry on stdin.
 */
#include "compat.h"

#include "buf.h"
#include "proc.h"
#include "provision.h"
#include "xalloc.h"

struct command_opts command_opts;

struct said {
	struct buf text;
};

static int
on_line(void *cb, enum proc_stream s, const char *line, size_t len)
{
	struct said *w = cb;

	(void)s;
	if (w->text.len < 2000) {
		if (w->text.len)
			buf_adds(&w->text, "; ");
		buf_add(&w->text, line, len);
	}
	return 0;
}

/* Run `cmd`; its exit status, or -1 with `err` set. */
static int
run(struct prov *p, const char *what, const char *cmd, const char *in,
    struct buf *err)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct buf aliases = BUF_INIT;
	char *env[6];
	struct child c = CHILD_INIT;
	struct proc_io io = { 0 };
	struct said w = { BUF_INIT };
	unsigned flags = 0;
	size_t i;
	int st;

	for (i = 0; i < p->nr_aliases; i++)
		buf_addf(&aliases, "%s%s", i ? " " : "", p->aliases[i]);
	env[0] = xasprintf("MIGRATE_ACCOUNT=%s", p->account);
	env[1] = xasprintf("MIGRATE_LOGIN=%s", p->login ? p->login :
	    p->account);
	env[2] = xasprintf("MIGRATE_NAME=%s", p->name ? p->name : "");
	env[3] = xasprintf("MIGRATE_QUOTA=%llu", (unsigned long long)p->quota);
	env[4] = xasprintf("MIGRATE_ALIASES=%s", aliases.buf ? aliases.buf :
	    "");
	env[5] = NULL;
	c.argv = argv;
	c.env = (const char *const *)env;
	c.in = PROC_PIPE;
	c.out = PROC_PIPE;
	c.err = PROC_PIPE;
	io.in = in ? in : "";
	io.in_len = strlen(io.in);
	io.on_line = on_line;
	io.cb = &w;
	io.timeout_ms = 300 * 1000;
	st = proc_pipe(&c, &io, &flags, err);
	if (st >= 0 && flags & PROC_TIMED_OUT) {
		buf_addf(err, "provision.%s ran out of its 300 s", what);
		st = -1;
	}
	if (st >= 0 && st > 1)
		buf_addf(err, "provision.%s exited with %d%s%s", what, st,
		    w.text.len ? ": " : "", w.text.len ? w.text.buf : "");
	for (i = 0; i < 5; i++)
		free(env[i]);
	buf_release(&aliases);
	buf_release(&w.text);
	return st;
}

static int
cmd_exists(struct prov *p, int *code, struct buf *err)
{
	int st = run(p, "exists", command_opts.exists, NULL, err);

	if (st == 0 || st == 1)
		return st == 0;
	*code = EX_TEMPFAIL;
	return -1;
}

static int
cmd_write(struct prov *p, const char *what, const char *cmd, int *code,
    struct buf *err)
{
	char *in = p->secret ? xasprintf("%s\n", p->secret) : xstrdup("");
	int st = run(p, what, cmd, in, err);

	explicit_bzero(in, strlen(in));
	free(in);
	if (st == 0)
		return 0;
	if (st == 1)
		buf_addf(err, "provision.%s exited with 1", what);
	*code = EX_TEMPFAIL;
	return -1;
}

static int
cmd_create(struct prov *p, int *code, struct buf *err)
{
	return cmd_write(p, "create", command_opts.create, code, err);
}

static int
cmd_update(struct prov *p, int *code, struct buf *err)
{
	if (!command_opts.update) {
		buf_addf(err, "%s exists and provision.update asks for a"
		    " change, but the plan has no provision.update_command",
		    p->account);
		*code = EX_USAGE;
		return -1;
	}
	return cmd_write(p, "update_command", command_opts.update, code, err);
}

const struct driver command_driver = {
	"command", NULL, cmd_exists, cmd_create, cmd_update, NULL,
};
