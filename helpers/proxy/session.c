/*
 * session.c: one client's session, from accept to its log line.
 *
 *	PREAUTH --login--> [HOLD] --> BACKEND --accepted--> SPLICE --> CLOSING
 *	   ^                              |
 *	   +------refused or down---------+
 *
 * In PREAUTH the protocol's front reads the client's lines; in BACKEND
 * its back reads the backend's while it logs in with the client's
 * credentials; in SPLICE nothing is parsed any more: bytes are moved
 * between the two buffers, reading stops on a side whose peer does not
 * keep up.
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

/* SPLICE in clear (see fast_start()) */
struct fastpath {
	int fd[2];			/* 0 the client, 1 the backend */
	struct event *rd[2], *wr[2];
	struct evbuffer *pend[2];	/* queued for fd[i] */
};

static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);
static void backend_read(struct bufferevent *bev, void *arg);
static void backend_event(struct bufferevent *bev, short what, void *arg);
static void session_free(struct session *s);
static void drained(struct bufferevent *bev, void *arg);
static void fast_free(struct session *s);
static void backend_connect(struct session *s);
static int session_route(struct session *s);
static void refuse(struct session *s);

static const char *const state_names[] = {
	[SS_PREAUTH] = "preauth", [SS_HOLD] = "hold",
	[SS_BACKEND] = "backend", [SS_SPLICE] = "splice",
	[SS_CLOSING] = "closing", [SS_REFUSING] = "refusing",
};

/* The one way a session's state changes; at debug level, logged. */
void
session_enter_state(struct session *s, enum sstate st)
{
	if (s->state != st)
		log_debug("%s %s:%d user=%s: %s -> %s", s->proto->name,
		    s->peer_ip, s->peer_port, session_user_log(s),
		    state_names[s->state], state_names[st]);
	s->state = st;
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
arm(struct session *s, long long seconds)
{
	struct timeval tv = { seconds, 0 };

	if (seconds > 0)
		evtimer_add(s->timer, &tv);
	else
		evtimer_del(s->timer);
}

void
session_arm(struct session *s, long long seconds)
{
	arm(s, seconds);
}

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct timespec now;

	switch (s->state) {
	case SS_PREAUTH:
		s->proto->temp_fail(s, "timeout");
		session_close(s, "timeout before login");
		break;
	case SS_HOLD:
		/* as before the login, should the route refuse it */
		session_enter_state(s, SS_PREAUTH);
		arm(s, s->cf->timeouts.preauth);
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
		arm(s, s->cf->timeouts.idle - (now.tv_sec - s->last_io));
		break;
	case SS_REFUSING:
		refuse(s);
		break;
	case SS_CLOSING:
		drained(NULL, s);
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

static const struct proto *const protos[P_NR] = {
	[P_IMAP] = &proto_imap,
	[P_POP3] = &proto_pop3,
	[P_SIEVE] = &proto_sieve,
	[P_SUBMISSION] = &proto_submission,
	[P_SMTP] = &proto_smtp,
	[P_HTTP] = &proto_http,
	[P_SOCKETMAP] = &proto_socketmap,
};

/* A side took what was queued for it: the protocol's own flow control. */
static void
written(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != SS_CLOSING)
		s->proto->written(s, bev == s->b);
}

void
session_accept(struct proxy *px, const struct listener *l, int fd,
    struct sockaddr *sa, int salen)
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
	s->proto = protos[l->proto];
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
	bufferevent_setcb(s->c, client_read, s->proto->written ? written : NULL,
	    client_event, s);
	bufferevent_enable(s->c, EV_READ | EV_WRITE);

	if (l->proto == P_SMTP) {
		/* port 25: no login; the destination splits delivery */
		s->route = ROUTE_DESTINATION;
		s->be = config_backend(s->cf, P_SMTP, ROUTE_DESTINATION);
		session_enter_state(s, SS_BACKEND);
		bufferevent_disable(s->c, EV_READ);
		backend_connect(s);
		return;
	}
	session_enter_state(s, SS_PREAUTH);
	arm(s, s->cf->timeouts.preauth);
	s->proto->greet(s);
}

void
session_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->c), fmt, ap);
	va_end(ap);
}

