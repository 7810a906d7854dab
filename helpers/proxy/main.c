/*
 * proxy.c: migrate-proxy(8): the listeners, the control socket, signals.
 *
 * A reload (SIGHUP or `reload`) reads the whole configuration anew; when
 * it is good, new sessions get it while the running ones keep theirs
 * (sessions hold a reference).  A listener whose address is unchanged
 * keeps its socket.  SIGTERM stops listening, closes the sessions not yet
 * logged in and gives the others timeouts.shutdown seconds: a new proxy
 * can bind the same ports meanwhile (SO_REUSEPORT), which makes a
 * graceful restart.
 */
#include "compat.h"

#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"
#include "proxy.h"
#include "secret.h"
#include "xalloc.h"

#define DEFAULT_CONFIG	"/etc/migrate/proxy.yaml"

struct lctx {
	struct proxy *px;
	size_t i;		/* the listener in px->cf */
	char *key;		/* protocol, address and TLS: what a reload
				 * may keep */
};

static struct lctx **lctxs;

/* Each listener's protocol: its front before login and its back. */
static const struct proto *const protos[P_NR] = {
	[P_IMAP] = &proto_imap,
	[P_POP3] = &proto_pop3,
	[P_SIEVE] = &proto_sieve,
	[P_SUBMISSION] = &proto_submission,
	[P_SMTP] = &proto_smtp,
	[P_HTTP] = &proto_http,
	[P_SOCKETMAP] = &proto_socketmap,
};

static void
accept_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct lctx *lc = arg;
	const struct listener *l = &lc->px->cf->listeners[lc->i];

	evutil_make_socket_nonblocking(fd);
	session_accept(lc->px, l, protos[l->proto], fd, sa, salen);
}

static void
accept_error(struct evconnlistener *el, void *arg)
{
	log_warn("accept");
}

static char *
listener_key(const struct listener *l)
{
	return xasprintf("%s %s %s %d", proto_name(l->proto), l->listen,
	    l->tls_name ? l->tls_name : "none", l->require_tls);
}

static struct evconnlistener *
listen_on(struct proxy *px, const struct listener *l, struct lctx *lc,
    struct buf *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct evutil_addrinfo hints = { 0 }, *res;
	struct evconnlistener *el;
	char *host, *port, *colon;
	int e;

	host = xstrdup(l->listen);
	if (!(colon = strrchr(host, ':'))) {
		buf_addf(err, "listen '%s': expected address:port", l->listen);
		free(host);
		return NULL;
	}
	*colon = '\0';
	port = colon + 1;
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE;
	if ((e = evutil_getaddrinfo(*host && strcmp(host, "*") ? host : NULL,
	    port, &hints, &res))) {
		buf_addf(err, "listen '%s': %s", l->listen,
		    evutil_gai_strerror(e));
		free(host);
		return NULL;
	}
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	len = res->ai_addrlen;
	evutil_freeaddrinfo(res);
	free(host);
	el = evconnlistener_new_bind(px->base, accept_cb, lc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    (struct sockaddr *)&ss, len);
	if (!el) {
		buf_addf(err, "listen '%s': %s", l->listen, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(el, accept_error);
	return el;
}

/* The breaker and counters of each backend, kept by name across reloads. */
static void
attach_states(struct proxy *px, struct config *cf)
{
	struct side *sides[2] = { &cf->source, &cf->destination };
	size_t i, j, k;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < P_NR; j++) {
			struct backend *be = &sides[i]->be[j];

			if (!be->address)
				continue;
			for (k = 0; k < px->nr_bstates; k++)
				if (!strcmp(px->bstates[k].name, be->name))
					break;
			if (k == px->nr_bstates) {
				/* allocated once: sessions keep pointers */
				if (!px->bstates)
					px->bstates = xcalloc(2 * P_NR,
					    sizeof(*px->bstates));
				snprintf(px->bstates[k].name,
				    sizeof(px->bstates[k].name), "%s",
				    be->name);
				px->nr_bstates++;
			}
			be->st = &px->bstates[k];
		}
	}
}

