/*
 * helper.h: what every helper does alike (migrate-helper(7)).
 *
 * Its start: the log under its name, the secrets block on stdin with the
 * keys it cannot do without, the account its log lines name, and the
 * hello event.  The options that say how to reach a server, one table for
 * all helpers.  Anomalies and progress, which several threads may report
 * at once.  And the exit status of a run that failed.
 */
#ifndef MIGRATE_HELPER_H
#define MIGRATE_HELPER_H

#include <stdint.h>

#include "httpc.h"
#include "opt.h"
#include "tls.h"

struct buf;
struct json_t;
struct secrets;

/* First thing in main(): the log says `name` from here on. */
void helper_init(const char *name, const char *version);

/*
 * Once the options are read: read the secrets block from stdin into
 * `sec`, exit with EX_USAGE naming the first of the keys listed after it
 * (up to a NULL) that is missing, name `account` in the log lines (unless
 * MIGRATE_ACCOUNT already did), and write the hello event.
 */
void helper_start(struct secrets *sec, const char *account, ...)
    __attribute__((sentinel));

/*
 * The connection options: which of them a helper takes.  --ca-file,
 * --insecure and --timeout come with every set.
 */
enum conn_set {
	CONN_SERVER = 1 << 0,	/* --host, --port, --tls */
	CONN_PLAIN = 1 << 1,	/* --allow-plaintext */
	CONN_URL = 1 << 2,	/* --url */
	CONN_USER = 1 << 3,	/* --user */
	CONN_ADMIN = 1 << 4,	/* --auth-user, --master-separator */
	CONN_SASL = 1 << 5,	/* --auth auto|plain|login */
	/* and what a run reads and writes */
	RUN_ARCHIVE = 1 << 6,	/* --archive DIR */
	RUN_REPORT = 1 << 7,	/* --report FILE */
	RUN_VERIFY = 1 << 8,	/* --verify-only */
	RUN_MODE = 1 << 9,	/* --mode, for a helper whose every pass reads
				 * everything and records what changed, so
				 * that full, delta and auto are one */
	RUN_FILES = 1 << 10,	/* --files: a WebDAV file tree, not the
				 * calendars and address books */
};

struct conn_opts {
	struct server_opts srv;	/* host, port, TLS, plaintext */
	const char *url;
	const char *user;	/* the account's login */
	const char *auth_user;	/* an admin or master user acting for it */
	const char *master_sep;	/* Dovecot's master user separator */
	int auth;		/* enum imap_auth: --auth auto|plain|login */
	long timeout;		/* seconds per read or request; 0: default */
	const char *tls;	/* --tls as given */
	const char *archive;	/* RUN_ARCHIVE */
	const char *report;	/* RUN_REPORT */
	int verify_only;	/* RUN_VERIFY */
	int assess;		/* RUN_MODE: --mode assess */
	int files;		/* RUN_FILES */
};

/*
 * Read the command line: the options of `set` into `co`, and the helper's
 * own (`own`, NULL or a table ended by OPT_END) where their entries say.
 * --help, an unknown option or an operand prints `usage` and exits with
 * EX_USAGE, as helper_usage() does from then on; so does a bad value,
 * saying which.
 */
void helper_options(int argc, char **argv, unsigned set,
    struct conn_opts *co, const struct opt *own, const char *usage);
void helper_usage(void) __attribute__((noreturn));

/* After the options, for an HTTP server: what --url, --user, --ca-file,
 * --insecure and --timeout said (the password is the caller's). */
struct http_opts conn_opts_http(const struct conn_opts *co);

/*
 * After the options, for a server: --tls (default: implicit TLS when the
 * port is `port_tls`, else STARTTLS), the port (`port_plain` or
 * `port_tls` as TLS is), --master-separator only with --auth-user.
 * Exits with EX_USAGE on a bad combination.
 */
void conn_opts_server(struct conn_opts *co, const char *port_plain,
    const char *port_tls);

/*
 * An anomaly: written as an event, logged, counted and kept for the
 * report.  Any thread may call it.  `folder` may be NULL, `uid` 0.
 */
void helper_anomaly(const char *kind, const char *folder, uint32_t uid,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
uint64_t helper_anomaly_count(void);

/* The anomalies so far, a JSON array (a new reference). */
struct json_t *helper_anomaly_list(void);

/*
 * Whether a progress event is due: at most one a second, unless `force`.
 * Any thread may call it.
 */
int helper_progress_due(int force);

/*
 * The first failure decides the exit status: helper_fail() records `code`
 * (0: EX_SOFTWARE) unless one is recorded, and returns -1;
 * helper_status() gives it, or `otherwise` when none was.
 */
int helper_fail(int code);
int helper_status(int otherwise);

/* Seconds since helper_init(). */
double helper_seconds(void);

/* Write the report `o` to `path` (evline_report()); `o` is released. */
int helper_report(const char *path, struct json_t *o, struct buf *err);

/* arcidx_open()'s -2 (busy: try later) or -1 (the archive is bad). */
int helper_archive_status(int rc);

#endif
