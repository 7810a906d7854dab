/*
 * sasl.c: the SASL messages the proxy reads and replays.
 *
 * The proxy understands PLAIN (RFC 4616), OAUTHBEARER (RFC 7628) and
 * XOAUTH2 well enough to find the identity and, for the destination, to
 * write a bare name as the full address; LOGIN exchanges and LOGIN
 * commands are replayed as PLAIN.  It never keeps a password longer than
 * the login takes, and never logs one.
 */
#include "compat.h"

#include <ctype.h>

#include <jansson.h>

#include "proxy.h"
#include "xalloc.h"

void
sasl_plain(struct buf *out, const char *user, const char *pass)
{
	buf_addch(out, '\0');
	buf_adds(out, user);
	buf_addch(out, '\0');
	buf_adds(out, pass);
}

/* The user claim of a JWT (header.payload.signature), not verified: it
 * only routes; the backend checks the token. */
static char *
jwt_user(const char *tok, size_t len)
{
	static const char *const claims[] = {
		"user", "email", "preferred_username", "username"
	};
	const char *dot = memchr(tok, '.', len), *end;
	struct buf b64 = BUF_INIT, raw = BUF_INIT;
	json_t *j;
	char *user = NULL;
	size_t i;

	if (!dot || !(end = memchr(dot + 1, '.', tok + len - dot - 1)))
		return NULL;
	for (i = 1; dot + i < end; i++)
		buf_addch(&b64, dot[i] == '-' ? '+' : dot[i] == '_' ? '/' :
		    dot[i]);
	while (b64.len % 4)
		buf_addch(&b64, '=');
	if (b64_decode(b64.buf, b64.len, &raw) == 0 &&
	    (j = json_loadb(raw.buf, raw.len, 0, NULL))) {
		for (i = 0; i < ARRAY_SIZE(claims) && !user; i++) {
			const char *v = json_string_value(json_object_get(j,
			    claims[i]));

			if (v && *v)
				user = xstrdup(v);
		}
		json_decref(j);
	}
	buf_release(&b64);
	buf_release(&raw);
	return user;
}

/* "auth=Bearer TOKEN" among \x01-separated fields */
static char *
bearer_user(const char *p, const char *end)
{
	while (p < end) {
		const char *f = memchr(p, '\x01', end - p);

		if (!f)
			f = end;
		if (f - p > 12 && !strncasecmp(p, "auth=Bearer ", 12))
			return jwt_user(p + 12, f - p - 12);
		p = f + 1;
	}
	return NULL;
}

char *
sasl_http_user(const char *v, struct buf *pass)
{
	struct buf raw = BUF_INIT;
	const char *colon;
	char *user = NULL;

	if (!strncasecmp(v, "Bearer ", 7)) {
		v += 7;
		v += strspn(v, " ");
		return jwt_user(v, strcspn(v, " "));
	}
	if (strncasecmp(v, "Basic ", 6))
		return NULL;
	v += 6;
	v += strspn(v, " ");
	if (b64_decode(v, strcspn(v, " "), &raw) == 0 &&
	    (colon = memchr(raw.buf, ':', raw.len))) {
		user = xstrndup(raw.buf, colon - raw.buf);
		buf_add(pass, colon + 1, raw.buf + raw.len - colon - 1);
	}
	buf_release_wipe(&raw);
	return user;
}

