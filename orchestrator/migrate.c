/*
 * migrate: run a migration from a plan.  See migrate(1).
 */
#include "compat.h"

#include <getopt.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "accounts.h"
#include "audit.h"
#include "buf.h"
#include "cli.h"
#include "fileio.h"
#include "finalize.h"
#include "log.h"
#include "plan.h"
#include "opt.h"
#include "report.h"
#include "runner.h"
#include "serve.h"
#include "secret.h"
#include "state.h"
#include "status.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: migrate [--state DIR] COMMAND [ARGS]\n"
"\n"
"   plan validate FILE      check a plan; every error, with its line\n"
"   plan diff FILE          what applying it would change\n"
"   plan apply [--coordinate] FILE\n"
"                           run it; run it again to go on after a stop\n"
"   worker [--name NAME] FILE\n"
"                           work on the accounts of the plan apply that\n"
"                           runs on the same state in PostgreSQL\n"
"   status [--json] [ACCOUNT]\n"
"   report [-o FILE] [--account A | --wave W | --all] [--page N]\n"
"                           the state as an HTML page (STATE/report.html)\n"
"   serve [--listen ADDRESS:PORT] [--refresh SECONDS] [--tls-cert FILE\n"
"         --tls-key FILE] [--password-file FILE]   that page, live\n"
"   log [ACCOUNT]           the audit history\n"
"   rollback [--no-carry-back] ACCOUNT | --to REVISION\n"
"   hold ACCOUNT | release ACCOUNT\n"
"   retry ACCOUNT | --failed\n"
"   prune [--dry-run]       remove the archives kept past their retention\n"
"\n"
"The state directory is the plan's 'state', or --state DIR, or\n"
"$MIGRATE_STATE, for the commands that take no plan.\n";

static void ATTR_NORETURN
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

static int
cmd_validate(const char *file)
{
	struct plan p;
	struct account_spec *v;
	size_t nr, k;

	load_plan(file, &p, &v, &nr);
	printf("%s: valid: %zu accounts; phases:", file, nr);
	if (p.phases.assessment.present)
		printf(" assessment");
	if (p.phases.pilot.present)
		printf(" pilot (%zu)", p.phases.pilot.accounts.nr);
	for (k = 0; k < p.phases.nr_waves; k++)
		printf(" %s", p.phases.waves[k].name);
	if (p.phases.delta.present)
		printf(" delta (%lld)", p.phases.delta.passes);
	if (p.phases.finalize.present)
		printf(" finalize");
	printf("\n");
	if (p.proxy.present)
		printf("%s: cutover through migrate-proxy at %s: logins held up"
		    " to %lld s while the final delta runs\n", file,
		    p.proxy.control, p.proxy.hold_seconds);
	else
		printf("%s: warning: no proxy (the plan has no 'proxy'): logins"
		    " are not held while an account's final delta runs, and"
		    " its open sessions are not closed at the flip\n", file);
	account_specs_free(v, nr);
	plan_free(&p);
	return 0;
}

