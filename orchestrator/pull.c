/*
 * pull.c: reading an account from the source: its mail by imap-pull(8),
 * or jmap-pull(8) for a plan whose source is JMAP, then its Sieve scripts
 * (sieve-pull(8)) and DAV resources (steps.c).
 */
#include "compat.h"

#include <pthread.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "runner_p.h"
#include "secret.h"
#include "xalloc.h"

/* What the assessment's report counts of the account's mail, into the
 * state: the ETA weighs what is left by it; and its oldest message, of
 * the folders' (imap-pull's report has them), a finding. */
static void
record_assessed(struct run *r, struct account *a)
{
	char *path = report_of(r, a, "assess");
	json_t *rep = json_load_file(path, 0, NULL), *f;
	json_t *t = json_object_get(rep, "totals");
	json_int_t oldest = 0, o;
	size_t i;

	if (json_is_integer(json_object_get(t, "bytes")))
		state_set_assessed(r->s, a, json_integer_value(
		    json_object_get(t, "messages")), json_integer_value(
		    json_object_get(t, "bytes")));
	json_array_foreach(json_object_get(rep, "folders"), i, f)
		if ((o = json_integer_value(json_object_get(f, "oldest"))) >
		    0 && (!oldest || o < oldest))
			oldest = o;
	if (oldest)
		state_set_finding(r->s, a, "oldest-mail", oldest);
	if (json_is_integer(json_object_get(t, "folders")))
		state_set_finding(r->s, a, "folders", json_integer_value(
		    json_object_get(t, "folders")));
	if (json_integer_value(json_object_get(t, "sample_bytes")) > 0) {
		state_set_finding(r->s, a, "sample-bytes", json_integer_value(
		    json_object_get(t, "sample_bytes")));
		state_set_finding(r->s, a, "sample-ms", (int64_t)(1000 *
		    json_number_value(json_object_get(t, "sample_seconds"))));
	}
	json_decref(rep);
	free(path);
}

/*
 * The account's archive as the pull left it: its counters are at least
 * that, even when the apply was killed after a pull ended and before its
 * counts reached the state (the pull run again then brings nothing new).
 */
static void
record_archived(struct run *r, struct account *a)
{
	char *dir = archive_of(r, a);
	uint64_t folders, messages, blobs, bytes;
	struct buf err = BUF_INIT;
	struct arcidx *ix = NULL;

	if (!r->fake && access(dir, F_OK) == 0 &&
	    arcidx_open(&ix, dir, 0, &err) == 0 &&
	    arcidx_counts(ix, &folders, &messages, &blobs, &bytes) == 0)
		state_set_archived(r->s, a, (int64_t)messages, (int64_t)bytes);
	arcidx_close(&ix);
	buf_release(&err);
	free(dir);
}

/*
 * Run pull helper `name` with the arguments `v` (freed here) and the
 * account's secret, holding `want` of the source's connections while it
 * runs; what its done event counts goes to the account's counters.
 */
static enum outcome
run_pull(struct run *r, struct slot *sl, struct account *a, const char *name,
    const char *mode, struct args *v, long long want, struct buf *err)
{
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	enum outcome o = PERMANENT;
	int64_t held = 0;
	double started;
	int full;

	if (source_secrets(r, a, &sec, err) < 0)
		goto out;
	if (strcmp(mode, "assess") && !r->fake &&
	    (o = disk_wait(r, sl, a, &held)) != OK)
		goto out;
	started = load_acquire(r, want, &full);
	o = helper(r, sl, a, name, !strcmp(mode, "assess") ? "assess" :
	    "pull", v->v, &sec, &done, NULL, err);
	load_release(r, want, started, full, o, err->buf, done ?
	    json_number_value(json_object_get(done, "latency_ms")) : 0);
	disk_done(r, held);
	if (o == OK && !strcmp(mode, "assess"))
		record_assessed(r, a);
	if (o == OK && done)
		state_add_counters(r->s, a, json_integer_value(json_object_get(
		    done, "messages")), json_integer_value(json_object_get(done,
		    "bytes")), json_integer_value(json_object_get(done,
		    "anomalies")));
	if (o == OK && strcmp(mode, "assess"))
		record_archived(r, a);
out:
	json_decref(done);
	secrets_clear(&sec);
	args_free(v);
	return o;
}

