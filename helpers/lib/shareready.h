/*
 * shareready.h: the accounts a share may name on the destination.
 *
 * migrate writes STATE/share-ready, "SOURCE DESTINATION" per line: the
 * login and the address of every account that has reached the
 * destination, with its destination login.  A push that carries sharing
 * (jmap-push, dav-push) reads it with --share-ready; a grantee that is not
 * in it is pending.  Without the file, every identifier is taken as the
 * destination's login too.
 */
#ifndef MIGRATE_SHAREREADY_H
#define MIGRATE_SHAREREADY_H

#include <jansson.h>

#include "buf.h"

struct share_ready {
	json_t *map;		/* source identifier -> destination login */
	long nr;		/* its lines; -1 without a file */
	char *domain;		/* "@example.org", for bare identifiers */
};

/*
 * Read `file` (NULL: none, everyone is ready).  `user` is the account's
 * login: its domain completes bare identifiers.
 */
int share_ready_load(struct share_ready *sr, const char *file,
    const char *user, struct buf *err);
/* "Bob" -> "bob@example.org": the form identifiers are compared in. */
char *share_ready_norm(const struct share_ready *sr, const char *id);
/* The destination login of identifier `id`, or NULL while it is pending. */
const char *share_ready_dest(const struct share_ready *sr, const char *id,
    char **own);
/* Whether `id` names a group, everyone or a special identifier rather than
 * one account. */
int share_not_one(const char *id);
/* Add `id` to the JSON array `pending` unless it is there (any case). */
void share_pending_add(json_t *pending, const char *id);
void share_ready_free(struct share_ready *sr);

#endif
