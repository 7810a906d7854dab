/*
 * imap.c: IMAP before authentication (RFC 9051, 3501), both halves.
 *
 * The front answers CAPABILITY, NOOP, ID, STARTTLS and LOGOUT itself and
 * takes LOGIN (atoms, quoted strings or literals, synchronizing or not)
 * and AUTHENTICATE (with SASL-IR).  The back reads the backend's
 * greeting, upgrades with STARTTLS when configured, tells the client's
 * address with ID (Dovecot's x-originating-ip, when native), and logs in
 * with AUTHENTICATE; its tagged answer goes to the client under the
 * client's tag.
 */
#include "compat.h"

#include <ctype.h>

#include "proxy.h"
#include "xalloc.h"

#define IMAP_CAPS "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE" \
	" LITERAL+"

enum {
	B_GREETING,
	B_CAPABILITY,
	B_STARTTLS,
	B_CONTINUE,		/* AUTHENTICATE without SASL-IR: wait "+" */
	B_AUTH,
};

static void
capability(struct session *s, struct buf *b)
{
	size_t i;

	if (s->l->capabilities.nr)
		for (i = 0; i < s->l->capabilities.nr; i++)
			buf_addf(b, "%s%s", i ? " " : "",
			    s->l->capabilities.v[i]);
	else
		buf_adds(b, IMAP_CAPS);
	if (s->l->tls == TLS_USE_STARTTLS && !s->client_tls)
		buf_adds(b, " STARTTLS");
	if (s->l->require_tls && !s->client_tls)
		buf_adds(b, " LOGINDISABLED");
	else
		for (i = 0; i < s->cf->mechanisms.nr; i++)
			buf_addf(b, " AUTH=%s", s->cf->mechanisms.v[i]);
}

static void
imap_greet(struct session *s)
{
	struct buf b = BUF_INIT;

	capability(s, &b);
	session_write(s, "* OK [CAPABILITY %s] %s ready.\r\n", b.buf,
	    s->cf->hostname);
	buf_release(&b);
}

static int
tag_ok(const char *t, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f ||
		    strchr("(){%*\"\\]+", t[i]))
			return 0;
	return 1;
}

static void
imap_temp_fail(struct session *s, enum fail why)
{
	if (why == FAIL_LINE_TOO_LONG)
		session_write(s, "* BAD Line too long.\r\n");
	else if (why == FAIL_COMMAND_TOO_LONG)
		session_write(s, "* BYE Command too long.\r\n");
	else if (s->tag)
		session_write(s, "%s NO [UNAVAILABLE] Server unavailable, try"
		    " again later.\r\n", s->tag);
	else if (why == FAIL_TIMEOUT)
		session_write(s, "* BYE Disconnected for inactivity.\r\n");
	else if (why == FAIL_KICKED)
		session_write(s, "* BYE Account moved, please reconnect.\r\n");
	free(s->tag);
	s->tag = NULL;
}

static void
imap_challenge(struct session *s, const char *b64)
{
	session_write(s, "+ %s\r\n", b64);
}

