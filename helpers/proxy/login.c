/*
 * login.c: a session's login: routed through the mapping (or held while
 * a flip settles), the backend reached with TLS and the client's address
 * as configured, the protocol's back logging in with the client's
 * credentials; a refusal or a backend down sends the session back to its
 * front.  Its timer is here too, since most of what it ends is a login.
 */
#include "compat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ident.h"
#include "log.h"
#include "proxy.h"
#include "utf7.h"
#include "xalloc.h"

#define BACKEND_LINE_MAX	(64 * 1024)

static void backend_read(struct bufferevent *bev, void *arg);
static void backend_event(struct bufferevent *bev, short what, void *arg);
static void backend_connect(struct session *s);
static int session_route(struct session *s);
static void refuse(struct session *s);

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct timespec now;

	switch (s->state) {
	case SS_PREAUTH:
		s->proto->temp_fail(s, FAIL_TIMEOUT);
		session_close(s, "timeout before login");
		break;
	case SS_HOLD:
		/* as before the login, should the route refuse it */
		session_enter_state(s, SS_PREAUTH);
		session_arm(s, s->cf->timeouts.preauth);
		session_route(s);
		break;
	case SS_BACKEND:
		session_backend_down(s, s->connected ? "it did not answer the"
		    " login in time" : "it did not accept the connection in"
		    " time");
		break;
	case SS_SPLICE:
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - s->last_io >= s->cf->timeouts.idle) {
			session_close(s, "idle timeout");
			break;
		}
		session_arm(s, s->cf->timeouts.idle - (now.tv_sec - s->last_io));
		break;
	case SS_REFUSING:
		refuse(s);
		break;
	case SS_CLOSING:
		session_drained(NULL, s);
		break;
	}
}

static void
addr_string(const struct sockaddr *sa, char *ip, size_t iplen, int *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
		*port = ntohs(s6->sin6_port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
		*port = ntohs(s4->sin_port);
	} else {
		snprintf(ip, iplen, "local");
		*port = 0;
	}
}

void
session_accept(struct proxy *px, const struct listener *l,
    const struct proto *proto, int fd, struct sockaddr *sa, int salen)
{
	struct session *s;
	int one = 1;

	if (px->nr_sessions >= (size_t)px->cf->limits.sessions) {
		log_warnx("%s: %zu sessions, the limit: connection refused",
		    proto_name(l->proto), px->nr_sessions);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s = xcalloc(1, sizeof(*s));
	s->px = px;
	s->cf = px->cf;
	s->cf->refs++;
	s->l = l;
	s->proto = proto;
	s->cfd = fd;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	memcpy(&s->peer_sa, sa, salen);
	s->salen = salen;
	addr_string(sa, s->peer_ip, sizeof(s->peer_ip), &s->peer_port);
	{
		struct sockaddr_storage ls;
		socklen_t ll = sizeof(ls);

		if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0) {
			memcpy(&s->local_sa, &ls, ll);
			addr_string((struct sockaddr *)&ls, s->local_ip,
			    sizeof(s->local_ip), &s->local_port);
		}
	}
	buf_init(&s->acc, px->cf->limits.line_length);
	buf_init(&s->user_log, 0);
	s->timer = evtimer_new(px->base, timer_fired, s);
	LIST_INSERT_HEAD(&px->sessions, s, link);
	px->nr_sessions++;
	px->st[l->proto].connections++;
	px->st[l->proto].active++;

	if (l->tls == TLS_USE_IMPLICIT) {
		SSL *ssl = SSL_new(s->cf->server_ctx);

		s->c = bufferevent_openssl_socket_new(px->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_openssl_set_allow_dirty_shutdown(s->c, 1);
		s->client_tls = 1;
	} else
		s->c = bufferevent_socket_new(px->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->c, session_client_read, s->proto->written ?
	    session_written : NULL,
	    session_client_event, s);
	bufferevent_enable(s->c, EV_READ | EV_WRITE);

	if (proto->passthrough) {
		/* port 25: no login; the destination splits delivery */
		s->route = ROUTE_DESTINATION;
		s->be = config_backend(s->cf, l->proto, ROUTE_DESTINATION);
		session_enter_state(s, SS_BACKEND);
		bufferevent_disable(s->c, EV_READ);
		backend_connect(s);
		return;
	}
	session_enter_state(s, SS_PREAUTH);
	session_arm(s, s->cf->timeouts.preauth);
	s->proto->greet(s);
}

static int
is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

static void
backend_tls(struct session *s)
{
	const struct backend *be = s->be;
	const char *name = be->servername ? be->servername : be->host;
	SSL *ssl = SSL_new(be->ctx);

	if (!is_ip(name))
		SSL_set_tlsext_host_name(ssl, name);
	if (!be->insecure) {
		if (is_ip(name))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    name);
		else
			SSL_set1_host(ssl, name);
	}
	/* TLS writes no more than this ahead of the socket: the rest
	 * waits in s->b, where SPLICE's marks see it */
	bufferevent_setwatermark(s->b, EV_WRITE, 0, SPLICE_HIGH);
	s->b = bufferevent_openssl_filter_new(s->px->base, s->b, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(s->b, 1);
	bufferevent_setcb(s->b, backend_read, s->proto->written ? session_written :
	    NULL, backend_event, s);
	bufferevent_enable(s->b, EV_READ | EV_WRITE);
	s->backend_tls = 1;
}

int
session_backend_starttls(struct session *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->b)))
		return -1;
	backend_tls(s);
	return 0;
}

