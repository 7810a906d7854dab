/*
 * sieve.c: ManageSieve before authentication (RFC 5804), both halves.
 *
 * The greeting is the capability list; the listener's `capabilities`
 * replace ours, a line each as "NAME value" ("SIEVE fileinto reject").
 * SASL challenges are strings; the client's literals are {N+}.
 */
#include "compat.h"

#include "proxy.h"
#include "xalloc.h"

/*
 * What every backend the project knows has (Pigeonhole, Cyrus timsieved,
 * Stalwart): a client checks a script against this list before it has
 * logged in anywhere.  Pigeonhole's mime, foreverypart and extracttext
 * are not in Cyrus's; a listener's `capabilities` states more.
 */
static const char *const sieve_caps[] = {
	"IMPLEMENTATION migrate-proxy",
	"SIEVE fileinto reject envelope encoded-character vacation"
	    " subaddress comparator-i;ascii-numeric relational regex"
	    " imap4flags copy include variables body enotify environment"
	    " mailbox date index ihave duplicate",
	"NOTIFY mailto",
	"VERSION 1.0",
};

enum {
	B_GREETING,
	B_STARTTLS,
	B_AUTH,
};

static void
cap_line(struct session *s, const char *c)
{
	const char *sp = strchr(c, ' ');

	if (sp)
		session_write(s, "\"%.*s\" \"%s\"\r\n", (int)(sp - c), c,
		    sp + 1);
	else
		session_write(s, "\"%s\"\r\n", c);
}

static void
capabilities(struct session *s)
{
	size_t i;

	if (s->l->capabilities.nr)
		for (i = 0; i < s->l->capabilities.nr; i++)
			cap_line(s, s->l->capabilities.v[i]);
	else
		for (i = 0; i < ARRAY_SIZE(sieve_caps); i++)
			cap_line(s, sieve_caps[i]);
	if (!s->l->require_tls || s->client_tls) {
		session_write(s, "\"SASL\" \"");
		for (i = 0; i < s->cf->mechanisms.nr; i++)
			session_write(s, "%s%s", i ? " " : "",
			    s->cf->mechanisms.v[i]);
		session_write(s, "\"\r\n");
	} else
		session_write(s, "\"SASL\" \"\"\r\n");
	if (s->l->tls == TLS_USE_STARTTLS && !s->client_tls)
		session_write(s, "\"STARTTLS\"\r\n");
}

static void
sieve_greet(struct session *s)
{
	capabilities(s);
	session_write(s, "OK \"%s ManageSieve ready.\"\r\n", s->cf->hostname);
}

static void
sieve_temp_fail(struct session *s, enum fail why)
{
	if (why == FAIL_TIMEOUT)
		session_write(s, "BYE \"Disconnected for inactivity.\"\r\n");
	else if (why == FAIL_LINE_TOO_LONG || why == FAIL_COMMAND_TOO_LONG)
		session_write(s, "BYE \"Line too long.\"\r\n");
	else if (s->state != SS_SPLICE)
		session_write(s, "NO (TRYLATER) \"Server unavailable, try"
		    " again later.\"\r\n");
}

static void
sieve_challenge(struct session *s, const char *b64)
{
	session_write(s, "\"%s\"\r\n", b64);
}

static int
command(struct session *s, const char *cmd, size_t len)
{
	const char *end = cmd + len, *p;
	char *name, *a1 = NULL, *a2 = NULL;
	size_t l1 = 0, l2 = 0;
	int ret = 0;

	for (p = cmd; p < end && *p != ' '; p++)
		;
	name = xstrndup(cmd, p - cmd);
	if (!strcasecmp(name, "CAPABILITY")) {
		capabilities(s);
		session_write(s, "OK \"Capability completed.\"\r\n");
	} else if (!strcasecmp(name, "NOOP")) {
		session_write(s, "OK \"NOOP completed.\"\r\n");
	} else if (!strcasecmp(name, "LOGOUT")) {
		session_write(s, "OK \"Logout completed.\"\r\n");
		s->result = "logout";
		ret = -1;
	} else if (!strcasecmp(name, "STARTTLS")) {
		if (s->l->tls != TLS_USE_STARTTLS || s->client_tls)
			session_write(s, "NO \"STARTTLS not available.\"\r\n");
		else {
			session_write(s, "OK \"Begin TLS negotiation now.\"\r\n");
			if ((ret = session_starttls(s)) == 0) {
				/* RFC 5804 2.2: capabilities again, in TLS */
				sieve_greet(s);
			}
		}
	} else if (!strcasecmp(name, "AUTHENTICATE")) {
		if (s->l->require_tls && !s->client_tls)
			session_write(s, "NO \"Use STARTTLS first.\"\r\n");
		else if (!(a1 = cmd_arg(&p, end, &l1)) || (p != end &&
		    !(a2 = cmd_arg(&p, end, &l2))) || p != end ||
		    memchr(a1, '\0', l1))
			session_write(s, "NO \"Invalid arguments.\"\r\n");
		else
			ret = sasl_result(s, sasl_begin(s, a1, a2));
	} else {
		session_write(s, "NO \"Unknown command or not before"
		    " login.\"\r\n");
		ret = session_bad_command(s);
	}
	if (a2)
		explicit_bzero(a2, l2);
	free(a1);
	free(a2);
	free(name);
	return ret;
}