static int
command(struct session *s, const char *cmd, size_t len)
{
	const char *end = cmd + len, *sp = memchr(cmd, ' ', len), *p;
	char *name, *a1 = NULL, *a2 = NULL;
	size_t l1, l2, nl;
	int ret = 0;

	if (!sp || !tag_ok(cmd, sp - cmd)) {
		session_write(s, "* BAD Error in IMAP command received by"
		    " server.\r\n");
		return session_bad_command(s);
	}
	free(s->tag);
	s->tag = xstrndup(cmd, sp - cmd);
	for (p = sp + 1; p < end && *p != ' '; p++)
		;
	nl = p - sp - 1;
	name = xstrndup(sp + 1, nl);

	if (!strcasecmp(name, "CAPABILITY")) {
		struct buf b = BUF_INIT;

		capability(s, &b);
		session_write(s, "* CAPABILITY %s\r\n%s OK Pre-login"
		    " capabilities listed, post-login capabilities have"
		    " more.\r\n", b.buf, s->tag);
		buf_release(&b);
	} else if (!strcasecmp(name, "NOOP")) {
		session_write(s, "%s OK NOOP completed.\r\n", s->tag);
	} else if (!strcasecmp(name, "ID")) {
		session_write(s, "* ID (\"name\" \"migrate-proxy\")\r\n"
		    "%s OK ID completed.\r\n", s->tag);
	} else if (!strcasecmp(name, "LOGOUT")) {
		session_write(s, "* BYE Logging out\r\n%s OK Logout"
		    " completed.\r\n", s->tag);
		s->result = "logout";
		ret = -1;
	} else if (!strcasecmp(name, "STARTTLS")) {
		if (s->l->tls != TLS_USE_STARTTLS || s->client_tls) {
			session_write(s, "%s BAD STARTTLS not available.\r\n",
			    s->tag);
		} else {
			session_write(s, "%s OK Begin TLS negotiation now.\r\n",
			    s->tag);
			ret = session_starttls(s);
		}
	} else if ((!strcasecmp(name, "LOGIN") ||
	    !strcasecmp(name, "AUTHENTICATE")) && s->l->require_tls &&
	    !s->client_tls) {
		session_write(s, "%s NO [PRIVACYREQUIRED] Use STARTTLS"
		    " first.\r\n", s->tag);
	} else if (!strcasecmp(name, "LOGIN")) {
		if (!(a1 = cmd_arg(&p, end, &l1)) ||
		    !(a2 = cmd_arg(&p, end, &l2)) || p != end) {
			session_write(s, "%s BAD Invalid arguments.\r\n", s->tag);
		} else if (memchr(a1, '\0', l1) || memchr(a2, '\0', l2) ||
		    !sasl_mech_ok(s->cf, "PLAIN")) {
			ret = sasl_result(s, SASL_BAD);
		} else {
			free(s->mech);
			s->mech = xstrdup("PLAIN");
			buf_release_wipe(&s->sasl);
			sasl_plain(&s->sasl, a1, a2);
			free(s->user);
			s->user = xstrdup(a1);
			ret = sasl_result(s, SASL_DONE);
		}
	} else if (!strcasecmp(name, "AUTHENTICATE")) {
		if (!(a1 = cmd_arg(&p, end, &l1)) || (p != end &&
		    !(a2 = cmd_arg(&p, end, &l2))) || p != end)
			session_write(s, "%s BAD Invalid arguments.\r\n", s->tag);
		else
			ret = sasl_result(s, sasl_begin(s, a1, a2));
	} else {
		session_write(s, "%s BAD %s.\r\n", s->tag,
		    nl ? "Please log in first" : "Missing command");
		ret = session_bad_command(s);
	}
	if (a1)
		explicit_bzero(a1, l1);
	if (a2)
		explicit_bzero(a2, l2);
	free(a1);
	free(a2);
	free(name);
	return ret;
}

static int
imap_client_line(struct session *s, char *line, size_t len)
{
	size_t size;
	int sync, r;

	if (s->sasl_step)
		return sasl_result(s, sasl_step(s, line, len));
	if (cmd_literal(line, len, &size, &sync)) {
		if (buf_add(&s->acc, line, len) < 0 ||
		    buf_add(&s->acc, "\r\n", 2) < 0 ||
		    size > s->cf->limits.line_length - s->acc.len) {
			session_write(s, "* BYE Command too long.\r\n");
			s->result = "command too long";
			return -1;
		}
		s->literal = size;
		if (sync)
			session_write(s, "+ OK\r\n");
		return 0;
	}
	if (s->acc.len) {
		if (buf_add(&s->acc, line, len) < 0) {
			session_write(s, "* BYE Command too long.\r\n");
			s->result = "command too long";
			return -1;
		}
		r = command(s, s->acc.buf, s->acc.len);
		explicit_bzero(s->acc.buf, s->acc.len);
		buf_setlen(&s->acc, 0);
		return r;
	}
	return command(s, line, len);
}

static void
parse_caps(struct session *s, const char *p)
{
	if (strcasestr(p, " SASL-IR"))
		s->caps |= CAP_SASL_IR;
	if (strcasestr(p, " STARTTLS"))
		s->caps |= CAP_STARTTLS;
}

