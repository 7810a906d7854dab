/*
 * linecli.h: what the clients of the line protocols (imap.c, managesieve.c)
 * share: the connection and its failure code, sending a command line
 * (logged, or shown masked when it carries a password), the rule that a
 * password never goes in clear unless asked for, the STARTTLS upgrade,
 * strings sent as quoted strings or literals, and who logs in with
 * what SASL PLAIN message.
 *
 * Every function that can fail returns -1 with `err` set and lc->fail set
 * to the sysexits(3) code that fits (see imap.h).
 */
#ifndef MIGRATE_LINECLI_H
#define MIGRATE_LINECLI_H

#include <stddef.h>

#include "tls.h"

struct buf;

struct line_client {
	struct tls_conn *conn;
	int fail;		/* EX_* of the last failure */
	int allow_plaintext;	/* from the server's options */
};

/* Set lc->fail to `code`; returns -1. */
int lc_fail(struct line_client *lc, int code);

/* Connect to the server `o` names (EX_UNAVAILABLE when that fails). */
int lc_open(struct line_client *lc, const struct server_opts *o,
    struct buf *err);

/*
 * Send `line` and CRLF (EX_TEMPFAIL when that fails).  The debug log shows
 * `shown` when it is not NULL (a command that carries a password: the line
 * is wiped after), else the line itself.
 */
int lc_send(struct line_client *lc, struct buf *line, const char *shown,
    struct buf *err);

/* 0 when a password may go over this connection, else -1 (EX_CONFIG). */
int lc_may_send_password(struct line_client *lc, struct buf *err);

/*
 * The protocol's side of STARTTLS: send the command and wait for its
 * answer (1 OK, 0 NO, -1 failure), and read the capabilities again once
 * TLS is up (0, or -1).
 */
struct lc_starttls_ops {
	int (*command)(void *arg, struct buf *err);
	int (*capabilities)(void *arg, struct buf *err);
};

/*
 * Upgrade with STARTTLS when `o` asks for it; `offered` says whether the
 * server announced it.  0 when there is nothing to do or it is done.
 */
int lc_starttls(struct line_client *lc, const struct server_opts *o,
    int offered, const struct lc_starttls_ops *ops, void *arg,
    struct buf *err);

/*
 * `s` as a quoted string, or as a non-synchronizing literal ({n+}) when a
 * quoted string cannot carry it: a CR, LF or NUL, or more than
 * `max_quoted` bytes (0: no limit).
 */
void lc_add_string(struct buf *out, const char *s, size_t len,
    size_t max_quoted);

/*
 * The SASL PLAIN message (RFC 4616) of `authc` acting for `authz` (NULL or
 * "": itself), in base64, appended to `out`; the caller wipes it.
 */
void sasl_plain_b64(struct buf *out, const char *authz, const char *authc,
    const char *password);

/*
 * Who logs in for `user`: the user itself; or `admin` acting for it, as
 * SASL's authorization identity (*authz_r; NULL when it is `user`
 * itself); or, with `master_sep`,
 * Dovecot's master user form "user" `master_sep` "admin", built in `as`.
 */
void sasl_identity(struct buf *as, const char *user, const char *admin,
    const char *master_sep, const char **authz_r, const char **authc_r);

/* Close the connection (no LOGOUT: the protocol sends its own first). */
void lc_close(struct line_client *lc);

#endif