/* Take the listeners of `cf`: keep the sockets of unchanged ones. */
static int
set_listeners(struct proxy *px, struct config *cf, struct buf *err)
{
	struct evconnlistener **els = xcalloc(cf->nr_listeners, sizeof(*els));
	struct lctx **lcs = xcalloc(cf->nr_listeners, sizeof(*lcs));
	size_t i, j;

	for (i = 0; i < cf->nr_listeners; i++) {
		char *key = listener_key(&cf->listeners[i]);

		for (j = 0; j < px->nr_listeners; j++)
			if (px->listeners[j] && !strcmp(lctxs[j]->key, key))
				break;
		if (j < px->nr_listeners) {
			els[i] = px->listeners[j];
			lcs[i] = lctxs[j];
			px->listeners[j] = NULL;
			free(key);
		} else {
			lcs[i] = xcalloc(1, sizeof(**lcs));
			lcs[i]->px = px;
			lcs[i]->key = key;
			if (!(els[i] = listen_on(px, &cf->listeners[i], lcs[i],
			    err))) {
				/* put back what was taken */
				for (j = 0; j < i; j++) {
					size_t k;

					for (k = 0; k < px->nr_listeners; k++)
						if (lctxs[k] == lcs[j])
							break;
					if (k < px->nr_listeners)
						px->listeners[k] = els[j];
					else {
						evconnlistener_free(els[j]);
						free(lcs[j]->key);
						free(lcs[j]);
					}
				}
				free(lcs[i]->key);
				free(lcs[i]);
				free(els);
				free(lcs);
				return -1;
			}
		}
		lcs[i]->i = i;
	}
	for (j = 0; j < px->nr_listeners; j++)
		if (px->listeners[j]) {
			evconnlistener_free(px->listeners[j]);
			free(lctxs[j]->key);
			free(lctxs[j]);
		}
	free(px->listeners);
	free(lctxs);
	px->listeners = els;
	lctxs = lcs;
	px->nr_listeners = cf->nr_listeners;
	return 0;
}

static int
open_mapping(struct proxy *px, struct buf *err)
{
	struct stat st;

	follow_stop(px);
	mapping_close(px->map);
	px->map = NULL;
	if (px->cf->mapping && mapping_is_url(px->cf->mapping))
		return follow_start(px, err);
	if (!px->cf->mapping || stat(px->cf->mapping, &st) < 0)
		return 0;	/* no flip yet: every account at the source */
	return mapping_open(&px->map, px->cf->mapping, 0, err);
}

/*
 * Become `user` for good once the ports, the keys and the mapping are
 * open: its uid and primary group, its supplementary groups, no way back
 * (setuid(0) must fail) and no privileges gained by exec.  Parsing what
 * clients send before login then never runs as root.  Without `user:`,
 * root is warned about; another user runs as it is.
 */
