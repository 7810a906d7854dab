/*
 * plan.h: the migration plan, a YAML file (migrate-plan(5)).
 *
 * plan_load() reads and checks a plan and reports every error at once,
 * each as "FILE:LINE:COLUMN: what was expected".  Secrets are references
 * (a file, an environment variable, a command), never values: the plan is
 * committed to the audit repository.
 */
#ifndef MIGRATE_PLAN_H
#define MIGRATE_PLAN_H

#include <stddef.h>

#include "yconf.h"

struct buf;

enum secret_kind {
	SECRET_NONE,
	SECRET_FILE,		/* the file's first line */
	SECRET_ENV,		/* an environment variable */
	SECRET_COMMAND,		/* the first line a command prints */
};

struct secret_ref {
	enum secret_kind kind;
	char *value;
	struct pos pos;
};

/* Per-account passwords: a file of "account password" lines, or a
 * command run with MIGRATE_ACCOUNT set. */
struct auth {
	struct secret_ref passwords;
	char *master_user;
	char *master_separator;
	struct secret_ref master_password;
	struct secret_ref token;
	char *login;		/* the login at the destination: "{account}" */
};

struct server {
	char *imap, *jmap, *dav, *sieve, *pop3;	/* URLs */
	char *dav_login;	/* the source's DAV login: "{login}" */
	char *files;		/* a WebDAV file tree's URL, with {account},
				 * {login}, {local} */
	char *sieve_dir, *sieve_active;	/* Dovecot's, on disk, likewise */
	char *ca_file;
	int insecure, allow_plaintext, compress;
	struct auth auth;
	struct pos pos;
};

struct wave {
	char *name;
	struct strlist accounts;
	char *pattern;		/* fnmatch(3) on the address */
	char *domain;
	long long batch;	/* at most this many accounts; 0: all */
	struct pos pos;
};

/* A phase's struct begins with `present`: the plan names the phase. */
struct phase_assessment {
	int present;
	struct strlist logs;	/* the source's, for its POP3 logins */
};

struct phase_pilot {
	int present;
	struct strlist accounts;
};

struct phase_delta {
	int present;
	long long passes;
};

/* finalize's checks of the world (finalize.c) */
struct dns_check {
	int present;
	char *server;		/* the resolver, host[:port]; NULL: the
				 * system's */
	struct strlist domains;	/* empty: the accounts' domains */
	struct strlist hosts;	/* the new deployment: names, addresses */
	struct strlist require;	/* the records that must exist */
};

/* the records finalize's DNS check knows, "mx" first (finalize.c) */
extern const char *const dns_records[];

struct phase_finalize {
	int present;
	struct dns_check dns;
	char *source_readonly;	/* a command that makes the source
				 * read-only */
	char *decommission;	/* the date the source goes, YYYY-MM-DD */
	int keep_default_route;	/* the proxy's default stays the source */
};

struct phases {
	struct phase_assessment assessment;
	struct phase_finalize finalize;
	struct phase_pilot pilot;
	struct wave *waves;
	size_t nr_waves;
	struct phase_delta delta;
};

struct limits {
	long long parallel_accounts, connections_per_source;
	long long connections_per_account, bytes_per_second;
	long long retries, backoff_seconds, helper_timeout;
	long long lease_seconds;	/* an account's, held by a worker */
	/* a phase with more failed accounts stops the apply: a count, or
	 * with max_failures_share a percentage of the phase's accounts */
	long long max_failures;
	int max_failures_share;
};

/* the archives' disk (disk.c) */
struct archives {
	long long reserve;		/* bytes kept free beside the pulls */
	long long retention_days;	/* after finalize; -1: kept */
};

/* migrate-proxy(8), told of holds and flips through its control socket */
struct proxyopts {
	int present;
	char *control;
	long long hold_seconds;	/* the longest a login waits at cutover */
};

struct folders {
	struct strlist include, exclude, skip_special_use;
	int subscribed_only;
};

struct pushopts {
	int verify_content, delete_removed;
	char *deleted;		/* \\Deleted messages: skip (default), trash */
	char *refused;		/* refused messages: rescue (default), report */
};

struct hooks {
	char *before_push, *after_cutover, *after_rollback, *after_finalize;
};

