/*
 * steps.c: the helper of each step, with its arguments from the plan and
 * its secrets, and what its done event adds to the account's counters.
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "mapping.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

/* Account-specific paths in the state directory. */
char *
archive_of(struct run *r, const struct account *a)
{
	return xasprintf("%s/archives/%s", r->p->state_dir, a->account);
}

char *
report_of(struct run *r, const struct account *a, const char *what)
{
	return xasprintf("%s/reports/%s.%s.json", r->p->state_dir, a->account,
	    what);
}

int
is_public(const struct run *r, const struct account *a)
{
	const char *pub = r->p->accounts.public_folders.account;
	const char *dom = r->p->accounts.default_domain;
	size_t n;

	if (!pub)
		return 0;
	if (strchr(pub, '@') || !dom)
		return !strcasecmp(a->account, pub);
	n = strlen(pub);	/* a bare name: in the default domain */
	return !strncasecmp(a->account, pub, n) && a->account[n] == '@' &&
	    !strcasecmp(a->account + n + 1, dom);
}

char *
login_of(const char *fmt, const struct account *a)
{
	struct buf b = BUF_INIT;
	const char *at = strchr(a->account, '@');

	if (!fmt)
		return xstrdup(a->account);
	while (*fmt) {
		if (!strncmp(fmt, "{account}", 9))
			buf_adds(&b, a->account), fmt += 9;
		else if (!strncmp(fmt, "{login}", 7))
			buf_adds(&b, a->login), fmt += 7;
		else if (!strncmp(fmt, "{local}", 7))
			buf_add(&b, a->account, at ? (size_t)(at - a->account) :
			    strlen(a->account)), fmt += 7;
		else
			buf_addch(&b, *fmt++);
	}
	return buf_detach(&b, NULL);
}

/* The login at the destination: destination.auth.login. */
char *
dest_login(struct run *r, const struct account *a)
{
	return login_of(r->p->destination.auth.login, a);
}

/* --- the steps ---------------------------------------------------------- */