static int
drop_privileges(const char *user, struct buf *err)
{
	struct passwd *pw;

	if (!user) {
		if (!geteuid())
			log_warnx("running as root: set 'user:' in the"
			    " configuration, or run from the unit");
		return 0;
	}
	if (!(pw = getpwnam(user))) {
		buf_addf(err, "user '%s': no such user", user);
		return -1;
	}
	if (geteuid() == pw->pw_uid)
		return 0;
	if (geteuid()) {
		buf_addf(err, "user '%s': only root can become it", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		buf_addf(err, "user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		buf_addf(err, "user '%s': root could be regained", user);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		buf_addf(err, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	secrets_no_core();	/* a change of uid resets "dumpable" */
	log_info("running as %s (uid %lu, gid %lu)", user,
	    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
	return 0;
}

static int
reload(struct proxy *px, struct buf *err)
{
	struct config *cf = config_load(px->config_path, err), *old;

	if (!cf)
		return -1;
	if ((cf->user || px->cf->user) && (!cf->user || !px->cf->user ||
	    strcmp(cf->user, px->cf->user)))
		log_warnx("'user' changed: it takes effect at the next start");
	attach_states(px, cf);
	old = px->cf;
	px->cf = cf;
	if (set_listeners(px, cf, err) < 0) {
		px->cf = old;
		config_unref(cf);
		return -1;
	}
	config_unref(old);
	route_invalidate(px, NULL);
	if (open_mapping(px, err) < 0)
		return -1;
	log_info("configuration %s loaded: %zu listeners", px->config_path,
	    cf->nr_listeners);
	return 0;
}

static void
stats(struct proxy *px, struct evbuffer *out)
{
	size_t i;

	for (i = 0; i < P_NR; i++) {
		const struct proto_stats *st = &px->st[i];

		evbuffer_add_printf(out, "protocol %s connections %llu active"
		    " %llu logins %llu login_failures %llu temp_failures %llu"
		    " kicked %llu\n", proto_name(i), st->connections,
		    st->active, st->logins, st->login_failures,
		    st->temp_failures, st->kicked);
	}
	for (i = 0; i < px->nr_bstates; i++) {
		const struct backend_state *bs = &px->bstates[i];

		evbuffer_add_printf(out, "backend %s connections %llu"
		    " connect_failures %llu sessions %llu breaker %s\n",
		    bs->name, bs->connections, bs->connect_failures,
		    bs->sessions, bs->open_until > time(NULL) ? "open" :
		    bs->open_until ? "half-open" : "closed");
	}
	evbuffer_add_printf(out, "sessions %zu cache %zu delays %zu\n",
	    px->nr_sessions, px->nr_cache, px->nr_delays);
}

static void
control_line(struct proxy *px, char *line, struct evbuffer *out)
{
	char *save = NULL, *cmd = strtok_r(line, " \t", &save);
	char *a1 = cmd ? strtok_r(NULL, " \t", &save) : NULL;
	char *a2 = a1 ? strtok_r(NULL, " \t", &save) : NULL;
	struct buf err = BUF_INIT;
	char *end;

	if (!cmd)
		return;
	if (!strcmp(cmd, "kick") && a1 && !a2)
		evbuffer_add_printf(out, "ok %d\n", session_kick(px, a1));
	else if (!strcmp(cmd, "delay") && a1 && a2) {
		long secs = strtol(a2, &end, 10);

		if (*end || secs < 0 || secs > 3600) {
			evbuffer_add_printf(out, "error delay: seconds from 0"
			    " to 3600\n");
			return;
		}
		session_hold(px, a1, secs);
		log_info("control: logins of %s held for %lds", a1, secs);
		evbuffer_add_printf(out, "ok\n");
	} else if (!strcmp(cmd, "invalidate") && !a2) {
		route_invalidate(px, a1);
		evbuffer_add_printf(out, "ok\n");
	} else if (!strcmp(cmd, "reload") && !a1) {
		if (reload(px, &err) < 0) {
			char *p;

			for (p = err.buf; *p; p++)
				if (*p == '\n')
					*p = ' ';
			log_warnx("reload: %s", err.buf);
			evbuffer_add_printf(out, "error %s\n", err.buf);
		} else
			evbuffer_add_printf(out, "ok\n");
		buf_release(&err);
	} else if (!strcmp(cmd, "stats") && !a1) {
		stats(px, out);
		evbuffer_add_printf(out, "ok\n");
	} else
		evbuffer_add_printf(out, "error unknown command; expected"
		    " kick ID, delay ID SECONDS, invalidate [ID], reload,"
		    " stats\n");
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct proxy *px = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
		control_line(px, line, bufferevent_get_output(bev));
		free(line);
	}
	if (evbuffer_get_length(in) > 4096)
		bufferevent_free(bev);
}

static void
control_done(struct bufferevent *bev, void *arg)
{
	if (!evbuffer_get_length(bufferevent_get_output(bev)) &&
	    !(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_free(bev);
}

static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy *px = arg;

	if (what & BEV_EVENT_EOF) {
		/* the last line may lack its newline */
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t n = evbuffer_get_length(in);

		if (n && n < 4096) {
			char *line = xmalloc(n + 1);

			evbuffer_remove(in, line, n);
			line[n] = '\0';
			control_line(px, line, bufferevent_get_output(bev));
			free(line);
		}
		bufferevent_disable(bev, EV_READ);
		control_done(bev, arg);
		return;
	}
	bufferevent_free(bev);
}

static void
control_accept(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct proxy *px = arg;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, control_read, control_done, control_event, px);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int
control_open(struct proxy *px, struct buf *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = px->cf->control;
	mode_t old;

	if (!path)
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_addf(err, "control socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	old = umask(0177);
	px->control = evconnlistener_new_bind(px->base, control_accept, px,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (!px->control) {
		buf_addf(err, "control socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *px = arg;
	struct buf err = BUF_INIT;

	if (reload(px, &err) < 0)
		log_warnx("reload refused, the running configuration stays:"
		    " %s", err.buf);
	buf_release(&err);
}

static void
shutdown_now(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *px = arg;
	struct session *s, *next;

	for (s = LIST_FIRST(&px->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		session_close(s, "shutdown");
	}
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct proxy *px = arg;
	struct session *s, *next;
	struct timeval tv = { px->cf->timeouts.shutdown, 0 };
	size_t i;

	if (px->stopping) {
		shutdown_now(-1, 0, px);
		return;
	}
	px->stopping = 1;
	log_info("stopping: no new connections; %zu sessions have %llds",
	    px->nr_sessions, px->cf->timeouts.shutdown);
	for (i = 0; i < px->nr_listeners; i++)
		evconnlistener_disable(px->listeners[i]);
	if (px->control)
		evconnlistener_disable(px->control);
	for (s = LIST_FIRST(&px->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		if (s->state != SS_SPLICE) {
			s->proto->temp_fail(s, FAIL_SHUTDOWN);
			session_close(s, "shutdown");
		}
	}
	if (!px->nr_sessions)
		event_base_loopexit(px->base, NULL);
	else
		event_base_once(px->base, -1, EV_TIMEOUT, shutdown_now, px,
		    &tv);
}

static void ATTR_NORETURN
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: migrate-proxy [-t] [-c CONFIG] [--log-level LEVEL]\n"
	    "  -c, --config FILE   the configuration (default %s)\n"
	    "  -t, --test          check the configuration and exit\n",
	    DEFAULT_CONFIG);
	exit(code);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct proxy px = { 0 };
	struct buf err = BUF_INIT;
	struct event *ev_hup, *ev_term, *ev_int;
	int c, test = 0, level = LOG_LEVEL_INFO;
	size_t i;

	px.config_path = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1)
		switch (c) {
		case 'c':
			px.config_path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'L':
			if ((level = log_level_parse(optarg)) < 0)
				usage(EX_USAGE);
			break;
		case 'h':
			usage(0);
		default:
			usage(EX_USAGE);
		}
	if (optind != argc)
		usage(EX_USAGE);
	log_init("migrate-proxy", level);
	secrets_no_core();
	signal(SIGPIPE, SIG_IGN);

	if (!(px.cf = config_load(px.config_path, &err))) {
		fprintf(stderr, "%s", err.buf);
		if (err.len && err.buf[err.len - 1] != '\n')
			fputc('\n', stderr);
		buf_release(&err);
		return EX_CONFIG;
	}
	if (test) {
		printf("%s: good, %zu listeners\n", px.config_path,
		    px.cf->nr_listeners);
		config_unref(px.cf);
		return 0;
	}
	LIST_INIT(&px.sessions);
	px.base = event_base_new();
	attach_states(&px, px.cf);
	if (set_listeners(&px, px.cf, &err) < 0 ||
	    control_open(&px, &err) < 0 || open_mapping(&px, &err) < 0 ||
	    drop_privileges(px.cf->user, &err) < 0)
		fatalx(EX_OSERR, "%s", err.buf);
	ev_hup = evsignal_new(px.base, SIGHUP, on_hup, &px);
	ev_term = evsignal_new(px.base, SIGTERM, on_term, &px);
	ev_int = evsignal_new(px.base, SIGINT, on_term, &px);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	log_info("ready: %zu listeners, mapping %s%s%s", px.cf->nr_listeners,
	    px.cf->mapping ? px.cf->mapping : "(none)",
	    px.cf->control ? ", control " : "",
	    px.cf->control ? px.cf->control : "");

	event_base_dispatch(px.base);

	for (i = 0; i < px.nr_listeners; i++)
		if (px.listeners[i]) {
			evconnlistener_free(px.listeners[i]);
			free(lctxs[i]->key);
			free(lctxs[i]);
		}
	free(px.listeners);
	free(lctxs);
	if (px.control) {
		evconnlistener_free(px.control);
		unlink(px.cf->control);
	}
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	route_invalidate(&px, NULL);
	for (i = 0; i < px.nr_delays; i++)
		free(px.delays[i].id);
	free(px.delays);
	free(px.bstates);
	follow_stop(&px);
	mapping_close(px.map);
	config_unref(px.cf);
	event_base_free(px.base);
	buf_release(&err);
	log_info("stopped");
	return 0;
}