/* OAUTHBEARER's gs2 header: "n,a=USER," (',' and '=' escaped). */
static int
gs2_user(const char *m, size_t len, char **user_r, size_t *start,
    size_t *end)
{
	const char *p = m, *e = m + len;
	struct buf u = BUF_INIT;

	*start = *end = 0;
	if (len < 2 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		return -1;
	p += 2;
	if (p + 2 <= e && !strncmp(p, "a=", 2)) {
		*start = p + 2 - m;
		for (p += 2; p < e && *p != ','; p++) {
			if (*p == '=' && p + 2 < e && !strncmp(p, "=2C", 3))
				buf_addch(&u, ','), p += 2;
			else if (*p == '=' && p + 2 < e &&
			    !strncmp(p, "=3D", 3))
				buf_addch(&u, '='), p += 2;
			else
				buf_addch(&u, *p);
		}
		*end = p - m;
	}
	if (p >= e || *p != ',') {
		buf_release(&u);
		return -1;
	}
	*user_r = u.len ? buf_detach(&u, NULL) : NULL;
	buf_release(&u);
	return 0;
}

int
sasl_parse(const char *mech, const struct buf *msg, char **user_r)
{
	const char *m = msg->buf, *e = msg->buf + msg->len;
	size_t s, t;

	*user_r = NULL;
	if (!strcasecmp(mech, "PLAIN")) {
		const char *n1 = memchr(m, '\0', msg->len), *n2;

		if (!n1 || !(n2 = memchr(n1 + 1, '\0', e - n1 - 1)) ||
		    memchr(n2 + 1, '\0', e - n2 - 1))
			return -1;
		*user_r = n1 > m ? xstrndup(m, n1 - m) :
		    xstrndup(n1 + 1, n2 - n1 - 1);
		return 0;
	}
	if (!strcasecmp(mech, "OAUTHBEARER")) {
		const char *f;

		if (gs2_user(m, msg->len, user_r, &s, &t) < 0)
			return -1;
		if (!(f = memchr(m, '\x01', msg->len))) {
			free(*user_r);
			*user_r = NULL;
			return -1;
		}
		if (!*user_r)
			*user_r = bearer_user(f + 1, e);
		return *user_r ? 0 : -1;
	}
	if (!strcasecmp(mech, "XOAUTH2")) {
		const char *f = memchr(m, '\x01', msg->len);

		if (msg->len < 5 || strncmp(m, "user=", 5) || !f)
			return -1;
		*user_r = f > m + 5 ? xstrndup(m + 5, f - m - 5) :
		    bearer_user(f + 1, e);
		return *user_r ? 0 : -1;
	}
	return -1;
}

/*
 * The message for the backend: as the client sent it, but with the
 * identity in the form that backend wants (sasl_backend_user()).
 */
void
sasl_for_backend(const struct config *cf, struct session *s, struct buf *out)
{
	const char *m = s->sasl.buf, *e = m + s->sasl.len;
	char *u = sasl_backend_user(cf, s->user, s->route);
	size_t a, b;
	char *ignored = NULL;

	if (!strcmp(u, s->user)) {
		buf_add(out, s->sasl.buf, s->sasl.len);
	} else if (!strcasecmp(s->mech, "PLAIN")) {
		const char *n1 = memchr(m, '\0', s->sasl.len);

		if (n1 > m) {		/* authzid is the user */
			buf_adds(out, u);
			buf_add(out, n1, e - n1);
		} else {
			const char *n2 = memchr(n1 + 1, '\0', e - n1 - 1);

			buf_addch(out, '\0');
			buf_adds(out, u);
			buf_add(out, n2, e - n2);
		}
	} else if (!strcasecmp(s->mech, "OAUTHBEARER") &&
	    gs2_user(m, s->sasl.len, &ignored, &a, &b) == 0 && b > a) {
		const char *p;

		buf_add(out, m, a);
		for (p = u; *p; p++)
			if (*p == ',')
				buf_adds(out, "=2C");
			else if (*p == '=')
				buf_adds(out, "=3D");
			else
				buf_addch(out, *p);
		buf_add(out, m + b, e - m - b);
	} else if (!strcasecmp(s->mech, "XOAUTH2") && s->sasl.len > 5 &&
	    m[5] != '\x01') {
		const char *f = memchr(m, '\x01', s->sasl.len);

		buf_addf(out, "user=%s", u);
		buf_add(out, f, e - f);
	} else {
		buf_add(out, s->sasl.buf, s->sasl.len);
	}
	free(ignored);
	free(u);
}

void
sasl_backend_b64(struct session *s, struct buf *b64)
{
	struct buf msg = BUF_INIT;

	sasl_for_backend(s->cf, s, &msg);
	b64_encode(msg.buf, msg.len, b64);
	buf_release_wipe(&msg);
}

void
sasl_backend_auth(struct session *s, const char *fmt, const char *empty)
{
	struct buf b64 = BUF_INIT;

	sasl_backend_b64(s, &b64);
	session_backend_write(s, fmt, s->mech, b64.len ? b64.buf : empty);
	buf_release_wipe(&b64);
}

static int
sasl_finish(struct session *s)
{
	char *user = NULL;

	if (sasl_parse(s->mech, &s->sasl, &user) < 0) {
		buf_release_wipe(&s->sasl);
		return SASL_BAD;
	}
	free(s->user);
	s->user = user;
	return SASL_DONE;
}

int
sasl_begin(struct session *s, const char *mech, const char *ir)
{
	char *m, *p;

	if (!sasl_mech_ok(s->cf, mech))
		return SASL_MECH;
	m = xstrdup(mech);
	for (p = m; *p; p++)
		*p = toupper((unsigned char)*p);
	free(s->mech);
	s->mech = m;
	buf_release_wipe(&s->sasl);
	free(s->login_user);
	s->login_user = NULL;
	s->sasl_step = 1;
	if (!ir) {
		s->proto->challenge(s, !strcmp(m, "LOGIN") ? "VXNlcm5hbWU6" :
		    "");
		return SASL_NEED;
	}
	return sasl_step(s, ir, strlen(ir));
}

int
sasl_step(struct session *s, const char *line, size_t len)
{
	struct buf raw = BUF_INIT;

	if (len == 1 && line[0] == '*') {
		s->sasl_step = 0;
		return SASL_CANCEL;
	}
	if (b64_decode(line, len, &raw) < 0) {
		s->sasl_step = 0;
		return SASL_BAD;
	}
	if (strcmp(s->mech, "LOGIN")) {
		s->sasl_step = 0;
		buf_release_wipe(&s->sasl);
		s->sasl = raw;
		return sasl_finish(s);
	}
	/* LOGIN: the user name, then the password; replayed as PLAIN */
	if (memchr(raw.buf, '\0', raw.len)) {
		buf_release_wipe(&raw);
		s->sasl_step = 0;
		return SASL_BAD;
	}
	if (s->sasl_step == 1) {
		s->login_user = buf_detach(&raw, NULL);
		s->sasl_step = 2;
		s->proto->challenge(s, "UGFzc3dvcmQ6");
		return SASL_NEED;
	}
	s->sasl_step = 0;
	free(s->mech);
	s->mech = xstrdup("PLAIN");
	buf_release_wipe(&s->sasl);
	sasl_plain(&s->sasl, s->login_user, raw.buf);
	buf_release_wipe(&raw);
	free(s->login_user);
	s->login_user = NULL;
	return sasl_finish(s);
}

int
sasl_result(struct session *s, int r)
{
	const char *msg;

	switch (r) {
	case SASL_NEED:
		return 0;
	case SASL_DONE:
		if ((r = session_login(s)) >= 0)
			return r;
		/* FALLTHROUGH */
	case SASL_BAD:
	default:
		msg = s->proto->refusals[0];
		break;
	case SASL_CANCEL:
		msg = s->proto->refusals[1];
		break;
	case SASL_MECH:
		msg = s->proto->refusals[2];
		break;
	}
	session_write(s, "%s%s%s\r\n", s->tag ? s->tag : "", s->tag ? " " : "",
	    msg);
	free(s->tag);
	s->tag = NULL;
	buf_release_wipe(&s->sasl);
	if (++s->fails < 3)
		return 0;
	if (s->proto->too_many)
		session_write(s, "%s", s->proto->too_many);
	s->result = "authentication failed";
	return -1;
}