void
session_backend_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->b), fmt, ap);
	va_end(ap);
}

/* What a side still has to write, its TLS filter's socket included. */
static size_t
pending(struct bufferevent *bev)
{
	struct bufferevent *under;
	size_t n;

	if (!bev)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(bev));
	if ((under = bufferevent_get_underlying(bev)))
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

static void
drained(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct timespec now;
	struct timeval tv = { 0, 20000 };

	if (s->fp ? !evbuffer_get_length(s->fp->pend[0]) &&
	    !evbuffer_get_length(s->fp->pend[1]) :
	    !pending(s->c) && !pending(s->b)) {
		session_free(s);
		return;
	}
	/* a filter's socket does not call back when it drains: look
	 * again shortly, until the deadline */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec >= s->last_io) {
		session_free(s);
		return;
	}
	evtimer_add(s->timer, &tv);
}

/* Keep the end of what the client sent in SPLICE (a LOGOUT, a QUIT). */
static void
note_client(struct session *s, const char *p, size_t n)
{
	size_t keep;

	if (n >= sizeof(s->tail)) {
		memcpy(s->tail, p + n - sizeof(s->tail), sizeof(s->tail));
		s->tail_len = sizeof(s->tail);
		return;
	}
	if (s->tail_len + n > sizeof(s->tail)) {
		keep = sizeof(s->tail) - n;
		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		s->tail_len = keep;
	}
	memcpy(s->tail + s->tail_len, p, n);
	s->tail_len += n;
}

static void
note_client_buffer(struct session *s, struct evbuffer *in)
{
	char tmp[sizeof(s->tail)];
	size_t n = evbuffer_get_length(in);
	size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
	struct evbuffer_ptr at;

	evbuffer_ptr_set(in, &at, n - k, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(in, &at, tmp, k);
	note_client(s, tmp, k);
}

/* Whether the client's last line was its protocol's goodbye. */
static int
said_logout(const struct session *s)
{
	const char *w = s->proto->logout, *end, *p;
	size_t n = s->tail_len, wl;

	if (!w || n < 2 || s->tail[n - 1] != '\n')
		return 0;
	end = s->tail + n - 1;
	if (end > s->tail && end[-1] == '\r')
		end--;
	for (p = end; p > s->tail && p[-1] != '\n'; p--)
		;
	/* "QUIT", or "tag LOGOUT" */
	if (memchr(p, ' ', end - p))
		p = (const char *)memchr(p, ' ', end - p) + 1;
	wl = strlen(w);
	return (size_t)(end - p) == wl && !strncasecmp(p, w, wl);
}

void
session_close(struct session *s, const char *result)
{
	if (s->state == SS_CLOSING)
		return;
	if (s->state == SS_SPLICE && said_logout(s))
		s->result = "logout";
	if (!s->result)
		s->result = result;
	session_enter_state(s, SS_CLOSING);
	if (s->fp) {
		event_del(s->fp->rd[0]);
		event_del(s->fp->rd[1]);
	} else {
		bufferevent_disable(s->c, EV_READ);
		bufferevent_setcb(s->c, NULL, drained, client_event, s);
	}
	if (s->b) {
		bufferevent_disable(s->b, EV_READ);
		bufferevent_setcb(s->b, NULL, drained, backend_event, s);
	}
	{
		struct timespec now;

		/* a peer that does not read gets 5 s */
		clock_gettime(CLOCK_MONOTONIC, &now);
		s->last_io = now.tv_sec + 5;
	}
	drained(NULL, s);
}

/*
 * The user name as a log line may carry it: valid UTF-8 as it is, other
 * bytes, control characters, blanks and backslashes as \xHH.
 */
const char *
session_user_log(struct session *s)
{
	const unsigned char *p;
	size_t n;

	if (!s->user)
		return "-";
	buf_reset(&s->user_log);
	for (p = (const unsigned char *)s->user; *p; p += n) {
		n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 :
		    *p >= 0xc0 ? 2 : 1;
		if (*p <= 0x20 || *p == 0x7f || *p == '\\' ||
		    (*p >= 0x80 && (n == 1 || strnlen((const char *)p, n) < n ||
		    !utf8_valid((const char *)p, n)))) {
			buf_addf(&s->user_log, "\\x%02x", *p);
			n = 1;
		} else
			buf_add(&s->user_log, p, n);
		if (s->user_log.len > 300) {
			buf_adds(&s->user_log, "...");
			break;
		}
	}
	return s->user_log.buf;
}

static void
session_free(struct session *s)
{
	struct proxy *px = s->px;

	log_info("%s %s:%d user=%s backend=%s%s%s in=%llu out=%llu"
	    " duration=%.3f result=%s", s->proto->name, s->peer_ip,
	    s->peer_port, session_user_log(s),
	    s->be ? route_name(s->route) : "-", s->be ? " " : "",
	    s->be ? s->be->address : "", s->in, s->out, elapsed(&s->start),
	    s->result ? s->result : "closed");
	LIST_REMOVE(s, link);
	px->nr_sessions--;
	px->st[s->l->proto].active--;
	if (s->fp)
		fast_free(s);
	if (s->http)
		http_free(s);
	if (s->c)
		bufferevent_free(s->c);
	if (s->b)
		bufferevent_free(s->b);
	event_free(s->timer);
	free(s->user);
	free(s->refusal);
	buf_release(&s->user_log);
	free(s->route_id);
	free(s->mech);
	free(s->tag);
	free(s->ehlo);
	if (s->login_user)
		free(s->login_user);
	buf_release_wipe(&s->sasl);
	buf_release_wipe(&s->acc);
	config_unref(s->cf);
	free(s);
	if (px->stopping && !px->nr_sessions)
		event_base_loopexit(px->base, NULL);
}

/* Splice: move what one side sent to the other. */
static void
move(struct session *s, struct bufferevent *from, struct bufferevent *to,
    unsigned long long *count)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);
	struct timespec now;

	*count += evbuffer_get_length(in);
	if (from == s->c)
		note_client_buffer(s, in);
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= SPLICE_HIGH) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, SPLICE_HIGH / 2, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last_io = now.tv_sec;
}