static int
cmd_diff(const char *file)
{
	struct plan p;
	struct account_spec *v;
	size_t nr, i, added = 0, gone = 0, j;
	struct account *have = NULL;
	size_t nr_have = 0;
	char sha[65];
	struct stat st;

	load_plan(file, &p, &v, &nr);
	plan_sha256(p.text, p.text_len, sha);
	if (stat(p.state_dir, &st) < 0) {
		printf("state %s does not exist: applying starts the migration"
		    " of %zu accounts\n", p.state_dir, nr);
	} else {
		struct state *s = open_state(p.state_dir);
		struct plan_rev rev;

		if (state_last_plan(s, &rev))
			printf("plan: %s revision %d (applied %s)\n",
			    strcmp(rev.sha256, sha) ? "changed since" :
			    "the same as", rev.id, rev.applied);
		else
			printf("plan: never applied\n");
		plan_rev_release(&rev);
		state_accounts(s, NULL, &have, &nr_have);
		/* the state's rows of accounts the plan still names */
		for (i = 0; i < nr; i++) {
			for (j = 0; j < nr_have; j++)
				if (!strcmp(have[j].account, v[i].account))
					break;
			if (j == nr_have) {
				printf("+ %s\n", v[i].account);
				added++;
			}
		}
		for (j = 0; j < nr_have; j++) {
			for (i = 0; i < nr; i++)
				if (!strcmp(have[j].account, v[i].account))
					break;
			if (i == nr) {
				printf("- %s (%s; kept in the state, no longer"
				    " worked on)\n", have[j].account,
				    state_name(have[j].state));
				gone++;
			}
		}
		{
			size_t todo = 0;

			for (j = 0; j < nr_have; j++) {
				enum acc_state x = have[j].state;

				if (x != ST_MIGRATED && x != ST_FINALIZED &&
				    x != ST_HELD && x != ST_ROLLED_BACK)
					todo++;
				account_free(&have[j]);
			}
			printf("%zu accounts to add, %zu no longer in the plan,"
			    " %zu in the state still to move\n", added, gone,
			    todo);
		}
		free(have);
		state_close(s);
	}
	account_specs_free(v, nr);
	plan_free(&p);
	return 0;
}

/* --- status -------------------------------------------------------------- */

static int
cmd_status(const char *account, int json)
{
	const char *dir = state_dir();
	struct state *s = open_state(dir);
	int rc = status_show(s, dir, account, json);

	state_close(s);
	return rc;
}

/* migrate report [-o FILE] [--account A | --wave W | --all] [--page N] */
static int
cmd_report(int argc, char **argv)
{
	const char *dir = state_dir(), *out = NULL, *account = NULL;
	const char *wave = NULL;
	struct report_opts o = { 0 };
	struct account acc = { 0 };
	struct state *s;
	struct buf err = BUF_INIT;
	char *path;
	int i, rc = 0, all = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--all"))
			all = 1;
		else if (!v)
			usage(EX_USAGE);
		else if (!strcmp(a, "-o"))
			out = v, i++;
		else if (!strcmp(a, "--account"))
			account = v, i++;
		else if (!strcmp(a, "--wave"))
			wave = v, i++;
		else if (!strcmp(a, "--page"))
			o.page = (int64_t)opt_size("--page", v, 1) - 1, i++;
		else
			usage(EX_USAGE);
	}
	if (!!account + !!wave + all > 1 || (o.page && !wave && !all))
		usage(EX_USAGE);
	o.account = account;
	o.wave = wave;
	o.accounts = wave || all;
	s = open_state(dir);
	if (account && state_find_account(s, account, &acc) == 0)
		o.account = acc.account;	/* a bare name: its address */
	path = out ? xstrdup(out) : report_default_path(dir, &o);
	if ((rc = report_write(s, dir, &o, path, &err)) != 0)
		fprintf(stderr, "migrate: report: %s\n", err.buf);
	else
		printf("%s\n", path);
	state_close(s);
	account_free(&acc);
	buf_release(&err);
	free(path);
	return rc;
}

static int
cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { "127.0.0.1:8470", 10, NULL, NULL, NULL };
	const char *dir = state_dir();
	struct state *s;
	int i, rc;

	for (i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			o.listen = argv[i + 1];
		else if (!strcmp(argv[i], "--refresh"))
			o.refresh = (int)opt_size("--refresh", argv[i + 1], 1);
		else if (!strcmp(argv[i], "--tls-cert"))
			o.tls_cert = argv[i + 1];
		else if (!strcmp(argv[i], "--tls-key"))
			o.tls_key = argv[i + 1];
		else if (!strcmp(argv[i], "--password-file"))
			o.password_file = argv[i + 1];
		else
			usage(EX_USAGE);
	}
	if (i != argc)
		usage(EX_USAGE);
	s = open_state(dir);
	rc = serve_run(s, dir, &o);
	state_close(s);
	return rc;
}

