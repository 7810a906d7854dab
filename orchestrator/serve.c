/*
 * serve.c: `migrate serve`, a read-only web view of the state while an
 * apply runs: the report's page, reloading itself, at /, and what
 * `migrate status --json` says at /status.json.  HTTP is libmicrohttpd's.
 * It listens on loopback by default; anywhere else it wants TLS and a
 * password, both given as files, so that neither is in argv.
 */
#include "compat.h"

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "fileio.h"
#include "html.h"
#include "log.h"
#include "report.h"
#include "serve.h"
#include "state.h"
#include "status.h"
#include "xalloc.h"

struct serve {
	struct state *s;
	const char *dir;
	int refresh;
	struct buf password;	/* empty: none asked */
	/*
	 * The summary, made again every `refresh` seconds by its own thread
	 * and answered from here at once: for a plan of 100,000 accounts it
	 * takes seconds to make, and a page that reloads itself every few
	 * seconds in several browsers must not make it each time.
	 */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct buf page;
	int stop;
};

/* Make the summary page again every `refresh` seconds, until stopped. */
static void *
remake(void *arg)
{
	struct serve *sv = arg;
	struct timespec until;

	pthread_mutex_lock(&sv->lock);
	for (;;) {
		struct buf b = BUF_INIT, old;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += sv->refresh > 0 ? sv->refresh : 1;
		while (!sv->stop && pthread_cond_timedwait(&sv->wake,
		    &sv->lock, &until) == 0)
			;
		if (sv->stop)
			break;
		pthread_mutex_unlock(&sv->lock);
		report_page(sv->s, sv->dir, sv->refresh, &b);
		pthread_mutex_lock(&sv->lock);
		old = sv->page;
		sv->page = b;
		buf_release(&old);
	}
	pthread_mutex_unlock(&sv->lock);
	return NULL;
}

/* The last summary made, into `b`. */
static void
summary_page(struct serve *sv, struct buf *b)
{
	pthread_mutex_lock(&sv->lock);
	buf_add(b, sv->page.buf, sv->page.len);
	pthread_mutex_unlock(&sv->lock);
}

static int
authorized(struct serve *sv, struct MHD_Connection *c)
{
	char *pass = NULL, *user;
	int ok;

	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = pass && strlen(pass) == sv->password.len &&
	    !CRYPTO_memcmp(pass, sv->password.buf, sv->password.len);
	if (pass)
		OPENSSL_cleanse(pass, strlen(pass));
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *type,
    struct buf *body, int challenge)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *data = buf_detach(body, &len);

	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy", "default-src"
	    " 'none'; style-src 'unsafe-inline'");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = challenge ? MHD_queue_basic_auth_fail_response(c, "migrate", r) :
	    MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* /accounts or /accounts/WAVE, with ?page=N (from 1). */
static int
accounts_page(struct serve *sv, struct MHD_Connection *c, const char *url,
    struct buf *b)
{
	const char *p = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "page");
	char *end;
	long long page = 1;

	if (p) {
		errno = 0;
		page = strtoll(p, &end, 10);
		if (errno || end == p || *end || page < 1)
			return -2;
	}
	return report_wave(sv->s, url[9] ? url + 10 : NULL, page - 1,
	    sv->refresh, b);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req)
{
	struct serve *sv = cls;
	struct buf b = BUF_INIT;
	json_t *j;
	char *text;

	(void)version, (void)upload, (void)req;
	*upload_len = 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		buf_adds(&b, "read-only: GET or HEAD\n");
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b,
		    0);
	}
	if (sv->password.len && !authorized(sv, c)) {
		buf_adds(&b, "a password is needed\n");
		return reply(c, MHD_HTTP_UNAUTHORIZED, "text/plain", &b, 1);
	}
	if (!strcmp(url, "/")) {
		summary_page(sv, &b);
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, 0);
	}
	if (!strncmp(url, "/account/", 9) &&
	    report_account(sv->s, sv->dir, url + 9, sv->refresh, &b) == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, 0);
	if ((!strcmp(url, "/accounts") || (!strncmp(url, "/accounts/", 10) &&
	    url[10])) && accounts_page(sv, c, url, &b) == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, 0);
	if (!strcmp(url, "/status.json")) {
		j = status_json(sv->s, sv->dir);
		text = json_dumps(j, JSON_INDENT(2));
		buf_adds(&b, text ? text : "null");
		buf_addch(&b, '\n');
		free(text);
		json_decref(j);
		return reply(c, MHD_HTTP_OK, "application/json", &b, 0);
	}
	buf_reset(&b);
	buf_adds(&b, "not here: / (the summary), /accounts[/WAVE][?page=N],"
	    " /account/ACCOUNT or /status.json\n");
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", &b, 0);
}

