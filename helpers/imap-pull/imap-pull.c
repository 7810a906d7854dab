/*
 * imap-pull: read one account from an IMAP server into its archive.
 * See imap-pull(8) and migrate-archive(5).
 */
#include "compat.h"

#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "evline.h"
#include "log.h"
#include "opt.h"
#include "pull.h"
#include "secret.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: imap-pull --host HOST [--port PORT] [--tls implicit|starttls|none]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext] [--compress]\n"
"         --user USER [--auth-user ADMIN [--master-separator C]]\n"
"         [--auth auto|plain|login] [--timeout SECONDS]\n"
"         [--mode full|delta|auto|assess] [--archive DIR] [--report FILE]\n"
"         [--include GLOB]... [--exclude GLOB]... [--subscribed-only]\n"
"         [--public]\n"
"         [--skip-special-use FLAG]... [--size-limit BYTES]\n"
"         [--level N] [--compress-threads N] [--batch N] [--connections N]\n"
"         [--checkpoint-messages N]\n"
"         [--checkpoint-bytes BYTES] [--max-bytes-per-second N]\n"
"         [--sample-bytes BYTES]\n"
"The password comes on standard input: password=... and an empty line.\n";

static struct pull pull;

static void
parse_options(struct pull *p, int argc, char **argv)
{
	const struct opt own[] = {
		STORE_OPTS(&p->st, &p->so),
		OPT_LIST("include", &p->include),
		OPT_LIST("exclude", &p->exclude),
		OPT_FLAG("subscribed-only", &p->subscribed_only),
		OPT_FLAG("public", &p->public_ns),
		OPT_LIST("skip-special-use", &p->skip_special),
		OPT_FLAG("compress", &p->compress),
		OPT_INT("connections", &p->connections, 1, 16),
		OPT_INT("batch", &p->batch, 1, INT_MAX),
		OPT_SIZE("max-bytes-per-second", &p->sp.max_bps, 1024),
		OPT_SIZE("sample-bytes", &p->sample_bytes, 0),
		OPT_END
	};

	p->batch = 500;
	p->connections = 1;
	store_defaults(&p->st, &p->so);
	helper_options(argc, argv, CONN_SERVER | CONN_PLAIN | CONN_USER |
	    CONN_ADMIN | CONN_SASL | RUN_ARCHIVE | RUN_REPORT, &p->conn, own,
	    usage_text);
	p->archive = p->conn.archive;
	p->report = p->conn.report;
	if (!p->conn.srv.host || !p->conn.user)
		helper_usage();
	if (p->so.mode != STORE_ASSESS && !p->archive)
		fatalx(EX_USAGE, "--archive is needed unless --mode assess");
	conn_opts_server(&p->conn, "143", "993");
}

static int
login(struct pull *p, struct imap *im, const char *password,
    struct buf *err)
{
	const struct conn_opts *co = &p->conn;
	int ret = imap_login_as(im, (enum imap_auth)co->auth, co->user,
	    co->auth_user, co->master_sep, password, err);

	if (ret == 0 && im == p->im)
		log_info("logged in to %s:%s as %s%s%s%s", co->srv.host,
		    co->srv.port, co->user, co->auth_user ? " (by " : "",
		    co->auth_user ? co->auth_user : "", co->auth_user ? ")" :
		    "");
	return ret;
}

static int
session_setup(struct pull *p, struct imap *im, struct buf *err)
{
	int rc;

	if (im->caps & IMAP_CAP_ID) {
		if (imap_simple(im, NULL, NULL, err, "ID (\"name\""
		    " \"migrate imap-pull\" \"version\" \"" PULL_VERSION
		    "\")") < 0)
			return -1;
		buf_reset(err);
	}
	if (p->compress && !(im->caps & IMAP_CAP_COMPRESS))
		log_info("the server does not offer COMPRESS=DEFLATE");
	else if (p->compress) {
		if (imap_simple(im, NULL, NULL, err,
		    "COMPRESS DEFLATE") != 1 ||
		    tls_conn_compress(im->lc.conn, err) < 0) {
			if (!im->lc.fail)
				im->lc.fail = EX_PROTOCOL;
			return -1;
		}
		log_debug("compressing: %s", tls_conn_describe(im->lc.conn));
	}
	if ((rc = imap_enable_utf8(im, err)) < 0)
		return -1;
	if (rc)
		p->utf8 = 1;
	return 0;
}

static int
conn_open(struct pull *p, struct imap **im_r, const char *password,
    struct buf *err)
{
	if (imap_connect(im_r, &p->conn.srv, err) < 0 ||
	    login(p, *im_r, password, err) < 0 ||
	    session_setup(p, *im_r, err) < 0)
		return -1;
	return 0;
}