/* PROXY protocol v2: the client's and our addresses, before anything. */
static void
proxy_header(struct session *s)
{
	static const unsigned char sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	unsigned char h[16 + 36];
	size_t len = 16;

	memcpy(h, sig, 12);
	h[12] = 0x21;		/* version 2, PROXY */
	if (s->peer_sa.ss_family == AF_INET &&
	    s->local_sa.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&s->peer_sa;
		const struct sockaddr_in *l = (const void *)&s->local_sa;

		h[13] = 0x11;
		memcpy(h + 16, &p->sin_addr, 4);
		memcpy(h + 20, &l->sin_addr, 4);
		memcpy(h + 24, &p->sin_port, 2);
		memcpy(h + 26, &l->sin_port, 2);
		len += 12;
	} else if (s->peer_sa.ss_family == AF_INET6 &&
	    s->local_sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const void *)&s->peer_sa;
		const struct sockaddr_in6 *l = (const void *)&s->local_sa;

		h[13] = 0x21;
		memcpy(h + 16, &p->sin6_addr, 16);
		memcpy(h + 32, &l->sin6_addr, 16);
		memcpy(h + 48, &p->sin6_port, 2);
		memcpy(h + 50, &l->sin6_port, 2);
		len += 36;
	} else {
		h[12] = 0x20;	/* LOCAL */
		h[13] = 0x00;
	}
	h[14] = (len - 16) >> 8;
	h[15] = (len - 16) & 0xff;
	evbuffer_add(bufferevent_get_output(s->b), h, len);
}

static struct backend_state *
backend_state(struct session *s)
{
	return s->be->st;
}

