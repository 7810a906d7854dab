/*
 * pop3.h: a POP3 client (RFC 1939, CAPA and STLS of RFC 2449 and 2595,
 * AUTH of RFC 5034) for what a migration reads from a mailbox: its
 * messages' unique ids (UIDL), sizes (LIST) and headers (TOP n 0).
 *
 * Every function that can fail returns -1 with `err` set and
 * p->lc.fail set to the sysexits(3) code that fits: EX_UNAVAILABLE when
 * the server cannot be reached or refuses to serve, EX_NOPERM when it
 * refuses the credentials, EX_TEMPFAIL for a connection lost, EX_PROTOCOL
 * for an answer that is not POP3, EX_CONFIG for a password that would go
 * in clear.
 */
#ifndef MIGRATE_POP3_H
#define MIGRATE_POP3_H

#include <stdint.h>

#include "buf.h"
#include "linecli.h"

struct pop3 {
	struct line_client lc;
	struct buf line;	/* the last line read, CRLF stripped */
	int stls, top, uidl, sasl_plain, pipelining;	/* from CAPA */
	char *implementation;	/* CAPA's IMPLEMENTATION, or NULL */
};

/* One message of the maildrop: its number, unique id and size. */
struct pop3_msg {
	unsigned long n;
	char *uidl;
	uint64_t size;
};

/* Connect, read the greeting and CAPA, upgrade with STLS if `o` asks. */
int pop3_connect(struct pop3 **p_r, const struct server_opts *o,
    struct buf *err);

/*
 * Log in as `user`, or as `admin` acting for it: SASL PLAIN with an
 * authorization identity, or with `master_sep` Dovecot's master user
 * form by USER and PASS.  A user alone logs in with USER and PASS.
 */
int pop3_login(struct pop3 *p, const char *user, const char *admin,
    const char *master_sep, const char *password, struct buf *err);

/* Every message: UIDL and LIST, joined by number (*v_r in its order;
 * nothing to free after a failure). */
int pop3_listing(struct pop3 *p, struct pop3_msg **v_r, size_t *nr_r,
    struct buf *err);
void pop3_msgs_free(struct pop3_msg *v, size_t nr);

/*
 * Message `n`'s header section as the server stores it, in two halves
 * so that a client may pipeline (where the server has PIPELINING): send
 * TOP n 0, and later read its answer, the dot-stuffing undone and lines
 * ending in CRLF, appended to `out` (its cap bounds it); answers come in
 * the order the commands went.  0, or -1; a message gone since the
 * listing is -1 with p->lc.fail 0.
 */
int pop3_top_send(struct pop3 *p, unsigned long n, struct buf *err);
int pop3_top_read(struct pop3 *p, unsigned long n, struct buf *out,
    struct buf *err);

/* QUIT (its answer not waited for beyond a line) and free. */
void pop3_free(struct pop3 **pp);

#endif