void
arg(struct args *a, const char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

const char *
own(struct args *a, char *s)
{
	a->owned = xreallocarray(a->owned, a->nown + 1, sizeof(*a->owned));
	return a->owned[a->nown++] = s;
}

void
args_free(struct args *a)
{
	while (a->nown > 0)
		free(a->owned[--a->nown]);
	free(a->owned);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/*
 * scheme://host[:port] into --host, --port and --tls: TLS from the first
 * byte when the scheme is `tls_scheme` (NULL: never), else STARTTLS; the
 * port `port`, or `tls_port` for TLS from the first byte, unless given.
 */
void
url_args(struct args *v, const char *u, const char *tls_scheme,
    const char *port, const char *tls_port)
{
	const char *host = strstr(u, "://") + 3;
	int implicit = tls_scheme && !strncmp(u, tls_scheme,
	    strlen(tls_scheme)) && u[strlen(tls_scheme)] == ':';
	const char *end = host + strcspn(host, "/");
	const char *colon = memchr(host, ':', end - host);

	if (*host == '[') {	/* [v6]:port */
		const char *rb = memchr(host, ']', end - host);

		colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		arg(v, "--host");
		arg(v, own(v, xstrndup(host + 1, rb ? (size_t)(rb - host - 1) :
		    0)));
	} else {
		arg(v, "--host");
		arg(v, own(v, xstrndup(host, (colon ? colon : end) - host)));
	}
	arg(v, "--port");
	arg(v, own(v, colon ? xstrndup(colon + 1, end - colon - 1) :
	    xstrdup(implicit ? tls_port : port)));
	arg(v, "--tls");
	arg(v, implicit ? "implicit" : "starttls");
}

void
pull_args(struct run *r, struct args *v, struct account *a,
    const char *login, const char *mode, const char *report)
{
	if (login) {
		arg(v, "--user");
		arg(v, login);
	}
	arg(v, "--mode");
	arg(v, mode);
	if (!strcmp(mode, "assess")) {
		arg(v, "--report");
		arg(v, own(v, report_of(r, a, report)));
	} else {
		arg(v, "--archive");
		arg(v, own(v, archive_of(r, a)));
	}
}

/* How a helper reaches `s` safely: its CAs, whether to verify its
 * certificate, whether a credential may cross in clear. */
void
server_args(struct args *v, const struct server *s)
{
	if (s->ca_file) {
		arg(v, "--ca-file");
		arg(v, s->ca_file);
	}
	if (s->insecure)
		arg(v, "--insecure");
	if (s->allow_plaintext)
		arg(v, "--allow-plaintext");
}

/* The options common to the helpers that read the source over IMAP or
 * ManageSieve: the above, the master user. */
void
source_args(struct run *r, struct args *v)
{
	const struct server *src = &r->p->source;

	server_args(v, src);
	if (src->auth.master_user) {
		arg(v, "--auth-user");
		arg(v, src->auth.master_user);
		if (src->auth.master_separator) {
			arg(v, "--master-separator");
			arg(v, src->auth.master_separator);
		}
	}
}

int
source_secrets(struct run *r, struct account *a, struct secrets *sec,
    struct buf *err)
{
	char *pw;
	int ret;

	if (r->fake)
		return 0;
	if (r->p->source.auth.master_user)
		return secrets_set(sec, "password", r->master_password);
	pw = secret_password(&r->p->source.auth.passwords, a->account,
	    a->login, err);
	if (!pw)
		return -1;
	ret = secrets_set(sec, "password", pw);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (ret < 0)
		buf_adds(err, "the password cannot be carried (a newline?)");
	return ret;
}

/* After an account's last step in this run: its passwords wiped. */
void
forget_passwords(struct run *r, const struct account *a)
{
	secret_password_forget(&r->p->source.auth.passwords, a->account,
	    a->login);
	secret_password_forget(&r->p->destination.auth.passwords,
	    a->account, a->login);
}

/* The destination's secret: its token if the plan gives one and
 * `password_only` is not set, else the account's password. */
int
dest_secrets(struct run *r, struct account *a, int password_only,
    struct secrets *sec, struct buf *err)
{
	const struct auth *da = &r->p->destination.auth;
	const struct secret_ref *ref = da->passwords.kind != SECRET_NONE ?
	    &da->passwords : &r->p->source.auth.passwords;
	int token = da->token.kind != SECRET_NONE && !password_only;
	char *v;
	int ret;

	if (r->fake)
		return 0;
	if (token)
		v = secret_resolve(&da->token, a->account, err);
	else
		v = secret_password(ref, a->account, a->login, err);
	if (!v)
		return -1;
	ret = secrets_set(sec, token ? "token" : "password", v);
	explicit_bzero(v, strlen(v));
	free(v);
	if (ret < 0)
		buf_adds(err, "the secret cannot be carried (a newline?)");
	return ret;
}

/*
 * A push helper's exit 65 when all it holds against the account is what
 * the destination refused (its done event: "refused" > 0, "differences"
 * 0): those are the account's anomalies, kept in the archive, not a
 * failure; no retry makes a server take what it refuses.
 */
static enum outcome
only_refusals(struct run *r, struct account *a, enum outcome o, int code,
    json_t *done, const char *what, struct buf *err)
{
	json_int_t refused = json_integer_value(json_object_get(done,
	    "refused"));

	if (o == PERMANENT && code == 65 && refused > 0 &&
	    json_integer_value(json_object_get(done, "differences")) == 0) {
		say(r, "%s: %" JSON_INTEGER_FORMAT " %s refused by the"
		    " destination (anomalies, kept in the archive)",
		    a->account, refused, what);
		buf_setlen(err, 0);
		o = OK;
	}
	if (o == OK && refused > 0)
		state_add_counters(r->s, a, 0, 0, refused);
	return o;
}

/*
 * Run push helper `name` with `v` (its server) and the options every push
 * takes: the destination's TLS, the account's login there, its archive,
 * its report `report`, and --verify-only.  What the destination refused
 * (`what`) is the account's anomalies, not a failure; with `done` the
 * helper's done event is kept for the caller.
 */
static enum outcome
run_push(struct run *r, struct slot *sl, struct account *a, const char *name,
    struct args *v, const char *report, int verify_only, const char *what,
    json_t **done_r, struct buf *err)
{
	const struct server *d = &r->p->destination;
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	int code = 0;

	server_args(v, d);
	arg(v, "--user");
	arg(v, own(v, dest_login(r, a)));
	arg(v, "--archive");
	arg(v, own(v, archive_of(r, a)));
	arg(v, "--report");
	arg(v, own(v, report_of(r, a, report)));
	if (verify_only)
		arg(v, "--verify-only");
	if (dest_secrets(r, a, 1, &sec, err) < 0) {
		args_free(v);
		return PERMANENT;
	}
	o = helper(r, sl, a, name, verify_only ? "verify" : "push", v->v, &sec,
	    &done, &code, err);
	o = only_refusals(r, a, o, code, done, what, err);
	if (done_r)
		*done_r = done;
	else
		json_decref(done);
	secrets_clear(&sec);
	args_free(v);
	return o;
}

/*
 * sieve-push, when the plan has destination.sieve; with `verify_only`, a
 * comparison only.  Scripts the destination refused are the account's
 * anomalies (their reasons in the helper's events and the archive), not a
 * failure: no retry makes a server take an extension it lacks.
 */
static enum outcome
sieve_push(struct run *r, struct slot *sl, struct account *a,
    int verify_only, struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };

	url_args(&v, r->p->destination.sieve, NULL, "4190", NULL);
	return run_push(r, sl, a, "sieve-push", &v, "verify-sieve",
	    verify_only, "Sieve scripts", NULL, err);
}

/* Calendars and contacts, after the mail: dav-pull, when the plan has
 * source.dav.  It logs in as each account, with its password. */
enum outcome
dav_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, int files, struct buf *err)
{
	const struct server *s = &r->p->source;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o;
	char *pw = NULL;

	arg(&v, "--url");
	arg(&v, files ? own(&v, login_of(s->files, a)) : s->dav);
	if (files)
		arg(&v, "--files");
	pull_args(r, &v, a, own(&v, login_of(s->dav_login ? s->dav_login :
	    "{login}", a)), mode, files ? "assess-files" : "assess-dav");
	server_args(&v, s);
	if (!r->fake && s->auth.passwords.kind != SECRET_NONE) {
		if (!(pw = secret_password(&s->auth.passwords, a->account,
		    a->login, err)) || secrets_set(&sec, "password", pw) < 0) {
			if (pw)
				buf_adds(err, "the password cannot be carried");
			o = PERMANENT;
			goto out;
		}
	} else if (dest_secrets(r, a, 1, &sec, err) < 0) {
		o = PERMANENT;
		goto out;
	}
	o = helper(r, sl, a, "dav-pull", !strcmp(mode, "assess") ? "assess" :
	    "pull", v.v, &sec, &done, NULL, err);
	if (o == OK && done) {
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "anomalies")));
		if (files) {
			state_set_items(r->s, a, "files", json_integer_value(
			    json_object_get(done, "files")));
		} else {
			state_set_items(r->s, a, "events", json_integer_value(
			    json_object_get(done, "events")));
			state_set_items(r->s, a, "contacts",
			    json_integer_value(json_object_get(done,
			    "contacts")));
		}
	}
