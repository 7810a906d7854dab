/*
 * accounts.h: the plan's accounts and what its sources say of each:
 * the list (accounts.c), the entries of the directory (directory.c), and
 * the sources that answer over HTTP (dirhttp.c, doveadm.c) or are an
 * older Stalwart (stalwart_src.c).
 */
#ifndef MIGRATE_ACCOUNTS_H
#define MIGRATE_ACCOUNTS_H

#include "plan.h"

/* The plan's accounts, resolved from all its sources. */
struct account_spec {
	char *account;		/* the address (bare names get the domain) */
	char *login;		/* the login at the source, as listed */
};

int plan_accounts(const struct plan *p, struct account_spec **v_r,
    size_t *nr_r, struct buf *err);
void account_specs_free(struct account_spec *v, size_t nr);

/*
 * What the plan's sources say of one account beyond its name (directory.c):
 * its password entry at the source ("{SCHEME}..."; a secret, wiped by
 * account_entry_free), display name, quota and aliases.  Absent fields
 * are NULL; -1 only when a source cannot be read.
 */
struct account_entry {
	char *hash, *name, *quota;
	struct strlist aliases;
};

int account_entry(const struct plan *p, const char *account,
    const char *login, struct account_entry *e, struct buf *err);
void account_entry_free(struct account_entry *e);

/*
 * Run the operator's `cmd` with /bin/sh, `account` and `login` (may be
 * NULL) in MIGRATE_ACCOUNT and MIGRATE_LOGIN; its stdout into `out`.
 */
int plan_command(const char *cmd, const char *account, const char *login,
    struct buf *out, struct buf *err);

/*
 * One request to a source's directory API (dirhttp.c): GET, or POST of
 * `data` as JSON; Basic auth with user and password, or a `header`
 * ("Authorization: ..."); `what` names the credential in errors.  The
 * answer's JSON (a new reference) and its status, or NULL with `err` set
 * (a refused credential, no answer, an answer that is not JSON).
 */
struct dir_req {
	const char *url, *data, *user, *password, *header, *what;
};
struct json_t;
struct json_t *dir_http(const struct plan *p, const struct dir_req *rq,
    long *code_r, struct buf *err);

/*
 * Dovecot's doveadm HTTP API (doveadm.c): the users, one a line, into
 * `out`; one field of a user's userdb entry (the caller wipes and frees
 * it), NULL when it has none or with `err` set on a failure.
 */
int doveadm_users(const struct plan *p, struct buf *out, struct buf *err);
char *doveadm_field(const struct plan *p, const char *login,
    const char *field, struct buf *err);

/*
 * Stalwart 0.15 and before as the source (stalwart_src.c): its accounts
 * as "address,login" lines into `out`; one account's entry, name, quota
 * and aliases by its login.
 */
int stalwart_accounts(const struct plan *p, struct buf *out,
    struct buf *err);
int stalwart_entry(const struct plan *p, const char *login,
    struct account_entry *e, struct buf *err);

/* The fields of one CSV line, at most `max`, in place (accounts.c). */
size_t csv_fields(char *line, char **f, size_t max);

#endif
