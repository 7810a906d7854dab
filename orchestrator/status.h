/*
 * status.h: `migrate status` (status.c).
 */
#ifndef MIGRATE_STATUS_H
#define MIGRATE_STATUS_H

#include <jansson.h>

struct account;
struct state;

/*
 * Print the state in `dir` (open as `s`): the whole migration, or one
 * account (its address, login or bare name); as JSON with `json`.  The
 * exit status.
 */
int status_show(struct state *s, const char *dir, const char *account,
    int json);

/* One account as `migrate status --json ACCOUNT` shows it, with "id"
 * and "items_text" besides; NULL when there is no such account. */
json_t *status_account_json(struct state *s, const char *name);

/* What `migrate status --json` prints of the whole migration. */
json_t *status_json(struct state *s, const char *dir);


#endif
