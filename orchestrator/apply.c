/*
 * apply.c: migrate plan apply, the coordinator when the state is shared,
 * and migrate worker.  See migrate(1).
 */
#include "compat.h"

#include <unistd.h>

#include "accounts.h"
#include "audit.h"
#include "buf.h"
#include "cli.h"
#include "fileio.h"
#include "log.h"
#include "mapping.h"
#include "plan.h"
#include "runner.h"
#include "state.h"
#include "xalloc.h"

/* The plan's state directory, made, locked for this process (*lockfd),
 * tied to its database, and its state opened; exits on errors. */
static struct state *
take_state(const struct plan *p, const char *file, int *lockfd)
{
	struct buf err = BUF_INIT;

	if (mkdir_p(p->state_dir, &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	if (state_lock_apply(p->state_dir, lockfd, &err) < 0)
		fatalx(EX_TEMPFAIL, "%s", err.buf);
	if (state_bind(p->state_dir, p->database, &err) < 0)
		fatalx(EX_CONFIG, "%s: %s", file, err.buf);
	buf_release(&err);
	return open_state(p->state_dir);
}

/* A worker's name unless given: its host and its state directory, which
 * holds the archives of the accounts it pulled. */
static char *
worker_name(const char *dir)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s:%s", host, dir);
}

/* Whether the last plan revision recorded is `sha`. */
static int
has_plan(struct state *s, const char *sha)
{
	struct plan_rev rev;
	int same = state_last_plan(s, &rev) && !strcmp(rev.sha256, sha);

	plan_rev_release(&rev);
	return same;
}

int
cmd_apply(const char *file, int progress, int coordinate)
{
	struct plan p;
	struct account_spec *v;
	size_t nr, added = 0;
	struct state *s;
	struct audit *au;
	struct buf err = BUF_INIT;
	struct apply_opts o = { progress, -1, NULL, coordinate };
	char sha[65], *name;
	int lockfd, changed, code;

	load_plan(file, &p, &v, &nr);
	s = take_state(&p, file, &lockfd);
	if (state_lock_coordinator(s, &err) < 0)
		fatalx(EX_TEMPFAIL, "%s", err.buf);
	if (audit_open(&au, p.state_dir, &err) < 0 ||
	    audit_recover(au, s, &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	set_operator(s, au);
	if (audit_commit_plan(au, file, p.text, p.text_len, &changed,
	    &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	plan_sha256(p.text, p.text_len, sha);
	/* a revision the state lacks: new, or its row lost in a crash */
	if (changed || !has_plan(s, sha)) {
		char *abs = realpath(file, NULL);

		state_add_plan(s, abs ? abs : file, p.name, sha);
		free(abs);
	}
	if (state_sync_accounts(s, v, nr, &added, &err) < 0)
		fatalx(EX_SOFTWARE, "%s", err.buf);
	account_specs_free(v, nr);
	if (added)
		log_info("%zu new accounts in the state", added);
	o.worker = name = worker_name(p.state_dir);
	if (coordinate && !state_shared(s))
		fatalx(EX_CONFIG, "%s: plan apply --coordinate leaves the"
		    " accounts to workers, who need the state in PostgreSQL:"
		    " the plan names no 'database'", file);
	code = plan_apply(&p, s, au, &o);
	free(name);
	audit_close(au);
	state_close(s);
	plan_free(&p);
	close(lockfd);
	return code;
}

int
cmd_worker(const char *file, const char *name)
{
	struct plan p;
	struct account_spec *v;
	size_t nr;
	struct state *s;
	struct buf err = BUF_INIT;
	struct apply_opts o = { 0, -1, NULL, 0 };
	char sha[65], *own = NULL;
	int lockfd, code;

	load_plan(file, &p, &v, &nr);
	account_specs_free(v, nr);
	if (state_dir_opt) {
		free(p.state_dir);
		if (mkdir_p(state_dir_opt, &err) < 0 ||
		    !(p.state_dir = realpath(state_dir_opt, NULL)))
			fatalx(EX_CANTCREAT, "%s: %s", state_dir_opt,
			    err.len ? err.buf : strerror(errno));
	}
	if (!p.database)
		fatalx(EX_CONFIG, "%s: workers share the state in PostgreSQL:"
		    " the plan names no 'database'", file);
	if (!mapping_is_url(p.mapping))
		fatalx(EX_CONFIG, "%s: workers flip accounts in the mapping"
		    " every proxy reads: the plan's 'mapping' must be a"
		    " postgresql:// URL", file);
	s = take_state(&p, file, &lockfd);
	plan_sha256(p.text, p.text_len, sha);
	if (!has_plan(s, sha))
		fatalx(EX_CONFIG, "%s: not the plan last applied to the state"
		    " in %s: start plan apply first, and give every worker"
		    " the same plan", file, p.database);
	o.worker = name ? name : (own = worker_name(p.state_dir));
	code = plan_work(&p, s, &o);
	free(own);
	state_close(s);
	plan_free(&p);
	close(lockfd);
	buf_release(&err);
	return code;
}