out:
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

static int lives_on_destination(struct run *r, const struct account *a);

/* dav-push, when the plan has destination.dav; with `verify_only`, a
 * comparison only. */
static enum outcome
dav_push(struct run *r, struct slot *sl, struct account *a, int verify_only,
    int files, struct buf *err)
{
	const struct server *d = &r->p->destination;
	struct args v = { NULL, NULL, 0, 0 };
	json_t *done = NULL;
	enum outcome o;

	arg(&v, "--url");
	arg(&v, files ? own(&v, login_of(d->files, a)) : d->dav);
	if (files)
		arg(&v, "--files");
	if (!files && !verify_only) {
		arg(&v, "--share-ready");
		arg(&v, r->share_ready);
		if (lives_on_destination(r, a))
			arg(&v, "--after-cutover");
	}
	o = run_push(r, sl, a, "dav-push", &v, files ? "verify-files" :
	    "verify-dav", verify_only, files ? "files" : "calendar and"
	    " contact resources", &done, err);
	if (o == OK && done)
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "conflicts")));
	json_decref(done);
	return o;
}

/*
 * Messages the destination refused are in the verify report as "not
 * pushed"; with push.accept_refused... no: they stay failures unless the
 * only differences are those, which the report lists per message.
 */
static int
only_refused(const char *report_path, int64_t *nr_r)
{
	json_t *rep = json_load_file(report_path, 0, NULL);
	json_t *diffs = json_object_get(rep, "differences"), *d;
	size_t i;
	int only = rep != NULL && json_is_array(diffs);

	*nr_r = 0;
	json_array_foreach(diffs, i, d) {
		const char *why = json_string_value(json_object_get(d, "why"));

		if (!why || strncmp(why, "not pushed", 10))
			only = 0;
		else
			++*nr_r;
	}
	json_decref(rep);
	return only;
}

