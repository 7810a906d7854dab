#include "compat.h"

#include "buf.h"
#include "linecli.h"
#include "log.h"
#include "secret.h"

int
lc_fail(struct line_client *lc, int code)
{
	lc->fail = code;
	return -1;
}

int
lc_open(struct line_client *lc, const struct server_opts *o,
    struct buf *err)
{
	lc->allow_plaintext = o->allow_plaintext;
	if (tls_conn_open(&lc->conn, o->host, o->port, &o->tls, err) < 0)
		return lc_fail(lc, EX_UNAVAILABLE);
	return 0;
}

int
lc_send(struct line_client *lc, struct buf *line, const char *shown,
    struct buf *err)
{
	int rc;

	log_debug("C: %s", shown ? shown : line->buf);
	buf_adds(line, "\r\n");
	rc = tls_conn_write(lc->conn, line->buf, line->len, err);
	if (shown)
		buf_release_wipe(line);
	return rc < 0 ? lc_fail(lc, EX_TEMPFAIL) : 0;
}

int
lc_may_send_password(struct line_client *lc, struct buf *err)
{
	if (tls_conn_is_tls(lc->conn) || lc->allow_plaintext)
		return 0;
	buf_adds(err, "refusing to send a password over a connection"
	    " without TLS");
	return lc_fail(lc, EX_CONFIG);
}

int
lc_starttls(struct line_client *lc, const struct server_opts *o,
    int offered, const struct lc_starttls_ops *ops, void *arg,
    struct buf *err)
{
	int rc;

	if (!o->starttls)
		return 0;
	if (!offered) {
		buf_addf(err, "%s:%s does not offer STARTTLS", o->host,
		    o->port);
		return lc_fail(lc, EX_UNAVAILABLE);
	}
	if ((rc = ops->command(arg, err)) != 1)
		return lc_fail(lc, rc == 0 ? EX_UNAVAILABLE : lc->fail);
	if (tls_conn_starttls(lc->conn, err) < 0)
		return lc_fail(lc, EX_UNAVAILABLE);
	return ops->capabilities(arg, err);
}

void
lc_add_string(struct buf *out, const char *s, size_t len, size_t max_quoted)
{
	size_t i;

	if ((max_quoted && len > max_quoted) || memchr(s, '\r', len) ||
	    memchr(s, '\n', len) || memchr(s, '\0', len)) {
		buf_addf(out, "{%zu+}\r\n", len);
		buf_add(out, s, len);
		return;
	}
	buf_addch(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addch(out, '\\');
		buf_addch(out, s[i]);
	}
	buf_addch(out, '"');
}

void
sasl_plain_b64(struct buf *out, const char *authz, const char *authc,
    const char *password)
{
	struct buf plain = BUF_INIT;

	buf_adds(&plain, authz ? authz : "");
	buf_addch(&plain, '\0');
	buf_adds(&plain, authc);
	buf_addch(&plain, '\0');
	buf_adds(&plain, password);
	b64_encode(plain.buf, plain.len, out);
	buf_release_wipe(&plain);
}

void
sasl_identity(struct buf *as, const char *user, const char *admin,
    const char *master_sep, const char **authz_r, const char **authc_r)
{
	*authz_r = NULL;
	*authc_r = user;
	if (admin && master_sep) {
		buf_addf(as, "%s%s%s", user, master_sep, admin);
		*authc_r = as->buf;
	} else if (admin && strcmp(admin, user)) {
		*authz_r = user;
		*authc_r = admin;
	}
}

void
lc_close(struct line_client *lc)
{
	tls_conn_free(&lc->conn);
}
