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

enum {
	O_HOST = 0x1000, O_PORT, O_TLS, O_PLAIN, O_URL, O_USER,
	O_AUTH_USER, O_MASTER_SEP, O_AUTH, O_CA, O_INSECURE, O_TIMEOUT,
	O_ARCHIVE, O_REPORT, O_VERIFY, O_MODE, O_FILES,
};

static const struct {
	unsigned set;
	struct option o;
} conn_table[] = {
	{ CONN_SERVER, { "host", required_argument, NULL, O_HOST } },
	{ CONN_SERVER, { "port", required_argument, NULL, O_PORT } },
	{ CONN_SERVER, { "tls", required_argument, NULL, O_TLS } },
	{ CONN_PLAIN, { "allow-plaintext", no_argument, NULL, O_PLAIN } },
	{ CONN_URL, { "url", required_argument, NULL, O_URL } },
	{ CONN_USER, { "user", required_argument, NULL, O_USER } },
	{ CONN_ADMIN, { "auth-user", required_argument, NULL, O_AUTH_USER } },
	{ CONN_ADMIN, { "master-separator", required_argument, NULL,
	    O_MASTER_SEP } },
	{ CONN_SASL, { "auth", required_argument, NULL, O_AUTH } },
	{ 0, { "ca-file", required_argument, NULL, O_CA } },
	{ 0, { "insecure", no_argument, NULL, O_INSECURE } },
	{ 0, { "timeout", required_argument, NULL, O_TIMEOUT } },
	{ RUN_ARCHIVE, { "archive", required_argument, NULL, O_ARCHIVE } },
	{ RUN_REPORT, { "report", required_argument, NULL, O_REPORT } },
	{ RUN_VERIFY, { "verify-only", no_argument, NULL, O_VERIFY } },
	{ RUN_MODE, { "mode", required_argument, NULL, O_MODE } },
	{ RUN_FILES, { "files", no_argument, NULL, O_FILES } },
};

static struct option *
conn_longopts(unsigned set, const struct option *own)
{
	static const struct option help = { "help", no_argument, NULL, 'h' };
	struct option *v;
	size_t nr_own = 0, n = 0, i;

	while (own && own[nr_own].name)
		nr_own++;
	v = xcalloc(ARRAY_SIZE(conn_table) + nr_own + 2, sizeof(*v));
	for (i = 0; i < ARRAY_SIZE(conn_table); i++)
		if (!conn_table[i].set || (conn_table[i].set & set))
			v[n++] = conn_table[i].o;
	for (i = 0; i < nr_own; i++)
		v[n++] = own[i];
	v[n] = help;
	return v;
}

static int
conn_opt(struct conn_opts *co, int c, const char *arg)
{
	switch (c) {
	case O_HOST: co->srv.host = arg; break;
	case O_PORT: co->srv.port = arg; break;
	case O_TLS: co->tls = arg; break;
	case O_PLAIN: co->srv.allow_plaintext = 1; break;
	case O_URL: co->url = arg; break;
	case O_USER: co->user = arg; break;
	case O_AUTH_USER: co->auth_user = arg; break;
	case O_MASTER_SEP: co->master_sep = arg; break;
	case O_AUTH:
		if (strcmp(arg, "plain") && strcmp(arg, "login"))
			fatalx(EX_USAGE, "--auth: plain or login");
		co->auth = arg;
		break;
	case O_CA: co->srv.tls.ca_file = arg; break;
	case O_INSECURE: co->srv.tls.insecure = 1; break;
	case O_TIMEOUT:
		co->timeout = (long)opt_size("--timeout", arg, 1);
		co->srv.tls.timeout_ms = 1000 * (int)co->timeout;
		break;
	case O_ARCHIVE: co->archive = arg; break;
	case O_REPORT: co->report = arg; break;
	case O_VERIFY: co->verify_only = 1; break;
	case O_FILES: co->files = 1; break;
	case O_MODE:
		if (strcmp(arg, "assess") && strcmp(arg, "full") &&
		    strcmp(arg, "delta") && strcmp(arg, "auto"))
			fatalx(EX_USAGE, "--mode: full, delta, auto or assess");
		co->assess = !strcmp(arg, "assess");
		break;
	default:
		return 0;
	}
	return 1;
}

void
helper_usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

void
helper_options(int argc, char **argv, unsigned set, struct conn_opts *co,
    const struct option *own, int (*own_opt)(void *ctx, int c,
    const char *arg), void *ctx, const char *usage)
{
	struct option *longopts = conn_longopts(set, own);
	int c;

	usage_text = usage;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (!conn_opt(co, c, optarg) && (c < 256 ||
		    !own_opt(ctx, c, optarg)))
			helper_usage();
	free(longopts);
	if (optind != argc)
		helper_usage();
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