/*
 * Whether this assessment reads a timed sample of the account's mail
 * (4 MB of its newest bodies): the first SAMPLES accounts an apply
 * assesses, for an ETA before the pilot has measured one.
 */
#define SAMPLES	3
static int
sample_wanted(struct run *r)
{
	int yes;

	pthread_mutex_lock(&r->lock);
	yes = r->samples < SAMPLES;
	r->samples += yes;
	pthread_mutex_unlock(&r->lock);
	return yes;
}

/* imap-pull --mode `mode` of the account, within the source's budget of
 * connections. */
static enum outcome
imap_pull(struct run *r, struct slot *sl, struct account *a, const char *mode,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };
	size_t i;
	long long want = p->limits.connections_per_account;

	if (want > p->limits.connections_per_source)
		want = p->limits.connections_per_source;
	url_args(&v, p->source.imap, "imaps", "143", "993");
	source_args(r, &v);
	if (p->source.compress)
		arg(&v, "--compress");
	pull_args(r, &v, a, a->login, mode, "assess");
	for (i = 0; i < p->folders.include.nr; i++) {
		arg(&v, "--include");
		arg(&v, p->folders.include.v[i]);
	}
	for (i = 0; i < p->folders.exclude.nr; i++) {
		arg(&v, "--exclude");
		arg(&v, p->folders.exclude.v[i]);
	}
	for (i = 0; i < p->folders.skip_special_use.nr; i++) {
		arg(&v, "--skip-special-use");
		arg(&v, p->folders.skip_special_use.v[i]);
	}
	if (p->folders.subscribed_only)
		arg(&v, "--subscribed-only");
	if (is_public(r, a))
		arg(&v, "--public");
	if (want > 1) {
		arg(&v, "--connections");
		arg(&v, own(&v, xasprintf("%lld", want)));
	}
	if (!strcmp(mode, "assess") && sample_wanted(r)) {
		arg(&v, "--sample-bytes");
		arg(&v, "4M");
	}
	if (p->limits.bytes_per_second > 0) {
		/* the limit is for all accounts together, on every
		 * worker */
		arg(&v, "--max-bytes-per-second");
		arg(&v, own(&v, xasprintf("%lld", p->limits.bytes_per_second /
		    p->limits.parallel_accounts / (r->live > 1 ? r->live : 1) +
		    1)));
	}
	return run_pull(r, sl, a, "imap-pull", mode, &v, want, err);
}

/* jmap-pull --mode `mode` of the account: one connection of the source's
 * budget. */
static enum outcome
jmap_pull(struct run *r, struct slot *sl, struct account *a, const char *mode,
    struct buf *err)
{
	struct plan *p = r->p;
	struct args v = { NULL, NULL, 0, 0 };

	arg(&v, "--url");
	arg(&v, p->source.jmap);
	arg(&v, "--user");
	arg(&v, a->login);
	server_args(&v, &p->source);
	pull_args(r, &v, a, NULL, mode, "assess");
	return run_pull(r, sl, a, "jmap-pull", mode, &v, 1, err);
}

/*
 * Pull the account's mail (imap-pull, or jmap-pull for a JMAP source)
 * with --mode `mode`, then its Sieve scripts and DAV resources.  Mode
 * "after" (a pass after the flip) is a delta of the mail only: what still
 * reaches the source is mail from a queue; the user's scripts, calendars
 * and contacts now live on the destination.
 */
enum outcome
pull(struct run *r, struct slot *sl, struct account *a, const char *mode,
    struct buf *err)
{
	struct plan *p = r->p;
	int mail_only = !strcmp(mode, "after");
	enum outcome o;

