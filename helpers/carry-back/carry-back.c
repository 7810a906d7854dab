/*
 * carry-back: before a rollback, carry back to the source what the user
 * did on the destination since the flip.  See carry-back(8).
 */
#include "compat.h"

#include <curl/curl.h>
#include <getopt.h>

#include "back.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "secret.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: carry-back --archive DIR --url URL [--dest-user USER]\n"
"         [--account ID] [--dest-ca-file FILE] [--dest-insecure]\n"
"         [--dest-allow-plaintext]\n"
"         --host HOST [--port PORT] [--tls implicit|starttls|none]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         --user USER [--auth-user ADMIN [--master-separator C]]\n"
"         [--auth auto|plain|login] [--timeout SECONDS] [--check]\n"
"         [--report FILE]\n"
"Secrets come on standard input: password=... (the source's), and\n"
"dest_password=... or dest_token=..., then an empty line.\n";

static void
parse_options(struct back *b, int argc, char **argv)
{
	const struct opt own[] = {
		OPT_STRING("url", &b->jo.http.url),
		OPT_STRING("dest-user", &b->jo.http.user),
		OPT_STRING("account", &b->jo.account),
		OPT_STRING("dest-ca-file", &b->jo.http.ca_file),
		OPT_FLAG("dest-insecure", &b->jo.http.insecure),
		OPT_FLAG("dest-allow-plaintext", &b->jo.http.allow_plaintext),
		OPT_FLAG("check", &b->check),
		OPT_END
	};

	helper_options(argc, argv, CONN_SERVER | CONN_PLAIN | CONN_USER |
	    CONN_ADMIN | CONN_SASL | RUN_ARCHIVE | RUN_REPORT, &b->io, own,
	    usage_text);
	b->archive = b->io.archive;
	b->report = b->io.report;
	if (!b->archive || !b->jo.http.url || !b->io.srv.host || !b->io.user)
		helper_usage();
	b->jo.http.timeout = b->io.timeout;
	conn_opts_server(&b->io, "143", "993");
}

/* The source, as imap-pull logs in to it (the same names for folders). */
static int
source_open(struct back *b, const char *password, struct buf *err)
{
	int rc;

	if (imap_connect(&b->im, &b->io.srv, err) < 0 ||
	    imap_login_as(b->im, (enum imap_auth)b->io.auth, b->io.user,
	    b->io.auth_user, b->io.master_sep, password, err) < 0 ||
	    (rc = imap_enable_utf8(b->im, err)) < 0)
		return -1;
	b->utf8 = rc;
	return 0;
}

static const char *const act_names[] = { "append", "flags", "delete" };

static json_t *
actions_json(struct back *b)
{
	json_t *v = json_array();
	size_t i;

	for (i = 0; i < b->nr_acts; i++) {
		struct baction *a = &b->acts[i];

		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b}",
		    "action", act_names[a->what], "folder",
		    b->folders[a->folder].name, "hash", a->hash, "email",
		    a->email_id, "flags", a->flags, "done", a->done);

		if (a->uid)
			json_object_set_new(o, "uid", json_integer(a->uid));
		json_array_append_new(v, o);
	}
	return v;
}

static int
run(struct back *b, const char *password, struct buf *err)
{
	if (jmap_open(&b->j, &b->jo, err) < 0)
		return b->j->fail ? b->j->fail : EX_UNAVAILABLE;
	if (source_open(b, password, err) < 0)
		return b->im->lc.fail ? b->im->lc.fail : EX_UNAVAILABLE;
	if (back_plan(b, err) < 0)
		return b->j->fail ? b->j->fail : EX_TEMPFAIL;
	log_info("%zu changes to carry back, %zu emails of the user's own",
	    b->nr_acts, b->nr_news);
	if (b->check)
		return b->nr_acts ? EX_DATAERR : 0;
	if (back_apply(b, err) < 0)
		return b->im->lc.fail ? b->im->lc.fail : EX_TEMPFAIL;
	return helper_anomaly_count() ? EX_DATAERR : 0;
}

static void
cleanup(struct back *b)
{
	size_t i;

	imap_free(&b->im);
	jmap_close(&b->j);
	arcidx_close(&b->ix);
	for (i = 0; i < b->nr_folders; i++) {
		free(b->folders[i].name);
		free(b->folders[i].raw);
		free(b->folders[i].mailbox_id);
	}
	free(b->folders);
	for (i = 0; i < b->nr_acts; i++) {
		free(b->acts[i].email_id);
		free(b->acts[i].flags);
	}
	free(b->acts);
	for (i = 0; i < b->nr_news; i++) {
		free(b->news[i].email_id);
		free(b->news[i].mailboxes);
		free(b->news[i].keywords);
	}
	free(b->news);
	json_decref(b->emails);
	json_decref(b->identity);
}

int
main(int argc, char **argv)
{
	struct back back, *b = &back;
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	const char *password;
	int code, rc;

	memset(b, 0, sizeof(*b));
	helper_init("carry-back", BACK_VERSION);
	parse_options(b, argc, argv);
	helper_start(&sec, b->io.user, (char *)NULL);
	password = secrets_get(&sec, "password");
	b->jo.http.password = secrets_get(&sec, "dest_password");
	b->jo.token = secrets_get(&sec, "dest_token");
	if (!b->jo.http.password && !b->jo.token)
		b->jo.http.password = password;	/* the same on both */
	if (!password || !(b->jo.token || b->jo.http.user))
		fatalx(EX_USAGE, "give password=... (and dest_password=... or"
		    " dest_token=...) on standard input, and --dest-user"
		    " unless with a token");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	b->emails = json_object();
	b->identity = json_object();
	rc = arcidx_open(&b->ix, b->archive, 1, &err);
	if (rc == 0)
		rc = arcidx_catch_up(b->ix, &err);
	if (rc < 0)
		code = helper_archive_status(rc);
	else
		code = run(b, password, &err);
	if (err.len)
		log_warnx("%s", err.buf);
	if (b->report) {
		json_t *o = json_pack("{s:o, s:o}", "actions", actions_json(b),
		    "anomalies", helper_anomaly_list());

		buf_reset(&err);
		if (evline_report(b->report, o, &err) < 0)
			log_warnx("%s", err.buf);
		json_decref(o);
	}
	if (code == 0 || code == EX_DATAERR)
		evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
		    " s:I, s:I, s:I, s:f}", "planned", (json_int_t)b->nr_acts,
		    "appended", (json_int_t)b->appended, "flags_set",
		    (json_int_t)b->flagged, "removed", (json_int_t)b->deleted,
		    "folders_created", (json_int_t)b->created,
		    "folders_removed", (json_int_t)b->removed_folders,
		    "recorded", (json_int_t)b->recorded, "downloaded",
		    (json_int_t)b->downloaded, "bytes", (json_int_t)b->bytes,
		    "anomalies", (json_int_t)helper_anomaly_count(), "seconds",
		    helper_seconds());
	log_info("%s: %" PRIu64 " appended, %" PRIu64 " flag changes, %"
	    PRIu64 " removed, %" PRIu64 " folders created, %" PRIu64
	    " removed in %.1f s", b->check ? "checked" : "carried back",
	    b->appended, b->flagged, b->deleted, b->created,
	    b->removed_folders, helper_seconds());
	cleanup(b);
	secrets_clear(&sec);
	buf_release(&err);
	curl_global_cleanup();
	return code;
}