/* The folders with bodies to fetch, largest first, for the connections. */
static struct folder *
next_folder(struct pull *p)
{
	struct folder *best = NULL;
	size_t i;

	pull_lock(p);
	for (i = 0; !p->stop && i < p->nr_folders; i++) {
		struct folder *f = &p->folders[i];

		if (f->nr_fetch && !f->taken &&
		    (!best || f->fetch_bytes > best->fetch_bytes))
			best = f;
	}
	if (best)
		best->taken = 1;
	pull_unlock(p);
	return best;
}

static void *
fetch_worker(void *arg)
{
	struct conn *c = arg;
	struct pull *p = c->p;
	struct folder *f;

	if (!c->im && conn_open(p, &c->im, p->password, &c->err) < 0)
		goto fail;
	while ((f = next_folder(p)))
		if (sync_fetch(c, f, &c->err) < 0)
			goto fail;
	return NULL;
fail:
	c->fail = c->im && c->im->lc.fail ? c->im->lc.fail : EX_SOFTWARE;
	pull_lock(p);
	if (!p->stop)
		p->failed = c;
	p->stop = 1;
	pull_unlock(p);
	return NULL;
}

/*
 * Fetch the bodies over p->connections connections, the first being the
 * one the plan was made on; folders go to whichever is free.
 */
static int
fetch_all(struct pull *p, const char *password, struct buf *err)
{
	struct conn *c = xcalloc((size_t)p->connections, sizeof(*c));
	int i, started = 0, ret = 0;

	p->password = password;
	/* --max-bytes-per-second is for the whole run */
	p->sp.max_bps /= (uint64_t)p->connections;
	for (i = 0; i < p->connections; i++) {
		c[i].p = p;
		buf_init(&c[i].err, 0);
		if (i == 0) {
			c[i].im = p->im;
			c[i].sp = p->sp;
		} else {
			spool_init(&c[i].sp, p->archive, p->sp.max_bps);
		}
	}
	if (p->connections == 1) {
		fetch_worker(&c[0]);
	} else {
		for (i = 0; i < p->connections; i++) {
			if (pthread_create(&c[i].thread, NULL, fetch_worker,
			    &c[i]) != 0)
				fatal(EX_OSERR, "cannot start a thread");
			started++;
		}
		for (i = 0; i < started; i++)
			pthread_join(c[i].thread, NULL);
	}
	if (p->failed) {
		/* the first failure is the one to tell */
		buf_add(err, p->failed->err.buf, p->failed->err.len);
		p->im->lc.fail = p->failed->fail;
		ret = -1;
	}
	for (i = 0; i < p->connections; i++) {
		if (i > 0) {
			imap_free(&c[i].im);
			spool_release(&c[i].sp);
		} else {
			p->sp = c[i].sp;
		}
		buf_release(&c[i].err);
	}
	free(c);
	return ret;
}

static int
write_report(struct pull *p, struct buf *err)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:f}, s:O, s:O, s:o}", "account", p->conn.user, "host",
	    p->conn.srv.host,
	    "helper",
	    "imap-pull", "time", (json_int_t)time(NULL), "totals",
	    "folders", (json_int_t)p->nr_folders, "messages",
	    (json_int_t)p->msgs_total, "bytes", (json_int_t)p->bytes_total,
	    "anomalies", (json_int_t)helper_anomaly_count(),
	    "shared_folders", (json_int_t)p->shared_folders, "acl_entries",
	    (json_int_t)p->acl_entries, "seen_folders",
	    (json_int_t)json_array_size(p->seen), "sample_bytes",
	    (json_int_t)p->sample_got, "sample_seconds", p->sample_seconds,
	    "folders",
	    p->report_folders, "seen", p->seen, "anomalies",
	    helper_anomaly_list());
	return helper_report(p->report, o, err);
}

static int
check_pass(struct pull *p, struct buf *err)
{
	char *full = arcidx_meta(p->st.ix, "pass.full");
	int ret = 0;

	if (p->so.mode == STORE_AUTO)	/* store_open() chose */
		p->so.mode = !strcmp(p->st.mode, "delta") ? STORE_DELTA :
		    STORE_FULL;
	else if (p->so.mode == STORE_FULL && full) {
		buf_addf(err, "archive '%s' already holds a complete full"
		    " pull; use --mode delta", p->archive);
		ret = -1;
	} else if (p->so.mode == STORE_DELTA && !full) {
		buf_addf(err, "archive '%s' holds no complete full pull;"
		    " run --mode full first (it continues an interrupted one)",
		    p->archive);
		ret = -1;
	}
	free(full);
	return ret;
}

