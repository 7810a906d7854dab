/*
 * managesieve.h: a ManageSieve client (RFC 5804) for the helpers that read
 * Sieve scripts from a source and write them onto a destination.
 *
 * msv_connect() connects, reads the capabilities and upgrades with
 * STARTTLS when asked; msv_login() authenticates with SASL PLAIN.  Then
 * one command at a time: each returns 1 when the server said OK, 0 when
 * it said NO (its reason, sanitized, in `err`), -1 when the session
 * cannot go on.  On -1 ms->lc.fail holds the sysexits(3) code that fits, as
 * imap.h's functions do: EX_UNAVAILABLE (cannot reach, refused service),
 * EX_NOPERM (credentials refused), EX_TEMPFAIL (connection broke, timed
 * out, BYE), EX_PROTOCOL (the server broke the protocol), EX_CONFIG (a
 * password would go in clear).
 */
#ifndef MIGRATE_MANAGESIEVE_H
#define MIGRATE_MANAGESIEVE_H

#include <stddef.h>

#include "buf.h"
#include "linecli.h"

#define MSV_MAX_SCRIPT	(16 << 20)	/* the longest script read */

struct msv {
	struct line_client lc;	/* the connection and lc.fail */
	int starttls;		/* offered */
	struct buf sasl;	/* mechanisms offered, space-separated */
	struct buf sieve;	/* the SIEVE capability: extensions */
	struct buf implementation;
};

/* Connect and get ready to log in; *ms_r is set even on failure. */
int msv_connect(struct msv **ms_r, const struct server_opts *opts,
    struct buf *err);

/*
 * SASL PLAIN as `user`, or as `admin` acting for it (sasl_identity() in
 * secret.h says how); -1 also on NO.
 */
int msv_login(struct msv *ms, const char *user, const char *admin,
    const char *master_sep, const char *password, struct buf *err);

struct msv_script {
	char *name;
	int active;
};

/* LISTSCRIPTS; free the list with msv_scripts_free(). */
int msv_list(struct msv *ms, struct msv_script **v_r, size_t *nr_r,
    struct buf *err);
void msv_scripts_free(struct msv_script *v, size_t nr);

/* GETSCRIPT: the script's bytes appended to `out`. */
int msv_get(struct msv *ms, const char *name, struct buf *out,
    struct buf *err);

/* PUTSCRIPT (stores and checks) and CHECKSCRIPT (checks only). */
int msv_put(struct msv *ms, const char *name, const void *data, size_t len,
    struct buf *err);
int msv_check(struct msv *ms, const void *data, size_t len,
    struct buf *err);

/* SETACTIVE; "" makes no script active. */
int msv_setactive(struct msv *ms, const char *name, struct buf *err);

int msv_delete(struct msv *ms, const char *name, struct buf *err);

/* LOGOUT when connected, then free. */
void msv_free(struct msv **ms);

#endif
