#include "compat.h"

#include <pthread.h>
#include <stdarg.h>

#include <jansson.h>

#include "buf.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "now.h"
#include "opt.h"
#include "secret.h"
#include "store.h"
#include "xalloc.h"

static const char *helper_name = "helper", *helper_version = "0";
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t anomalies;
static json_t *anomaly_list;
static double last_progress;
static int first_fail;
static double started;

/*
 * A helper run by hand on a terminal shows its progress on stderr, a
 * line redrawn in place: the folder, messages and bytes done of their
 * totals, and the rate.  An event line written to the same terminal
 * first takes the line away.
 */
static void
show_progress(const char *event, const json_t *o)
{
	const char *where;
	char line[256], a[32], b[32], c[32];
	double t = now_seconds() - started;
	size_t n = 0;

	if (!event) {
		if (isatty(1))
			log_status(NULL);
		return;
	}
	if (!strcmp(event, "done")) {
		log_status(NULL);
		return;
	}
	if (strcmp(event, "progress"))
		return;
	if (!(where = json_string_value(json_object_get(o, "folder"))))
		where = json_string_value(json_object_get(o, "collection"));
	n += (size_t)snprintf(line, sizeof(line), "%s: %.40s", helper_name,
	    where ? where : "");
	if (json_object_get(o, "messages_total") && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %"
		    JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " messages",
		    json_integer_value(json_object_get(o, "messages")),
		    json_integer_value(json_object_get(o, "messages_total")));
	if (json_object_get(o, "bytes_total") && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %s of %s,"
		    " %s/s", human_bytes((double)json_integer_value(
		    json_object_get(o, "bytes")), a, sizeof(a)), human_bytes(
		    (double)json_integer_value(json_object_get(o,
		    "bytes_total")), b, sizeof(b)), human_bytes(t > 0 ?
		    (double)json_integer_value(json_object_get(o, "bytes")) /
		    t : 0, c, sizeof(c)));
	log_status(line);
}

void
helper_init(const char *name, const char *version)
{
	helper_name = name;
	helper_version = version;
	started = now_seconds();
	log_init(name, -1);
	secrets_no_core();
	secrets_wipe_json();
	if (isatty(2) && !getenv("MIGRATE_NO_PROGRESS"))
		evline_on_write(show_progress);
}

void
helper_start(struct secrets *sec, const char *account, ...)
{
	struct buf err = BUF_INIT;
	const char *key;
	va_list ap;

	if (secrets_read(sec, 0, &err) < 0)
		fatalx(EX_USAGE, "%s", err.buf);
	va_start(ap, account);
	while ((key = va_arg(ap, const char *)))
		if (!secrets_get(sec, key))
			fatalx(EX_USAGE, "no %s=... on standard input", key);
	va_end(ap);
	if (account && !getenv("MIGRATE_ACCOUNT"))
		log_set_account(account);
	evline_hello(1, helper_name, helper_version);
}

static const char *usage_text = "";

void
helper_usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

void
helper_options(int argc, char **argv, unsigned set, struct conn_opts *co,
    const struct opt *own, const char *usage)
{
	int mode = -1, timeout = 0;
	const struct { unsigned set; struct opt o; } conn[] = {
		{ CONN_SERVER, OPT_STRING("host", &co->srv.host) },
		{ CONN_SERVER, OPT_STRING("port", &co->srv.port) },
		{ CONN_SERVER, OPT_STRING("tls", &co->tls) },
		{ CONN_PLAIN, OPT_FLAG("allow-plaintext",
		    &co->srv.allow_plaintext) },
		{ CONN_URL, OPT_STRING("url", &co->url) },
		{ CONN_USER, OPT_STRING("user", &co->user) },
		{ CONN_ADMIN, OPT_STRING("auth-user", &co->auth_user) },
		{ CONN_ADMIN, OPT_STRING("master-separator",
		    &co->master_sep) },
		{ CONN_SASL, OPT_CHOICE("auth", &co->auth,
		    "auto|plain|login") },
		{ 0, OPT_STRING("ca-file", &co->srv.tls.ca_file) },
		{ 0, OPT_FLAG("insecure", &co->srv.tls.insecure) },
		{ 0, OPT_INT("timeout", &timeout, 1, INT_MAX / 1000) },
		{ RUN_ARCHIVE, OPT_STRING("archive", &co->archive) },
		{ RUN_REPORT, OPT_STRING("report", &co->report) },
		{ RUN_VERIFY, OPT_FLAG("verify-only", &co->verify_only) },
		{ RUN_MODE, OPT_CHOICE("mode", &mode,
		    "full|delta|assess|auto") },
		{ RUN_FILES, OPT_FLAG("files", &co->files) },
	};
	struct opt taken[ARRAY_SIZE(conn) + 1];
	const struct opt *tables[2] = { taken, own };
	size_t i, n = 0;

	usage_text = usage;
	for (i = 0; i < ARRAY_SIZE(conn); i++)
		if (!conn[i].set || (conn[i].set & set))
			taken[n++] = conn[i].o;
	taken[n] = (struct opt)OPT_END;
	if (opt_parse(argc, argv, tables, ARRAY_SIZE(tables)) < 0)
		helper_usage();
	co->assess = mode == STORE_ASSESS;
	if (timeout) {
		co->timeout = timeout;
		co->srv.tls.timeout_ms = 1000 * timeout;
	}
}

