/*
 * t-proxy-sasl.c: the proxy's identities and SASL messages (sasl.c) and
 * command words (cmd.c).
 */
#include "ident.h"
#include "test-lib.h"

#include <event2/event.h>

#include "proxy.h"
#include "xalloc.h"

static struct config cf;

/* sasl_result()'s session halves: what it said, and a scripted login */
static struct buf said = BUF_INIT;
static int login_answer;

void
session_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&said, fmt, ap);
	va_end(ap);
}

int
session_login(struct session *s)
{
	return login_answer;
}

/* what sasl_backend_auth() sent the backend */
static struct buf sent = BUF_INIT;

void
session_backend_write(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&sent, fmt, ap);
	va_end(ap);
}

static struct buf
raw(const char *s, size_t len)
{
	struct buf b = BUF_INIT;

	buf_add(&b, s, len);
	return b;
}

static char *
user_of(const char *mech, const char *msg, size_t len)
{
	struct buf b = raw(msg, len);
	char *u = NULL;

	if (sasl_parse(mech, &b, &u) < 0)
		u = NULL;
	buf_release(&b);
	return u;
}

/* the message for the backend of route r, for user `user` */
static char *
for_backend(const char *mech, const char *msg, size_t len, const char *user,
    enum route r, size_t *len_r)
{
	struct session s = { 0 };
	struct buf out = BUF_INIT;

	s.sasl = raw(msg, len);
	s.mech = (char *)mech;
	s.user = (char *)user;
	s.route = r;
	sasl_for_backend(&cf, &s, &out);
	buf_release(&s.sasl);
	*len_r = out.len;
	return buf_detach(&out, NULL);
}

static void
identities(void)
{
	char *s;

	check(ident_ok("alice@example.org"));
	check(ident_ok("alice*admin"));
	check(!ident_ok(""));
	check(!ident_ok("al ice"));
	check(!ident_ok("al\"ice"));
	check(!ident_ok("al\r\nice"));
	check(!ident_ok("al\\ice"));
	check(!ident_ok("al\x7fice"));

	check_str(s = sasl_route_id(&cf, "Alice"), "alice@example.org");
	free(s);
	check_str(s = sasl_route_id(&cf, "alice*admin"), "alice@example.org");
	free(s);
	check_str(s = sasl_route_id(&cf, "Bob@Other.ORG%master"),
	    "bob@other.org");
	free(s);
	check_str(s = sasl_backend_user(&cf, "alice*admin",
	    ROUTE_DESTINATION), "alice@example.org*admin");
	free(s);
	check_str(s = sasl_backend_user(&cf, "alice", ROUTE_SOURCE), "alice");
	free(s);
	check_str(s = sasl_backend_user(&cf, "bob@other.org",
	    ROUTE_DESTINATION), "bob@other.org");
	free(s);
}

/* the backend's AUTH line: the mechanism and the message in base64 */
static void
backend_auth(void)
{
	struct session s = { 0 };

	s.cf = &cf;
	s.mech = "PLAIN";
	s.user = "alice";
	s.route = ROUTE_SOURCE;
	s.sasl = raw("\0alice\0pw", 9);
	sasl_backend_auth(&s, "AUTH %s %s\r\n", "=");
	check_str(sent.buf, "AUTH PLAIN AGFsaWNlAHB3\r\n");
	buf_release(&s.sasl);
	buf_reset(&sent);
	sasl_backend_auth(&s, "AUTHENTICATE \"%s\" \"%s\"\r\n", "");
	check_str(sent.buf, "AUTHENTICATE \"PLAIN\" \"\"\r\n");
	buf_release(&sent);
}