/* A side drained below the mark: read its peer again. */
static void
splice_written(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != SS_SPLICE)
		return;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev == s->c ? s->b : s->c, EV_READ);
}

static void
splice_backend_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	move(s, s->b, s->c, &s->out);
}

static void
preauth_read(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->c);
	size_t max = s->cf->limits.line_length, n;
	char *line;
	int r;

	while (s->state == SS_PREAUTH) {
		if (s->literal) {
			size_t have = evbuffer_get_length(in);

			n = have < s->literal ? have : s->literal;
			if (!n)
				return;
			if (s->acc.len + n > max) {
				session_write(s, "%s", s->proto->id == P_IMAP ?
				    "* BYE Command too long\r\n" : "");
				session_close(s, "command too long");
				return;
			}
			{
				char *tmp = xmalloc(n);

				evbuffer_remove(in, tmp, n);
				buf_add(&s->acc, tmp, n);
				explicit_bzero(tmp, n);
				free(tmp);
			}
			s->literal -= n;
			continue;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) > max) {
				s->proto->temp_fail(s, "line too long");
				session_close(s, "line too long");
			}
			return;
		}
		if (n > max || s->acc.len + n > max) {
			explicit_bzero(line, n);
			free(line);
			s->proto->temp_fail(s, "line too long");
			session_close(s, "line too long");
			return;
		}
		r = s->proto->client_line(s, line, n);
		explicit_bzero(line, n);
		free(line);
		if (r < 0) {
			session_close(s, s->result ? s->result : "logout");
			return;
		}
		if (r > 0)
			return;
	}
}

