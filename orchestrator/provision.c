/*
 * provision.c: the provision step, before the first push: provision(8)
 * with the plan's driver, the account's entry from the sources
 * (directory.c) and the secrets on its stdin.
 */
#include "compat.h"

#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

/* A list as one comma-separated argument. */
static const char *
joined(struct args *v, const struct strlist *l)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < l->nr; i++)
		buf_addf(&b, "%s%s", i ? "," : "", l->v[i]);
	return own(v, buf_detach(&b, NULL));
}

static void
driver_args(const struct provisionopts *pv, struct args *v)
{
	arg(v, "--driver");
	arg(v, pv->driver);
	if (!strcmp(pv->driver, "command")) {
		arg(v, "--exists");
		arg(v, pv->exists);
		arg(v, "--create");
		arg(v, pv->create);
		if (pv->update_command) {
			arg(v, "--update-command");
			arg(v, pv->update_command);
		}
		if (pv->schemes.nr) {
			arg(v, "--schemes");
			arg(v, joined(v, &pv->schemes));
		}
		return;
	}
	arg(v, "--url");
	arg(v, pv->url);
	if (pv->api) {
		arg(v, "--api");
		arg(v, pv->api);
	}
	if (pv->admin_user && pv->token.kind == SECRET_NONE) {
		arg(v, "--admin-user");
		arg(v, pv->admin_user);
	}
	if (pv->ca_file) {
		arg(v, "--ca-file");
		arg(v, pv->ca_file);
	}
	if (pv->insecure)
		arg(v, "--insecure");
	if (pv->allow_plaintext)
		arg(v, "--allow-plaintext");
}

/* The account's entry and the administrator's credential, for stdin. */
static int
secrets_of(struct run *r, struct account *a, const struct account_entry *e,
    struct secrets *sec, struct buf *err)
{
	const struct provisionopts *pv = &r->p->provision;
	const struct secret_ref *ref = pv->token.kind != SECRET_NONE ?
	    &pv->token : &pv->admin_password;
	char *v;
	int ret = 0;

	if (r->fake)
		return 0;
	if (e->hash && secrets_set(sec, "hash", e->hash) < 0) {
		buf_addf(err, "%s: the password entry cannot be carried (a"
		    " newline?)", a->account);
		return -1;
	}
	if (ref->kind == SECRET_NONE)
		return 0;
	if (!(v = secret_resolve(ref, a->account, err)))
		return -1;
	if (secrets_set(sec, pv->token.kind != SECRET_NONE ? "token" :
	    "admin_password", v) < 0) {
		buf_adds(err, "the administrator's credential cannot be"
		    " carried (a newline?)");
		ret = -1;
	}
	explicit_bzero(v, strlen(v));
	free(v);
	return ret;
}

enum outcome
provision(struct run *r, struct slot *sl, struct account *a, int check,
    struct buf *err)
{
	const struct provisionopts *pv = &r->p->provision;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	struct account_entry e;
	json_t *done = NULL;
	enum outcome o = PERMANENT;
	size_t i;

	if (account_entry(r->p, a->account, a->login, &e, err) < 0)
		goto out;
	driver_args(pv, &v);
	arg(&v, "--mode");
	arg(&v, check ? "check" : "apply");
	arg(&v, "--login");
	arg(&v, own(&v, dest_login(r, a)));
	if (e.name) {
		arg(&v, "--name");
		arg(&v, e.name);
	}
	if (e.quota) {
		arg(&v, "--quota");
		arg(&v, e.quota);
	}
	for (i = 0; i < e.aliases.nr; i++) {
		arg(&v, "--alias");
		arg(&v, e.aliases.v[i]);
	}
	if (pv->update.nr) {
		arg(&v, "--update");
		arg(&v, joined(&v, &pv->update));
	}
	if (pv->missing_password) {
		arg(&v, "--missing-password");
		arg(&v, pv->missing_password);
	}
	if (check) {
		arg(&v, "--report");
		arg(&v, own(&v, report_of(r, a, "assess-provision")));
	}
	arg(&v, a->account);
	if (secrets_of(r, a, &e, &sec, err) < 0)
		goto out;
	o = helper(r, sl, a, "provision", check ? "assess" : "provision",
	    v.v, &sec, &done, NULL, err);
	if (o == OK && done)
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "anomalies")));
out:
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	account_entry_free(&e);
	return o;
}
