/*
 * session.c: one client's session, from accept to its log line; its
 * login with a backend is login.c's.
 *
 *	PREAUTH --login--> [HOLD] --> BACKEND --accepted--> SPLICE --> CLOSING
 *	   ^                              |
 *	   +------refused or down---------+
 *
 * In PREAUTH the protocol's front reads the client's lines; in BACKEND
 * its back reads the backend's while it logs in with the client's
 * credentials (login.c); in SPLICE nothing is parsed any more: bytes are
 * moved between the two buffers, reading stops on a side whose peer does
 * not keep up (fastpath.c when neither side speaks TLS).
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

static void session_free(struct session *s);

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

static const char *const fail_names[] = {
	[FAIL_BACKEND] = "backend down", [FAIL_NO_ROUTE] = "no route",
	[FAIL_UNAVAILABLE] = "backend unavailable",
	[FAIL_TIMEOUT] = "timeout", [FAIL_LINE_TOO_LONG] = "line too long",
	[FAIL_COMMAND_TOO_LONG] = "command too long",
	[FAIL_KICKED] = "kicked", [FAIL_SHUTDOWN] = "shutdown",
};

const char *
fail_name(enum fail why)
{
	return fail_names[why];
}

double
session_elapsed(const struct timespec *t0)
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

/* A side took what was queued for it: the protocol's own flow control. */
void
session_written(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != SS_CLOSING)
		s->proto->written(s, bev == s->b);
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

void
session_drained(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct timespec now;
	struct timeval tv = { 0, 20000 };

	if (s->fp ? !fast_pending(s) : !pending(s->c) && !pending(s->b)) {
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
		fast_stop_reading(s);
	} else {
		bufferevent_disable(s->c, EV_READ);
		bufferevent_setcb(s->c, NULL, session_drained,
		    session_client_event, s);
	}
	if (s->b) {
		bufferevent_disable(s->b, EV_READ);
		bufferevent_setcb(s->b, NULL, session_drained,
		    session_backend_event, s);
	}
	{
		struct timespec now;

		/* a peer that does not read gets 5 s */
		clock_gettime(CLOCK_MONOTONIC, &now);
		s->last_io = now.tv_sec + 5;
	}
	session_drained(NULL, s);
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
	/* the socket outlives its bufferevent, for a FIN, not a reset */
	int lfd = dup(s->cfd);

	log_info("%s %s:%d user=%s backend=%s%s%s in=%llu out=%llu"
	    " duration=%.3f result=%s", s->proto->name, s->peer_ip,
	    s->peer_port, session_user_log(s),
	    s->be ? route_name(s->route) : "-", s->be ? " " : "",
	    s->be ? s->be->address : "", s->in, s->out,
	    session_elapsed(&s->start),
	    s->result ? s->result : "closed");
	LIST_REMOVE(s, link);
	px->nr_sessions--;
	px->st[s->l->proto].active--;
	if (s->fp)
		fast_free(s);
	if (s->proto_state && s->proto->free)
		s->proto->free(s);
	if (s->c)
		bufferevent_free(s->c);
	if (s->b)
		bufferevent_free(s->b);
	event_free(s->timer);
	if (lfd >= 0)
		linger_close(px, lfd);
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
	size_t n = evbuffer_get_length(in);

	if (from == s->c)
		note_client_buffer(s, in);
	if (s->filter)
		s->filter(s, from == s->b, in, out);
	else
		evbuffer_add_buffer(out, in);
	*count += n - evbuffer_get_length(in);
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

void
session_preauth_read(struct session *s)
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
				s->proto->temp_fail(s, FAIL_COMMAND_TOO_LONG);
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
				s->proto->temp_fail(s, FAIL_LINE_TOO_LONG);
				session_close(s, "line too long");
			}
			return;
		}
		if (n > max || s->acc.len + n > max) {
			explicit_bzero(line, n);
			free(line);
			s->proto->temp_fail(s, FAIL_LINE_TOO_LONG);
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
void
session_front_read(struct session *s)
{
	if (s->proto->read)
		s->proto->read(s);
	else
		session_preauth_read(s);
}

void
session_client_read(struct bufferevent *bev, void *arg)
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
		session_preauth_read(s);
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
		/* a SASL answer is base64, or "*": else it is canceled */
		if (n != strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		    "opqrstuvwxyz0123456789+/=") && strcmp(line, "*")) {
			log_info("%s: a login answer that is not base64:"
			    " canceled", s->peer_ip);
			explicit_bzero(line, n);
			n = 1;
			line[0] = '*';
		}
		evbuffer_add(bufferevent_get_output(s->b), line, n);
		evbuffer_add(bufferevent_get_output(s->b), "\r\n", 2);
		explicit_bzero(line, n);
		free(line);
		break;
	default:
		break;
	}
}

void
session_client_event(struct bufferevent *bev, short what, void *arg)
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
	bufferevent_setwatermark(s->c, EV_WRITE, 0, SPLICE_HIGH);
	s->c = bufferevent_openssl_filter_new(s->px->base, s->c, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(s->c, 1);
	bufferevent_setcb(s->c, session_client_read, NULL,
	    session_client_event, s);
	bufferevent_enable(s->c, EV_READ | EV_WRITE);
	s->client_tls = 1;
	return 0;
}

/*
 * The backend side outside its login: in SPLICE its end is the session's
 * (what it said last still goes to the client), in CLOSING it drained.
 */
void
session_backend_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (s->proto->backend_eof && s->state != SS_BACKEND &&
	    s->state != SS_CLOSING) {
		s->proto->backend_eof(s);
		return;
	}
	switch (s->state) {
	case SS_SPLICE:
		move(s, s->b, s->c, &s->out);
		session_close(s, "closed by the server");
		break;
	case SS_CLOSING:
		bufferevent_free(s->b);
		s->b = NULL;
		session_drained(NULL, s);
		break;
	default:
		break;
	}
}

/* The fast path's news, for the session. */
static void
fast_closed(struct session *s, int side)
{
	session_close(s, side == 0 ? "closed by the client" :
	    "closed by the server");
}

static void
fast_drained(struct session *s)
{
	session_drained(NULL, s);
}

static const struct fast_ops fast_ops = {
	fast_closed, fast_drained, note_client,
};

void
session_splice(struct session *s)
{
	struct timespec now;

	session_enter_state(s, SS_SPLICE);
	s->relay = 0;
	buf_release_wipe(&s->sasl);
	buf_release_wipe(&s->acc);
	if (!s->proto->passthrough) {
		s->px->st[s->l->proto].logins++;
		s->be->st->sessions++;
	}
	arm(s, s->cf->timeouts.idle);
	if (!s->client_tls && !s->backend_tls) {
		fast_start(s, &fast_ops);
		return;
	}
	bufferevent_setcb(s->c, session_client_read, splice_written,
	    session_client_event, s);
	bufferevent_setcb(s->b, splice_backend_read, splice_written,
	    session_backend_event, s);
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

void
session_hold(struct proxy *px, const char *id, long secs)
{
	/* whole seconds of the clock: held at least secs */
	if (secs)
		route_delay(px, id, time(NULL) + secs + 1);
	else
		session_release(px, id);
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
				s->proto->temp_fail(s, FAIL_KICKED);
			px->st[s->l->proto].kicked++;
			n++;
			session_close(s, "kicked");
		}
	}
	return n;
}