/* ADDR:PORT or [ADDR]:PORT, numeric, into `ss`; whether it is loopback. */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, int *loopback)
{
	struct addrinfo hints = { 0 }, *ai;
	const char *colon = strrchr(spec, ':');
	char *host;
	int rc;

	if (!colon || !colon[1])
		return -1;
	host = spec[0] == '[' && colon > spec && colon[-1] == ']' ?
	    xstrndup(spec + 1, (size_t)(colon - spec - 2)) :
	    xstrndup(spec, (size_t)(colon - spec));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	free(host);
	if (rc)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)
		    ss)->sin6_addr);
	return 0;
}

/* A file's text, for the daemon (a NUL at its end). */
static char *
slurp(const char *path, const char *what)
{
	struct buf b = BUF_INIT, err = BUF_INIT;

	if (file_read(path, &b, &err) < 0)
		fatalx(EX_NOINPUT, "serve: %s: %s", what, err.buf);
	return buf_detach(&b, NULL);
}

int
serve_run(struct state *s, const char *dir, const struct serve_opts *o)
{
	struct serve sv = { s, dir, o->refresh, BUF_INIT };
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	char *cert = NULL, *key = NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int loopback, sig;
	sigset_t set;
	pthread_t tid;

	html_links(1);
	if (parse_listen(o->listen, &ss, &loopback) < 0)
		fatalx(EX_USAGE, "serve: --listen '%s': a numeric ADDRESS:PORT"
		    " ([ADDRESS]:PORT for IPv6)", o->listen);
	if (!loopback && (!o->tls_cert || !o->tls_key || !o->password_file))
		fatalx(EX_USAGE, "serve: %s is not loopback: it needs"
		    " --tls-cert, --tls-key and --password-file", o->listen);
	if (!o->tls_cert != !o->tls_key)
		fatalx(EX_USAGE, "serve: --tls-cert and --tls-key go together");
	if (o->password_file) {
		struct buf err = BUF_INIT;

		if (file_read(o->password_file, &sv.password, &err) < 0)
			fatalx(EX_NOINPUT, "serve: --password-file: %s",
			    err.buf);
		sv.password.len = strcspn(sv.password.buf, "\r\n");
		if (!sv.password.len)
			fatalx(EX_DATAERR, "serve: %s: its first line is"
			    " empty", o->password_file);
	}
	if (o->tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			fatalx(EX_UNAVAILABLE, "serve: this libmicrohttpd has"
			    " no TLS");
		cert = slurp(o->tls_cert, "--tls-cert");
		key = slurp(o->tls_key, "--tls-key");
		flags |= MHD_USE_TLS;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&sv.lock, NULL);
	pthread_cond_init(&sv.wake, NULL);
	report_page(s, dir, sv.refresh, &sv.page);
	if (pthread_create(&tid, NULL, remake, &sv) != 0)
		fatalx(EX_OSERR, "serve: cannot start a thread");
	d = MHD_start_daemon(flags, 0, NULL, NULL, answer, &sv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, 64u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	if (!d)
		fatalx(EX_UNAVAILABLE, "serve: cannot listen on %s", o->listen);
	printf("migrate serve: %s://%s/ (read-only; /status.json too)\n",
	    cert ? "https" : "http", o->listen);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	pthread_mutex_lock(&sv.lock);
	sv.stop = 1;
	pthread_cond_broadcast(&sv.wake);
	pthread_mutex_unlock(&sv.lock);
	pthread_join(tid, NULL);
	buf_release(&sv.page);
	pthread_cond_destroy(&sv.wake);
	pthread_mutex_destroy(&sv.lock);
	buf_release_wipe(&sv.password);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(cert);
	return 0;
}
