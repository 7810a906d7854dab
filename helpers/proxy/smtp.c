/*
 * smtp.c: SMTP submission before authentication (RFC 6409, 4954, 3207),
 * both halves; and SMTP on port 25, which is not read at all: its bytes
 * go whole to the destination (session.c).
 *
 * The back says EHLO with the client's name, upgrades with STARTTLS when
 * configured, tells the client's address with XCLIENT when native and
 * offered (a new greeting and EHLO follow), then AUTH.
 */
#include "compat.h"

#include <ctype.h>

#include "ident.h"
#include "proxy.h"
#include "xalloc.h"

/*
 * Before login the client cannot know which server it will reach, and
 * what it is told here is all it is told: offer only what every backend
 * the project knows has (Dovecot, Cyrus, Stalwart).  No SIZE (Dovecot's
 * has no figure, Stalwart's its own), no SMTPUTF8 (Dovecot refuses it);
 * a listener's `capabilities` states more when its backends have it.
 */
static const char *const smtp_caps[] = {
	"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
};

enum {
	B_GREETING,
	B_EHLO,
	B_STARTTLS,
	B_XCLIENT,
	B_AUTH,
};

static void
smtp_greet(struct session *s)
{
	session_write(s, "220 %s ESMTP ready\r\n", s->cf->hostname);
}

static void
smtp_temp_fail(struct session *s, enum fail why)
{
	if (why == FAIL_TIMEOUT)
		session_write(s, "421 4.4.2 %s Timeout, closing.\r\n",
		    s->cf->hostname);
	else if (why == FAIL_LINE_TOO_LONG || why == FAIL_COMMAND_TOO_LONG)
		session_write(s, "500 5.5.2 Line too long.\r\n");
	else if (s->state != SS_SPLICE)
		session_write(s, "454 4.7.0 Temporary authentication failure,"
		    " try again later.\r\n");
}

static void
smtp_challenge(struct session *s, const char *b64)
{
	session_write(s, "334 %s\r\n", b64);
}

static void
ehlo(struct session *s)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_addf(&b, "250-%s\r\n", s->cf->hostname);
	if (s->l->capabilities.nr)
		for (i = 0; i < s->l->capabilities.nr; i++)
			buf_addf(&b, "250-%s\r\n", s->l->capabilities.v[i]);
	else
		for (i = 0; i < ARRAY_SIZE(smtp_caps); i++)
			buf_addf(&b, "250-%s\r\n", smtp_caps[i]);
	if (s->l->tls == TLS_USE_STARTTLS && !s->client_tls)
		buf_adds(&b, "250-STARTTLS\r\n");
	if (!s->l->require_tls || s->client_tls) {
		buf_adds(&b, "250-AUTH");
		for (i = 0; i < s->cf->mechanisms.nr; i++)
			buf_addf(&b, " %s", s->cf->mechanisms.v[i]);
		buf_adds(&b, "\r\n");
	}
	/* the last line has a space after its code */
	{
		char *last = b.buf + b.len - 2;

		while (last > b.buf && last[-1] != '\n')
			last--;
		last[3] = ' ';
	}
	session_write(s, "%s", b.buf);
	buf_release(&b);
}

static int
smtp_client_line(struct session *s, char *line, size_t len)
{
	char *arg = memchr(line, ' ', len), *arg2;

	if (s->sasl_step)
		return sasl_result(s, sasl_step(s, line, len));
	if (arg)
		*arg++ = '\0';
	if (!strcasecmp(line, "EHLO") || !strcasecmp(line, "HELO")) {
		if (!arg || !*arg || !ident_ok(arg)) {
			session_write(s, "501 5.5.4 Invalid domain.\r\n");
			return 0;
		}
		free(s->ehlo);
		s->ehlo = xstrdup(arg);
		if (toupper((unsigned char)line[0]) == 'H')
			session_write(s, "250 %s\r\n", s->cf->hostname);
		else
			ehlo(s);
		return 0;
	}
	if (!strcasecmp(line, "QUIT")) {
		session_write(s, "221 2.0.0 Bye\r\n");
		s->result = "logout";
		return -1;
	}
	if (!strcasecmp(line, "NOOP") || !strcasecmp(line, "RSET")) {
		session_write(s, "250 2.0.0 OK\r\n");
		return 0;
	}
	if (!strcasecmp(line, "STARTTLS")) {
		if (s->l->tls != TLS_USE_STARTTLS || s->client_tls) {
			session_write(s, "502 5.5.1 STARTTLS not available.\r\n");
			return 0;
		}
		session_write(s, "220 2.0.0 Ready to start TLS\r\n");
		free(s->ehlo);
		s->ehlo = NULL;
		return session_starttls(s);
	}
	if (!strcasecmp(line, "AUTH")) {
		if (!s->ehlo) {
			session_write(s, "503 5.5.1 EHLO first.\r\n");
			return 0;
		}
		if (s->l->require_tls && !s->client_tls) {
			session_write(s, "530 5.7.0 Must issue a STARTTLS"
			    " command first.\r\n");
			return 0;
		}
		if (!arg) {
			session_write(s, "501 5.5.4 Mechanism missing.\r\n");
			return 0;
		}
		if ((arg2 = strchr(arg, ' ')))
			*arg2++ = '\0';
		return sasl_result(s, sasl_begin(s, arg, arg2));
	}
	if (!strcasecmp(line, "MAIL") || !strcasecmp(line, "RCPT") ||
	    !strcasecmp(line, "DATA") || !strcasecmp(line, "BDAT")) {
		session_write(s, "530 5.7.0 Authentication required.\r\n");
		return 0;
	}
	session_write(s, "502 5.5.2 Command not recognized.\r\n");
	return session_bad_command(s);
}