static void
base64(void)
{
	struct buf b = BUF_INIT;

	check_int(b64_decode("YWxpY2U=", 8, &b), ==, 0);
	check_str(b.buf, "alice");
	buf_setlen(&b, 0);
	check_int(b64_decode("=", 1, &b), ==, 0);
	check_int(b.len, ==, 0);
	check_int(b64_decode("YWxpY2U", 7, &b), ==, -1);
	check_int(b64_decode("YW=pY2U=", 8, &b), ==, -1);
	check_int(b64_decode("YWx!Y2U=", 8, &b), ==, -1);
	b64_encode("\0a\0b", 4, &b);
	check_str(b.buf, "AGEAYg==");
	buf_release(&b);
}

static void
mechanisms(void)
{
	/* a JWT whose payload is {"email":"carol@example.org"} */
	static const char jwt[] = "eyJhbGciOiJIUzI1NiJ9."
	    "eyJlbWFpbCI6ImNhcm9sQGV4YW1wbGUub3JnIn0.c2ln";
	char msg[256], *u, *out;
	size_t n, len;

	check_str(u = user_of("PLAIN", "\0alice\0pw", 9), "alice");
	free(u);
	check_str(u = user_of("PLAIN", "alice\0admin\0pw", 14), "alice");
	free(u);
	check(!user_of("PLAIN", "\0alice", 6));
	check(!user_of("PLAIN", "\0a\0b\0c", 7));

	n = snprintf(msg, sizeof(msg), "n,a=bob=2Cx=3Dy@example.org,\x01"
	    "host=h\x01" "auth=Bearer tok\x01\x01");
	check_str(u = user_of("OAUTHBEARER", msg, n), "bob,x=y@example.org");
	free(u);
	n = snprintf(msg, sizeof(msg), "n,,\x01" "auth=Bearer %s\x01\x01", jwt);
	check_str(u = user_of("OAUTHBEARER", msg, n), "carol@example.org");
	free(u);
	n = snprintf(msg, sizeof(msg), "n,,\x01" "auth=Bearer opaque\x01\x01");
	check(!user_of("OAUTHBEARER", msg, n));
	n = snprintf(msg, sizeof(msg), "user=dave\x01" "auth=Bearer t\x01\x01");
	check_str(u = user_of("XOAUTH2", msg, n), "dave");
	free(u);
	n = snprintf(msg, sizeof(msg), "user=\x01" "auth=Bearer %s\x01\x01",
	    jwt);
	check_str(u = user_of("XOAUTH2", msg, n), "carol@example.org");
	free(u);
	check(!user_of("CRAM-MD5", "x", 1));

	/* bare names become addresses for the destination only */
	out = for_backend("PLAIN", "\0alice\0pw", 9, "alice",
	    ROUTE_DESTINATION, &len);
	check_int(len, ==, 21);
	check(!memcmp(out, "\0alice@example.org\0pw", 21));
	free(out);
	out = for_backend("PLAIN", "\0alice\0pw", 9, "alice", ROUTE_SOURCE,
	    &len);
	check(len == 9 && !memcmp(out, "\0alice\0pw", 9));
	free(out);
	out = for_backend("PLAIN", "alice\0admin\0pw", 14, "alice",
	    ROUTE_DESTINATION, &len);
	check(len == 26 && !memcmp(out, "alice@example.org\0admin\0pw", 26));
	free(out);
	n = snprintf(msg, sizeof(msg), "n,a=eve,\x01" "auth=Bearer t\x01\x01");
	out = for_backend("OAUTHBEARER", msg, n, "eve", ROUTE_DESTINATION,
	    &len);
	check(len == n + 12 && !memcmp(out, "n,a=eve@example.org,\x01", 21));
	free(out);
	n = snprintf(msg, sizeof(msg), "user=eve\x01" "auth=Bearer t\x01\x01");
	out = for_backend("XOAUTH2", msg, n, "eve", ROUTE_DESTINATION, &len);
	check(len == n + 12 && !memcmp(out, "user=eve@example.org\x01", 21));
	free(out);
}