static void
backend_connect(struct session *s)
{
	struct backend_state *bs = backend_state(s);
	int one = 1;

	if (s->b) {
		bufferevent_free(s->b);
		s->b = NULL;
	}
	s->backend_tls = 0;
	s->caps = 0;
	s->step = 0;
	s->relay = 0;
	s->connected = 0;
	s->native_done = 0;
	s->tries++;
	bs->connections++;
	s->b = bufferevent_socket_new(s->px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->b, backend_read, s->proto->written ? session_written :
	    NULL, backend_event, s);
	session_arm(s, s->cf->timeouts.backend);
	if (bufferevent_socket_connect(s->b, (struct sockaddr *)&s->be->sa,
	    s->be->salen) < 0) {
		/* the event callback is not called for an immediate error */
		session_backend_down(s, strerror(errno));
		return;
	}
	/* the login and each command are small writes wanted at once */
	setsockopt(bufferevent_getfd(s->b), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	bufferevent_enable(s->b, EV_READ | EV_WRITE);
}

static void
backend_connected(struct session *s)
{
	struct backend_state *bs = backend_state(s);

	bs->failures = 0;
	bs->open_until = 0;
	bs->probing = 0;
	s->connected = 1;
	if (s->be->client_address == CA_PROXY)
		proxy_header(s);
	if (s->be->tls == TLS_USE_IMPLICIT)
		backend_tls(s);
	if (s->proto->passthrough)
		session_splice(s);
	else if (s->proto->connected)
		s->proto->connected(s);
}

static void
backend_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(s->b);
	char *line;
	size_t n;
	int r;

	if (s->proto->backend_read) {
		if (s->state != SS_CLOSING)
			s->proto->backend_read(s);
		return;
	}
	while (s->state == SS_BACKEND) {
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) > BACKEND_LINE_MAX)
				session_backend_down(s, "a line too long");
			return;
		}
		r = s->proto->backend_line(s, line, n);
		free(line);
		if (r < 0) {
			session_backend_down(s, "it broke the protocol");
			return;
		}
	}
}

static const char *
ssl_why(struct bufferevent *bev)
{
	static char msg[160];
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (!e)
		return NULL;
	ERR_error_string_n(e, msg, sizeof(msg));
	while (bufferevent_get_openssl_error(bev))
		;
	return msg;
}

static void
backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	const char *why;

	if (what & BEV_EVENT_CONNECTED) {
		if (!s->backend_tls)
			backend_connected(s);
		return;
	}
	if (s->state != SS_BACKEND ||
	    !(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		session_backend_event(bev, what, arg);
		return;
	}
	why = s->backend_tls ? ssl_why(bev) : NULL;
	session_backend_down(s, why ? why : what & BEV_EVENT_EOF ?
	    "it closed the connection" : strerror(EVUTIL_SOCKET_ERROR()));
}

void
session_backend_down(struct session *s, const char *why)
{
	struct backend_state *bs = backend_state(s);
	int connected = s->connected;

	log_warnx("%s %s:%d user=%s: backend %s (%s): %s", s->proto->name,
	    s->peer_ip, s->peer_port, session_user_log(s),
	    s->be->name, s->be->address, why);
	/* a backend that took the connection is alive, however slow its
	 * answer: only a failed connection counts towards the breaker */
	if (!connected)
		bs->connect_failures++;
	if (!connected && ++bs->failures >= s->cf->breaker.failures &&
	    !bs->open_until) {
		bs->open_until = time(NULL) + s->cf->breaker.cooldown;
		log_warnx("backend %s (%s): %d failures in a row, no"
		    " attempts for %llds", s->be->name, s->be->address,
		    bs->failures, s->cf->breaker.cooldown);
	}
	if (bs->probing && !connected) {
		bs->probing = 0;
		bs->open_until = time(NULL) + s->cf->breaker.cooldown;
	}
	if (!connected && s->tries <= s->cf->limits.connect_retries &&
	    !bs->open_until && !s->proto->passthrough) {
		backend_connect(s);
		return;
	}
	bufferevent_free(s->b);
	s->b = NULL;
	s->px->st[s->l->proto].temp_failures++;
	if (s->proto->passthrough) {
		s->proto->temp_fail(s, FAIL_BACKEND);
		session_close(s, "backend down");
		return;
	}
	s->proto->temp_fail(s, FAIL_BACKEND);
	session_enter_state(s, SS_PREAUTH);
	s->result = NULL;
	session_arm(s, s->cf->timeouts.preauth);
	bufferevent_enable(s->c, EV_READ);
	session_front_read(s);
}

