/*
 * push.h: jmap-push's private declarations.
 *
 * jmap-push.c	options, the run, events, exit code
 * mailboxes.c	folders -> mailboxes (roles, hierarchy, clashes)
 * emails.c	units -> emails: import, reconcile, update, remove
 * verify.c	read the destination back and compare
 */
#ifndef MIGRATE_PUSH_H
#define MIGRATE_PUSH_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "jmap.h"

#define PUSH_VERSION	"0.1"

/* What the archive says the destination should hold: one email. */
struct want {
	char hash[SEG_HASH_HEX + 1];
	int k;
	uint64_t size;
	int64_t time;
	char *mailboxes;	/* destination mailbox ids, sorted, space */
	char *keywords;		/* JMAP keywords, sorted, space */
	char *folder;		/* the first folder, for messages */
	uint32_t uid;		/*   and its UID there */
	struct arc_unit *have;	/* the push state, if any */
};

struct folder_map {
	char *folder;		/* the archive's name */
	char *id;		/* the destination mailbox */
};

struct push {
	/* options */
	struct jmap_opts jo;
	const char *archive;
	int skip_deleted;		/* leave out \Deleted messages */
	int delete_removed;		/* destroy emails gone at the source */
	int verify, verify_content;	/* after pushing; all bodies too */
	int verify_only;
	const char *report;
	uint64_t batch_bytes;
	int batch_msgs;
	/* the run */
	struct arcidx *ix;
	struct jmap *j;
	struct folder_map *map;
	size_t nr_map, alloc_map;
	struct want *want;
	size_t nr_want, alloc_want;
	struct arc_unit *units;
	size_t nr_units;
	/* counters */
	uint64_t imported, matched, updated, failed, removed, stale;
	uint64_t bytes, anomalies, mailboxes_created;
	uint64_t todo_msgs, todo_bytes, done_msgs, done_bytes;
	double last_progress;
};

/* jmap-push.c */
void push_anomaly(struct push *p, const char *kind, const char *folder,
    uint32_t uid, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void push_progress(struct push *p, int force);
const char *map_folder(struct push *p, const char *folder);

/* mailboxes.c */
int push_mailboxes(struct push *p, struct buf *err);

/* emails.c */
int push_plan(struct push *p, struct buf *err);
/* Attach the push state of the index to p->want (wants -> units). */
int push_plan_join(struct push *p, struct buf *err);
int push_emails(struct push *p, struct buf *err);

/* verify.c */
int push_verify(struct push *p, struct buf *err);

#endif