static void
http_authorization(void)
{
	struct buf pass = BUF_INIT;
	char *u;

	/* "alice:p:w" */
	check_str(u = sasl_http_user("Basic YWxpY2U6cDp3", &pass), "alice");
	check_str(pass.buf, "p:w");
	free(u);
	buf_reset(&pass);
	check_str(u = sasl_http_user("basic   YWxpY2U6cDp3", &pass), "alice");
	free(u);
	buf_reset(&pass);
	check_str(u = sasl_http_user("Bearer eyJhbGciOiJIUzI1NiJ9."
	    "eyJlbWFpbCI6ImNhcm9sQGV4YW1wbGUub3JnIn0.c2ln", &pass),
	    "carol@example.org");
	check_int(pass.len, ==, 0);
	free(u);
	check(!sasl_http_user("Bearer opaque-token", &pass));
	check(!sasl_http_user("Basic bm9jb2xvbg==", &pass));	/* "nocolon" */
	check(!sasl_http_user("Basic !!!!", &pass));
	check(!sasl_http_user("Digest username=\"x\"", &pass));
	check_int(pass.len, ==, 0);
	buf_release_wipe(&pass);
}

static void
results(void)
{
	static const struct proto p = {
		.refusals = { "NO failed", "BAD canceled", "NO mechanism" },
	};
	struct session s = { 0 };

	s.proto = &p;
	s.tag = xstrdup("a1");
	check_int(sasl_result(&s, SASL_NEED), ==, 0);
	check_int(said.len, ==, 0);
	check_int(sasl_result(&s, SASL_BAD), ==, 0);
	check_str(said.buf, "a1 NO failed\r\n");
	check(!s.tag);
	buf_reset(&said);
	login_answer = 1;
	check_int(sasl_result(&s, SASL_DONE), ==, 1);
	check_int(said.len, ==, 0);
	check_int(sasl_result(&s, SASL_MECH), ==, 0);
	check_str(said.buf, "NO mechanism\r\n");
	buf_reset(&said);
	login_answer = -1;	/* a malformed identity: a failure */
	check_int(sasl_result(&s, SASL_DONE), ==, -1);
	check_str(said.buf, "NO failed\r\n");
	check_str(s.result, "authentication failed");
	buf_release(&said);
}

static void
words(void)
{
	static const char cmd[] = " alice \"p a\\\"ss\" {3}\r\nx y";
	const char *p = cmd, *end = cmd + sizeof(cmd) - 1;
	size_t len, size;
	char *w;
	int sync;

	check_str(w = cmd_arg(&p, end, &len), "alice");
	free(w);
	check_str(w = cmd_arg(&p, end, &len), "p a\"ss");
	free(w);
	check_str(w = cmd_arg(&p, end, &len), "x y");
	free(w);
	check(p == end);
	check(!cmd_arg(&p, end, &len));
	p = " \"cr\r\"";
	check(!cmd_arg(&p, p + 6, &len));
	p = " {9}\r\nshort";
	check(!cmd_arg(&p, p + 11, &len));
	check(cmd_literal("a LOGIN {12}", 12, &size, &sync) && size == 12 &&
	    sync);
	check(cmd_literal("a LOGIN {5+}", 12, &size, &sync) && size == 5 &&
	    !sync);
	check(!cmd_literal("a LOGIN {+}", 11, &size, &sync));
	check(!cmd_literal("a LOGIN 5}", 10, &size, &sync));
}

int
main(void)
{
	char *mechs[] = { "PLAIN", "LOGIN" };

	cf.default_domain = "example.org";
	cf.master_separators = "*%";
	cf.mechanisms.v = mechs;
	cf.mechanisms.nr = 2;
	TEST("identities", identities());
	TEST("base64", base64());
	TEST("the backend's AUTH line", backend_auth());
	TEST("mechanisms", mechanisms());
	TEST("HTTP Authorization", http_authorization());
	TEST("login results", results());
	TEST("words", words());
	return test_done();
}
