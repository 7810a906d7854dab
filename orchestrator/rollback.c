/*
 * rollback.c: the way back.  Before an account is flipped back to the
 * source, what its user did on the destination since the flip is carried
 * back, with the account's logins held at the proxy so that nothing
 * changes meanwhile:
 *
 *   hold	the proxy holds the account's logins, closes its sessions
 *   pull	a delta of the source into the archive: the archive is the
 *		source as it is now
 *   carry-back	the destination against the archive: new mail appended
 *		at the source, flags set, copies moved and removed
 *   pull	again: the archive holds what was carried back
 *   check	carry-back --check finds nothing left to do
 *
 * Then the caller flips the account to the source and releases the hold.
 * Every step is idempotent: carry-back counts copies rather than trusting
 * a record of what it did, so after a kill -9 anywhere, the next rollback
 * does what is left and nothing twice.  If a step fails, the hold is
 * released and the account stays on the destination, as it was.
 */
#include "compat.h"

#include "buf.h"
#include "exec_path.h"
#include "proc.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

static enum outcome
carry_back(struct run *r, struct slot *sl, struct account *a, int check,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT, dsec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o = PERMANENT;
	const char *t;

	if (!p->source.imap) {
		buf_adds(err, "carry-back writes to the source over IMAP, by"
		    " the folder names of an IMAP pull; this plan reads its"
		    " source over JMAP (source.jmap): roll back with"
		    " --no-carry-back");
		return PERMANENT;
	}
	url_args(&v, p->source.imap, "imaps", "143", "993");
	source_args(r, &v);
	arg(&v, "--user");
	arg(&v, a->login);
	arg(&v, "--archive");
	arg(&v, own(&v, archive_of(r, a)));
	arg(&v, "--url");
	arg(&v, p->destination.jmap);
	if (p->destination.auth.token.kind == SECRET_NONE) {
		arg(&v, "--dest-user");
		arg(&v, own(&v, dest_login(r, a)));
	}
	if (p->destination.ca_file) {
		arg(&v, "--dest-ca-file");
		arg(&v, p->destination.ca_file);
	}
	if (p->destination.insecure)
		arg(&v, "--dest-insecure");
	if (p->destination.allow_plaintext)
		arg(&v, "--dest-allow-plaintext");
	arg(&v, "--report");
	arg(&v, own(&v, report_of(r, a, check ? "back-check" : "back")));
	if (check)
		arg(&v, "--check");
	if (source_secrets(r, a, &sec, err) < 0 ||
	    dest_secrets(r, a, 0, &dsec, err) < 0)
		goto out;
	if (!r->fake && (((t = secrets_get(&dsec, "token")) &&
	    secrets_set(&sec, "dest_token", t) < 0) ||
	    ((t = secrets_get(&dsec, "password")) &&
	    secrets_set(&sec, "dest_password", t) < 0)))
		goto out;
	o = helper(r, sl, a, "carry-back", check ? "back-check" : "back",
	    v.v, &sec, &done, NULL, err);
	if (o == OK && done && !check)
		say(r, "%s: carried back %" JSON_INTEGER_FORMAT " new messages,"
		    " %" JSON_INTEGER_FORMAT " flag changes, %"
		    JSON_INTEGER_FORMAT " removals", a->account,
		    json_integer_value(json_object_get(done, "appended")),
		    json_integer_value(json_object_get(done, "flags_set")),
		    json_integer_value(json_object_get(done, "removed")));
	if (o == PERMANENT && check)
		buf_adds(err, " (after carrying back, the source still differs"
		    " from the destination: see the back-check report)");
out:
	json_decref(done);
	secrets_clear(&sec);
	secrets_clear(&dsec);
	args_free(&v);
	return o;
}

enum outcome
back_window(struct run *r, struct slot *sl, struct account *a,
    struct buf *err)
{
	enum outcome o = OK;
	struct buf e2 = BUF_INIT;

	if (r->p->proxy.present)
		o = proxy_hold(r, sl, a, r->p->proxy.hold_seconds, err);
	if (o == OK)
		o = pull(r, sl, a, "after", err);
	if (o == OK)
		o = carry_back(r, sl, a, 0, err);
	if (o == OK)
		o = pull(r, sl, a, "after", err);
	if (o == OK)
		o = carry_back(r, sl, a, 1, err);
	if (o == OK || !r->p->proxy.present)
		return o;
	if (proxy_hold(r, sl, a, 0, &e2) != OK)
		say(r, "%s: %s", a->account, e2.buf);
	buf_release(&e2);
	return o;
}

