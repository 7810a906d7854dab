/*
 * sieve-push: make the destination hold the Sieve scripts an account's
 * archive holds, through ManageSieve, then read them back and compare.
 * See sieve-push(8).
 */
#include "compat.h"

#include <getopt.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "managesieve.h"
#include "secret.h"
#include "xalloc.h"

#define SIEVE_PUSH_VERSION	"1"

static const char usage_text[] =
"usage: sieve-push --host HOST [--port PORT] [--tls starttls|implicit|none]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         --user USER [--auth-user ADMIN [--master-separator C]]\n"
"         [--timeout SECONDS]\n"
"         --archive DIR [--verify-only] [--report FILE]\n"
"       sieve-push --host HOST [--port PORT] [--tls ...] [--ca-file FILE]\n"
"         [--insecure] --capabilities\n"
"The password comes on standard input: password=... and an empty line;\n"
"--capabilities needs none: it tells what the server offers before login.\n";

static struct {
	struct conn_opts conn;
	struct arcidx *ix;
	struct msv *ms;
	struct arc_sieve *v;
	size_t nr;
	struct msv_script *dest;	/* what the destination lists */
	size_t nr_dest;
	uint64_t pushed, unchanged, refused, deleted;
	json_t *diffs;
	int capabilities;	/* --capabilities */
} push;

static void
parse_options(int argc, char **argv)
{
	const struct opt own[] = {
		OPT_FLAG("capabilities", &push.capabilities),
		OPT_END
	};

	helper_options(argc, argv, CONN_SERVER | CONN_PLAIN | CONN_USER |
	    CONN_ADMIN | RUN_ARCHIVE | RUN_VERIFY | RUN_REPORT, &push.conn,
	    own, usage_text);
	if (!push.conn.srv.host || (!push.capabilities && (!push.conn.user ||
	    !push.conn.archive)))
		helper_usage();
	conn_opts_server(&push.conn, "4190", NULL);
}

/* The destination's entry for a name, or NULL. */
static struct msv_script *
dest_of(const char *name)
{
	size_t i;

	for (i = 0; i < push.nr_dest; i++)
		if (!strcmp(push.dest[i].name, name))
			return &push.dest[i];
	return NULL;
}

static const char *
dest_active(void)
{
	size_t i;

	for (i = 0; i < push.nr_dest; i++)
		if (push.dest[i].active)
			return push.dest[i].name;
	return NULL;
}

static int
list_dest(struct buf *err)
{
	msv_scripts_free(push.dest, push.nr_dest);
	push.dest = NULL;
	push.nr_dest = 0;
	return msv_list(push.ms, &push.dest, &push.nr_dest, err) == 1 ? 0 : -1;
}

/* A command the destination answered NO to: an anomaly with its reason. */
static int
refused(int rc, const char *kind, const char *name, struct buf *err)
{
	if (rc != 0)
		return rc;
	helper_anomaly(kind, name, 0, "%s", err->buf);
	buf_reset(err);
	return 0;
}

/* Every script of the archive onto the destination, once. */
static int
put_all(struct buf *err)
{
	struct buf text = BUF_INIT, why = BUF_INIT;
	size_t i;
	int rc, ret = -1;

	for (i = 0; i < push.nr; i++) {
		struct arc_sieve *s = &push.v[i];

		if (!s->hash[0])
			continue;	/* gone from the source: below */
		if (!strcmp(s->push_state, "done") &&
		    !strcmp(s->push_hash, s->hash) && dest_of(s->name)) {
			push.unchanged++;
			continue;
		}
		buf_reset(&text);
		rc = arcidx_blob_read(push.ix, s->hash, &text, err);
		if (rc != 1) {
			if (rc == 0)
				buf_addf(err, "the archive lacks the script"
				    " '%s' (%s)", s->name, s->hash);
			goto out;
		}
		/* what the destination was asked to hold, before asking */
		if (arcidx_push_sieve_set(push.ix, s->name, s->hash, "sending",
		    NULL, err) < 0)
			goto out;
		rc = msv_put(push.ms, s->name, text.buf, text.len, err);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			/* kept in the archive, reported, never dropped */
			buf_reset(&why);
			buf_add(&why, err->buf, err->len);
			helper_anomaly("sieve-refused",
			    s->name, 0, "the destination"
			    " refused the script: %s", why.buf);
			buf_reset(err);
			push.refused++;
			if (arcidx_push_sieve_set(push.ix, s->name, s->hash,
			    "failed", why.buf, err) < 0)
				goto out;
			free(s->push_state);
			s->push_state = xstrdup("failed");
			continue;
		}
		if (arcidx_push_sieve_set(push.ix, s->name, s->hash, "done",
		    NULL, err) < 0)
			goto out;
		free(s->push_state);
		s->push_state = xstrdup("done");
		push.pushed++;
	}
	ret = 0;
