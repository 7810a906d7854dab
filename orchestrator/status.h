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

/* What `migrate status --json` prints of the whole migration. */
json_t *status_json(struct state *s, const char *dir);


#endif
