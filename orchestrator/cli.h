/*
 * cli.h: what the files of migrate(1)'s commands share (cli.c; the
 * commands are in migrate.c and apply.c).
 */
#ifndef MIGRATE_CLI_H
#define MIGRATE_CLI_H

#include <stddef.h>

struct account_spec;
struct audit;
struct plan;
struct state;

/* --state DIR, or NULL */
extern const char *state_dir_opt;
/* --state DIR, or $MIGRATE_STATE; exits when neither is given. */
const char *state_dir(void);
/* A plan loaded and checked, with its accounts; exits on errors. */
void load_plan(const char *file, struct plan *p, struct account_spec **v,
    size_t *nr);
/* The state of `dir`, opened; exits on errors. */
struct state *open_state(const char *dir);
/* The operator the audit names, for the state's transitions too. */
void set_operator(struct state *s, struct audit *au);
void plan_sha256(const char *data, size_t len, char out[65]);

/* apply.c: migrate plan apply, migrate worker */
int cmd_apply(const char *file, int progress, int coordinate);
int cmd_worker(const char *file, const char *name);

#endif
