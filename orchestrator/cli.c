/*
 * cli.c: what the files of migrate(1)'s commands share: the state
 * directory they name, a plan loaded and checked, the state opened.
 */
#include "compat.h"

#include <openssl/evp.h>

#include "accounts.h"
#include "audit.h"
#include "buf.h"
#include "cli.h"
#include "log.h"
#include "plan.h"
#include "state.h"
#include "xalloc.h"

const char *state_dir_opt;

const char *
state_dir(void)
{
	const char *d = state_dir_opt ? state_dir_opt : getenv("MIGRATE_STATE");

	if (!d)
		fatalx(EX_USAGE, "which migration? give --state DIR (the"
		    " plan's 'state') or set MIGRATE_STATE");
	return d;
}

void
plan_sha256(const char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void
load_plan(const char *file, struct plan *p, struct account_spec **v,
    size_t *nr)
{
	struct buf err = BUF_INIT;
	size_t i, k, j;
	int bad = 0;

	if (plan_load(p, file, &err) < 0) {
		fprintf(stderr, "%s%s", err.buf, err.len &&
		    err.buf[err.len - 1] == '\n' ? "" : "\n");
		exit(p->text ? EX_DATAERR : EX_NOINPUT);
	}
	if (plan_accounts(p, v, nr, &err) < 0) {
		fputs(err.buf, stderr);
		exit(EX_DATAERR);
	}
	/* the pilot and waves name accounts of the plan */
	for (k = 0; k <= p->phases.nr_waves; k++) {
		const struct strlist *l = k == 0 ? &p->phases.pilot.accounts :
		    &p->phases.waves[k - 1].accounts;
		const char *what = k == 0 ? "phases.pilot" :
		    p->phases.waves[k - 1].name;

		for (i = 0; i < l->nr; i++) {
			char *full = strchr(l->v[i], '@') ? xstrdup(l->v[i]) :
			    xasprintf("%s@%s", l->v[i],
			    p->accounts.default_domain ?
			    p->accounts.default_domain : "?");

			for (j = 0; j < *nr; j++)
				if (!strcasecmp((*v)[j].account, full))
					break;
			if (j == *nr) {
				fprintf(stderr, "%s:%d:%d: %s: '%s' is not one"
				    " of the plan's accounts\n", file,
				    l->pos[i].line, l->pos[i].col, what,
				    l->v[i]);
				bad = 1;
			}
			free(full);
		}
	}
	if (bad)
		exit(EX_DATAERR);
	buf_release(&err);
}

struct state *
open_state(const char *dir)
{
	struct state *s;
	struct buf err = BUF_INIT;

	if (state_open(&s, dir, &err) < 0)
		fatalx(EX_CANTCREAT, "%s", err.buf);
	return s;
}

void
set_operator(struct state *s, struct audit *au)
{
	char *who = audit_operator(au);

	state_set_operator(s, who);
	free(who);
}
