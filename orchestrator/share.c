/*
 * share.c: sharing that waits for its grantee.
 *
 * jmap-push carries each folder's ACL as sharing, and dav-push each
 * calendar's and address book's sharing, but only towards the accounts
 * on the destination, which they read from STATE/share-ready: "SOURCE
 * DESTINATION" per line, the login and the address of every account
 * that has reached the destination (copied or later) with its
 * destination login.  The file is written when an apply starts, and
 * again at most once a second while accounts arrive on the destination
 * or leave it (enter() marks it, the runner's watch writes it): each
 * write reads every account, so one for each arrival would make a plan
 * of N accounts cost N * N.
 * What a push had to leave out is in its done event (shares.pending),
 * with the number of lines it read (shares.ready).  After each phase, an
 * account whose pending sharing was judged with fewer accounts ready than
 * there are now gets a push of its sharing alone (--shares-only, by the
 * helper that left it): alice's folder or calendar shared with bob
 * reaches bob in the phase that moves bob, in whichever order they go.
 */
#include "compat.h"

#include <ctype.h>
#include <pthread.h>
#include <strings.h>

#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static int ready_dirty;		/* an account came or left since */

int
share_on_destination(enum acc_state st)
{
	return st == ST_COPIED || st == ST_VERIFIED || st == ST_CUTOVER ||
	    st == ST_MIGRATED || st == ST_FINALIZED;
}

static void
set_add(json_t *set, const char *name)
{
	char *k = xstrdup(name), *c;

	for (c = k; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	json_object_set_new(set, k, json_true());
	free(k);
}

/* The lines for every account on the destination, into `b`; their
 * logins and addresses into `set` (lower case), when not NULL. */
static long
ready_lines(struct run *r, struct buf *b, json_t *set)
{
	struct account *v;
	size_t nr, i;
	long n = 0;
	char *d;
	unsigned on = 0;
	int st;

	for (st = 0; st < ST_NR; st++)
		on |= share_on_destination(st) ? 1u << st : 0;
	if (state_accounts_in(r->s, on, &v, &nr) < 0)
		return -1;
	buf_adds(b, "# the accounts on the destination: source destination;"
	    " written by migrate for --share-ready\n");
	for (i = 0; i < nr; i++) {
		/* the public folders' login is another's */
		int own = !is_public(r, &v[i]);

		d = dest_login(r, &v[i]);
		if (set) {
			if (own)
				set_add(set, v[i].login);
			set_add(set, v[i].account);
		}
		if (own) {
			buf_addf(b, "%s %s\n", v[i].login, d);
			n++;
		}
		if (!own || strcasecmp(v[i].login, v[i].account)) {
			buf_addf(b, "%s %s\n", v[i].account, d);
			n++;
		}
		free(d);
		account_free(&v[i]);
	}
	free(v);
	return n;
}

long
share_ready_write(struct run *r, json_t *set)
{
	struct buf b = BUF_INIT, err = BUF_INIT;
	long n;

	pthread_mutex_lock(&ready_lock);
	ready_dirty = 0;
	n = ready_lines(r, &b, set);
	if (n >= 0 && file_write_atomic(r->share_ready, b.buf, b.len, 0600,
	    &err) < 0) {
		log_warnx("%s", err.buf);
		n = -1;
	}
	pthread_mutex_unlock(&ready_lock);
	buf_release(&b);
	buf_release(&err);
	return n;
}

void
share_ready_touch(void)
{
	pthread_mutex_lock(&ready_lock);
	ready_dirty = 1;
	pthread_mutex_unlock(&ready_lock);
}

void
share_ready_flush(struct run *r)
{
	int dirty;

	pthread_mutex_lock(&ready_lock);
	dirty = ready_dirty;
	pthread_mutex_unlock(&ready_lock);
	if (dirty)
		share_ready_write(r, NULL);
}

/* jmap-push or dav-push (`name`) --shares-only for account `a`. */
static enum outcome
push_shares(struct run *r, struct account *a, const char *name,
    struct buf *err)
{
	const struct server *d = &r->p->destination;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	struct slot sl;
	enum outcome o = PERMANENT;
	int dav = !strcmp(name, "dav-push");

	if (dav && !d->dav) {
		buf_adds(err, "the plan has no destination.dav any more");
		return PERMANENT;
	}
	memset(&sl, 0, sizeof(sl));
	snprintf(sl.account, sizeof(sl.account), "%s", a->account);
	if (dav) {
		arg(&v, "--url");
		arg(&v, d->dav);
		arg(&v, "--user");
		arg(&v, own(&v, dest_login(r, a)));
		arg(&v, "--archive");
		arg(&v, own(&v, archive_of(r, a)));
		server_args(&v, d);
	} else {
		push_args(r, &v, a);
	}
	arg(&v, "--share-ready");
	arg(&v, r->share_ready);
	arg(&v, "--shares-only");
	if (cut_over(a))	/* the user's own sharing there stays */
		arg(&v, "--after-cutover");
	if (dest_secrets(r, a, dav, &sec, err) == 0)
		o = helper(r, &sl, a, name, "share", v.v, &sec, NULL, NULL,
		    err);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

/* Whether one of the identifiers of `pending` (JSON text), left pending
 * by `owner`'s push, names an account in `set`. */
static int
arrived(const char *pending, const char *owner, json_t *set)
{
	json_t *ids = json_loads(pending ? pending : "[]", 0, NULL), *id;
	const char *at = strchr(owner, '@');
	size_t i;
	int yes = 0;
	char *k, *c;

	json_array_foreach(ids, i, id) {
		const char *s = json_string_value(id);

		if (!s || yes)
			continue;
		k = strchr(s, '@') || !at ? xstrdup(s) : xasprintf("%s%s", s,
		    at);
		for (c = k; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		yes = json_object_get(set, k) != NULL;
		free(k);
	}
	json_decref(ids);
	return yes;
}

void
shares_pass(struct run *r)
{
	json_t *rows = state_shares_pending(r->s), *row;
	json_t *set = json_object();
	struct buf err = BUF_INIT;
	struct account a;
	long ready = -1;
	size_t i;

	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row,
		    "account"));
		const char *helper_name = json_string_value(json_object_get(
		    row, "helper"));
		const char *home = json_string_value(json_object_get(row,
		    "home"));
		const char *me = state_worker(r->s);

		/* its archive is on another worker: that one pushes it */
		if (me && home && strcmp(home, me))
			continue;
		if (ready < 0 && (ready = share_ready_write(r, set)) < 0)
			break;
		if (stopping || json_integer_value(json_object_get(row,
		    "ready")) >= ready || !arrived(json_string_value(
		    json_object_get(row, "pending")), name, set) ||
		    state_account(r->s, name, &a) < 0)
			continue;
		buf_reset(&err);
		if (push_shares(r, &a, helper_name, &err) == OK)
			say(r, "%s: its sharing (%s) pushed again, now that %ld"
			    " accounts are on the destination", name,
			    helper_name, ready);
		else
			say(r, "%s: its sharing (%s) could not be pushed again:"
			    " %s", name, helper_name, err.buf);
		/* a later phase may need them still (its delta) */
		if (a.state == ST_FINALIZED)
			forget_passwords(r, &a);
		account_free(&a);
	}
	json_decref(rows);
	json_decref(set);
	buf_release(&err);
}
