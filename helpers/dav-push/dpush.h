/*
 * dpush.h: dav-push's private declarations.
 *
 * dav-push.c	options, collections, pushing resources, the report
 * verify.c	reading them back and comparing what survives (it takes
 *		the run as an argument: it calls nothing of dav-push.c)
 * repair.c	what the destination refused, made valid (repair.h)
 * share.c	each collection's sharing, once its grantees are there
 */
#ifndef MIGRATE_DPUSH_H
#define MIGRATE_DPUSH_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "dav.h"
#include "shareready.h"

struct dpush {
	struct http_opts o;
	const char *archive, *report;
	int verify_only;
	int files;		/* the archive's file tree, to opts.url */
	const char *share_ready;	/* --share-ready FILE */
	int shares_only, after_cutover;
	struct share_ready ready;
	char *principal;	/* the account's, on the destination */
	json_t *shares_pending;	/* grantees not on the destination yet */
	uint64_t shares_set;
	struct dav *d;
	struct arcidx *ix;
	char *home[2];		/* calendars, address books */
	json_t *diffs;
	uint64_t created, pushed, unchanged, refused, conflicts, deleted,
	    repaired, checked;
};
/* Whether a collection is a calendar (else an address book). */
int is_calendar(const struct arc_davcol *c);
/* A difference the verify found, in the report and the log. */
void verify_diff(struct dpush *dp, const char *where, const char *what);
/* Read each resource of a collection back from the destination and
 * compare. */
int verify_collection(struct dpush *dp, const struct arc_davcol *c,
    const char *dest, struct buf *err);

/* share.c: make the destination share collection `c` (at `dest`) as the
 * source did, with the grantees that are there. */
int share_collection(const struct arc_davcol *c, const char *dest,
    struct buf *err);

extern struct dpush push;

#endif