struct http_opts
conn_opts_http(const struct conn_opts *co)
{
	struct http_opts o = { 0 };

	o.url = co->url;
	o.user = co->user;
	o.ca_file = co->srv.tls.ca_file;
	o.insecure = co->srv.tls.insecure;
	o.allow_plaintext = co->srv.allow_plaintext;
	o.timeout = co->timeout;
	return o;
}

void
conn_opts_server(struct conn_opts *co, const char *port_plain,
    const char *port_tls)
{
	const char *tls = co->tls;

	if (!co->srv.tls.timeout_ms)
		co->srv.tls.timeout_ms = 60000;
	if (co->master_sep && !co->auth_user)
		fatalx(EX_USAGE, "--master-separator needs --auth-user");
	if (!tls)
		tls = co->srv.port && port_tls && !strcmp(co->srv.port,
		    port_tls) ? "implicit" : "starttls";
	if (!strcmp(tls, "implicit"))
		co->srv.tls.mode = TLS_IMPLICIT;
	else if (!strcmp(tls, "starttls"))
		co->srv.starttls = 1;
	else if (strcmp(tls, "none"))
		fatalx(EX_USAGE, "--tls: implicit, starttls or none");
	if (!co->srv.port)
		co->srv.port = co->srv.tls.mode == TLS_IMPLICIT && port_tls ?
		    port_tls : port_plain;
}

void
helper_anomaly(const char *kind, const char *folder, uint32_t uid,
    const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	buf_vaddf(&text, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&helper_lock);
	anomalies++;
	evline_anomaly(1, kind, folder, uid, text.buf, &o);
	if (!anomaly_list)
		anomaly_list = json_array();
	json_array_append_new(anomaly_list, o);
	pthread_mutex_unlock(&helper_lock);
	buf_release(&text);
}

uint64_t
helper_anomaly_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&helper_lock);
	n = anomalies;
	pthread_mutex_unlock(&helper_lock);
	return n;
}

json_t *
helper_anomaly_list(void)
{
	json_t *a;

	pthread_mutex_lock(&helper_lock);
	if (!anomaly_list)
		anomaly_list = json_array();
	a = json_deep_copy(anomaly_list);
	pthread_mutex_unlock(&helper_lock);
	return a;
}

int
helper_progress_due(int force)
{
	double t = now_seconds();
	int due;

	pthread_mutex_lock(&helper_lock);
	due = force || t - last_progress >= 1.0;
	if (due)
		last_progress = t;
	pthread_mutex_unlock(&helper_lock);
	return due;
}

int
helper_fail(int code)
{
	pthread_mutex_lock(&helper_lock);
	if (!first_fail)
		first_fail = code ? code : EX_SOFTWARE;
	pthread_mutex_unlock(&helper_lock);
	return -1;
}

int
helper_status(int otherwise)
{
	return first_fail ? first_fail : otherwise;
}

int
helper_archive_status(int rc)
{
	return rc == -2 ? EX_TEMPFAIL : EX_DATAERR;
}

double
helper_seconds(void)
{
	return now_seconds() - started;
}

int
helper_report(const char *path, json_t *o, struct buf *err)
{
	int ret = evline_report(path, o, err);

	json_decref(o);
	return ret;
}