static int
run(struct pull *p, const char *password, struct buf *err)
{
	json_t *pass;
	size_t i;
	int rc;

	if (conn_open(p, &p->im, password, err) < 0)
		return -1;
	if (sync_list(p, err) < 0)
		return -1;
	if (p->so.mode == STORE_ASSESS) {
		if (sync_acls(p, err) < 0)
			return -1;
		for (i = 0; i < p->nr_folders; i++)
			if (sync_assess(p, &p->folders[i], err) < 0)
				return -1;
		return p->report ? write_report(p, err) : 0;
	}
	for (i = 0; i < p->nr_folders; i++) {
		struct folder *f = &p->folders[i];

		if (sync_plan(p, f, err) < 0)
			return -1;
		p->msgs_total += f->nr_fetch;
		p->bytes_total += f->fetch_bytes;
		if (f->unchanged)
			continue;
		evline_write(1, "folder", "{s:s, s:I, s:I, s:I, s:I, s:I,"
		    " s:I}", "name", f->name, "messages",
		    (json_int_t)f->exists, "fetch", (json_int_t)f->nr_fetch,
		    "bytes", (json_int_t)f->fetch_bytes, "changed",
		    (json_int_t)f->changed, "removed", (json_int_t)f->removed,
		    "matched", (json_int_t)f->matched);
		p->flag_changes += f->changed;
		p->expunged += f->removed;
		p->msgs_matched += f->matched;
	}
	if (sync_deleted(p, err) < 0 || sync_acls(p, err) < 0)
		return -1;
	pull_progress(p, NULL, 1);
	if (fetch_all(p, password, err) < 0)
		return -1;
	pull_progress(p, NULL, 1);
	pass = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "t", "pass",
	    "mode", p->so.mode == STORE_FULL ? "full" : "delta", "complete", 1,
	    "time", (json_int_t)time(NULL), "messages",
	    (json_int_t)p->msgs_done, "bytes", (json_int_t)p->bytes_done);
	rc = store_finish(&p->st, pass, err);
	json_decref(pass);
	if (rc < 0)
		p->im->lc.fail = EX_TEMPFAIL;
	return rc;
}

int
main(int argc, char **argv)
{
	struct pull *p = &pull;
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	const char *password;
	int code = EX_SOFTWARE;
	double lat;
	size_t i;

	helper_init("imap-pull", PULL_VERSION);
	parse_options(p, argc, argv);
	{
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&p->lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	helper_start(&sec, p->conn.user, "password", (char *)NULL);
	password = secrets_get(&sec, "password");
	p->report_folders = json_array();
	p->seen = json_array();
	if (p->so.mode != STORE_ASSESS) {
		int rc;

		p->st.helper = "imap-pull";
		p->st.version = PULL_VERSION;
		rc = store_open(&p->st, p->archive,
		    store_mode_name(p->so.mode), &err);

		/* busy: try later; anything else: the archive is damaged */
		code = rc == -2 ? EX_TEMPFAIL : EX_DATAERR;
		if (rc == 0 && check_pass(p, &err) < 0)
			code = EX_USAGE, rc = -1;
		if (rc == 0 && arcidx_folders(p->st.ix, &p->old, &p->nr_old,
		    &err) < 0)
			rc = -1;
		if (rc < 0) {
			log_warnx("%s", err.buf);
			goto out;
		}
		spool_init(&p->sp, p->archive, p->sp.max_bps);
	}
	if (run(p, password, &err) < 0) {
		code = p->im && p->im->lc.fail ? p->im->lc.fail : EX_SOFTWARE;
		log_warnx("%s", err.buf);
		goto out;
	}
	lat = imap_latency_ms(p->im);
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:f, s:o*}", "folders", (json_int_t)p->nr_folders, "messages",
	    (json_int_t)p->msgs_done, "bytes", (json_int_t)p->bytes_done,
	    "matched", (json_int_t)p->msgs_matched, "flag_changes",
	    (json_int_t)p->flag_changes, "expunged",
	    (json_int_t)p->expunged, "segments", (json_int_t)p->st.segments,
	    "anomalies", (json_int_t)helper_anomaly_count(), "seconds",
	    helper_seconds(), "latency_ms", lat >= 0 ? json_real(lat) : NULL);
	store_log_done(&p->so, p->msgs_total, p->msgs_done, p->bytes_total,
	    p->bytes_done, helper_seconds());
	code = 0;
out:
	secrets_clear(&sec);
	store_abort(&p->st);
	spool_release(&p->sp);
	imap_free(&p->im);
	for (i = 0; i < p->nr_folders; i++) {
		size_t k;

		for (k = 0; k < p->folders[i].nr_fetch; k++)
			msginfo_release(&p->folders[i].fetch[k]);
		free(p->folders[i].fetch);
		free(p->folders[i].raw);
		free(p->folders[i].name);
		free(p->folders[i].special);
		json_decref(p->folders[i].acl);
	}
	free(p->folders);
	arc_folders_free(p->old, p->nr_old);
	free(p->ns_prefix);
	strlist_free(&p->other_ns);
	strlist_free(&p->include);
	strlist_free(&p->exclude);
	strlist_free(&p->skip_special);
	json_decref(p->report_folders);
	json_decref(p->seen);
	buf_release(&err);
	return code;
}
