/*
 * fuzz-preauth.c: a libFuzzer target for one protocol's pre-login parser
 * of migrate-proxy (FUZZ_PROTO: imap, pop3, sieve or smtp), both halves.
 *
 * The session layer (session.c: libevent, sockets) is replaced by the
 * stand-ins below; the input is cut into lines as session.c cuts them,
 * literals included.  Lines go to the front until it logs in, then to the
 * back as the backend's, then to the front again when the backend
 * refuses.  What the proxy writes is formatted and dropped.
 */
#include "compat.h"

#include <event2/event.h>

#include "ident.h"
#include "proxy.h"
#include "xalloc.h"

#define PROTO_(p) proto_##p
#define PROTO(p) PROTO_(p)

static struct config cf;
static struct listener lst;
static struct backend be;
static char sink[4096];

void
session_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sink, sizeof(sink), fmt, ap);
	va_end(ap);
}

void
session_backend_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sink, sizeof(sink), fmt, ap);
	va_end(ap);
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

int
session_starttls(struct session *s)
{
	s->client_tls = 1;
	return 0;
}

int
session_backend_starttls(struct session *s)
{
	s->backend_tls = 1;
	return 0;
}

int
session_login(struct session *s)
{
	struct buf msg = BUF_INIT;
	char *u;

	if (!ident_ok(s->user))
		return -1;
	free(s->route_id);
	s->route_id = sasl_route_id(s->cf, s->user);
	s->route = s->route_id[0] & 1 ? ROUTE_DESTINATION : ROUTE_SOURCE;
	u = sasl_backend_user(s->cf, s->user, s->route);
	sasl_for_backend(s->cf, s, &msg);
	buf_release_wipe(&msg);
	free(u);
	s->be = &be;
	s->state = SS_BACKEND;
	s->step = 0;
	s->caps = 0;
	s->backend_tls = 0;
	s->native_done = 0;
	return 1;
}

void
session_splice(struct session *s)
{
	s->state = SS_SPLICE;
}

void
session_login_failed(struct session *s, const char *text)
{
	session_write(s, "%s%s%s\r\n", s->tag ? s->tag : "", s->tag ? " " :
	    "", text);
	free(s->tag);
	s->tag = NULL;
	buf_release_wipe(&s->sasl);
	s->state = SS_PREAUTH;
}

void
session_relay_to_client(struct session *s, const char *line, size_t len)
{
	s->relay = 1;
}

void
session_backend_down(struct session *s, const char *why)
{
	s->proto->temp_fail(s, FAIL_BACKEND);
	s->state = SS_PREAUTH;
}

/* a migrated account's POP3 ids: after login, fuzz-pop3ids's */
int
pop3ids_start(struct session *s)
{
	return 0;
}

void
pop3ids_free(struct session *s)
{
}

const struct backend *
config_backend(const struct config *c, enum proto_id p, enum route r)
{
	return &be;
}

static void
setup(void)
{
	static char *mechs[] = { "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2" };

	cf.hostname = "fuzz.example.org";
	cf.default_domain = "example.org";
	cf.master_separators = "*%";
	cf.mechanisms.v = mechs;
	cf.mechanisms.nr = 4;
	cf.limits.line_length = 8192;
	lst.tls = TLS_USE_STARTTLS;
	be.tls = TLS_USE_STARTTLS;
	be.client_address = CA_NATIVE;
	snprintf(be.name, sizeof(be.name), "fuzz");
	be.address = "127.0.0.1:1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct proto *p = &PROTO(FUZZ_PROTO);
	const char *in = (const char *)data, *end = in + size;
	struct session s = { 0 };

	if (!cf.hostname)
		setup();
	s.cf = &cf;
	s.l = &lst;
	s.proto = p;
	s.state = SS_PREAUTH;
	lst.require_tls = size && (data[0] & 1);
	snprintf(s.peer_ip, sizeof(s.peer_ip), "192.0.2.1");
	snprintf(s.local_ip, sizeof(s.local_ip), "192.0.2.2");
	buf_init(&s.acc, cf.limits.line_length);
	p->greet(&s);
	while (in < end && s.state != SS_CLOSING && s.state != SS_SPLICE) {
		const char *nl;
		char *line;
		size_t n;
		int r;

		if (s.literal && s.state == SS_PREAUTH) {
			n = (size_t)(end - in) < s.literal ? (size_t)(end - in) :
			    s.literal;
			if (s.acc.len + n > (size_t)cf.limits.line_length)
				break;
			buf_add(&s.acc, in, n);
			in += n;
			s.literal -= n;
			continue;
		}
		if (!(nl = memchr(in, '\n', end - in)))
			nl = end;
		n = nl - in;
		if (n && in[n - 1] == '\r')
			n--;
		/* as evbuffer_readln: NULs kept, one put after */
		line = xmalloc(n + 1);
		memcpy(line, in, n);
		line[n] = '\0';
		in = nl < end ? nl + 1 : end;
		if (s.state == SS_PREAUTH) {
			r = p->client_line(&s, line, n);
			if (r < 0)
				s.state = SS_CLOSING;
		} else if (s.state == SS_BACKEND) {
			if (p->backend_line(&s, line, n) < 0)
				session_backend_down(&s, "fuzz");
		}
		free(line);
	}
	buf_release_wipe(&s.acc);
	buf_release_wipe(&s.sasl);
	free(s.user);
	free(s.route_id);
	free(s.mech);
	free(s.tag);
	free(s.ehlo);
	free(s.login_user);
	return 0;
}