int
runner_rollback(struct plan *p, struct state *s, struct audit *au,
    struct account *a, const char *why, enum rollback_how how,
    struct buf *err)
{
	struct apply_opts o = { 0, -1 };
	struct slot sl;
	struct run r;
	enum outcome oc;
	int ret = EX_TEMPFAIL;

	if (!cut_over(a)) {
		buf_addf(err, "%s is %s: there is nothing to roll back (only"
		    " accounts that were cut over are)", a->account,
		    state_name(a->state));
		return EX_DATAERR;
	}
	if (how == RB_CARRY && state_pruned(s, a->id) > 0) {
		buf_addf(err, "%s's archive was pruned (migrate prune), and"
		    " carrying back needs it: migrate rollback"
		    " --no-carry-back flips it back, without what arrived on"
		    " the destination", a->account);
		return EX_DATAERR;
	}
	if (run_open(&r, p, s, au, &o, err) < 0)
		goto out;
	memset(&sl, 0, sizeof(sl));
	if (how == RB_CARRY && (oc = back_window(&r, &sl, a, err)) != OK) {
		buf_addf(err, "; %s stays on the destination (migrate"
		    " rollback --no-carry-back flips it back all the same)",
		    a->account);
		ret = oc == PERMANENT ? EX_DATAERR : EX_TEMPFAIL;
		goto out;
	}
	if (how != RB_FLIPPED && (oc = flip(&r, &sl, a, "source", err)) !=
	    OK) {
		ret = oc == PERMANENT ? EX_DATAERR : EX_TEMPFAIL;
		goto release;
	}
	if (enter_flipped(&r, a, ST_ROLLED_BACK, "source", why ? why :
	    "rollback", 0) < 0) {
		ret = EX_CANTCREAT;
		goto release;
	}
	if (hook(&r, &sl, a, "after_rollback", p->hooks.after_rollback,
	    err) != OK)
		say(&r, "%s: %s", a->account, err->buf);
	state_flush(s);
	audit_now(&r, 1);
	ret = 0;
release:
	if (p->proxy.present) {
		struct buf e2 = BUF_INIT;

		if (proxy_hold(&r, &sl, a, 0, &e2) != OK)
			say(&r, "%s: %s", a->account, e2.buf);
		buf_release(&e2);
	}
out:
	run_close(&r);
	return ret;
}

int
runner_carry_back(struct plan *p, struct state *s, struct audit *au,
    struct account *a, struct buf *err)
{
	struct apply_opts o = { 0, -1 };
	struct slot sl;
	struct run r;
	int ret = -1;

	if (run_open(&r, p, s, au, &o, err) == 0) {
		memset(&sl, 0, sizeof(sl));
		ret = back_window(&r, &sl, a, err) == OK ? 0 : -1;
		state_flush(s);
		audit_now(&r, 1);
	}
	run_close(&r);
	return ret;
}

int
runner_release(struct plan *p, struct state *s, struct audit *au,
    struct account *a, struct buf *err)
{
	struct apply_opts o = { 0, -1 };
	struct slot sl;
	struct run r;
	int ret = -1;

	if (!p->proxy.present)
		return 0;
	if (run_open(&r, p, s, au, &o, err) == 0) {
		memset(&sl, 0, sizeof(sl));
		ret = proxy_hold(&r, &sl, a, 0, err) == OK ? 0 : -1;
	}
	run_close(&r);
	return ret;
}

int
runner_restore(struct plan *p, const char *export_path, struct buf *err)
{
	char *mapping_txt = xasprintf("%s/mapping.txt", p->state_dir);
	char *path = exec_path_of("map-flip");
	const char *argv[] = { path, "--store", p->mapping, "--export",
	    mapping_txt, "--restore", export_path, NULL };
	struct child c = CHILD_INIT;
	int code;

	c.argv = argv;
	c.in = PROC_NULL;
	c.out = PROC_NULL;
	code = proc_start(&c, err) < 0 ? -1 : proc_finish(&c);
	if (code > 0)
		buf_addf(err, "map-flip --restore exited %d", code);
	free(mapping_txt);
	free(path);
	return code == 0 ? 0 : -1;
}
