/*
 * imap.h: an IMAP client session (RFC 3501, RFC 9051) for the helpers
 * that read from a source server.
 *
 * imap_connect() connects, reads the greeting and the capabilities, and
 * upgrades with STARTTLS when asked; imap_login() authenticates.  Then
 * the caller sends commands with imap_send() and reads their responses
 * with imap_wait(), which hands every untagged response to a callback.
 * Several commands may be sent before waiting for the first (pipelining):
 * imap_wait() keeps the status of tagged responses that come for another
 * command in flight.
 *
 * Every function that can fail returns -1 with `err` set and im->lc.fail set
 * to the sysexits(3) code that fits: EX_UNAVAILABLE when the server cannot
 * be reached or refuses service, EX_NOPERM when it refuses the
 * credentials, EX_TEMPFAIL when the connection breaks or a read times out,
 * EX_PROTOCOL when it breaks the protocol (the offending line, sanitized,
 * is in `err`), EX_CONFIG when a password would go in clear.
 */
#ifndef MIGRATE_IMAP_H
#define MIGRATE_IMAP_H

#include "imap_resp.h"
#include "linecli.h"

struct buf;

enum imap_cap {
	IMAP_CAP_STARTTLS = 1 << 0,
	IMAP_CAP_LOGINDISABLED = 1 << 1,
	IMAP_CAP_SASL_IR = 1 << 2,
	IMAP_CAP_AUTH_PLAIN = 1 << 3,
	IMAP_CAP_ID = 1 << 4,
	IMAP_CAP_NAMESPACE = 1 << 5,
	IMAP_CAP_LIST_EXTENDED = 1 << 6,
	IMAP_CAP_LIST_STATUS = 1 << 7,
	IMAP_CAP_SPECIAL_USE = 1 << 8,
	IMAP_CAP_CONDSTORE = 1 << 9,
	IMAP_CAP_QRESYNC = 1 << 10,
	IMAP_CAP_ENABLE = 1 << 11,
	IMAP_CAP_UTF8_ACCEPT = 1 << 12,
	IMAP_CAP_LITERAL_PLUS = 1 << 13,
	IMAP_CAP_ESEARCH = 1 << 14,
	IMAP_CAP_COMPRESS = 1 << 15,
	IMAP_CAP_IMAP4REV1 = 1 << 16,
	IMAP_CAP_UIDPLUS = 1 << 17,
	IMAP_CAP_ACL = 1 << 18,
};

struct imap {
	struct line_client lc;	/* the connection and lc.fail */
	struct imap_src src;	/* divert and divert_arg are the caller's */
	unsigned caps;		/* enum imap_cap */
	unsigned next_tag;
	/* status of tagged responses read while waiting for another */
	struct imap_done {
		unsigned tag;
		int ok;
		char *text;
	} done[16];
	struct buf cmd;
	int no_later;		/* the last NO waited for said to try later
				 * (RFC 5530: UNAVAILABLE, INUSE, LIMIT) */
	/* counters for the caller's throttling and reports */
	unsigned long long bytes_in;
	/* how long the server took to answer each imap_simple() command
	 * (its first line), the first IMAP_LATENCY_SAMPLES of them */
	double asked_at;
	float *latency;
	size_t nr_latency;
};
#define IMAP_LATENCY_SAMPLES	4096

/* The median of those times, in milliseconds; -1 with none. */
double imap_latency_ms(const struct imap *im);

/* Connect and get ready to log in; *im_r is set even on failure. */
int imap_connect(struct imap **im_r, const struct server_opts *opts,
    struct buf *err);

enum imap_auth {
	IMAP_AUTH_AUTO,		/* PLAIN when offered, else LOGIN; in the
				 * order of --auth auto|plain|login */
	IMAP_AUTH_PLAIN,
	IMAP_AUTH_LOGIN,
};

/*
 * Authenticate as `authc` with `password`; with `authz` (may be NULL),
 * act as that user (SASL PLAIN's authorization identity: an admin or
 * master user reading someone's mailbox).  The capabilities are read
 * anew afterwards.  The password is never logged.
 */
int imap_login(struct imap *im, enum imap_auth how, const char *authz,
    const char *authc, const char *password, struct buf *err);

/*
 * Log in as `user`; with `admin`, as that admin acting for the user:
 * Dovecot's master user form ("user" `master_sep` "admin") when
 * `master_sep` is set, else SASL PLAIN's authorization identity.
 */
int imap_login_as(struct imap *im, enum imap_auth how, const char *user,
    const char *admin, const char *master_sep, const char *password,
    struct buf *err);

/* ENABLE UTF8=ACCEPT when the server offers it: 1 when enabled (names
 * are UTF-8 from then on), 0 when not, -1 on error. */
int imap_enable_utf8(struct imap *im, struct buf *err);

/*
 * Send one command, the tag is added: returns the tag (> 0), or 0 on
 * error.  Use imap_quote() for strings.
 */
unsigned imap_send(struct imap *im, struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append `s` as an IMAP quoted string, or as a literal if it must be. */
void imap_quote(struct buf *out, const char *s);

/*
 * Read responses until the tagged one for `tag`, handing each untagged
 * response to `untagged` (may be NULL).  Returns 1 for OK, 0 for NO (the
 * server's text, sanitized, in `err`), -1 for anything else.  A callback
 * that returns -1 stops the wait with -1 (it sets `err` and im->lc.fail).
 */
typedef int (*imap_untagged_fn)(void *arg, struct imap_resp *r,
    struct buf *err);
int imap_wait(struct imap *im, unsigned tag, imap_untagged_fn untagged,
    void *arg, struct buf *err);

/* Send `fmt` and wait for it: the result of imap_wait(). */
int imap_simple(struct imap *im, imap_untagged_fn untagged, void *arg,
    struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Log out politely and free. */
void imap_free(struct imap **im);

/* Parse a sequence set ("1:5,7") into UIDs; -1 when malformed. */
int imap_parse_set(const char *s, uint32_t **uids_r, size_t *nr_r);

/* Append UIDs (sorted) as a compact sequence set, at most `max` UIDs. */
size_t imap_format_set(struct buf *out, const uint32_t *uids, size_t nr,
    size_t max);

/* The number an atom holds, or -1 when it is not a number. */
long long imap_number(const struct imap_val *v);

#endif
