/*
 * http.c: HTTP for JMAP and DAV.
 *
 * HTTP names the account in every request (its Authorization header),
 * not once per connection, so this front parses all along, with
 * http-parser: each request head is read, routed by its identity (none:
 * the source), rebuilt for the backend (hop-by-hop headers dropped, a
 * bare Basic name made a full address for the destination, Forwarded
 * added when the backend wants the client's address) and its body
 * streamed after it, re-chunked when it came chunked.  The response is
 * parsed the same way, to know where it ends and to frame it for the
 * client.  One request at a time on a connection; the backend connection
 * is kept for the next request when it goes to the same backend.
 *
 * session.c still does the rest: accepting, TLS, the backend's
 * connection with its retries, circuit breaker, delays and timers.  In
 * its terms a request being routed is BACKEND (or HOLD), a request out is
 * SPLICE, and waiting for the next request is PREAUTH.
 */
#include "compat.h"

#include <http_parser.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ident.h"
#include "log.h"
#include "proxy.h"
#include "xalloc.h"

#define HEAD_MAX	(64 * 1024)	/* one head, either way */
#define REUSE_IDLE	2		/* seconds a kept backend may idle */

/* A session's HTTP state. */
#define HTTP(s)	((struct http *)(s)->proto_state)

struct http {
	http_parser rq, rs;		/* the client's requests, the answers */
	struct buf field, value;	/* the header being read */
	int in_value;
	struct buf head;		/* the headers kept, rebuilt */
	struct buf url, reason;
	struct buf host;		/* the request's Host */
	struct buf authz;		/* the Authorization value; wiped */
	struct buf pass;		/* a Basic password; wiped */
	struct evbuffer *pend;		/* for the backend, not sent yet */
	int have_host, have_length;
	int rq_chunked;			/* the request's body came chunked */
	int rq_complete;		/* all of the request was read */
	int head_done;			/* a request head to route */
	int busy;			/* a request out, its answer not done */
	int client_11;			/* the client speaks HTTP/1.1 */
	int is_head;			/* the request is HEAD */
	int rs_started;			/* the answer's head went out */
	int rs_chunked;			/* the answer goes out chunked */
	int rs_done;
	int keep_client, keep_backend;
	int closing;			/* close once the answer is out */
	time_t idle_since;		/* of the kept backend connection */
	unsigned long requests;
};

static const http_parser_settings rq_settings, rs_settings;

static void http_read(struct session *s);

static void
touch(struct session *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last_io = now.tv_sec;
}

static void
http_greet(struct session *s)
{
	struct http *h = xcalloc(1, sizeof(*h));

	s->proto_state = h;
	http_parser_init(&h->rq, HTTP_REQUEST);
	http_parser_init(&h->rs, HTTP_RESPONSE);
	h->rq.data = h->rs.data = s;
	buf_init(&h->field, HEAD_MAX);
	buf_init(&h->value, HEAD_MAX);
	buf_init(&h->head, HEAD_MAX);
	buf_init(&h->url, HEAD_MAX);
	buf_init(&h->reason, 1024);
	buf_init(&h->host, 1024);
	buf_init(&h->authz, HEAD_MAX);
	h->pend = evbuffer_new();
	h->keep_client = 1;
}

static void
http_free(struct session *s)
{
	struct http *h = s->proto_state;

	buf_release_wipe(&h->field);
	buf_release_wipe(&h->value);
	buf_release_wipe(&h->head);
	buf_release(&h->url);
	buf_release(&h->reason);
	buf_release(&h->host);
	buf_release_wipe(&h->authz);
	buf_release_wipe(&h->pass);
	evbuffer_free(h->pend);
	free(h);
	s->proto_state = NULL;
}

/* An answer of our own; the connection closes after it. */
static void
respond(struct session *s, int code, const char *msg)
{
	struct http *h = s->proto_state;

	if (!h->rs_started)
		session_write(s, "HTTP/1.1 %d %s\r\nContent-Type: text/plain;"
		    " charset=utf-8\r\nContent-Length: %zu\r\nConnection:"
		    " close\r\n%s\r\n%s\n", code,
		    http_status_str((enum http_status)code), strlen(msg) + 1,
		    code == 503 ? "Retry-After: 5\r\n" : "", msg);
	h->rs_started = 1;
	h->closing = 1;
}