int
session_login(struct session *s)
{
	if (s->user && !ident_ok(s->user)) {
		/* not even into the log: it may hold a line break */
		free(s->user);
		s->user = NULL;
		return -1;
	}
	free(s->route_id);
	s->route_id = s->user ? sasl_route_id(s->cf, s->user) : NULL;
	s->tries = 0;
	clock_gettime(CLOCK_MONOTONIC, &s->login_at);
	bufferevent_disable(s->c, EV_READ);
	return session_route(s);
}

/*
 * Where a login goes: held while a delay of its account lasts (the
 * mapping is read when the hold ends: a flip meanwhile counts), else
 * through the mapping to a backend whose breaker lets it try.  1 when it
 * is on its way, 0 when the client was told to try again later.
 */
static int
session_route(struct session *s)
{
	struct buf err = BUF_INIT;
	struct backend_state *bs;
	time_t until, now = time(NULL);

	if (s->route_id &&
	    (until = route_delayed(s->px, s->route_id)) > now) {
		session_enter_state(s, SS_HOLD);
		session_arm(s, until - now);
		return 1;
	}
	if (!s->route_id)
		s->route = ROUTE_SOURCE;	/* no identity: the default */
	else if (route_lookup(s->px, s->route_id, &s->route, &err) < 0) {
		log_warnx("%s: %s", s->route_id, err.buf);
		buf_release(&err);
		s->be = NULL;
		s->proto->temp_fail(s, FAIL_NO_ROUTE);
		bufferevent_enable(s->c, EV_READ);
		return 0;
	}
	s->be = config_backend(s->cf, s->l->proto, s->route);
	bs = backend_state(s);
	if (bs->open_until > now || (bs->open_until && bs->probing)) {
		s->px->st[s->l->proto].temp_failures++;
		s->proto->temp_fail(s, FAIL_UNAVAILABLE);
		bufferevent_enable(s->c, EV_READ);
		return 0;
	}
	if (bs->open_until)
		bs->probing = 1;	/* half open: this login tries */
	session_enter_state(s, SS_BACKEND);
	backend_connect(s);
	return 1;
}

/* Tell the client its login was refused, and be ready for another. */
static void
refuse(struct session *s)
{
	session_write(s, "%s%s%s\r\n", s->tag ? s->tag : "", s->tag ? " " :
	    "", s->refusal);
	free(s->tag);
	s->tag = NULL;
	free(s->refusal);
	s->refusal = NULL;
	session_enter_state(s, SS_PREAUTH);
	if (++s->fails >= 3) {
		if (s->proto->too_many)
			session_write(s, "%s", s->proto->too_many);
		session_close(s, "authentication failed");
		return;
	}
	session_arm(s, s->cf->timeouts.preauth);
	bufferevent_enable(s->c, EV_READ);
	session_preauth_read(s);
}

void
session_login_failed(struct session *s, const char *text)
{
	double wait;

	bufferevent_free(s->b);
	s->b = NULL;
	buf_release_wipe(&s->sasl);
	s->px->st[s->l->proto].login_failures++;
	free(s->refusal);
	if (!s->cf->hide_auth_errors) {
		s->refusal = xstrdup(text);
		refuse(s);
		return;
	}
	/* which server holds the account shows neither in the words nor in
	 * the time of a refusal */
	s->refusal = xstrdup(s->proto->refusals[0]);
	wait = s->cf->timeouts.auth_failure - session_elapsed(&s->login_at);
	if (wait <= 0) {
		refuse(s);
		return;
	}
	session_enter_state(s, SS_REFUSING);
	{
		struct timeval tv = { (time_t)wait,
		    (suseconds_t)((wait - (time_t)wait) * 1e6) };

		evtimer_add(s->timer, &tv);
	}
}
