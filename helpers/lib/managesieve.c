#include "compat.h"

#include <strings.h>

#include "buf.h"
#include "managesieve.h"
#include "secret.h"
#include "xalloc.h"

/*
 * A response line, as tokens: atoms (OK, ACTIVE), strings (quoted, or
 * literals however long, read whole), and a response code "(...)" kept
 * as its text.  A literal ends its line; the line goes on after it.
 */
enum tok_type { T_ATOM, T_STRING, T_CODE };

#define MAX_TOKS	8
#define MAX_LINE	(64 * 1024)

struct toks {
	struct {
		enum tok_type type;
		struct buf s;
	} v[MAX_TOKS];
	size_t nr;
};

static void
toks_release(struct toks *t)
{
	size_t i;

	for (i = 0; i < MAX_TOKS; i++)
		buf_release(&t->v[i].s);
	t->nr = 0;
}

static int
bad_line(struct msv *ms, const char *why, const struct buf *line,
    struct buf *err)
{
	buf_addf(err, "the server broke the protocol (%s): '", why);
	buf_add_sanitized(err, line->buf, line->len, 120);
	buf_addch(err, '\'');
	return lc_fail(&ms->lc, EX_PROTOCOL);
}

static int
add_literal(void *arg, const char *data, size_t len)
{
	return buf_add(arg, data, len);
}

/* Read one response line into `t`: 0, or -1 with ms->lc.fail set. */
/* A quoted string at `p` into `s`: past its end, or NULL. */
static const char *
take_string(const char *p, struct buf *s)
{
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		if (*p == '\r' || *p == '\n')
			return NULL;
		buf_addch(s, *p);
	}
	return *p == '"' ? p + 1 : NULL;
}

/* A response code "(...)" at `p` into `s`: past its end, or NULL. */
static const char *
take_code(const char *p, struct buf *s)
{
	const char *e;
	int quoted = 0;

	for (e = p + 1; *e && (quoted || *e != ')'); e++)
		if (*e == '"' && e[-1] != '\\')
			quoted = !quoted;
	if (*e != ')')
		return NULL;
	buf_add(s, p + 1, e - p - 1);
	return e + 1;
}

static int
read_toks(struct msv *ms, struct toks *t, struct buf *err)
{
	struct buf line = BUF_INIT;
	struct buf *s;
	const char *p, *e;
	char *end;
	unsigned long long n;
	int rc, ret = -1;

	toks_release(t);
	buf_init(&line, MAX_LINE);
	if ((rc = tls_conn_read_line(ms->lc.conn, &line, err)) <= 0) {
		if (rc == 0)
			buf_adds(err, "the server closed the connection");
		buf_release(&line);	/* what came before the cut */
		return lc_fail(&ms->lc, EX_TEMPFAIL);
	}
	p = line.buf;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\r' || *p == '\n' || !*p)
			break;
		if (t->nr == MAX_TOKS) {
			bad_line(ms, "too many words", &line, err);
			goto out;
		}
		s = &t->v[t->nr].s;
		buf_reset(s);
		if (*p == '"') {
			t->v[t->nr].type = T_STRING;
			if (!(p = take_string(p, s))) {
				bad_line(ms, "a string without its end",
				    &line, err);
				goto out;
			}
		} else if (*p == '(') {
			t->v[t->nr].type = T_CODE;
			if (!(p = take_code(p, s))) {
				bad_line(ms, "a response code without its end",
				    &line, err);
				goto out;
			}
		} else if (*p == '{') {
			t->v[t->nr].type = T_STRING;
			errno = 0;
			n = strtoull(p + 1, &end, 10);
			if (p[1] < '0' || p[1] > '9' || errno)
				end = NULL;
			else if (*end == '+')
				end++;
			if (!end || *end != '}' || (end[1] != '\r' &&
			    end[1] != '\n')) {
				bad_line(ms, "a bad literal", &line, err);
				goto out;
			}
			if (n > MSV_MAX_SCRIPT) {
				bad_line(ms, "a literal over "
				    "16 MiB", &line, err);
				goto out;
			}
			if (tls_conn_read_exact(ms->lc.conn, n, add_literal, s,
			    err) < 0) {
				lc_fail(&ms->lc, EX_TEMPFAIL);
				goto out;
			}
			t->nr++;
			/* the line goes on after the literal */
			buf_reset(&line);
			if ((rc = tls_conn_read_line(ms->lc.conn, &line,
			    err)) <= 0) {
				if (rc == 0)
					buf_adds(err, "the server closed the"
					    " connection after a literal");
				lc_fail(&ms->lc, EX_TEMPFAIL);
				goto out;
			}
			p = line.buf;
			continue;
		} else {
			t->v[t->nr].type = T_ATOM;
			for (e = p; *e && *e != ' ' && *e != '\r' &&
			    *e != '\n'; e++)
				;
			buf_add(s, p, e - p);
			p = e;
		}
		t->nr++;
	}
	if (!t->nr) {
		bad_line(ms, "an empty line", &line, err);
		goto out;
	}
	ret = 0;