/*
 * Whether the mapping sends `a` to the destination already: its user
 * lives there, from a cutover this state does not know of (a state lost
 * or new).  Every push is then one after the cutover.
 */
static int
lives_on_destination(struct run *r, const struct account *a)
{
	struct buf err = BUF_INIT;
	enum route route;
	int ret = 0;

	/* opened once (before the first flip, there may be no file yet),
	 * and again after an error */
	pthread_mutex_lock(&r->mapping_lock);
	if (r->mapping || ((mapping_is_url(r->p->mapping) ||
	    access(r->p->mapping, F_OK) == 0) && mapping_open(&r->mapping,
	    r->p->mapping, MAPPING_READ, &err) == 0)) {
		ret = mapping_lookup(r->mapping, a->account, &route, &err);
		if (ret < 0) {
			mapping_close(r->mapping);
			r->mapping = NULL;
		}
		ret = ret == 0 && route == ROUTE_DESTINATION;
	}
	pthread_mutex_unlock(&r->mapping_lock);
	buf_release(&err);
	return ret;
}

/* What every jmap-push of account `a` is given: where, as whom. */
void
push_args(struct run *r, struct args *v, struct account *a)
{
	arg(v, "--url");
	arg(v, r->p->destination.jmap);
	arg(v, "--archive");
	arg(v, own(v, archive_of(r, a)));
	if (r->p->destination.auth.token.kind == SECRET_NONE) {
		arg(v, "--user");
		arg(v, own(v, dest_login(r, a)));
	}
	server_args(v, &r->p->destination);
}

enum outcome
push(struct run *r, struct slot *sl, struct account *a, const char *how,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	char *report = report_of(r, a, "verify");
	const char *step = !strcmp(how, "verify") ? "verify" : "push";
	json_t *done = NULL;
	enum outcome o;
	int code = 0;
	int64_t refused = 0;

	push_args(r, &v, a);
	if (strcmp(how, "verify")) {
		arg(&v, "--share-ready");
		arg(&v, r->share_ready);
	}
	if (p->push.delete_removed)
		arg(&v, "--delete-removed");
	if (p->push.deleted) {
		arg(&v, "--deleted");
		arg(&v, p->push.deleted);
	}
	if (p->push.refused) {
		arg(&v, "--refused");
		arg(&v, p->push.refused);
	}
	if (!strcmp(how, "after") || lives_on_destination(r, a))
		arg(&v, "--after-cutover");
	if (!strcmp(how, "verify")) {
		arg(&v, "--verify-only");
		if (p->push.verify_content)
			arg(&v, "--verify-content");
	}
	if (strcmp(how, "push")) {
		/* in the window, what the final delta did: the whole account
		 * was verified just before */
		arg(&v, !strcmp(how, "final") ? "--verify-delta" : "--verify");
		arg(&v, "--report");
		arg(&v, report);
	}
	if (dest_secrets(r, a, 0, &sec, err) < 0) {
		args_free(&v);
		free(report);
		return PERMANENT;
	}
	o = helper(r, sl, a, "jmap-push", step, v.v, &sec, &done, &code, err);
	/*
	 * 65 with a report whose only differences are messages the
	 * destination refused: carried as far as it can be; they are the
	 * account's anomalies, listed in the report, and no retry helps.
	 */
	if (o == PERMANENT && code == 65 && strcmp(how, "push") &&
	    only_refused(report, &refused)) {
		/* said and counted once, at the verify before the flip */
		if (!strcmp(how, "verify"))
			say(r, "%s: %" PRId64 " messages refused by the"
			    " destination, listed in %s", a->account, refused,
			    report);
		else
			refused = 0;
		buf_setlen(err, 0);
		o = OK;
	} else if (o == PERMANENT && code == 65 && !strcmp(how, "push")) {
		/* refusals are judged by the verify that follows */
		buf_setlen(err, 0);
		o = OK;
	}
	if (o == OK && done)
		refused += json_integer_value(json_object_get(done,
		    "rescued"));
	if (o == OK && refused)
		state_add_counters(r->s, a, 0, 0, refused);
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	free(report);
	if (!strcmp(how, "after"))
		return o;	/* the mail only: see pull() */
	if (o == OK && p->destination.sieve)
		o = sieve_push(r, sl, a, !strcmp(how, "verify"), err);
	if (o == OK && p->destination.dav)
		o = dav_push(r, sl, a, !strcmp(how, "verify"), 0, err);
	if (o == OK && p->destination.files)
		o = dav_push(r, sl, a, !strcmp(how, "verify"), 1, err);
	return o;
}

