/*
 * eta.h: how long the rest of the plan should take (eta.c).
 */
#ifndef MIGRATE_ETA_H
#define MIGRATE_ETA_H

#include <jansson.h>

#include "opt.h"

struct census_more;
struct state;

/*
 * The ETA at `now`, as `migrate status --json` gives it:
 *	{"seconds": S or null, "why": (when null), "finish": TIME,
 *	 "accounts": n, "bytes": b, "unsized": u, "basis": "bytes"|"accounts",
 *	 "rate": per second, "measured": {"accounts", "bytes", "from", "to",
 *	 "window"}, "waves": {WAVE: {"accounts", "bytes", "seconds"}}}
 * What is left weighs what the assessment counted; its time is that
 * weight over the throughput measured on accounts already migrated.
 */
json_t *eta_compute(struct state *s, double now);
/* The same on what state_census() counted, since now - ETA_WINDOW (its
 * `left` taken). */
#define ETA_WINDOW	3600
json_t *eta_compute_with(struct state *s, double now, struct census_more *m);

/* Its lines for people, below `migrate status`'s table. */
void eta_print(const json_t *eta);

#endif