static void
http_temp_fail(struct session *s, enum fail why)
{
	struct http *h = s->proto_state;

	if (h->busy || h->head_done)
		respond(s, 503, "the server of this account cannot be reached;"
		    " try again shortly");
	h->closing = 1;
	if (!s->result)
		s->result = h->busy ? fail_name(why) : h->requests ? "idle" :
		    NULL;
}

/* Headers that belong to one connection, not to the message. */
static int
hop_by_hop(const char *name)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "TE",
		"Trailer", "Transfer-Encoding", "Upgrade",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return 1;
	return 0;
}

/*
 * What a client says of where it comes from: dropped, since anyone can
 * write it; the proxy says it itself (client_address: native).
 */
static int
forwarding(const char *name)
{
	static const char *const names[] = {
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Forwarded-Host", "X-Forwarded-Port", "X-Real-IP",
		"X-Client-IP",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return 1;
	return 0;
}

/*
 * A Location the backend built from the Host we passed on, but with the
 * scheme of its own leg: the scheme of the client's.
 */
static int
add_location(struct session *s, const char *v)
{
	struct http *h = s->proto_state;
	const char *ours = s->client_tls ? "https://" : "http://";
	const char *theirs = s->client_tls ? "http://" : "https://";
	size_t n = strlen(theirs);

	if (h->host.len && !strncasecmp(v, theirs, n) &&
	    !strncasecmp(v + n, h->host.buf, h->host.len) &&
	    (v[n + h->host.len] == '/' || !v[n + h->host.len]))
		return buf_addf(&h->head, "Location: %s%s\r\n", ours, v + n);
	return buf_addf(&h->head, "Location: %s\r\n", v);
}

/* The header just read is complete: keep it, or what it says. */
static int
header_done(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;
	const char *name = h->field.buf;
	int r = 0, rq = p == &h->rq;

	if (!h->in_value)
		return 0;
	h->in_value = 0;
	if (rq && !strcasecmp(name, "Authorization")) {
		buf_reset(&h->authz);
		r = buf_add(&h->authz, h->value.buf, h->value.len);
	} else if (!rq && !strcasecmp(name, "Alt-Svc")) {
		/* it names the backend's ports, not ours */
	} else if (rq && forwarding(name)) {
		/* the client's word for its address: ours replaces it */
	} else if (!rq && !strcasecmp(name, "Location")) {
		r = add_location(s, h->value.buf);
	} else if (!hop_by_hop(name)) {
		if (rq && !strcasecmp(name, "Host")) {
			buf_reset(&h->host);
			r = buf_add(&h->host, h->value.buf, h->value.len);
			h->have_host = 1;
		}
		if (!strcasecmp(name, "Content-Length"))
			h->have_length = 1;
		if (r == 0)
			r = buf_addf(&h->head, "%s: %s\r\n", name,
			    h->value.buf);
	}
	buf_reset(&h->field);
	buf_reset(&h->value);
	return r;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;

	if (header_done(p) < 0)
		return -1;
	return buf_add(&HTTP(s)->field, at, len);
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;

	HTTP(s)->in_value = 1;
	return buf_add(&HTTP(s)->value, at, len);
}

static int
on_begin(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;

	buf_reset(&h->head);
	buf_reset(&h->field);
	buf_reset(&h->value);
	h->in_value = h->have_host = h->have_length = 0;
	if (p == &h->rq) {
		buf_reset(&h->url);
		buf_reset(&h->host);
		buf_release_wipe(&h->authz);
		h->rq_complete = 0;
	} else
		buf_reset(&h->reason);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;

	return buf_add(&HTTP(s)->url, at, len);
}

static int
on_status(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;

	return buf_add(&HTTP(s)->reason, at, len);
}

/* A body's bytes, framed again: `chunked` they go out in chunks. */
static void
add_body(struct evbuffer *to, int chunked, const char *at, size_t len)
{
	if (!len)
		return;
	if (chunked)
		evbuffer_add_printf(to, "%zx\r\n", len);
	evbuffer_add(to, at, len);
	if (chunked)
		evbuffer_add(to, "\r\n", 2);
}

static int
rq_headers_complete(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;

	if (header_done(p) < 0)
		return -1;
	h->rq_chunked = !!(p->flags & F_CHUNKED);
	h->client_11 = p->http_major > 1 ||
	    (p->http_major == 1 && p->http_minor >= 1);
	h->keep_client = http_should_keep_alive(p);
	h->is_head = p->method == HTTP_HEAD;
	h->head_done = 1;
	return 0;
}

static int
rq_body(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;

	if (!h->closing)
		add_body(h->pend, h->rq_chunked, at, len);
	return 0;
}

static int
rq_complete(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;

	if (h->rq_chunked && !h->closing)
		evbuffer_add(h->pend, "0\r\n\r\n", 5);
	h->rq_complete = 1;
	/* the next request waits for this one's answer */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings rq_settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = rq_headers_complete,
	.on_body = rq_body,
	.on_message_complete = rq_complete,
};

static int
rs_headers_complete(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;
	struct evbuffer *out = bufferevent_get_output(s->c);
	int code = p->status_code, interim = code / 100 == 1, eof;

	if (header_done(p) < 0)
		return -1;
	eof = !interim && code != 204 && code != 304 && !h->is_head &&
	    !(p->flags & F_CHUNKED) && !h->have_length;
	if (!interim) {
		if (eof)
			h->keep_backend = 0;
		/* a body without its length goes out chunked to HTTP/1.1
		 * clients; an HTTP/1.0 client reads it to our close */
		h->rs_chunked = h->client_11 && !h->is_head &&
		    ((p->flags & F_CHUNKED) || eof);
		if (!h->client_11 && ((p->flags & F_CHUNKED) || eof))
			h->keep_client = 0;
		if (h->authz.len) {
			if (code == 401)
				s->px->st[P_HTTP].login_failures++;
			else
				s->px->st[P_HTTP].logins++;
		}
	}
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n%s", code, h->reason.buf,
	    h->head.buf);
	if (h->rs_chunked && !interim)
		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
	if (!h->keep_client && !interim)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (!interim)
		h->rs_started = 1;
	return h->is_head ? 1 : 0;
}

