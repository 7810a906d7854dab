/*
 * pop3.c: the POP3 client of pop3.h.
 */
#include "compat.h"

#include <ctype.h>

#include "buf.h"
#include "log.h"
#include "pop3.h"
#include "secret.h"
#include "xalloc.h"

#define LINE_MAX_POP3	(1024 * 1024)

/* The next line into p->line, CRLF stripped: 0, or -1. */
static int
read_line(struct pop3 *p, struct buf *err)
{
	int rc;

	buf_reset(&p->line);
	rc = tls_conn_read_line(p->lc.conn, &p->line, err);
	if (rc == 0) {
		buf_adds(err, "the server closed the connection");
		return lc_fail(&p->lc, EX_TEMPFAIL);
	}
	if (rc < 0)
		return lc_fail(&p->lc, EX_TEMPFAIL);
	while (p->line.len && (p->line.buf[p->line.len - 1] == '\n' ||
	    p->line.buf[p->line.len - 1] == '\r'))
		buf_setlen(&p->line, p->line.len - 1);
	log_debug("S: %s", p->line.buf);
	return 0;
}

/* A status line: 1 for +OK, 0 for -ERR (its text in `err`), -1. */
static int
status(struct pop3 *p, const char *what, struct buf *err)
{
	if (read_line(p, err) < 0)
		return -1;
	if (!strncmp(p->line.buf, "+OK", 3))
		return 1;
	if (!strncmp(p->line.buf, "-ERR", 4)) {
		buf_addf(err, "%s: ", what);
		buf_add_sanitized(err, p->line.buf, p->line.len, 200);
		return 0;
	}
	buf_addf(err, "%s: not a POP3 answer: ", what);
	buf_add_sanitized(err, p->line.buf, p->line.len, 200);
	return lc_fail(&p->lc, EX_PROTOCOL);
}

/* Send `cmd` and read its status line. */
static int
command(struct pop3 *p, const char *cmd, const char *shown, struct buf *err)
{
	struct buf line = BUF_INIT;

	buf_adds(&line, cmd);
	if (lc_send(&p->lc, &line, shown, err) < 0) {
		buf_release(&line);
		return -1;
	}
	buf_release(&line);
	return status(p, shown ? shown : cmd, err);
}

/*
 * The next line of a multi-line answer, dot-stuffing undone: 1, 0 at
 * its end, -1.
 */
static int
next_line(struct pop3 *p, struct buf *err)
{
	if (read_line(p, err) < 0)
		return -1;
	if (p->line.buf[0] != '.')
		return 1;
	if (p->line.len == 1)
		return 0;
	memmove(p->line.buf, p->line.buf + 1, p->line.len);
	buf_setlen(&p->line, p->line.len - 1);
	return 1;
}

static int
is_word(const char *line, const char *w)
{
	size_t n = strlen(w);

	return !strncasecmp(line, w, n) && (!line[n] || line[n] == ' ');
}

static int
read_capa(struct pop3 *p, struct buf *err)
{
	int rc = command(p, "CAPA", NULL, err);

	p->stls = p->top = p->uidl = p->sasl_plain = p->pipelining = 0;
	if (rc == 0) {		/* no CAPA: RFC 1939 alone */
		buf_reset(err);
		return 0;
	}
	if (rc < 0)
		return -1;
	while ((rc = next_line(p, err)) == 1) {
		const char *l = p->line.buf;

		if (is_word(l, "STLS"))
			p->stls = 1;
		else if (is_word(l, "TOP"))
			p->top = 1;
		else if (is_word(l, "UIDL"))
			p->uidl = 1;
		else if (is_word(l, "PIPELINING"))
			p->pipelining = 1;
		else if (is_word(l, "SASL"))
			p->sasl_plain = strcasestr(l, " PLAIN") != NULL;
		else if (is_word(l, "IMPLEMENTATION") && l[14]) {
			free(p->implementation);
			p->implementation = xstrdup(l + 15);
		}
	}
	return rc;
}

static int
stls_command(void *arg, struct buf *err)
{
	return command(arg, "STLS", NULL, err);
}

static int
stls_caps(void *arg, struct buf *err)
{
	return read_capa(arg, err);
}

static const struct lc_starttls_ops stls_ops = { stls_command, stls_caps };

int
pop3_connect(struct pop3 **p_r, const struct server_opts *o,
    struct buf *err)
{
	struct pop3 *p = xcalloc(1, sizeof(*p));
	int rc;

	*p_r = p;
	buf_init(&p->line, LINE_MAX_POP3);
	if (lc_open(&p->lc, o, err) < 0)
		return -1;
	if ((rc = status(p, "the greeting", err)) <= 0)
		return lc_fail(&p->lc, EX_UNAVAILABLE);
	if (read_capa(p, err) < 0)
		return -1;
	return lc_starttls(&p->lc, o, p->stls, &stls_ops, p, err);
}

/*
 * A refused login: RFC 2449's response codes tell a passing failure
 * ([SYS/TEMP], [IN-USE], RFC 3206) from a refusal.
 */
static int
refused(struct pop3 *p)
{
	const char *l = p->line.buf + 4;

	while (*l == ' ')
		l++;
	if (!strncasecmp(l, "[SYS/TEMP]", 10) || !strncasecmp(l,
	    "[IN-USE]", 8))
		return lc_fail(&p->lc, EX_TEMPFAIL);
	if (!strncasecmp(l, "[SYS/PERM]", 10))
		return lc_fail(&p->lc, EX_UNAVAILABLE);
	return lc_fail(&p->lc, EX_NOPERM);
}