static int
cmd_log(const char *account)
{
	struct audit *au;
	struct buf err = BUF_INIT;
	int rc;

	if (audit_open(&au, state_dir(), &err) < 0)
		fatalx(EX_NOINPUT, "%s", err.buf);
	rc = audit_log(au, account, stdout, &err);
	if (rc < 0)
		log_warnx("%s", err.buf);
	audit_close(au);
	return rc < 0 ? EX_SOFTWARE : 0;
}

/* The last plan applied to this state, for the commands without one. */
static void
last_plan(struct state *s, struct plan *p)
{
	struct plan_rev rev;
	char *path = NULL;
	struct buf err = BUF_INIT;

	if (state_last_plan(s, &rev))
		path = xstrdup(rev.path);
	plan_rev_release(&rev);
	if (!path)
		fatalx(EX_USAGE, "no plan was ever applied to %s", state_dir());
	if (plan_load(p, path, &err) < 0)
		fatalx(EX_DATAERR, "the last plan applied, %s, cannot be"
		    " read:\n%s", path, err.buf);
	free(path);
}

static int
cmd_state_change(const char *what, const char *account, int all_failed)
{
	struct state *s = open_state(state_dir());
	struct audit *au;
	struct buf err = BUF_INIT;
	struct account *v = NULL;
	size_t nr = 0, i, n = 0;
	int code = 0;

	if (audit_open(&au, state_dir(), &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	set_operator(s, au);
	audit_close(au);

	if (all_failed) {
		state_accounts(s, NULL, &v, &nr);
	} else {
		v = xcalloc(1, sizeof(*v));
		if (state_find_account(s, account, v) < 0)
			fatalx(EX_NOUSER, "no account '%s' in the state",
			    account);
		nr = 1;
	}
	for (i = 0; i < nr; i++) {
		struct account *a = &v[i];
		enum acc_state to;

		if (all_failed && a->state != ST_FAILED) {
			account_free(a);
			continue;
		}
		if (!strcmp(what, "hold")) {
			to = ST_HELD;
		} else if (!strcmp(what, "release")) {
			if (a->state != ST_HELD) {
				buf_addf(&err, "%s is %s, not held",
				    a->account, state_name(a->state));
				goto bad;
			}
			to = a->resume;
		} else {	/* retry */
			if (a->state == ST_ROLLED_BACK)
				to = ST_COPYING;
			else if (a->state == ST_FAILED)
				to = a->resume;
			else {
				buf_addf(&err, "%s is %s: only failed and"
				    " rolled back accounts are retried",
				    a->account, state_name(a->state));
				goto bad;
			}
			a->attempts = 0;
		}
		if (enter_state(s, a, to, what, &err) < 0)
			goto bad;
		printf("%s: %s\n", a->account, state_name(to));
		n++;
		account_free(a);
		continue;
bad:
		fprintf(stderr, "migrate: %s\n", err.buf);
		buf_setlen(&err, 0);
		code = EX_DATAERR;
		account_free(a);
	}
	if (all_failed && !n)
		printf("no failed account\n");
	free(v);
	state_close(s);
	buf_release(&err);
	return code;
}

/* Whether the export `text` routes `id` to the destination. */
static int
routed(const char *text, const char *id)
{
	size_t n = strlen(id);
	const char *p;

	for (p = text; (p = strstr(p, id)); p += n)
		if ((p == text || p[-1] == '\n') &&
		    !strncmp(p + n, " destination\n", 13))
			return 1;
	return 0;
}

/*
 * Every route as of audit revision `rev`: map-flip restores the export of
 * that revision, then each account it sent back is rolled back.  Only
 * backwards: a revision that would send an account forward is refused,
 * since its data was not copied for that.
 */
static int
rollback_to(struct plan *p, struct state *s, struct audit *au,
    const char *rev)
{
	struct buf err = BUF_INIT;
	struct account *v = NULL;
	size_t nr = 0, i, len = 0, n = 0;
	char *text, *tmp;
	int code = 0, forward = 0, rc;

	text = audit_show(au, rev, "mapping.txt", &len, &err);
	if (!text) {
		/* before the first flip: every account at the source */
		if (!strstr(err.buf, "does not exist") &&
		    !strstr(err.buf, "not found") && !strstr(err.buf,
		    "path"))
			fatalx(EX_DATAERR, "%s", err.buf);
		text = xstrdup("");
		buf_setlen(&err, 0);
	}
	state_accounts(s, NULL, &v, &nr);
	for (i = 0; i < nr; i++)
		if (!cut_over(&v[i]) && routed(text, v[i].account)) {
			fprintf(stderr, "migrate: %s routes %s to the"
			    " destination, and it is %s here\n", rev,
			    v[i].account, state_name(v[i].state));
			forward++;
		}
	if (forward)
		fatalx(EX_DATAERR, "rollback --to only sends accounts back; %s"
		    " would send %d forward (use plan apply)", rev, forward);
	/* what each user did on the destination goes back first */
	for (i = 0; i < nr; i++) {
		size_t k;

		if (!cut_over(&v[i]) || routed(text, v[i].account) ||
		    runner_carry_back(p, s, au, &v[i], &err) == 0)
			continue;
		log_warnx("%s: %s; no route changed", v[i].account, err.buf);
		for (k = 0; k < i; k++)	/* the holds taken before */
			if (cut_over(&v[k]) && !routed(text, v[k].account))
				runner_release(p, s, au, &v[k], &err);
		exit(EX_TEMPFAIL);
	}
	tmp = xasprintf("%s/mapping.restore", p->state_dir);
	if (file_write_atomic(tmp, text, len, 0600, &err) < 0 ||
	    runner_restore(p, tmp, &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_TEMPFAIL;	/* no account changed, nor any route */
	}
	unlink(tmp);
	free(tmp);
	for (i = 0; i < nr; i++) {
		char *why;

		if (code != EX_TEMPFAIL && cut_over(&v[i]) &&
		    !routed(text, v[i].account)) {
			why = xasprintf("rollback --to %s", rev);
			if ((rc = runner_rollback(p, s, au, &v[i], why,
			    RB_FLIPPED, &err))) {
				log_warnx("%s", err.buf);
				buf_setlen(&err, 0);
				code = rc;
			} else {
				printf("%s: rolled back to the source\n",
				    v[i].account);
				n++;
			}
			free(why);
		}
		account_free(&v[i]);
	}
	printf("%zu accounts rolled back to their routes of %s\n", n, rev);
	free(v);
	free(text);
	buf_release(&err);
	return code;
}

/* What a command that changes the state outside an apply holds: the
 * apply lock, the last plan applied, the audit repository. */
struct held {
	struct state *s;
	struct audit *au;
	struct plan p;
	int lockfd;
};

static void
hold_state(struct held *h)
{
	struct buf err = BUF_INIT;

	h->s = open_state(state_dir());
	if (state_lock_apply(state_dir(), &h->lockfd, &err) < 0)
		fatalx(EX_TEMPFAIL, "%s", err.buf);
	last_plan(h->s, &h->p);
	if (audit_open(&h->au, state_dir(), &err) < 0 ||
	    audit_recover(h->au, h->s, &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	set_operator(h->s, h->au);
	buf_release(&err);
}

static void
release_state(struct held *h)
{
	audit_close(h->au);
	state_close(h->s);
	plan_free(&h->p);
	close(h->lockfd);
}

static int
cmd_rollback(const char *account, const char *rev, int carry)
{
	struct held h;
	struct buf err = BUF_INIT;
	int code = 0;

	hold_state(&h);
	if (account) {
		struct account a;

		if (state_find_account(h.s, account, &a) < 0)
			fatalx(EX_NOUSER, "no account '%s' in the state",
			    account);
		if ((code = runner_rollback(&h.p, h.s, h.au, &a, carry ?
		    "rollback" : "rollback, nothing carried back", carry ?
		    RB_CARRY : RB_NO_CARRY, &err)))
			log_warnx("%s", err.buf);
		else
			printf("%s: rolled back to the source\n", a.account);
		account_free(&a);
	} else {
		code = rollback_to(&h.p, h.s, h.au, rev);
	}
	release_state(&h);
	buf_release(&err);
	return code;
}

/* migrate prune: under the apply lock, as the last plan says. */
static int
cmd_prune(int dry_run)
{
	struct held h;
	struct buf err = BUF_INIT;
	int code;

	hold_state(&h);
	if ((code = runner_prune(&h.p, h.s, h.au, dry_run, &err)) && err.len)
		log_warnx("%s", err.buf);
	release_state(&h);
	buf_release(&err);
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cmd;
	int c, json = 0, progress;

	log_init("migrate", -1);
	secrets_no_core();
	secrets_wipe_json();
	atexit(secrets_forget);
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': state_dir_opt = optarg; break;
		case 'h': usage(0);
		default: usage(EX_USAGE);
		}
	}
	if (optind >= argc)
		usage(EX_USAGE);
	cmd = argv[optind++];
	progress = isatty(2) && !getenv("MIGRATE_NO_PROGRESS");
	if (!strcmp(cmd, "plan")) {
		if (optind + 3 == argc && !strcmp(argv[optind], "apply") &&
		    !strcmp(argv[optind + 1], "--coordinate"))
			return cmd_apply(argv[optind + 2], progress, 1);
		if (optind + 2 != argc)
			usage(EX_USAGE);
		if (!strcmp(argv[optind], "validate"))
			return cmd_validate(argv[optind + 1]);
		if (!strcmp(argv[optind], "diff"))
			return cmd_diff(argv[optind + 1]);
		if (!strcmp(argv[optind], "apply"))
			return cmd_apply(argv[optind + 1], progress, 0);
		usage(EX_USAGE);
	}
	if (!strcmp(cmd, "worker")) {
		if (optind + 3 == argc && !strcmp(argv[optind], "--name"))
			return cmd_worker(argv[optind + 2], argv[optind + 1]);
		if (optind + 1 != argc || argv[optind][0] == '-')
			usage(EX_USAGE);
		return cmd_worker(argv[optind], NULL);
	}
	if (!strcmp(cmd, "status")) {
		if (optind < argc && !strcmp(argv[optind], "--json"))
			json = 1, optind++;
		if (optind + 1 < argc)
			usage(EX_USAGE);
		return cmd_status(optind < argc ? argv[optind] : NULL, json);
	}
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - optind, argv + optind);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - optind, argv + optind);
	if (!strcmp(cmd, "log")) {
		if (optind + 1 < argc)
			usage(EX_USAGE);
		return cmd_log(optind < argc ? argv[optind] : NULL);
	}
	if (!strcmp(cmd, "rollback")) {
		int carry = 1;

		if (optind + 2 == argc && !strcmp(argv[optind], "--to"))
			return cmd_rollback(NULL, argv[optind + 1], 1);
		if (optind + 2 == argc && !strcmp(argv[optind],
		    "--no-carry-back"))
			carry = 0, optind++;
		if (optind + 1 != argc || argv[optind][0] == '-')
			usage(EX_USAGE);
		return cmd_rollback(argv[optind], NULL, carry);
	}
	if (!strcmp(cmd, "prune")) {
		if (optind + 1 == argc && !strcmp(argv[optind], "--dry-run"))
			return cmd_prune(1);
		if (optind != argc)
			usage(EX_USAGE);
		return cmd_prune(0);
	}
	if (!strcmp(cmd, "hold") || !strcmp(cmd, "release") ||
	    !strcmp(cmd, "retry")) {
		if (optind + 1 != argc)
			usage(EX_USAGE);
		if (!strcmp(cmd, "retry") && !strcmp(argv[optind], "--failed"))
			return cmd_state_change(cmd, NULL, 1);
		return cmd_state_change(cmd, argv[optind], 0);
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help"))
		usage(0);
	fprintf(stderr, "migrate: '%s' is not a command\n", cmd);
	usage(EX_USAGE);
}