static int
rs_body(http_parser *p, const char *at, size_t len)
{
	struct session *s = p->data;

	add_body(bufferevent_get_output(s->c), HTTP(s)->rs_chunked, at,
	    len);
	return 0;
}

static int
rs_complete(http_parser *p)
{
	struct session *s = p->data;
	struct http *h = s->proto_state;

	if (p->status_code / 100 == 1)
		return 0;		/* the final answer follows */
	if (h->rs_chunked)
		evbuffer_add(bufferevent_get_output(s->c), "0\r\n\r\n", 5);
	if (!http_should_keep_alive(p))
		h->keep_backend = 0;
	h->rs_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings rs_settings = {
	.on_message_begin = on_begin,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = rs_headers_complete,
	.on_body = rs_body,
	.on_message_complete = rs_complete,
};

/* The request head for the backend s->be, before what pend holds. */
static void
build_head(struct session *s)
{
	struct http *h = s->proto_state;
	struct evbuffer *head = evbuffer_new();
	char *bu;

	evbuffer_add_printf(head, "%s %s HTTP/1.1\r\n%s",
	    http_method_str((enum http_method)h->rq.method), h->url.buf,
	    h->head.buf);
	if (!h->have_host)
		evbuffer_add_printf(head, "Host: %s\r\n", s->be->host);
	if (h->authz.len) {
		bu = s->user && h->pass.len ?
		    sasl_backend_user(s->cf, s->user, s->route) : NULL;
		if (bu && strcmp(bu, s->user)) {
			/* a bare name: the destination wants the address */
			struct buf cred = BUF_INIT, enc = BUF_INIT;

			buf_addf(&cred, "%s:", bu);
			buf_add(&cred, h->pass.buf, h->pass.len);
			b64_encode(cred.buf, cred.len, &enc);
			evbuffer_add_printf(head, "Authorization: Basic %s\r\n",
			    enc.buf);
			buf_release_wipe(&cred);
			buf_release_wipe(&enc);
		} else
			evbuffer_add_printf(head, "Authorization: %s\r\n",
			    h->authz.buf);
		free(bu);
	}
	buf_release_wipe(&h->pass);
	if (s->be->client_address == CA_NATIVE) {
		evbuffer_add_printf(head, strchr(s->peer_ip, ':') ?
		    "Forwarded: for=\"[%s]\";proto=%s\r\n" :
		    "Forwarded: for=%s;proto=%s\r\n", s->peer_ip,
		    s->client_tls ? "https" : "http");
		evbuffer_add_printf(head, "X-Forwarded-For: %s\r\n"
		    "X-Forwarded-Proto: %s\r\n", s->peer_ip,
		    s->client_tls ? "https" : "http");
	}
	if (h->rq_chunked)
		evbuffer_add_printf(head, "Transfer-Encoding: chunked\r\n");
	evbuffer_add(head, "\r\n", 2);
	evbuffer_prepend_buffer(h->pend, head);
	evbuffer_free(head);
}

static size_t
queued(struct session *s)
{
	return evbuffer_get_length(HTTP(s)->pend) +
	    (s->b ? evbuffer_get_length(bufferevent_get_output(s->b)) : 0);
}

static void
flush(struct session *s)
{
	struct http *h = s->proto_state;

	if (s->state == SS_SPLICE && s->b && evbuffer_get_length(h->pend))
		evbuffer_add_buffer(bufferevent_get_output(s->b), h->pend);
}

/* The request goes out on the connection to s->be. */
static void
send_request(struct session *s)
{
	session_enter_state(s, SS_SPLICE);
	touch(s);
	session_arm(s, s->cf->timeouts.idle);
	flush(s);
	bufferevent_enable(s->c, EV_READ);
	bufferevent_enable(s->b, EV_READ | EV_WRITE);
}

/* A request head was read: route it and send it. */
static void
dispatch(struct session *s)
{
	struct http *h = s->proto_state;
	struct buf err = BUF_INIT;
	const struct backend *be;
	enum route r = ROUTE_SOURCE;
	char *id = NULL;
	int reuse;

	h->head_done = 0;
	h->busy = 1;
	h->requests++;
	free(s->user);
	buf_release_wipe(&h->pass);
	s->user = h->authz.len ? sasl_http_user(h->authz.buf, &h->pass) : NULL;
	if (s->user && !ident_ok(s->user)) {
		free(s->user);
		s->user = NULL;
		respond(s, 400, "the identity in Authorization is malformed");
		s->result = "bad identity";
		return;
	}
	/* the kept backend connection serves if the route is the same */
	reuse = s->b && s->connected && h->keep_backend &&
	    time(NULL) - h->idle_since <= REUSE_IDLE;
	if (reuse && s->user) {
		id = sasl_route_id(s->cf, s->user);
		reuse = route_lookup(s->px, id, &r, &err) == 0 &&
		    route_delayed(s->px, id) <= time(NULL);
		buf_release(&err);
	}
	if (reuse && (be = config_backend(s->cf, P_HTTP, r)) == s->be) {
		free(s->route_id);
		s->route_id = id;
		s->route = r;
		build_head(s);
		send_request(s);
		return;
	}
	free(id);
	if (s->b) {
		bufferevent_free(s->b);
		s->b = NULL;
	}
	h->keep_backend = 1;
	session_login(s);	/* the request goes out once connected */
}

static void
http_read(struct session *s)
{
	struct http *h = s->proto_state;
	struct evbuffer *in = bufferevent_get_input(s->c);
	struct evbuffer_iovec v;
	enum http_errno e;
	size_t n;

	while (!h->closing && s->state != SS_BACKEND &&
	    s->state != SS_HOLD) {
		if (HTTP_PARSER_ERRNO(&h->rq) == HPE_PAUSED)
			return;		/* until the answer is out */
		if (queued(s) >= SPLICE_HIGH) {
			/* the backend side drains: written() goes on */
			bufferevent_disable(s->c, EV_READ);
			return;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || !v.iov_len)
			return;
		n = http_parser_execute(&h->rq, &rq_settings, v.iov_base,
		    v.iov_len);
		evbuffer_drain(in, n);
		s->in += n;
		e = HTTP_PARSER_ERRNO(&h->rq);
		if (e != HPE_OK && e != HPE_PAUSED) {
			/* what was wrong, in the client's words: not the
			 * parser's (its callbacks are ours) */
			int big = e == HPE_HEADER_OVERFLOW ||
			    e == HPE_CB_header_field ||
			    e == HPE_CB_header_value || e == HPE_CB_url;

			log_debug("http %s:%d: %s", s->peer_ip, s->peer_port,
			    http_errno_description(e));
			respond(s, big ? 431 : 400, big ? "the request's"
			    " headers or its target are too long" :
			    "malformed request");
			s->result = "bad request";
			break;
		}
		if (h->rq.upgrade) {
			respond(s, 501, "upgrades and CONNECT are not proxied");
			s->result = "upgrade refused";
			break;
		}
		if (h->head_done)
			dispatch(s);
		else if (!h->busy)
			session_arm(s, s->cf->timeouts.preauth);
		flush(s);
	}
	if (h->closing)
		session_close(s, s->result ? s->result : "done");
}

static void
http_connected(struct session *s)
{
	build_head(s);		/* for the backend the route chose */
	send_request(s);
	http_read(s);
}

/* The answer is out: the next request, or the end. */
static void
answered(struct session *s)
{
	struct http *h = s->proto_state;

	h->busy = h->rs_done = h->rs_started = h->rs_chunked = 0;
	if (!h->rq_complete) {
		/* answered before the client sent all of its request (a
		 * 401 to an upload): neither side can go on cleanly */
		h->keep_backend = h->keep_client = 0;
	}
	http_parser_init(&h->rs, HTTP_RESPONSE);
	h->rs.data = s;
	if (!h->keep_backend && s->b) {
		bufferevent_free(s->b);
		s->b = NULL;
	}
	h->idle_since = time(NULL);
	if (!h->keep_client) {
		session_close(s, "done");
		return;
	}
	session_enter_state(s, SS_PREAUTH);
	session_arm(s, s->cf->timeouts.preauth);
	http_parser_pause(&h->rq, 0);
	bufferevent_enable(s->c, EV_READ);
	http_read(s);
}

static void
http_backend_read(struct session *s)
{
	struct http *h = s->proto_state;
	struct evbuffer *in = bufferevent_get_input(s->b);
	struct evbuffer_iovec v;
	enum http_errno e;
	size_t n;

	while (s->b && evbuffer_peek(in, -1, NULL, &v, 1) >= 1 &&
	    v.iov_len) {
		if (!h->busy || s->state != SS_SPLICE) {
			/* nothing was asked: it cannot be an answer */
			bufferevent_free(s->b);
			s->b = NULL;
			return;
		}
		if (evbuffer_get_length(bufferevent_get_output(s->c)) >=
		    SPLICE_HIGH) {
			bufferevent_disable(s->b, EV_READ);
			return;		/* written() goes on */
		}
		n = http_parser_execute(&h->rs, &rs_settings, v.iov_base,
		    v.iov_len);
		evbuffer_drain(in, n);
		s->out += n;
		touch(s);
		e = HTTP_PARSER_ERRNO(&h->rs);
		if (e != HPE_OK && e != HPE_PAUSED) {
			log_warnx("http %s:%d: backend %s (%s): a bad answer:"
			    " %s", s->peer_ip, s->peer_port, s->be->name,
			    s->be->address, http_errno_description(e));
			respond(s, 502, "the server's answer was malformed");
			session_close(s, "bad answer");
			return;
		}
		if (h->rs_done) {
			answered(s);
			return;
		}
	}
}

static void
http_backend_eof(struct session *s)
{
	struct http *h = s->proto_state;

	if (h->busy && s->state == SS_SPLICE) {
		http_backend_read(s);
		if (!h->busy)
			return;
		/* the end of a body that runs to the close */
		http_parser_execute(&h->rs, &rs_settings, NULL, 0);
		if (h->rs_done) {
			h->keep_backend = 0;
			answered(s);
			return;
		}
		if (!h->rs_started) {
			log_warnx("http %s:%d: backend %s (%s) closed without"
			    " an answer", s->peer_ip, s->peer_port,
			    s->be->name, s->be->address);
			respond(s, 502, "the server closed the connection"
			    " without an answer");
		}
		session_close(s, "closed by the server");
		return;
	}
	/* a kept connection the backend closed meanwhile */
	bufferevent_free(s->b);
	s->b = NULL;
}

static void
http_written(struct session *s, int backend)
{
	if (s->state != SS_SPLICE && s->state != SS_PREAUTH)
		return;
	if (backend) {
		bufferevent_enable(s->c, EV_READ);
		http_read(s);
	} else if (s->b) {
		bufferevent_enable(s->b, EV_READ);
		http_backend_read(s);
	}
}

const struct proto proto_http = {
	.name = "http",
	.id = P_HTTP,
	.greet = http_greet,
	.temp_fail = http_temp_fail,
	.read = http_read,
	.backend_read = http_backend_read,
	.connected = http_connected,
	.backend_eof = http_backend_eof,
	.written = http_written,
	.free = http_free,
};