static void
backend_auth(struct session *s)
{
	sasl_backend_auth(s, "AUTH %s %s\r\n", "=");
	s->step = B_AUTH;
}

static void
backend_ehlo(struct session *s)
{
	s->caps = 0;
	session_backend_write(s, "EHLO %s\r\n", s->ehlo ? s->ehlo :
	    s->cf->hostname);
	s->step = B_EHLO;
}

static int
smtp_backend_line(struct session *s, char *line, size_t len)
{
	int last = len >= 4 && line[3] == ' ';

	if (len < 3 || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	switch (s->step) {
	case B_GREETING:
		if (strncmp(line, "220", 3))
			return -1;
		if (last || len == 3)
			backend_ehlo(s);
		return 0;
	case B_EHLO:
		if (strncmp(line, "250", 3))
			return -1;
		if (len > 4 && !strncasecmp(line + 4, "STARTTLS", 8))
			s->caps |= CAP_STARTTLS;
		if (len > 4 && !strncasecmp(line + 4, "XCLIENT", 7))
			s->caps |= CAP_XCLIENT;
		if (!last && len != 3)
			return 0;
		if (s->be->tls == TLS_USE_STARTTLS && !s->backend_tls) {
			if (!(s->caps & CAP_STARTTLS))
				return -1;
			session_backend_write(s, "STARTTLS\r\n");
			s->step = B_STARTTLS;
		} else if (s->be->client_address == CA_NATIVE &&
		    !s->native_done && (s->caps & CAP_XCLIENT)) {
			s->native_done = 1;
			session_backend_write(s, "XCLIENT ADDR=%s%s PORT=%d\r\n",
			    strchr(s->peer_ip, ':') ? "IPV6:" : "", s->peer_ip,
			    s->peer_port);
			s->step = B_XCLIENT;
		} else
			backend_auth(s);
		return 0;
	case B_STARTTLS:
		if (strncmp(line, "220", 3) || session_backend_starttls(s) < 0)
			return -1;
		backend_ehlo(s);
		return 0;
	case B_XCLIENT:
		/* a new greeting, then EHLO again */
		if (strncmp(line, "220", 3))
			return -1;
		if (last || len == 3)
			backend_ehlo(s);
		return 0;
	}
	if (!strncmp(line, "334", 3)) {
		session_relay_to_client(s, line, len);
		return 0;
	}
	if (strncmp(line, "235", 3) && last) {
		session_login_failed(s, line);
		return 0;
	}
	/* a refusal's first lines too, unless it is to be hidden */
	if (!strncmp(line, "235", 3) || !s->cf->hide_auth_errors)
		session_write(s, "%s\r\n", line);
	if (last)
		session_splice(s);
	return 0;
}

const struct proto proto_submission = {
	.name = "submission",
	.id = P_SUBMISSION,
	.greet = smtp_greet,
	.client_line = smtp_client_line,
	.backend_line = smtp_backend_line,
	.temp_fail = smtp_temp_fail,
	.challenge = smtp_challenge,
	.refusals = { "535 5.7.8 Authentication failed.",
	    "501 5.0.0 Authentication canceled.",
	    "504 5.5.4 Unsupported authentication mechanism." },
	.logout = "QUIT",
	.too_many = "421 4.7.0 Too many failed logins, closing.\r\n",
};

static void
relay_greet(struct session *s)
{
}

static int
relay_line(struct session *s, char *line, size_t len)
{
	return -1;
}

static void
relay_temp_fail(struct session *s, enum fail why)
{
	if (s->state != SS_SPLICE)
		session_write(s, "421 4.3.2 Service not available, try again"
		    " later.\r\n");
}

const struct proto proto_smtp = {
	.name = "smtp",
	.id = P_SMTP,
	.greet = relay_greet,
	.client_line = relay_line,
	.backend_line = relay_line,
	.temp_fail = relay_temp_fail,
	.challenge = NULL,
	.passthrough = 1,
};