out:
	buf_release(&line);
	return ret;
}

static int
is_atom(const struct toks *t, size_t i, const char *word)
{
	return i < t->nr && t->v[i].type == T_ATOM &&
	    !strcasecmp(t->v[i].s.buf, word);
}

typedef int (*data_fn)(struct msv *ms, void *arg, struct toks *t,
    struct buf *err);

/*
 * Read up to the response that ends a command, handing other lines to
 * `data` (may be NULL: ignored).  1 for OK, 0 for NO with its text in
 * `err`, -1 for BYE or a failure.
 */
static int
wait_done(struct msv *ms, data_fn data, void *arg, struct buf *err)
{
	struct toks t = { 0 };
	const char *word;
	size_t i;
	int ret = -1;

	for (;;) {
		if (read_toks(ms, &t, err) < 0)
			break;
		if (!is_atom(&t, 0, "OK") && !is_atom(&t, 0, "NO") &&
		    !is_atom(&t, 0, "BYE")) {
			if (data && data(ms, arg, &t, err) < 0)
				break;
			continue;
		}
		word = t.v[0].s.buf;
		if (!strcasecmp(word, "OK")) {
			ret = 1;
			break;
		}
		buf_addf(err, "the server said %s", !strcasecmp(word, "NO") ?
		    "NO" : "BYE");
		for (i = 1; i < t.nr; i++) {
			buf_adds(err, t.v[i].type == T_CODE ? " (" : ": '");
			buf_add_sanitized(err, t.v[i].s.buf, t.v[i].s.len, 300);
			buf_adds(err, t.v[i].type == T_CODE ? ")" : "'");
		}
		if (!strcasecmp(word, "NO"))
			ret = 0;
		else
			lc_fail(&ms->lc, EX_TEMPFAIL);
		break;
	}
	toks_release(&t);
	return ret;
}

/* A command of a verb and strings (name, then script bytes). */
static int
simple(struct msv *ms, const char *verb, const char *name,
    const void *data, size_t len, data_fn fn, void *arg, struct buf *err)
{
	struct buf cmd = BUF_INIT, shown = BUF_INIT;
	int ret;

	buf_adds(&cmd, verb);
	buf_adds(&shown, verb);
	if (name) {
		buf_addch(&cmd, ' ');
		lc_add_string(&cmd, name, strlen(name), 1024);
		buf_addf(&shown, " \"%s\"", name);
	}
	if (data) {
		buf_addf(&cmd, " {%zu+}\r\n", len);
		buf_add(&cmd, data, len);
		buf_addf(&shown, " {%zu+} ...", len);
	}
	ret = lc_send(&ms->lc, &cmd, shown.buf, err);
	buf_release(&cmd);
	buf_release(&shown);
	return ret < 0 ? -1 : wait_done(ms, fn, arg, err);
}

static int
take_cap(struct msv *ms, void *arg, struct toks *t, struct buf *err)
{
	const char *name = t->v[0].s.buf;
	const char *val = t->nr > 1 ? t->v[1].s.buf : "";

	(void)arg;
	(void)err;
	if (t->v[0].type != T_STRING)
		return 0;
	if (!strcasecmp(name, "STARTTLS"))
		ms->starttls = 1;
	else if (!strcasecmp(name, "SASL"))
		buf_adds(&ms->sasl, val);
	else if (!strcasecmp(name, "SIEVE"))
		buf_adds(&ms->sieve, val);
	else if (!strcasecmp(name, "IMPLEMENTATION"))
		buf_adds(&ms->implementation, val);
	return 0;
}

static int
read_caps(struct msv *ms, struct buf *err)
{
	int rc;

	ms->starttls = 0;
	buf_reset(&ms->sasl);
	buf_reset(&ms->sieve);
	buf_reset(&ms->implementation);
	rc = wait_done(ms, take_cap, NULL, err);
	if (rc == 0)
		lc_fail(&ms->lc, EX_UNAVAILABLE);
	return rc == 1 ? 0 : -1;
}

static int
starttls_command(void *arg, struct buf *err)
{
	return simple(arg, "STARTTLS", NULL, NULL, 0, NULL, NULL, err);
}

/* the server says its capabilities again (RFC 5804, 2.2) */
static int
starttls_caps(void *arg, struct buf *err)
{
	return read_caps(arg, err);
}

static const struct lc_starttls_ops starttls_ops = {
	starttls_command, starttls_caps,
};

int
msv_connect(struct msv **ms_r, const struct server_opts *o, struct buf *err)
{
	struct msv *ms = xcalloc(1, sizeof(*ms));

	*ms_r = ms;
	if (lc_open(&ms->lc, o, err) < 0)
		return -1;
	if (read_caps(ms, err) < 0) {
		if (ms->lc.fail == EX_TEMPFAIL)
			ms->lc.fail = EX_UNAVAILABLE;	/* no greeting */
		return -1;
	}
	return lc_starttls(&ms->lc, o, ms->starttls, &starttls_ops, ms, err);
}

