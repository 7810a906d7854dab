/*
 * finalize.h: what finalize checks and does once every account is on the
 * destination (finalize.c), and its DNS check (dnscheck.c).
 */
#ifndef MIGRATE_FINALIZE_H
#define MIGRATE_FINALIZE_H

#include <jansson.h>

#include "plan.h"

struct buf;
struct run;
struct state;

/*
 * The records of `domains` that clients and senders use, asked of a real
 * resolver: one finding per record appended to `out` ({what, ok,
 * detail}).  Returns how many are wrong, -1 when the resolver cannot be
 * set up.
 */
int dns_check_world(const struct dns_check *dc, const struct strlist *domains,
    json_t *out, struct buf *err);

/*
 * After the finalize phase: the accounts all on the destination, the DNS,
 * the source made read-only, the proxy's default route, the
 * decommission date.  Each item is kept in the state (what `migrate
 * status` shows finalize waiting for) and its changes in the audit.
 * Returns 1 when every account is there and something else is not yet
 * as it should be, else 0 (accounts still on the source are no error:
 * status says finalize waits for them).
 */
int finalize_world(struct run *r);

#endif
