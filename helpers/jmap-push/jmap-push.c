/*
 * jmap-push: make the destination hold what an account's archive holds,
 * through JMAP.  See jmap-push(8).
 */
#include "compat.h"

#include <getopt.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>

#include "evline.h"
#include "helper.h"
#include "log.h"
#include "opt.h"
#include "push.h"
#include "secret.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: jmap-push --url URL [--user USER] [--account ID] --archive DIR\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         [--timeout SECONDS]\n"
"         [--deleted skip|trash] [--refused rescue|report]\n"
"         [--after-cutover] [--delete-removed] [--batch N]\n"
"         [--batch-bytes BYTES] [--verify [--verify-content]]\n"
"         [--verify-delta] [--verify-only] [--report FILE]\n"
"         [--share-ready FILE] [--shares-only]\n"
"Secrets on standard input: password=... (with --user) or token=...,\n"
"then an empty line.\n";

static void
parse_options(struct push *p, int argc, char **argv)
{
	struct conn_opts co = { 0 };
	const struct opt own[] = {
		OPT_STRING("account", &p->jo.account),
		OPT_CHOICE("deleted", &p->deleted_to_trash, "skip|trash"),
		OPT_CHOICE("refused", &p->rescue, "report|rescue"),
		OPT_FLAG("after-cutover", &p->after_cutover),
		OPT_FLAG("delete-removed", &p->delete_removed),
		OPT_INT("batch", &p->batch_msgs, 1, INT_MAX),
		OPT_SIZE("batch-bytes", &p->batch_bytes, 1),
		OPT_FLAG("verify", &p->verify),
		OPT_FLAG("verify-content", &p->verify_content),
		OPT_FLAG("verify-delta", &p->verify_delta),
		OPT_STRING("share-ready", &p->share_ready),
		OPT_FLAG("shares-only", &p->shares_only),
		OPT_END
	};

	p->batch_msgs = 200;
	p->batch_bytes = 16u << 20;
	p->rescue = 1;
	helper_options(argc, argv, CONN_URL | CONN_PLAIN | CONN_USER | RUN_ARCHIVE |
	    RUN_VERIFY | RUN_REPORT, &co, own, usage_text);
	p->verify |= p->verify_content | p->verify_delta;
	p->archive = co.archive;
	p->report = co.report;
	if (co.verify_only)
		p->verify = p->verify_only = 1;
	if (!co.url || !p->archive)
		helper_usage();
	p->jo.http = conn_opts_http(&co);
}

static void
cleanup(struct push *p)
{
	size_t i;

	for (i = 0; i < p->nr_want; i++) {
		free(p->want[i].mailboxes);
		free(p->want[i].keywords);
		free(p->want[i].folder);
	}
	free(p->want);
	arc_units_free(p->units, p->nr_units);
	for (i = 0; i < p->nr_map; i++) {
		free(p->map[i].folder);
		free(p->map[i].id);
	}
	free(p->map);
	free(p->inbox_id);
	free(p->trash_id);
	json_decref(p->shares_pending);
	json_decref(p->recon);
	jmap_close(&p->j);
	arcidx_close(&p->ix);
}

int
main(int argc, char **argv)
{
	struct push push, *p = &push;
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int code = EX_SOFTWARE, rc;

	memset(p, 0, sizeof(*p));
	p->shares_pending = json_array();
	p->shares_ready = -2;
	helper_init("jmap-push", PUSH_VERSION);
	parse_options(p, argc, argv);
	helper_start(&sec, p->jo.http.user, (char *)NULL);
	p->jo.http.password = secrets_get(&sec, "password");
	p->jo.token = secrets_get(&sec, "token");
	if (!p->jo.token && !(p->jo.http.user && p->jo.http.password))
		fatalx(EX_USAGE, "give --user with password=..., or token=...,"
		    " on standard input");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = arcidx_open(&p->ix, p->archive, 1, &err);
	if (rc == 0)
		rc = arcidx_catch_up(p->ix, &err);
	if (rc < 0) {
		log_warnx("%s", err.buf);
		code = helper_archive_status(rc);
		goto out;
	}
	if (jmap_open(&p->j, &p->jo, &err) < 0) {
		log_warnx("%s", err.buf);
		code = p->j->fail ? p->j->fail : EX_SOFTWARE;
		goto out;
	}
	log_info("pushing to %s, account %s", p->j->api_url,
	    p->j->account_id);
	if (push_mailboxes(p, &err) < 0 || (!p->shares_only &&
	    (push_plan(p, &err) < 0 || (!p->verify_only &&
	    push_emails(p, &err) < 0))) || (!p->verify_only &&
	    (!p->after_cutover || p->shares_only) &&
	    push_shares(p, &err) < 0)) {
		log_warnx("%s", err.buf);
		code = p->j->fail ? p->j->fail : EX_TEMPFAIL;
		goto out;
	}
	code = p->failed ? EX_DATAERR : 0;
	if (p->verify && !p->shares_only) {
		/* the state as pushed, for what verify compares */
		if (push_plan_join(p, &err) < 0)
			goto fail;
		rc = push_verify(p, &err);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			code = EX_DATAERR;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "emails",
	    (json_int_t)p->nr_want,
	    "rescued", (json_int_t)p->rescued, "deleted_not_carried",
	    (json_int_t)p->deleted_skipped, "adopted", (json_int_t)p->adopted,
	    "changed_on_destination", (json_int_t)p->user_changed, "imported",
	    (json_int_t)p->imported, "matched", (json_int_t)p->matched,
	    "updated", (json_int_t)p->updated, "failed",
	    (json_int_t)p->failed, "removed", (json_int_t)p->removed, "stale",
	    (json_int_t)p->stale, "mailboxes_created",
	    (json_int_t)p->mailboxes_created, "bytes_uploaded",
	    (json_int_t)p->j->bytes_up, "seconds", helper_seconds(),
	    "shares", p->shares_ready < -1 ? json_null() :
	    json_pack("{s:I, s:O, s:I}", "set", (json_int_t)p->shares_set,
	    "pending", p->shares_pending, "ready",
	    (json_int_t)p->shares_ready));
	if (p->deleted_skipped)
		log_info("%" PRIu64 " messages flagged \\Deleted at the source"
		    " not carried", p->deleted_skipped);
	log_info("%" PRIu64 " imported, %" PRIu64 " already there, %" PRIu64
	    " adopted, %" PRIu64 " updated, %" PRIu64 " rescued, %" PRIu64
	    " failed in %.1f s (%lu requests)", p->imported, p->matched,
	    p->adopted, p->updated, p->rescued, p->failed,
	    helper_seconds(), p->j->requests + p->j->uploads);
	goto out;
fail:
	log_warnx("%s", err.buf);
	code = p->j->fail ? p->j->fail : EX_TEMPFAIL;
out:
	cleanup(p);
	secrets_clear(&sec);
	buf_release(&err);
	curl_global_cleanup();
	return code;
}
