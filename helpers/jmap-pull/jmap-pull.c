/*
 * jmap-pull: read one account from a JMAP server (RFC 8620/8621) into
 * its archive, as imap-pull does from IMAP.  See jmap-pull(8) and
 * migrate-archive(5).
 */
#include "compat.h"

#include <getopt.h>
#include <time.h>

#include <curl/curl.h>

#include "evline.h"
#include "helper.h"
#include "jpull.h"
#include "log.h"
#include "secret.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: jmap-pull --url URL [--user USER] [--account ID]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         [--timeout SECONDS]\n"
"         [--mode full|delta|auto|assess] [--archive DIR] [--report FILE]\n"
"         [--size-limit BYTES] [--level N] [--compress-threads N]\n"
"         [--checkpoint-messages N] [--checkpoint-bytes BYTES]\n"
"Secrets on standard input: password=... (with --user) or token=...,\n"
"then an empty line.\n";

static void
parse_options(struct jpull *p, int argc, char **argv)
{
	struct conn_opts co = { 0 };
	const struct opt own[] = {
		STORE_OPTS(&p->st, &p->so),
		OPT_STRING("account", &p->conn.account),
		OPT_END
	};

	store_defaults(&p->st, &p->so);
	helper_options(argc, argv, CONN_URL | CONN_PLAIN | CONN_USER | RUN_ARCHIVE |
	    RUN_REPORT, &co, own, usage_text);
	p->archive = co.archive;
	p->report = co.report;
	if (!co.url)
		helper_usage();
	p->conn.http = conn_opts_http(&co);
	if (p->so.mode != STORE_ASSESS && !p->archive)
		fatalx(EX_USAGE, "--archive is needed unless --mode assess");
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * The archive: its mode (auto chooses), the states of the last complete
 * pass (for a delta), its folders.
 */
static int
open_archive(struct jpull *p, struct buf *err)
{
	char *full, *states;
	json_t *o;
	int rc;

	p->st.helper = "jmap-pull";
	p->st.version = JPULL_VERSION;
	rc = store_open(&p->st, p->archive, store_mode_name(p->so.mode), err);
	if (rc < 0)	/* busy: try later; else the archive is damaged */
		return helper_fail(helper_archive_status(rc));
	full = arcidx_meta(p->st.ix, "pass.full");
	if (p->so.mode == STORE_AUTO)
		p->so.mode = full ? STORE_DELTA : STORE_FULL;
	else if (p->so.mode == STORE_FULL && full)
		buf_addf(err, "archive '%s' already holds a complete full"
		    " pull; use --mode delta", p->archive);
	else if (p->so.mode == STORE_DELTA && !full)
		buf_addf(err, "archive '%s' holds no complete full pull; run"
		    " --mode full first (it continues an interrupted one)",
		    p->archive);
	free(full);
	if (err->len)
		return helper_fail(EX_USAGE);
	states = arcidx_meta(p->st.ix, "jmap.pass");
	o = states ? json_loads(states, 0, NULL) : NULL;
	if (jstr(o, "email_state"))
		p->email_state = xstrdup(jstr(o, "email_state"));
	if (jstr(o, "mailbox_state"))
		p->mailbox_state = xstrdup(jstr(o, "mailbox_state"));
	json_decref(o);
	free(states);
	p->full = p->so.mode == STORE_FULL || !p->email_state;
	if (arcidx_folders(p->st.ix, &p->old, &p->nr_old, err) < 0)
		return helper_fail(EX_DATAERR);
	spool_init(&p->sp, p->archive, 0);
	return 0;
}

/* The folders a pass touched, as the source has them now. */
static int
synced_records(struct jpull *p, struct buf *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < p->nr_folders && !ret; i++) {
		struct jfolder *f = &p->folders[i];
		json_t *rec;

		if (f->old && f->old->synced && !f->touched &&
		    f->old->uidnext == f->next_uid &&
		    f->old->messages == f->messages)
			continue;
		rec = json_pack("{s:s, s:s, s:i, s:I, s:i, s:I}", "t",
		    "folder-synced", "name", f->name, "uidvalidity",
		    JPULL_UIDVALIDITY, "uidnext", (json_int_t)f->next_uid,
		    "highestmodseq", 0, "messages", (json_int_t)f->messages);
		ret = store_record(&p->st, rec, err);
		json_decref(rec);
	}
	return ret;
}