out:
	buf_release(&text);
	buf_release(&why);
	return ret;
}

/*
 * Scripts deleted at the source and pushed before are deleted (the active
 * one deactivated first: servers refuse to delete it); then the active
 * script is the source's.
 */
static int
delete_and_activate(struct buf *err)
{
	const char *want = NULL, *have;
	struct arc_sieve *s = NULL;
	struct msv_script *d;
	size_t i;
	int rc;

	if (list_dest(err) < 0)
		return -1;
	for (i = 0; i < push.nr; i++) {
		s = &push.v[i];
		if (s->hash[0])
			continue;
		if ((d = dest_of(s->name)) && !strcmp(s->push_state, "done")) {
			if (d->active && msv_setactive(push.ms, "", err) < 0)
				return -1;
			if ((rc = refused(msv_delete(push.ms, s->name, err),
			    "sieve-delete", s->name, err)) < 0)
				return -1;
			if (rc == 0)
				continue;
			push.deleted++;
		}
		if (arcidx_push_sieve_set(push.ix, s->name, NULL, NULL, NULL,
		    err) < 0)
			return -1;
	}
	if (list_dest(err) < 0)
		return -1;
	have = dest_active();
	for (i = 0, s = NULL; i < push.nr; i++)
		if (push.v[i].hash[0] && push.v[i].active)
			s = &push.v[i];
	if (s && strcmp(s->push_state, "done"))
		helper_anomaly("sieve-active-refused", s->name, 0,
		    "the script active at"
		    " the source is not on the destination: no script is made"
		    " active there");
	else if (s)
		want = s->name;
	if (want && (!have || strcmp(have, want)))
		return refused(msv_setactive(push.ms, want, err),
		    "sieve-setactive", want, err);
	/* none active at the source and one of ours is: none */
	for (i = 0; !want && have && i < push.nr; i++)
		if (!strcmp(push.v[i].name, have) && push.v[i].push_state[0])
			return refused(msv_setactive(push.ms, "", err),
			    "sieve-setactive", have, err);
	return 0;
}

/*
 * Every script read back and compared; differences go into push.diffs.
 * Scripts the destination refused are not differences: each was an
 * anomaly when refused, and stays recorded as failed.
 */
static int
verify(struct buf *err)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct msv_script *d;
	const char *why;
	size_t i;
	int rc, ret = -1;

	if (list_dest(err) < 0)
		return -1;
	for (i = 0; i < push.nr; i++) {
		struct arc_sieve *s = &push.v[i];

		why = NULL;
		d = dest_of(s->name);
		if (!s->hash[0]) {
			if (d && s->push_state[0])
				why = "deleted at the source, still on the"
				    " destination";
		} else if (!strcmp(s->push_state, "failed")) {
			/* refused: an anomaly already, with its reason */
			continue;
		} else if (!d) {
			why = "missing";
		} else if (!!d->active != !!s->active) {
			why = s->active ? "active at the source, not on the"
			    " destination" : "active on the destination, not"
			    " at the source";
		} else {
			buf_reset(&want);
			buf_reset(&got);
			if (arcidx_blob_read(push.ix, s->hash, &want, err) != 1)
				goto out;
			if ((rc = msv_get(push.ms, s->name, &got, err)) < 0)
				goto out;
			if (rc == 0 || got.len != want.len ||
			    memcmp(got.buf, want.buf, got.len))
				why = "the text differs";
			buf_reset(err);
		}
		if (why)
			json_array_append_new(push.diffs, json_pack("{s:s,"
			    " s:s}", "name", s->name, "difference", why));
	}
	evline_write(1, "progress", "{s:s, s:I, s:I}", "verify",
	    json_array_size(push.diffs) ? "differs" : "equal", "checked",
	    (json_int_t)push.nr, "differences",
	    (json_int_t)json_array_size(push.diffs));
	for (i = 0; i < json_array_size(push.diffs); i++) {
		json_t *o = json_array_get(push.diffs, i);

		log_warnx("verify: '%s': %s",
		    json_string_value(json_object_get(o, "name")),
		    json_string_value(json_object_get(o, "difference")));
	}
	ret = 0;