/* Before login again: what the client sent meanwhile. */
static void
front_read(struct session *s)
{
	if (s->proto->read)
		s->proto->read(s);
	else
		preauth_read(s);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	if (s->proto->read) {
		if (s->state != SS_CLOSING)
			s->proto->read(s);
		return;
	}
	switch (s->state) {
	case SS_PREAUTH:
		preauth_read(s);
		break;
	case SS_SPLICE:
		move(s, s->c, s->b, &s->in);
		break;
	case SS_BACKEND:
		/* a SASL exchange the backend continues: relay a line */
		if (!s->relay)
			break;
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) >
			    (size_t)s->cf->limits.line_length)
				session_close(s, "line too long");
			break;
		}
		s->relay = 0;
		evbuffer_add(bufferevent_get_output(s->b), line, n);
		evbuffer_add(bufferevent_get_output(s->b), "\r\n", 2);
		explicit_bzero(line, n);
		free(line);
		break;
	default:
		break;
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		s->client_tls_up = 1;	/* its TLS handshake is done */
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->state == SS_CLOSING) {
			session_free(s);
			return;
		}
		if (s->state == SS_SPLICE)
			s->result = "closed by the client";
		else if (what & BEV_EVENT_ERROR && s->client_tls &&
		    !s->client_tls_up && s->state == SS_PREAUTH)
			s->result = "TLS handshake failed";
		else if (!s->result && s->fails)
			s->result = "authentication failed";
		else if (!s->result)
			s->result = s->proto->read ? "closed by the client" :
			    "disconnected before login";
		/* nothing more can reach the client */
		evbuffer_drain(bufferevent_get_output(s->c),
		    evbuffer_get_length(bufferevent_get_output(s->c)));
		session_close(s, s->result);
	}
}

/* Start TLS on the client's side: the STARTTLS answer is queued. */
int
session_starttls(struct session *s)
{
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(s->c))) {
		/* bytes after STARTTLS would be taken as sent under TLS */
		s->result = "data after STARTTLS";
		return -1;
	}
	if (!(ssl = SSL_new(s->cf->server_ctx))) {
		s->result = "TLS failed";
		return -1;
	}
	s->c = bufferevent_openssl_filter_new(s->px->base, s->c, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(s->c, 1);
	bufferevent_setcb(s->c, client_read, NULL, client_event, s);
	bufferevent_enable(s->c, EV_READ | EV_WRITE);
	s->client_tls = 1;
	return 0;
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
	s->b = bufferevent_openssl_filter_new(s->px->base, s->b, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(s->b, 1);
	bufferevent_setcb(s->b, backend_read, s->proto->written ? written :
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
	bufferevent_setcb(s->b, backend_read, s->proto->written ? written :
	    NULL, backend_event, s);
	arm(s, s->cf->timeouts.backend);
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
	if (s->l->proto == P_SMTP)
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
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (s->proto->backend_eof && s->state != SS_BACKEND &&
	    s->state != SS_CLOSING) {
		s->proto->backend_eof(s);
		return;
	}
	switch (s->state) {
	case SS_BACKEND:
		why = s->backend_tls ? ssl_why(bev) : NULL;
		session_backend_down(s, why ? why : what & BEV_EVENT_EOF ?
		    "it closed the connection" : strerror(
		    EVUTIL_SOCKET_ERROR()));
		break;
	case SS_SPLICE:
		/* what it said last still goes to the client */
		move(s, s->b, s->c, &s->out);
		session_close(s, "closed by the server");
		break;
	case SS_CLOSING:
		bufferevent_free(s->b);
		s->b = NULL;
		drained(NULL, s);
		break;
	default:
		break;
	}
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
	    !bs->open_until && s->l->proto != P_SMTP) {
		backend_connect(s);
		return;
	}
	bufferevent_free(s->b);
	s->b = NULL;
	s->px->st[s->l->proto].temp_failures++;
	if (s->l->proto == P_SMTP) {
		s->proto->temp_fail(s, why);
		session_close(s, "backend down");
		return;
	}
	s->proto->temp_fail(s, why);
	session_enter_state(s, SS_PREAUTH);
	s->result = NULL;
	arm(s, s->cf->timeouts.preauth);
	bufferevent_enable(s->c, EV_READ);
	front_read(s);
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
		arm(s, until - now);
		return 1;
	}
	if (!s->route_id)
		s->route = ROUTE_SOURCE;	/* no identity: the default */
	else if (route_lookup(s->px, s->route_id, &s->route, &err) < 0) {
		log_warnx("%s: %s", s->route_id, err.buf);
		buf_release(&err);
		s->be = NULL;
		s->proto->temp_fail(s, "no route");
		bufferevent_enable(s->c, EV_READ);
		return 0;
	}
	s->be = config_backend(s->cf, s->l->proto, s->route);
	bs = backend_state(s);
	if (bs->open_until > now || (bs->open_until && bs->probing)) {
		s->px->st[s->l->proto].temp_failures++;
		s->proto->temp_fail(s, "backend unavailable");
		bufferevent_enable(s->c, EV_READ);
		return 0;
	}
	if (bs->open_until)
		bs->probing = 1;	/* half open: this login tries */
	session_enter_state(s, SS_BACKEND);
	backend_connect(s);
	return 1;
}