int
msv_login(struct msv *ms, const char *user, const char *admin,
    const char *master_sep, const char *password, struct buf *err)
{
	struct buf cmd = BUF_INIT, as = BUF_INIT;
	const char *m, *authz, *authc;
	int rc, plain = 0;

	if (lc_may_send_password(&ms->lc, err) < 0)
		return -1;
	for (m = ms->sasl.buf; (m = strcasestr(m, "PLAIN")); m += 5)
		if ((m == ms->sasl.buf || m[-1] == ' ') &&
		    (m[5] == ' ' || !m[5]))
			plain = 1;
	if (!plain) {
		buf_addf(err, "the server does not offer SASL PLAIN (it offers"
		    " '%s')", ms->sasl.buf);
		return lc_fail(&ms->lc, EX_UNAVAILABLE);
	}
	sasl_identity(&as, user, admin, master_sep, &authz, &authc);
	buf_adds(&cmd, "AUTHENTICATE \"PLAIN\" \"");
	sasl_plain_b64(&cmd, authz, authc, password);
	buf_addch(&cmd, '"');
	buf_release(&as);
	if (lc_send(&ms->lc, &cmd, "AUTHENTICATE \"PLAIN\" ...", err) < 0)
		return -1;
	rc = wait_done(ms, NULL, NULL, err);
	if (rc == 0)
		return lc_fail(&ms->lc, EX_NOPERM);
	return rc == 1 ? 0 : -1;
}

struct list {
	struct msv_script *v;
	size_t nr, alloc;
};

static int
take_script(struct msv *ms, void *arg, struct toks *t, struct buf *err)
{
	struct list *l = arg;

	(void)ms;
	(void)err;
	if (t->v[0].type != T_STRING)
		return 0;
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr].name = xstrdup(t->v[0].s.buf);
	l->v[l->nr++].active = is_atom(t, 1, "ACTIVE");
	return 0;
}

int
msv_list(struct msv *ms, struct msv_script **v_r, size_t *nr_r,
    struct buf *err)
{
	struct list l = { 0 };
	int rc = simple(ms, "LISTSCRIPTS", NULL, NULL, 0, take_script, &l,
	    err);

	*v_r = l.v;
	*nr_r = l.nr;
	return rc;
}

void
msv_scripts_free(struct msv_script *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(v[i].name);
	free(v);
}

struct get {
	struct buf *out;
	int got;
};

static int
take_body(struct msv *ms, void *arg, struct toks *t, struct buf *err)
{
	struct get *g = arg;

	if (t->v[0].type != T_STRING || g->got) {
		buf_adds(err, "the server broke the protocol (GETSCRIPT"
		    " answered with more than the script)");
		return lc_fail(&ms->lc, EX_PROTOCOL);
	}
	buf_add(g->out, t->v[0].s.buf, t->v[0].s.len);
	g->got = 1;
	return 0;
}

int
msv_get(struct msv *ms, const char *name, struct buf *out, struct buf *err)
{
	struct get g = { out, 0 };
	int rc = simple(ms, "GETSCRIPT", name, NULL, 0, take_body, &g, err);

	if (rc == 1 && !g.got) {
		buf_addf(err, "the server broke the protocol (GETSCRIPT \"%s\""
		    " answered OK without the script)", name);
		return lc_fail(&ms->lc, EX_PROTOCOL);
	}
	return rc;
}

int
msv_put(struct msv *ms, const char *name, const void *data, size_t len,
    struct buf *err)
{
	return simple(ms, "PUTSCRIPT", name, data, len, NULL, NULL, err);
}

int
msv_check(struct msv *ms, const void *data, size_t len, struct buf *err)
{
	return simple(ms, "CHECKSCRIPT", NULL, data, len, NULL, NULL, err);
}

int
msv_setactive(struct msv *ms, const char *name, struct buf *err)
{
	return simple(ms, "SETACTIVE", name, NULL, 0, NULL, NULL, err);
}

int
msv_delete(struct msv *ms, const char *name, struct buf *err)
{
	return simple(ms, "DELETESCRIPT", name, NULL, 0, NULL, NULL, err);
}

void
msv_free(struct msv **msp)
{
	struct msv *ms = *msp;
	struct buf ignored = BUF_INIT;

	if (!ms)
		return;
	*msp = NULL;
	if (ms->lc.conn && !ms->lc.fail &&
	    tls_conn_write(ms->lc.conn, "LOGOUT\r\n", 8, &ignored) == 0)
		wait_done(ms, NULL, NULL, &ignored);
	buf_release(&ignored);
	lc_close(&ms->lc);
	buf_release(&ms->sasl);
	buf_release(&ms->sieve);
	buf_release(&ms->implementation);
	free(ms);
}