out:
	buf_release(&want);
	buf_release(&got);
	return ret;
}

static int
write_report(struct buf *err)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:O}", "account",
	    push.conn.user, "destination", push.conn.srv.host, "helper",
	    "sieve-push", "scripts", (json_int_t)push.nr, "pushed",
	    (json_int_t)push.pushed, "refused", (json_int_t)push.refused,
	    "anomalies", (json_int_t)helper_anomaly_count(),
	    "differences", push.diffs);
	return helper_report(push.conn.report, o, err);
}

/*
 * --capabilities: what the server offers before login, in the done event
 * (the assessment checks each script's extensions against "sieve").
 */
static int
capabilities(void)
{
	struct buf err = BUF_INIT;
	int code = 0;

	if (msv_connect(&push.ms, &push.conn.srv, &err) < 0) {
		log_warnx("%s", err.buf);
		code = push.ms && push.ms->lc.fail ? push.ms->lc.fail :
		    EX_TEMPFAIL;
	} else {
		evline_write(1, "done", "{s:s, s:s, s:s, s:f}", "sieve",
		    push.ms->sieve.buf, "implementation",
		    push.ms->implementation.buf, "sasl", push.ms->sasl.buf,
		    "seconds", helper_seconds());
		log_info("%s:%s (%s) offers: %s", push.conn.srv.host,
		    push.conn.srv.port, push.ms->implementation.buf,
		    push.ms->sieve.buf);
	}
	msv_free(&push.ms);
	buf_release(&err);
	return code;
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	const char *password;
	int code = EX_SOFTWARE, rc;

	helper_init("sieve-push", SIEVE_PUSH_VERSION);
	parse_options(argc, argv);
	if (push.capabilities) {
		helper_start(&sec, push.conn.user, (char *)NULL);
		secrets_clear(&sec);
		return capabilities();
	}
	helper_start(&sec, push.conn.user, "password", (char *)NULL);
	password = secrets_get(&sec, "password");
	push.diffs = json_array();
	if ((rc = arcidx_open(&push.ix, push.conn.archive, 1, &err)) < 0 ||
	    arcidx_catch_up(push.ix, &err) < 0 ||
	    arcidx_sieve(push.ix, &push.v, &push.nr, &err) < 0) {
		code = helper_archive_status(rc);
		log_warnx("%s", err.buf);
		goto out;
	}
	if (msv_connect(&push.ms, &push.conn.srv, &err) < 0 ||
	    msv_login(push.ms, push.conn.user, push.conn.auth_user,
	    push.conn.master_sep, password, &err) < 0 ||
	    list_dest(&err) < 0 ||
	    (!push.conn.verify_only && (put_all(&err) < 0 ||
	    delete_and_activate(&err) < 0)) ||
	    verify(&err) < 0) {
		log_warnx("%s", err.buf);
		code = push.ms && push.ms->lc.fail ? push.ms->lc.fail :
		    EX_TEMPFAIL;
		goto out;
	}
	if (push.conn.report && write_report(&err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_CANTCREAT;
		goto out;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "scripts", (json_int_t)push.nr, "pushed", (json_int_t)push.pushed,
	    "unchanged", (json_int_t)push.unchanged, "refused",
	    (json_int_t)push.refused, "deleted", (json_int_t)push.deleted,
	    "differences", (json_int_t)json_array_size(push.diffs),
	    "anomalies", (json_int_t)helper_anomaly_count(), "seconds",
	    helper_seconds());
	log_info("%" PRIu64 " scripts pushed, %" PRIu64 " unchanged, %" PRIu64
	    " refused, %" PRIu64 " deleted; verify: %zu differences",
	    push.pushed, push.unchanged, push.refused, push.deleted,
	    json_array_size(push.diffs));
	/* a refused script or a difference is the data's fault: 65 */
	code = push.refused || json_array_size(push.diffs) ? EX_DATAERR : 0;
out:
	secrets_clear(&sec);
	msv_free(&push.ms);
	msv_scripts_free(push.dest, push.nr_dest);
	arc_sieve_free(push.v, push.nr);
	arcidx_close(&push.ix);
	json_decref(push.diffs);
	buf_release(&err);
	return code;
}
