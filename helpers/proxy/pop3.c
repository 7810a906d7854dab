/*
 * pop3.c: POP3 before authentication (RFC 1939, 2449, 5034), both
 * halves.  USER/PASS is replayed to the backend as AUTH PLAIN; the
 * client's address goes with XCLIENT when native and offered.
 */
#include "compat.h"

#include "proxy.h"
#include "xalloc.h"

#define POP3_CAPS "TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING USER"

enum {
	B_GREETING,
	B_CAPA,
	B_STARTTLS,
	B_XCLIENT,
	B_AUTH,
};

static void
pop3_greet(struct session *s)
{
	session_write(s, "+OK %s ready.\r\n", s->cf->hostname);
}

static void
pop3_temp_fail(struct session *s, enum fail why)
{
	if (why == FAIL_TIMEOUT)
		session_write(s, "-ERR Disconnected for inactivity.\r\n");
	else if (why == FAIL_LINE_TOO_LONG || why == FAIL_COMMAND_TOO_LONG)
		session_write(s, "-ERR Line too long.\r\n");
	else if (s->state != SS_SPLICE)
		session_write(s, "-ERR [SYS/TEMP] Server unavailable, try"
		    " again later.\r\n");
}

static void
pop3_challenge(struct session *s, const char *b64)
{
	session_write(s, "+ %s\r\n", b64);
}

static int
pop3_client_line(struct session *s, char *line, size_t len)
{
	char *arg = memchr(line, ' ', len), *arg2;
	size_t i;

	if (s->sasl_step)
		return sasl_result(s, sasl_step(s, line, len));
	if (arg)
		*arg++ = '\0';
	if (!strcasecmp(line, "CAPA")) {
		session_write(s, "+OK\r\n");
		if (s->l->capabilities.nr)
			for (i = 0; i < s->l->capabilities.nr; i++)
				session_write(s, "%s\r\n",
				    s->l->capabilities.v[i]);
		else {
			char *c = xstrdup(POP3_CAPS), *w, *save = NULL;

			for (w = strtok_r(c, " ", &save); w;
			    w = strtok_r(NULL, " ", &save))
				session_write(s, "%s\r\n", w);
			free(c);
		}
		if (!s->l->require_tls || s->client_tls) {
			session_write(s, "SASL");
			for (i = 0; i < s->cf->mechanisms.nr; i++)
				session_write(s, " %s", s->cf->mechanisms.v[i]);
			session_write(s, "\r\n");
		}
		if (s->l->tls == TLS_USE_STARTTLS && !s->client_tls)
			session_write(s, "STLS\r\n");
		session_write(s, ".\r\n");
		return 0;
	}
	if (!strcasecmp(line, "QUIT")) {
		session_write(s, "+OK Logging out.\r\n");
		s->result = "logout";
		return -1;
	}
	if (!strcasecmp(line, "STLS")) {
		if (s->l->tls != TLS_USE_STARTTLS || s->client_tls) {
			session_write(s, "-ERR STLS not available.\r\n");
			return 0;
		}
		session_write(s, "+OK Begin TLS negotiation now.\r\n");
		return session_starttls(s);
	}
	if ((!strcasecmp(line, "USER") || !strcasecmp(line, "PASS") ||
	    !strcasecmp(line, "AUTH")) && s->l->require_tls &&
	    !s->client_tls) {
		session_write(s, "-ERR [AUTH] Use STLS first.\r\n");
		return 0;
	}
	if (!strcasecmp(line, "USER")) {
		if (!arg || !*arg || !sasl_mech_ok(s->cf, "PLAIN")) {
			session_write(s, "-ERR Invalid arguments.\r\n");
			return 0;
		}
		free(s->login_user);
		s->login_user = xstrdup(arg);
		session_write(s, "+OK\r\n");
		return 0;
	}
	if (!strcasecmp(line, "PASS")) {
		if (!s->login_user || !arg) {
			session_write(s, "-ERR No user name given.\r\n");
			return 0;
		}
		free(s->mech);
		s->mech = xstrdup("PLAIN");
		buf_release_wipe(&s->sasl);
		sasl_plain(&s->sasl, s->login_user, arg);
		free(s->user);
		s->user = s->login_user;
		s->login_user = NULL;
		return sasl_result(s, SASL_DONE);
	}
	if (!strcasecmp(line, "AUTH")) {
		if (!arg) {
			session_write(s, "+OK\r\n");
			for (i = 0; i < s->cf->mechanisms.nr; i++)
				session_write(s, "%s\r\n",
				    s->cf->mechanisms.v[i]);
			session_write(s, ".\r\n");
			return 0;
		}
		if ((arg2 = strchr(arg, ' ')))
			*arg2++ = '\0';
		return sasl_result(s, sasl_begin(s, arg, arg2));
	}
	session_write(s, "-ERR Unknown command or not before login.\r\n");
	return session_bad_command(s);
}