/*
 * The fast path: when neither side speaks TLS, SPLICE drops the
 * bufferevents and moves bytes itself with read(2) into one buffer shared
 * by all sessions and write(2) straight out; only what a peer does not
 * take at once is queued (and its other side then not read).  Half the
 * system calls of bufferevents, and no memory held per session while the
 * sessions idle.
 */

static char fast_buf[SPLICE_HIGH];

static void
fast_touch(struct session *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last_io = now.tv_sec;
}

static void
fast_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct fastpath *fp = s->fp;
	int i = fd == fp->fd[0] ? 0 : 1, o = !i;
	ssize_t n, w = 0;

	n = read(fd, fast_buf, sizeof(fast_buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_close(s, i == 0 ? "closed by the client" :
		    "closed by the server");
		return;
	}
	if (i == 0) {
		s->in += n;
		note_client(s, fast_buf, n);
	} else
		s->out += n;
	fast_touch(s);
	if (!evbuffer_get_length(fp->pend[o])) {
		w = write(fp->fd[o], fast_buf, n);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			session_close(s, o == 0 ? "closed by the client" :
			    "closed by the server");
			return;
		}
		if (w < 0)
			w = 0;
	}
	if (w < n) {
		evbuffer_add(fp->pend[o], fast_buf + w, n - w);
		event_add(fp->wr[o], NULL);
		if (evbuffer_get_length(fp->pend[o]) >= SPLICE_HIGH)
			event_del(fp->rd[i]);
	}
}

static void
fast_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct fastpath *fp = s->fp;
	int o = fd == fp->fd[0] ? 0 : 1;

	if (evbuffer_write(fp->pend[o], fd) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		evbuffer_drain(fp->pend[o], evbuffer_get_length(fp->pend[o]));
		session_close(s, o == 0 ? "closed by the client" :
		    "closed by the server");
		return;
	}
	if (evbuffer_get_length(fp->pend[o]))
		return;
	event_del(fp->wr[o]);
	if (s->state == SS_CLOSING)
		drained(NULL, s);
	else
		event_add(fp->rd[!o], NULL);
}

/* Take over the sockets from the bufferevents, with what they hold. */
static void
fast_start(struct session *s)
{
	struct fastpath *fp = xcalloc(1, sizeof(*fp));
	struct bufferevent *bev[2] = { s->c, s->b };
	int i;

	s->fp = fp;
	for (i = 0; i < 2; i++) {
		/* a bufferevent keeps ends of its buffers frozen */
		evbuffer_unfreeze(bufferevent_get_input(bev[i]), 0);
		evbuffer_unfreeze(bufferevent_get_input(bev[i]), 1);
		evbuffer_unfreeze(bufferevent_get_output(bev[i]), 0);
		evbuffer_unfreeze(bufferevent_get_output(bev[i]), 1);
		fp->fd[i] = bufferevent_getfd(bev[i]);
		fp->pend[i] = evbuffer_new();
		evbuffer_add_buffer(fp->pend[i],
		    bufferevent_get_output(bev[i]));
	}
	/* read but not yet moved: for the other side */
	s->in += evbuffer_get_length(bufferevent_get_input(s->c));
	s->out += evbuffer_get_length(bufferevent_get_input(s->b));
	evbuffer_add_buffer(fp->pend[1], bufferevent_get_input(s->c));
	evbuffer_add_buffer(fp->pend[0], bufferevent_get_input(s->b));
	for (i = 0; i < 2; i++) {
		bufferevent_setfd(bev[i], -1);
		bufferevent_free(bev[i]);
		fp->rd[i] = event_new(s->px->base, fp->fd[i],
		    EV_READ | EV_PERSIST, fast_read, s);
		fp->wr[i] = event_new(s->px->base, fp->fd[i],
		    EV_WRITE | EV_PERSIST, fast_write, s);
	}
	s->c = s->b = NULL;
	for (i = 0; i < 2; i++) {
		if (evbuffer_get_length(fp->pend[i]))
			event_add(fp->wr[i], NULL);
		else
			event_add(fp->rd[!i], NULL);
	}
}