int
pop3_login(struct pop3 *p, const char *user, const char *admin,
    const char *master_sep, const char *password, struct buf *err)
{
	struct buf cmd = BUF_INIT, as = BUF_INIT;
	const char *authz, *authc;
	int rc;

	if (lc_may_send_password(&p->lc, err) < 0)
		return -1;
	sasl_identity(&as, user, admin, master_sep, &authz, &authc);
	if (authz) {		/* an administrator acting for the user */
		if (!p->sasl_plain) {
			buf_adds(err, "acting for another user needs SASL"
			    " PLAIN, which the server does not offer");
			buf_release(&as);
			return lc_fail(&p->lc, EX_UNAVAILABLE);
		}
		buf_adds(&cmd, "AUTH PLAIN ");
		sasl_plain_b64(&cmd, authz, authc, password);
		rc = command(p, cmd.buf, "AUTH PLAIN ...", err);
	} else {
		buf_addf(&cmd, "USER %s", authc);
		rc = command(p, cmd.buf, NULL, err);
		if (rc == 1) {
			buf_release_wipe(&cmd);
			buf_adds(&cmd, "PASS ");
			buf_adds(&cmd, password);
			rc = command(p, cmd.buf, "PASS ...", err);
		}
	}
	buf_release_wipe(&cmd);
	buf_release(&as);
	if (rc == 0)
		return refused(p);
	return rc < 0 ? -1 : 0;
}

static int
cmp_n(const void *a, const void *b)
{
	const struct pop3_msg *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

/* "N WORD": N and where WORD starts, or NULL. */
static const char *
numbered(const char *l, unsigned long *n)
{
	char *end;

	if (!isdigit((unsigned char)*l))
		return NULL;
	*n = strtoul(l, &end, 10);
	if (*end != ' ' || !end[1])
		return NULL;
	return end + 1;
}

/* The messages of LIST's or UIDL's answer, into v (LIST: the sizes). */
static int
read_numbered(struct pop3 *p, int sizes, struct pop3_msg **v,
    size_t *nr, size_t *alloc, struct buf *err)
{
	struct pop3_msg key, *m;
	const char *w;
	int rc;

	while ((rc = next_line(p, err)) == 1) {
		if (!(w = numbered(p->line.buf, &key.n))) {
			buf_adds(err, "not a line of a listing: ");
			buf_add_sanitized(err, p->line.buf, p->line.len, 200);
			return lc_fail(&p->lc, EX_PROTOCOL);
		}
		if (!sizes) {
			ALLOC_GROW(*v, *nr + 1, *alloc);
			m = &(*v)[(*nr)++];
			m->n = key.n;
			m->uidl = xstrndup(w, strcspn(w, " "));
			m->size = 0;
		} else if ((m = bsearch(&key, *v, *nr, sizeof(**v), cmp_n)))
			m->size = strtoull(w, NULL, 10);
	}
	return rc;
}

int
pop3_listing(struct pop3 *p, struct pop3_msg **v_r, size_t *nr_r,
    struct buf *err)
{
	size_t alloc = 0;
	int rc;

	*v_r = NULL;
	*nr_r = 0;
	if ((rc = command(p, "UIDL", NULL, err)) == 0) {
		buf_adds(err, " (the server keeps no unique ids)");
		return lc_fail(&p->lc, EX_UNAVAILABLE);
	}
	if (rc < 0 || read_numbered(p, 0, v_r, nr_r, &alloc, err) < 0)
		goto fail;
	qsort(*v_r, *nr_r, sizeof(**v_r), cmp_n);
	if ((rc = command(p, "LIST", NULL, err)) == 0)
		lc_fail(&p->lc, EX_PROTOCOL);
	if (rc <= 0 || read_numbered(p, 1, v_r, nr_r, &alloc, err) < 0)
		goto fail;
	return 0;
fail:
	pop3_msgs_free(*v_r, *nr_r);
	*v_r = NULL;
	*nr_r = 0;
	return -1;
}

void
pop3_msgs_free(struct pop3_msg *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(v[i].uidl);
	free(v);
}

int
pop3_top_send(struct pop3 *p, unsigned long n, struct buf *err)
{
	struct buf line = BUF_INIT;
	int rc;

	buf_addf(&line, "TOP %lu 0", n);
	rc = lc_send(&p->lc, &line, NULL, err);
	buf_release(&line);
	return rc;
}

int
pop3_top_read(struct pop3 *p, unsigned long n, struct buf *out,
    struct buf *err)
{
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "TOP %lu 0", n);
	if ((rc = status(p, what, err)) == 0)
		return lc_fail(&p->lc, 0);	/* gone since the listing */
	if (rc < 0)
		return -1;
	while ((rc = next_line(p, err)) == 1) {
		if (buf_add(out, p->line.buf, p->line.len) < 0 ||
		    buf_add(out, "\r\n", 2) < 0) {
			buf_addf(err, "message %lu: its header is longer than"
			    " %zu bytes", n, out->cap);
			return lc_fail(&p->lc, EX_PROTOCOL);
		}
	}
	return rc;
}

void
pop3_free(struct pop3 **pp)
{
	struct pop3 *p = *pp;
	struct buf quit = BUF_INIT, err = BUF_INIT;

	if (!p)
		return;
	*pp = NULL;
	if (p->lc.conn && !p->lc.fail) {
		buf_adds(&quit, "QUIT");
		if (lc_send(&p->lc, &quit, NULL, &err) == 0)
			status(p, "QUIT", &err);
	}
	buf_release(&quit);
	buf_release(&err);
	lc_close(&p->lc);
	buf_release(&p->line);
	free(p->implementation);
	free(p);
}