static int
sieve_client_line(struct session *s, char *line, size_t len)
{
	size_t size;
	int sync, r;

	if (cmd_literal(line, len, &size, &sync)) {
		if (buf_add(&s->acc, line, len) < 0 ||
		    buf_add(&s->acc, "\r\n", 2) < 0 ||
		    size > s->cf->limits.line_length - s->acc.len) {
			session_write(s, "BYE \"Command too long.\"\r\n");
			s->result = "command too long";
			return -1;
		}
		s->literal = size;
		return 0;
	}
	if (s->acc.len) {
		if (buf_add(&s->acc, line, len) < 0) {
			session_write(s, "BYE \"Command too long.\"\r\n");
			s->result = "command too long";
			return -1;
		}
		line = s->acc.buf;
		len = s->acc.len;
	}
	if (s->sasl_step) {
		/* the answer to a challenge: a string */
		const char *p = line, *end = line + len;
		char *a = NULL;
		size_t l;

		if (len == 3 && !strcmp(line, "\"*\""))
			r = sasl_result(s, sasl_step(s, "*", 1));
		else if (!(a = cmd_word(&p, end, &l)) || p != end)
			r = sasl_result(s, SASL_BAD);
		else {
			r = sasl_result(s, sasl_step(s, a, l));
			explicit_bzero(a, l);
		}
		free(a);
	} else
		r = command(s, line, len);
	explicit_bzero(s->acc.buf, s->acc.len);
	buf_setlen(&s->acc, 0);
	return r;
}

static void
backend_auth(struct session *s)
{
	sasl_backend_auth(s, "AUTHENTICATE \"%s\" \"%s\"\r\n", "");
	s->step = B_AUTH;
}

static int
sieve_backend_line(struct session *s, char *line, size_t len)
{
	switch (s->step) {
	case B_GREETING:
		if (!strncasecmp(line, "\"STARTTLS\"", 10))
			s->caps |= CAP_STARTTLS;
		if (!strncasecmp(line, "NO", 2) || !strncasecmp(line, "BYE", 3))
			return -1;
		if (strncasecmp(line, "OK", 2))
			return 0;
		if (s->be->tls == TLS_USE_STARTTLS && !s->backend_tls) {
			if (!(s->caps & CAP_STARTTLS))
				return -1;
			session_backend_write(s, "STARTTLS\r\n");
			s->step = B_STARTTLS;
			return 0;
		}
		backend_auth(s);
		return 0;
	case B_STARTTLS:
		if (strncasecmp(line, "OK", 2) ||
		    session_backend_starttls(s) < 0)
			return -1;
		s->caps = 0;
		s->step = B_GREETING;	/* it lists its capabilities again */
		return 0;
	}
	if (!strncasecmp(line, "OK", 2)) {
		session_write(s, "%s\r\n", line);
		session_splice(s);
	} else if (!strncasecmp(line, "NO", 2) ||
	    !strncasecmp(line, "BYE", 3)) {
		session_login_failed(s, line);
	} else
		session_relay_to_client(s, line, len);	/* a challenge */
	return 0;
}

const struct proto proto_sieve = {
	.name = "sieve",
	.id = P_SIEVE,
	.greet = sieve_greet,
	.client_line = sieve_client_line,
	.backend_line = sieve_backend_line,
	.temp_fail = sieve_temp_fail,
	.challenge = sieve_challenge,
	.refusals = { "NO \"Authentication failed.\"",
	    "NO \"Authentication canceled.\"",
	    "NO \"Unsupported authentication mechanism.\"" },
	.logout = "LOGOUT",
	.too_many = "BYE \"Too many failed logins.\"\r\n",
};