static void
fast_free(struct session *s)
{
	struct fastpath *fp = s->fp;
	int i;

	for (i = 0; i < 2; i++) {
		event_free(fp->rd[i]);
		event_free(fp->wr[i]);
		evbuffer_free(fp->pend[i]);
		close(fp->fd[i]);
	}
	free(fp);
	s->fp = NULL;
}

void
session_splice(struct session *s)
{
	struct timespec now;

	session_enter_state(s, SS_SPLICE);
	s->relay = 0;
	buf_release_wipe(&s->sasl);
	buf_release_wipe(&s->acc);
	if (s->l->proto != P_SMTP) {
		s->px->st[s->l->proto].logins++;
		s->be->st->sessions++;
	}
	arm(s, s->cf->timeouts.idle);
	if (!s->client_tls && !s->backend_tls) {
		fast_touch(s);
		fast_start(s);
		return;
	}
	bufferevent_setcb(s->c, client_read, splice_written, client_event, s);
	bufferevent_setcb(s->b, splice_backend_read, splice_written,
	    backend_event, s);
	/* big reads and writes: a bulk FETCH moves at the speed of the
	 * sockets, not of 16 KiB callbacks */
	bufferevent_set_max_single_read(s->b, SPLICE_HIGH / 2);
	bufferevent_set_max_single_write(s->b, SPLICE_HIGH);
	bufferevent_set_max_single_read(s->c, SPLICE_HIGH / 2);
	bufferevent_set_max_single_write(s->c, SPLICE_HIGH);
	bufferevent_enable(s->c, EV_READ | EV_WRITE);
	bufferevent_enable(s->b, EV_READ | EV_WRITE);
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last_io = now.tv_sec;
	/* what the client sent on after its login, and the backend too */
	if (evbuffer_get_length(bufferevent_get_input(s->c)))
		move(s, s->c, s->b, &s->in);
	if (evbuffer_get_length(bufferevent_get_input(s->b)))
		move(s, s->b, s->c, &s->out);
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
	arm(s, s->cf->timeouts.preauth);
	bufferevent_enable(s->c, EV_READ);
	preauth_read(s);
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
	wait = s->cf->timeouts.auth_failure - elapsed(&s->login_at);
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

void
session_relay_to_client(struct session *s, const char *line, size_t len)
{
	evbuffer_add(bufferevent_get_output(s->c), line, len);
	evbuffer_add(bufferevent_get_output(s->c), "\r\n", 2);
	s->relay = 1;
	bufferevent_enable(s->c, EV_READ);
}

/* The hold of id ends: its held logins go on now, to where the mapping
 * says (timer_fired). */
void
session_release(struct proxy *px, const char *id)
{
	struct session *s;

	route_delay(px, id, 0);
	LIST_FOREACH(s, &px->sessions, link)
		if (s->state == SS_HOLD && !strcasecmp(s->route_id, id)) {
			arm(s, 0);
			event_active(s->timer, EV_TIMEOUT, 0);
		}
}

int
session_kick(struct proxy *px, const char *id)
{
	struct session *s, *next;
	int n = 0;

	route_invalidate(px, id);
	session_release(px, id);	/* the account moved */
	for (s = LIST_FIRST(&px->sessions); s; s = next) {
		next = LIST_NEXT(s, link);
		if (s->route_id && s->state != SS_CLOSING &&
		    s->state != SS_PREAUTH && s->state != SS_HOLD &&
		    !strcasecmp(s->route_id, id)) {
			/* in SPLICE a word of ours could land inside a
			 * literal: the connection just closes */
			if (s->state != SS_SPLICE)
				s->proto->temp_fail(s, "kicked");
			px->st[s->l->proto].kicked++;
			n++;
			session_close(s, "kicked");
		}
	}
	return n;
}