static int
same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The end of a pass: the states it reached, and the pass itself. */
static int
finish(struct jpull *p, struct buf *err)
{
	json_t *states, *pass;
	int rc = 0;

	if (synced_records(p, err) < 0)
		return helper_fail(EX_TEMPFAIL);
	if (!p->st.dirty && !p->st.segments &&
	    same(p->email_state, p->new_email_state) &&
	    same(p->mailbox_state, p->new_mailbox_state)) {
		store_abort(&p->st);	/* nothing changed: no segment */
		return 0;
	}
	states = json_pack("{s:s, s:s?, s:s?, s:I}", "t", "jmap-pass",
	    "email_state", p->new_email_state, "mailbox_state",
	    p->new_mailbox_state, "time", (json_int_t)time(NULL));
	rc = store_record(&p->st, states, err);
	json_decref(states);
	pass = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "t", "pass",
	    "mode", p->so.mode == STORE_FULL ? "full" : "delta", "complete", 1,
	    "time", (json_int_t)time(NULL), "messages",
	    (json_int_t)p->msgs_done, "bytes", (json_int_t)p->bytes_done);
	if (rc == 0)
		rc = store_finish(&p->st, pass, err);
	json_decref(pass);
	return rc < 0 ? helper_fail(EX_TEMPFAIL) : 0;
}

static int
write_report(struct jpull *p, struct buf *err)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I}, s:O,"
	    " s:o}", "account", p->conn.http.user ? p->conn.http.user :
	    p->j->account_id, "host", p->conn.http.url, "helper", "jmap-pull",
	    "time", (json_int_t)time(NULL), "totals", "folders",
	    (json_int_t)p->nr_folders, "messages", (json_int_t)p->msgs_total,
	    "bytes", (json_int_t)p->bytes_total, "anomalies",
	    (json_int_t)helper_anomaly_count(), "folders", p->report_folders,
	    "anomalies", helper_anomaly_list());
	return helper_report(p->report, o, err);
}

static int
run(struct jpull *p, struct buf *err)
{
	if (jmap_open(&p->j, &p->conn, err) < 0)
		return helper_fail(p->j->fail);
	if (p->so.mode != STORE_ASSESS && (open_archive(p, err) < 0 ||
	    emails_load(p, err) < 0))
		return -1;
	if (mailboxes_sync(p, err) < 0)
		return -1;
	if (p->so.mode == STORE_ASSESS) {
		if (emails_assess(p, err) < 0)
			return -1;
		return p->report && write_report(p, err) < 0 ?
		    helper_fail(EX_CANTCREAT) : 0;
	}
	if (emails_sync(p, err) < 0)
		return -1;
	return finish(p, err);
}

int
main(int argc, char **argv)
{
	static struct jpull the_run;
	struct jpull *p = &the_run;
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int code = 0;

	helper_init("jmap-pull", JPULL_VERSION);
	parse_options(p, argc, argv);
	helper_start(&sec, p->conn.http.user, (char *)NULL);
	p->conn.http.password = secrets_get(&sec, "password");
	p->conn.token = secrets_get(&sec, "token");
	if (!p->conn.token && !(p->conn.http.user && p->conn.http.password))
		fatalx(EX_USAGE, "give --user with password=..., or token=...,"
		    " on standard input");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	p->report_folders = json_array();
	if (run(p, &err) < 0) {
		code = helper_status(EX_SOFTWARE);
		log_warnx("%s", err.len ? err.buf : "failed");
		goto out;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b,"
	    " s:I, s:f}", "folders", (json_int_t)p->nr_folders, "messages",
	    (json_int_t)p->msgs_done, "bytes", (json_int_t)p->bytes_done,
	    "matched", (json_int_t)p->matched, "flag_changes",
	    (json_int_t)p->flag_changes, "expunged", (json_int_t)p->expunged,
	    "segments", (json_int_t)p->st.segments, "full_comparison",
	    p->full, "anomalies", (json_int_t)helper_anomaly_count(), "seconds",
	    helper_seconds());
	store_log_done(&p->so, p->msgs_total, p->msgs_done, p->bytes_total,
	    p->bytes_done, helper_seconds());
out:
	secrets_clear(&sec);
	store_abort(&p->st);
	spool_release(&p->sp);
	jmap_close(&p->j);
	curl_global_cleanup();
	folders_free(p);
	arc_folders_free(p->old, p->nr_old);
	json_decref(p->rows);
	json_decref(p->report_folders);
	free(p->email_state);
	free(p->mailbox_state);
	free(p->new_email_state);
	free(p->new_mailbox_state);
	buf_release(&err);
	return code;
}
