/*
 * provision.h: what provision knows of the account it makes, and the
 * drivers that make it on a destination (stalwart.c, command.c).
 */
#ifndef MIGRATE_PROVISION_H
#define MIGRATE_PROVISION_H

#include <stdint.h>

#include "pwscheme.h"

struct buf;

/* what a rerun may change on an account that exists: --update */
enum {
	UPD_PASSWORD = 1 << 0,
	UPD_NAME = 1 << 1,
	UPD_ALIASES = 1 << 2,
	UPD_QUOTA = 1 << 3,
};

struct prov {
	const char *account;	/* the address */
	const char *login;	/* the destination's login; NULL: account */
	const char *name;	/* display name, or NULL */
	const char **aliases;
	size_t nr_aliases;
	uint64_t quota;		/* bytes; 0: none */
	unsigned update;
	int apply;		/* 0: --mode check, nothing written */
	const char *entry;	/* the source's password entry, or NULL */
	/* the password in the form the driver gives the destination */
	enum pw_form form;
	char *secret;
	const char *why;	/* when form is PW_NONE */
};

/*
 * A driver: exists() says whether the destination has the account (1, 0,
 * or -1 with `err` set and the exit code returned through *code);
 * create() and update() make or change it.
 */
struct driver {
	const char *name;
	int (*init)(struct prov *p, int *code, struct buf *err);
	int (*exists)(struct prov *p, int *code, struct buf *err);
	int (*create)(struct prov *p, int *code, struct buf *err);
	int (*update)(struct prov *p, int *code, struct buf *err);
	void (*finish)(void);
};

extern const struct driver stalwart_driver, command_driver;

/* stalwart.c's options */
struct stalwart_opts {
	const char *url, *ca_file, *admin_user;
	const char *password, *token;	/* from stdin */
	int insecure, allow_plaintext;
	int v015;		/* --api 0.15: the REST API of 0.15 and before */
};
extern struct stalwart_opts stalwart_opts;

/* command.c's options */
struct command_opts {
	const char *exists, *create, *update;
	const char *schemes;	/* comma-separated; NULL: PLAIN only */
};
extern struct command_opts command_opts;

#endif
