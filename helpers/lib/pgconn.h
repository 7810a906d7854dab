/*
 * pgconn.h: a PostgreSQL connection as migrate makes it, for the mapping
 * store (mappg.c) and the orchestrator's state (dbpg.c): the URL checked
 * for a password, short timeouts, the server's notices in the log.
 */
#ifndef MIGRATE_PGCONN_H
#define MIGRATE_PGCONN_H

#include <libpq-fe.h>

#include "buf.h"

/*
 * Connect to `url`; `what` names the database in messages ("mapping
 * store").  NULL with `err` set when the URL is not one libpq takes or has
 * a password in it; otherwise the connection, which the caller checks
 * with PQstatus() (on failure, pgconn_error() says why).
 */
PGconn *pgconn_open(const char *url, const char *what, struct buf *err);

/* Add libpq's message `msg` to `err` on one line. */
void pgconn_message(struct buf *err, const char *msg);

#endif