/* Stalwart 0.15 and before, as the source's directory */
struct stalwart_src {
	char *url, *admin_user;
	struct secret_ref admin_password, token;
};

/* accounts.public_folders: where the source's public folders go */
struct public_src {
	char *account;		/* the destination's account that holds them */
	char *login;		/* the source's login that reads them */
};

struct accounts_src {
	char *default_domain;
	struct public_src public_folders;
	struct strlist list;
	char *csv, *passwd_file, *command;
	char *dovecot;		/* a doveadm command: "doveadm -c FILE" */
	char *dovecot_hash_field;	/* the passdb field with the hash */
	char *doveadm_url;	/* or its HTTP API, with its key */
	struct secret_ref doveadm_api_key;
	struct stalwart_src stalwart;
};

/* provision: the account made on the destination before the first push */
struct provisionopts {
	int present;
	char *driver;		/* stalwart or command */
	char *url, *api, *admin_user, *ca_file;
	int insecure, allow_plaintext;
	struct secret_ref admin_password, token;
	char *exists, *create, *update_command;
	struct strlist schemes, update;
	struct secret_ref hashes;	/* "account hash" lines, or a command */
	/* the entries from Dovecot, for accounts listed otherwise */
	char *passwd_file, *dovecot, *dovecot_hash_field;
	char *missing_password;	/* fail (default) or create */
	struct pos pos;
};

struct plan {
	char *file;		/* as given */
	char *dir;		/* its directory, absolute */
	char *text;		/* the file's bytes, for the audit repository */
	size_t text_len;
	char *name;
	char *state_dir;	/* absolute */
	char *mapping;		/* the mapping store; default in state_dir */
	char *database;		/* the state's tables: NULL, state_dir's */
	struct server source, destination;
	struct limits limits;
	struct archives archives;
	struct folders folders;
	struct pushopts push;
	struct proxyopts proxy;
	struct hooks hooks;
	struct accounts_src accounts;
	struct provisionopts provision;
	struct phases phases;
};

/*
 * Read and check `path`.  Returns 0, or -1 with every error in `err`, one
 * a line.  Relative paths in the plan are taken from the plan's directory.
 */
int plan_load(struct plan *p, const char *path, struct buf *err);

/*
 * plansafe.c: no credential written into the plan, none in clear.
 * plan_inline_credential() says what in a command looks like one (NULL:
 * nothing); plan_echo_command() whether a secret's command only prints
 * what is written in it.  parse_command() reads a command (K_FUNC) and
 * refuses one with a credential; plan_check_plaintext() refuses an
 * http:// URL that takes a credential unless its server allows plaintext.
 */
const char *plan_inline_credential(const char *cmd);
int plan_echo_command(const char *cmd);
ykey_fn parse_command;
/*
 * planphases.c: the phases' keys; parse_phase() reads a section that is
 * empty, true, false or a mapping (a phase, proxy, provision);
 * check_phases() what they need of each other and the world.
 */
extern const struct ykey phases_keys[];
ykey_fn parse_phase;
void check_phases(struct yconf *c, struct phases *ph,
    const yaml_node_t *root);
void phases_free(struct phases *ph);
void plan_check_plaintext(struct yconf *c, const struct plan *p,
    const yaml_node_t *root);
void plan_free(struct plan *p);

/*
 * The value of a secret reference; `account` (may be NULL) goes into the
 * environment of a command.  The caller wipes and frees it.
 */
char *secret_resolve(const struct secret_ref *ref, const char *account,
    struct buf *err);

/* The password of `account` from a passwords reference. */
char *secret_password(const struct secret_ref *ref, const char *account,
    const char *login, struct buf *err);

/*
 * Wipe the cached password of `account` (and of `login`) read from a
 * passwords file, once it has been used for the last time; a later
 * secret_password() for it fails, saying so.
 */
void secret_password_forget(const struct secret_ref *ref,
    const char *account, const char *login);

/*
 * Take environment variable `name`, an {env: NAME} secret, out of the
 * environment into memory, so that no child ever inherits it.
 */
void secret_env_keep(const char *name);

/* Wipe what is kept in memory: those values and the passwords files read. */
void secrets_forget(void);

#endif