void
mapping_args(struct run *r, struct args *v)
{
	arg(v, "--store");
	arg(v, r->p->mapping);
	arg(v, "--export");
	arg(v, r->mapping_txt);
	if (r->p->proxy.present) {
		arg(v, "--control");
		arg(v, r->p->proxy.control);
	}
}

/*
 * pop3-uidl on the source or the destination, when the plan has
 * source.pop3: which body each POP3 id names, for the flip to join.
 */
enum outcome
pop3_uidl(struct run *r, struct slot *sl, struct account *a, int dest,
    struct buf *err)
{
	const struct server *s = dest ? &r->p->destination : &r->p->source;
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	enum outcome o = PERMANENT;

	url_args(&v, s->pop3, "pop3s", "110", "995");
	if (dest) {
		server_args(&v, s);
		arg(&v, "--side");
		arg(&v, "destination");
		arg(&v, "--user");
		arg(&v, own(&v, dest_login(r, a)));
	} else {
		source_args(r, &v);
		arg(&v, "--user");
		arg(&v, a->login);
	}
	arg(&v, "--archive");
	arg(&v, own(&v, archive_of(r, a)));
	arg(&v, "--report");
	arg(&v, own(&v, report_of(r, a, dest ? "pop3-dest" : "pop3")));
	if ((dest ? dest_secrets(r, a, 1, &sec, err) : source_secrets(r, a,
	    &sec, err)) == 0)
		o = helper(r, sl, a, "pop3-uidl", "pop3", v.v, &sec, NULL,
		    NULL, err);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}

enum outcome
flip(struct run *r, struct slot *sl, struct account *a, const char *route,
    struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };
	enum outcome o;

	mapping_args(r, &v);
	if (r->p->source.pop3 && !strcmp(route, "destination")) {
		arg(&v, "--pop3-uidls");
		arg(&v, own(&v, archive_of(r, a)));
	}
	if (r->p->accounts.default_domain) {
		arg(&v, "--domain");
		arg(&v, r->p->accounts.default_domain);
	}
	arg(&v, a->account);
	arg(&v, route);
	o = helper(r, sl, a, "map-flip", "flip", v.v, NULL, NULL, NULL, err);
	args_free(&v);
	return o;
}

enum outcome
proxy_hold(struct run *r, struct slot *sl, struct account *a,
    long long seconds, struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };
	enum outcome o;

	arg(&v, "--control");
	arg(&v, r->p->proxy.control);
	if (mapping_is_url(r->p->mapping)) {	/* every proxy follows it */
		arg(&v, "--store");
		arg(&v, r->p->mapping);
	}
	if (r->p->accounts.default_domain) {
		arg(&v, "--domain");
		arg(&v, r->p->accounts.default_domain);
	}
	if (seconds > 0) {
		arg(&v, "--hold");
		arg(&v, own(&v, xasprintf("%lld", seconds)));
	} else {
		arg(&v, "--release");
	}
	arg(&v, a->account);
	o = helper(r, sl, a, "map-flip", seconds > 0 ? "hold" : "release",
	    v.v, NULL, NULL, NULL, err);
	args_free(&v);
	return o;
}