static void
backend_auth(struct session *s)
{
	sasl_backend_auth(s, "AUTH %s %s\r\n", "=");
	s->step = B_AUTH;
}

static int
backend_next(struct session *s)
{
	if (s->be->tls == TLS_USE_STARTTLS && !s->backend_tls) {
		if (!(s->caps & CAP_STARTTLS))
			return -1;
		session_backend_write(s, "STLS\r\n");
		s->step = B_STARTTLS;
		return 0;
	}
	if (s->be->client_address == CA_NATIVE && !s->native_done &&
	    (s->caps & CAP_XCLIENT)) {
		s->native_done = 1;
		session_backend_write(s, "XCLIENT ADDR=%s PORT=%d\r\n",
		    s->peer_ip, s->peer_port);
		s->step = B_XCLIENT;
		return 0;
	}
	backend_auth(s);
	return 0;
}

static int
pop3_backend_line(struct session *s, char *line, size_t len)
{
	switch (s->step) {
	case B_GREETING:
		if (strncmp(line, "+OK", 3))
			return -1;
		if (s->be->tls == TLS_USE_NONE &&
		    s->be->client_address != CA_NATIVE) {
			backend_auth(s);
			return 0;
		}
		session_backend_write(s, "CAPA\r\n");
		s->step = B_CAPA;
		return 0;
	case B_CAPA:
		if (!strcmp(line, ".") || !strncmp(line, "-ERR", 4))
			return backend_next(s);
		if (!strcasecmp(line, "STLS"))
			s->caps |= CAP_STARTTLS;
		else if (!strncasecmp(line, "XCLIENT", 7))
			s->caps |= CAP_XCLIENT;
		return 0;
	case B_STARTTLS:
		if (strncmp(line, "+OK", 3) || session_backend_starttls(s) < 0)
			return -1;
		s->caps = 0;
		session_backend_write(s, "CAPA\r\n");
		s->step = B_CAPA;
		return 0;
	case B_XCLIENT:
		/* Dovecot answers a trusted XCLIENT with +OK */
		if (strncmp(line, "+OK", 3))
			return -1;
		backend_auth(s);
		return 0;
	}
	if (line[0] == '+' && line[1] == ' ') {
		session_relay_to_client(s, line, len);
		return 0;
	}
	if (strncmp(line, "+OK", 3)) {
		session_login_failed(s, line);
		return 0;
	}
	session_write(s, "%s\r\n", line);
	pop3ids_start(s);
	session_splice(s);
	return 0;
}

const struct proto proto_pop3 = {
	.name = "pop3",
	.id = P_POP3,
	.greet = pop3_greet,
	.client_line = pop3_client_line,
	.backend_line = pop3_backend_line,
	.temp_fail = pop3_temp_fail,
	.challenge = pop3_challenge,
	.free = pop3ids_free,
	.refusals = { "-ERR [AUTH] Authentication failed.",
	    "-ERR Authentication canceled.",
	    "-ERR Unsupported authentication mechanism." },
	.logout = "QUIT",
	.too_many = "-ERR [AUTH] Too many failed logins.\r\n",
};
