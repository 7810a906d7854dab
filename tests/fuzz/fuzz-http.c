/*
 * fuzz-http.c: a libFuzzer target for migrate-proxy's HTTP front
 * (http.c), requests and answers.
 *
 * The input is what a client sends, then, after the first "\0\0", what
 * the backend answers.  The client's bytes go to the front as session.c
 * would hand them over; when it routes a request (the session layer and
 * the route store are the stand-ins below) the backend "connects" and
 * the rest of the input is its answer, then its close.  The sockets are
 * libevent's in-memory pairs; what the proxy writes is dropped.
 */
#include "compat.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ident.h"
#include "proxy.h"
#include "xalloc.h"

static struct config cf;
static struct listener lst;
static struct backend be;
static struct event_base *base;

void
session_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->c), fmt, ap);
	va_end(ap);
}

/* HTTP writes to its backend itself; sasl.c's other protocols do not run */
void
session_backend_write(struct session *s, const char *fmt, ...)
{
}

void
session_close(struct session *s, const char *result)
{
	s->state = SS_CLOSING;
}

const char *
fail_name(enum fail why)
{
	return "failed";
}

void
session_enter_state(struct session *s, enum sstate st)
{
	s->state = st;
}

void
session_arm(struct session *s, long long seconds)
{
}

int
session_login(struct session *s)
{
	if (s->user && !ident_ok(s->user))
		return -1;
	free(s->route_id);
	s->route_id = s->user ? sasl_route_id(s->cf, s->user) : NULL;
	s->route = s->route_id && s->route_id[0] & 1 ? ROUTE_DESTINATION :
	    ROUTE_SOURCE;
	s->be = &be;
	s->state = SS_BACKEND;
	return 1;
}

int
route_lookup(struct proxy *px, const char *id, enum route *r,
    struct buf *err)
{
	*r = id[0] & 1 ? ROUTE_DESTINATION : ROUTE_SOURCE;
	return 0;
}

time_t
route_delayed(struct proxy *px, const char *id)
{
	return 0;
}

const struct backend *
config_backend(const struct config *c, enum proto_id p, enum route r)
{
	return &be;
}

/* sasl.c's SASL halves are not reached from HTTP */
void
session_relay_to_client(struct session *s, const char *line, size_t len)
{
}

static void
setup(void)
{
	base = event_base_new();
	cf.default_domain = "example.org";
	cf.master_separators = "*%";
	be.client_address = CA_NATIVE;
	be.host = "127.0.0.1";
	be.address = "127.0.0.1:1";
	snprintf(be.name, sizeof(be.name), "fuzz");
}

/* as if read from the socket: a bufferevent's input takes no bytes from
 * others at its end, unless thawed */
static void
arrive(struct bufferevent *bev, const char *p, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_unfreeze(in, 0);
	evbuffer_add(in, p, n);
	evbuffer_freeze(in, 0);
}

static struct bufferevent *
pair(struct bufferevent **other)
{
	struct bufferevent *p[2];

	bufferevent_pair_new(base, 0, p);
	*other = p[1];
	return p[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy px;
	const char *in = (const char *)data, *end = in + size, *cut;
	struct bufferevent *cpeer, *bpeer = NULL;
	struct session s = { 0 };
	size_t n;
	int i;

	if (!base)
		setup();
	cut = memmem(in, size, "\0\0", 2);
	n = cut ? (size_t)(cut - in) : size;
	s.px = &px;
	s.cf = &cf;
	s.l = &lst;
	s.proto = &proto_http;
	s.state = SS_PREAUTH;
	snprintf(s.peer_ip, sizeof(s.peer_ip), "%s",
	    size && data[0] & 1 ? "2001:db8::1" : "192.0.2.1");
	s.c = pair(&cpeer);
	proto_http.greet(&s);
	arrive(s.c, in, n);
	proto_http.read(&s);
	/* each request routed: the backend connects; the first one gets
	 * the answer, every one the backend's close */
	for (i = 0; i < 4 && s.state == SS_BACKEND; i++) {
		if (bpeer)
			bufferevent_free(bpeer);
		s.b = pair(&bpeer);
		s.connected = 1;
		proto_http.connected(&s);
		if (cut && s.state == SS_SPLICE && s.b) {
			arrive(s.b, cut + 2, end - cut - 2);
			cut = NULL;
			proto_http.backend_read(&s);
		}
		if (s.state == SS_SPLICE && s.b)
			proto_http.backend_eof(&s);
	}
	proto_http.free(&s);
	bufferevent_free(s.c);
	bufferevent_free(cpeer);
	if (s.b)
		bufferevent_free(s.b);
	if (bpeer)
		bufferevent_free(bpeer);
	free(s.user);
	free(s.route_id);
	/* bufferevents are freed from the loop */
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
