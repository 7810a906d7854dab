/*
 * assess.c: what the assessment tells the operator beyond each account's
 * dry run, once every account is assessed: who shares folders (from
 * imap-pull's reports), calendars and address books (dav-pull's) with
 * whom, and who reads mail over POP3 (from the source's logs, maillog.c).
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "fileio.h"
#include "maillog.h"
#include "runner_p.h"
#include "xalloc.h"

/*
 * The POP3 logins of each account in the source's logs (both its login
 * forms): STATE/reports/ACCOUNT.assess-pop3.json, and who they are.
 */
static int
assess_pop3(struct run *r)
{
	struct pop3_users u = { NULL, 0, 0 };
	struct buf err = BUF_INIT, who = BUF_INIT;
	struct account *v = NULL;
	size_t nr = 0, i, users = 0;
	long long n;
	char *path, *text, *bare;
	json_t *rep;
	int ret = -1;

	if (maillog_read(&r->p->phases.assessment.logs, &u, &err) < 0 ||
	    state_accounts(r->s, NULL, &v, &nr) < 0) {
		say(r, "assessment: the source's logs: %s", err.len ? err.buf :
		    "the state cannot be read");
		goto out;
	}
	for (i = 0; i < nr; i++) {
		n = maillog_logins(&u, v[i].account);
		if (strcmp(v[i].login, v[i].account))
			n += maillog_logins(&u, v[i].login);
		bare = xstrndup(v[i].account, strcspn(v[i].account, "@"));
		if (strcmp(bare, v[i].login) && strcmp(bare, v[i].account) &&
		    r->p->accounts.default_domain && !strcasecmp(
		    v[i].account + strlen(bare) + !!v[i].account[strlen(bare)],
		    r->p->accounts.default_domain))
			n += maillog_logins(&u, bare);
		free(bare);
		state_set_finding(r->s, &v[i], "pop3-logins", n);
		rep = json_pack("{s:s, s:I}", "account", v[i].account,
		    "pop3_logins", (json_int_t)n);
		text = json_dumps(rep, JSON_SORT_KEYS);
		path = report_of(r, &v[i], "assess-pop3");
		if (!text || file_write_atomic(path, text, strlen(text), 0644,
		    &err) < 0)
			say(r, "assessment: %s", err.len ? err.buf :
			    "out of memory");
		buf_reset(&err);
		json_decref(rep);
		free(path);
		free(text);
		if (n && users++ < 10)
			buf_addf(&who, "%s%s (%lld)", users > 1 ? ", " : "",
			    v[i].account, n);
	}
	say(r, "assessment: %zu of %zu accounts log in over POP3 (%lld logins"
	    " in %zu logs)%s%s%s", users, nr, u.logins,
	    r->p->phases.assessment.logs.nr, users ? ": " : "",
	    users ? who.buf : "", users > 10 ? ", ..." : "");
	ret = 0;
out:
	for (i = 0; i < nr; i++)
		account_free(&v[i]);
	free(v);
	maillog_free(&u);
	buf_release(&err);
	buf_release(&who);
	return ret;
}

/*
 * The accounts that share what `report` counts (its totals' `count` of
 * things shared, `entries` of grants), said as `what` and `grants`, and
 * kept in the state as findings of `kind`.
 */
static void
assess_shares(struct run *r, const char *report, const char *count,
    const char *entries, const char *what, const char *grants,
    const char *kind)
{
	struct buf who = BUF_INIT;
	struct account *v = NULL;
	size_t nr = 0, i, sharing = 0;
	long long things = 0, all = 0, f;
	json_t *rep, *t;
	char *path;

	if (state_accounts(r->s, NULL, &v, &nr) < 0)
		return;
	for (i = 0; i < nr; i++) {
		path = report_of(r, &v[i], report);
		rep = json_load_file(path, 0, NULL);
		free(path);
		t = json_object_get(rep, "totals");
		f = json_integer_value(json_object_get(t, count));
		if (rep)
			state_set_finding(r->s, &v[i], kind, f);
		if (f > 0) {
			things += f;
			all += json_integer_value(json_object_get(t, entries));
			if (sharing++ < 10)
				buf_addf(&who, "%s%s (%lld)", sharing > 1 ?
				    ", " : "", v[i].account, f);
		}
		json_decref(rep);
		account_free(&v[i]);
	}
	free(v);
	if (sharing)
		say(r, "assessment: %zu of %zu accounts share %lld %s with"
		    " others (%lld %s): %s%s", sharing, nr, things, what, all,
		    grants, who.buf, sharing > 10 ? ", ..." : "");
	buf_release(&who);
}

void
assess_summary(struct run *r)
{
	assess_shares(r, "assess", "shared_folders", "acl_entries", "folders",
	    "ACL entries", "shared-folders");
	if (r->p->source.dav)
		assess_shares(r, "assess-dav", "shared_collections",
		    "share_entries", "calendars and address books", "grants",
		    "shared-collections");
	if (r->p->phases.assessment.logs.nr)
		assess_pop3(r);
}
