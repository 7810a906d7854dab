/*
 * maillog.h: the POP3 logins of the source's logs (maillog.c).
 */
#ifndef MIGRATE_MAILLOG_H
#define MIGRATE_MAILLOG_H

#include "yconf.h"

struct buf;

/* users, lowercased, and how many POP3 logins each has in the logs */
struct pop3_users {
	struct pop3_user **b;	/* a hash table; NULL: none */
	size_t nr;		/* users */
	long long logins;	/* in all */
};

/* Add the POP3 logins of every file (plain or gzip) to `u`. */
int maillog_read(const struct strlist *files, struct pop3_users *u,
    struct buf *err);
/* How many POP3 logins `id` has (any case). */
long long maillog_logins(const struct pop3_users *u, const char *id);
void maillog_free(struct pop3_users *u);

#endif