	if (mail_only)
		mode = "auto";
	o = p->source.jmap ? jmap_pull(r, sl, a, mode, err) :
	    imap_pull(r, sl, a, mode, err);
	if (mail_only || is_public(r, a))
		return o;	/* public folders have no scripts, no DAV */
	if (o == OK && (p->source.sieve || p->source.sieve_dir))
		o = sieve_pull(r, sl, a, mode, err);
	if (o == OK && p->source.dav)
		o = dav_pull(r, sl, a, mode, 0, err);
	if (o == OK && p->source.files)
		o = dav_pull(r, sl, a, mode, 1, err);
	return o;
}

/*
 * What the destination's ManageSieve offers (its SIEVE capability), asked
 * once a run by sieve-push --capabilities, before any login; NULL when
 * the plan has no destination.sieve or it cannot be asked (said once:
 * the scripts are then not checked).
 */
static const char *
dest_sieve(struct run *r, struct slot *sl, struct account *a)
{
	struct args v = { NULL, NULL, 0, 0 };
	struct buf err = BUF_INIT;
	json_t *done = NULL;
	const char *s;

	if (!r->p->destination.sieve)
		return NULL;
	pthread_mutex_lock(&r->lock);
	while (r->dest_sieve_asked == 1)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->dest_sieve_asked) {
		pthread_mutex_unlock(&r->lock);
		return r->dest_sieve;
	}
	r->dest_sieve_asked = 1;
	pthread_mutex_unlock(&r->lock);

	url_args(&v, r->p->destination.sieve, NULL, "4190", NULL);
	server_args(&v, &r->p->destination);
	arg(&v, "--capabilities");
	if (helper(r, sl, a, "sieve-push", "capabilities", v.v, NULL, &done,
	    NULL, &err) == OK && (s = json_string_value(json_object_get(done,
	    "sieve"))))
		r->dest_sieve = xstrdup(s);
	else
		say(r, "the destination's Sieve extensions cannot be read (%s):"
		    " the scripts are not checked against them", err.len ?
		    err.buf : "no answer");
	json_decref(done);
	buf_release(&err);
	args_free(&v);

	pthread_mutex_lock(&r->lock);
	r->dest_sieve_asked = 2;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return r->dest_sieve;
}

/*
 * The Sieve scripts, after the mail: sieve-pull, when the plan has
 * source.sieve; an assessment checks each script's extensions against
 * what the destination offers.
 */
enum outcome
sieve_pull(struct run *r, struct slot *sl, struct account *a,
    const char *mode, struct buf *err)
{
	struct args v = { NULL, NULL, 0, 0 };
	struct secrets sec = SECRETS_INIT;
	json_t *done = NULL;
	const char *offered;
	enum outcome o;

	if (r->p->source.sieve_dir) {
		/* Dovecot's sieve directory on this machine: no login */
		arg(&v, "--dir");
		arg(&v, own(&v, login_of(r->p->source.sieve_dir, a)));
		if (r->p->source.sieve_active) {
			arg(&v, "--active");
			arg(&v, own(&v, login_of(r->p->source.sieve_active,
			    a)));
		}
	} else {
		url_args(&v, r->p->source.sieve, NULL, "4190", NULL);
		source_args(r, &v);
	}
	pull_args(r, &v, a, a->login, mode, "assess-sieve");
	if (!strcmp(mode, "assess") && (offered = dest_sieve(r, sl, a))) {
		arg(&v, "--check-extensions");
		arg(&v, offered);
	}
	if (!r->p->source.sieve_dir && source_secrets(r, a, &sec, err) < 0) {
		args_free(&v);
		return PERMANENT;
	}
	o = helper(r, sl, a, "sieve-pull", !strcmp(mode, "assess") ?
	    "assess" : "pull", v.v, &sec, &done, NULL, err);
	if (o == OK && done) {
		state_add_counters(r->s, a, 0, 0, json_integer_value(
		    json_object_get(done, "anomalies")));
		state_set_items(r->s, a, "Sieve scripts", json_integer_value(
		    json_object_get(done, "scripts")));
	}
	json_decref(done);
	secrets_clear(&sec);
	args_free(&v);
	return o;
}