static void
backend_login(struct session *s)
{
	if (s->be->client_address == CA_NATIVE)
		session_backend_write(s, "P2 ID (\"x-originating-ip\" \"%s\""
		    " \"x-originating-port\" \"%d\" \"x-connected-ip\" \"%s\""
		    " \"x-connected-port\" \"%d\" \"x-proxy-ttl\" \"5\")\r\n",
		    s->peer_ip, s->peer_port, s->local_ip, s->local_port);
	if (s->caps & CAP_SASL_IR) {
		sasl_backend_auth(s, "P3 AUTHENTICATE %s %s\r\n", "=");
		s->step = B_AUTH;
	} else {
		session_backend_write(s, "P3 AUTHENTICATE %s\r\n", s->mech);
		s->step = B_CONTINUE;
	}
}

static int
backend_next(struct session *s)
{
	if (s->be->tls == TLS_USE_STARTTLS && !s->backend_tls) {
		if (!(s->caps & CAP_STARTTLS))
			return -1;
		session_backend_write(s, "P1 STARTTLS\r\n");
		s->step = B_STARTTLS;
		return 0;
	}
	backend_login(s);
	return 0;
}

static int
imap_backend_line(struct session *s, char *line, size_t len)
{
	char *cap;

	switch (s->step) {
	case B_GREETING:
		if (strncasecmp(line, "* OK", 4))
			return -1;
		if ((cap = strcasestr(line, "[CAPABILITY "))) {
			parse_caps(s, cap + 11);
			return backend_next(s);
		}
		session_backend_write(s, "P0 CAPABILITY\r\n");
		s->step = B_CAPABILITY;
		return 0;
	case B_CAPABILITY:
		if (!strncasecmp(line, "* CAPABILITY ", 13)) {
			parse_caps(s, line + 12);
			return 0;
		}
		if (!strncasecmp(line, "P0 OK", 5))
			return backend_next(s);
		return line[0] == '*' ? 0 : -1;
	case B_STARTTLS:
		if (strncasecmp(line, "P1 OK", 5) ||
		    session_backend_starttls(s) < 0)
			return -1;
		s->caps = 0;
		session_backend_write(s, "P0 CAPABILITY\r\n");
		s->step = B_CAPABILITY;
		return 0;
	case B_CONTINUE:
		if (!strncasecmp(line, "P2 ", 3) || !strncasecmp(line, "* ", 2))
			return 0;
		if (line[0] != '+')
			break;		/* refused: the tagged answer below */
		{
			struct buf b64 = BUF_INIT;

			sasl_backend_b64(s, &b64);
			session_backend_write(s, "%s\r\n", b64.buf);
			buf_release_wipe(&b64);
		}
		s->step = B_AUTH;
		return 0;
	}
	/* B_AUTH */
	if (!strncasecmp(line, "P2 ", 3) || !strncasecmp(line, "* ID ", 5))
		return 0;		/* the answer to our ID */
	if (line[0] == '*') {
		session_relay_to_client(s, line, len);
		s->relay = 0;
		return 0;
	}
	if (line[0] == '+') {		/* a SASL challenge: the client's */
		session_relay_to_client(s, line, len);
		return 0;
	}
	if (strncasecmp(line, "P3 ", 3))
		return -1;
	if (strncasecmp(line + 3, "OK", 2)) {
		session_login_failed(s, line + 3);
		return 0;
	}
	session_write(s, "%s %s\r\n", s->tag, line + 3);
	free(s->tag);
	s->tag = NULL;
	session_splice(s);
	return 0;
}

const struct proto proto_imap = {
	.name = "imap",
	.id = P_IMAP,
	.greet = imap_greet,
	.client_line = imap_client_line,
	.backend_line = imap_backend_line,
	.temp_fail = imap_temp_fail,
	.challenge = imap_challenge,
	.refusals = { "NO [AUTHENTICATIONFAILED] Authentication failed.",
	    "BAD Authentication canceled.",
	    "NO [CANNOT] Unsupported authentication mechanism." },
	.logout = "LOGOUT",
	.too_many = "* BYE Too many failed logins.\r\n",
};
