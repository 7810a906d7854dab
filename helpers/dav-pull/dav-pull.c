/*
 * dav-pull: read one account's calendars and address books from a CalDAV
 * and CardDAV server into its archive.  See dav-pull(8) and
 * migrate-archive(5).
 */
#include "compat.h"

#include <curl/curl.h>

#include "dpull.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "opt.h"
#include "secret.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: dav-pull --url URL --user USER [--ca-file FILE] [--insecure]\n"
"         [--allow-plaintext] [--timeout SECONDS] [--collection URL]... [--files]\n"
"         [--mode full|delta|auto|assess] [--archive DIR] [--report FILE]\n"
"         [--size-limit BYTES]\n"
"The password comes on standard input: password=... and an empty line.\n";

static void
parse_options(int argc, char **argv)
{
	struct conn_opts co = { 0 };
	const struct opt own[] = {
		OPT_LIST("collection", &pull.explicit),
		OPT_SIZE("size-limit", &pull.size_limit, 1),
		OPT_END
	};

	pull.size_limit = 10u << 20;
	/* a pass takes what changed since the last: --mode is assess or not */
	helper_options(argc, argv, CONN_URL | CONN_PLAIN | CONN_USER | RUN_MODE |
	    RUN_ARCHIVE | RUN_REPORT | RUN_FILES, &co, own, usage_text);
	pull.files = co.files;
	pull.assess = co.assess;
	pull.archive = co.archive;
	pull.report = co.report;
	pull.o = conn_opts_http(&co);
	if (!pull.o.url || !pull.o.user)
		helper_usage();
	if (!pull.assess && !pull.archive)
		fatalx(EX_USAGE, "--archive is needed unless --mode assess");
}

static int
write_report(struct buf *err)
{
	json_t *cols = json_array(), *o;
	size_t i, shared = 0, grants = 0, n;

	for (i = 0; i < pull.nr; i++) {
		json_array_append_new(cols, json_pack("{s:s, s:s, s:O, s:I,"
		    " s:I, s:b}", "path", pull.c[i].path, "kind",
		    pull.c[i].kind, "props", pull.c[i].props, "resources",
		    (json_int_t)pull.c[i].resources, "bytes",
		    (json_int_t)pull.c[i].bytes, "shared", pull.c[i].shared));
		n = json_array_size(json_object_get(pull.c[i].props,
		    "shares"));
		shared += n > 0;
		grants += n;
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I}, s:o, s:o}", "account", pull.o.user, "source", pull.o.url,
	    "helper", "dav-pull", "time", (json_int_t)time(NULL), "totals",
	    "collections", (json_int_t)pull.nr, "events",
	    (json_int_t)pull.events, "contacts", (json_int_t)pull.contacts,
	    "bytes", (json_int_t)pull.bytes, "anomalies",
	    (json_int_t)helper_anomaly_count(), "shared_collections",
	    (json_int_t)shared, "share_entries", (json_int_t)grants,
	    "collections", cols, "anomalies", helper_anomaly_list());
	return helper_report(pull.report, o, err);
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int code = EX_SOFTWARE, rc;
	size_t i, k;

	helper_init("dav-pull", DAV_PULL_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, pull.o.user, "password", (char *)NULL);
	pull.o.password = secrets_get(&sec, "password");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (dav_open(&pull.d, &pull.o, &err) < 0 ||
	    (!pull.files && find_collections(&err) < 0)) {
		code = pull.d->fail ? pull.d->fail : EX_SOFTWARE;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (!pull.assess) {
		if ((rc = arcidx_open(&pull.ix, pull.archive, 1, &err)) < 0 ||
		    arcidx_catch_up(pull.ix, &err) < 0) {
			code = helper_archive_status(rc);
			log_warnx("%s", err.buf);
			goto out;
		}
	}
	if ((pull.files ? pull_files(&err) : pull_all(&err)) < 0) {
		code = pull.d->fail ? pull.d->fail : EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (!pull.assess && commit(&err) < 0) {
		code = EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (pull.report && write_report(&err) < 0) {
		code = EX_CANTCREAT;
		log_warnx("%s", err.buf);
		goto out;
	}
	evline_write(1, "done", "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:f}", "files", (json_int_t)pull.nr_files, "collections",
	    (json_int_t)pull.nr, "events",
	    (json_int_t)pull.events, "contacts", (json_int_t)pull.contacts,
	    "bytes", (json_int_t)pull.bytes, "fetched",
	    (json_int_t)pull.fetched, "deleted", (json_int_t)pull.deleted,
	    "anomalies", (json_int_t)helper_anomaly_count(),
	    "requests", (json_int_t)pull.d->requests, "seconds",
	    helper_seconds());
	log_info("%s %zu collections: %" PRIu64 " events, %" PRIu64
	    " contacts; %" PRIu64 " fetched, %" PRIu64 " deleted",
	    pull.assess ? "assessed" : "pulled", pull.nr, pull.events,
	    pull.contacts, pull.fetched, pull.deleted);
	code = 0;
out:
	seg_writer_abort(&pull.w);
	arcidx_close(&pull.ix);
	for (i = 0; i < pull.nr; i++) {
		struct collection *c = &pull.c[i];

		for (k = 0; k < c->nr; k++) {
			free(c->m[k].href);
			free(c->m[k].name);
			free(c->m[k].etag);
		}
		free(c->m);
		free(c->path);
		free(c->kind);
		free(c->name);
		free(c->sync_token);
		json_decref(c->props);
	}
	free(pull.c);
	strlist_free(&pull.explicit);
	free(pull.principal);
	dav_close(&pull.d);
	secrets_clear(&sec);
	buf_release(&err);
	curl_global_cleanup();
	return code;
}