/*
 * push.h: jmap-push's private declarations.
 *
 * jmap-push.c	options, the run, events, exit code
 * mailboxes.c	folders -> mailboxes (roles, hierarchy, clashes)
 * plan.c	what the destination should hold, joined with the push state
 * emails.c	wants -> emails: import, reconcile
 * update.c	what changed since: mailboxes and keywords, removals
 * verify.c	read the destination back and compare
 * adopt.c	a new or lost state: what the destination holds already
 * rescue.c	what the destination refuses: repaired, or wrapped
 * share.c	folder ACLs -> shareWith
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
	int touched;		/* recorded by this run */
};

struct folder_map {
	char *folder;		/* the archive's name */
	char *id;		/* the destination mailbox */
};

struct push {
	/* options */
	struct jmap_opts jo;
	const char *archive;
	int deleted_to_trash;		/* \Deleted messages: into Trash, not
					 * left out */
	int rescue;			/* carry refused messages repaired or
					 * wrapped */
	int after_cutover;		/* the destination is the user's now */
	int delete_removed;		/* destroy emails gone at the source */
	int verify, verify_content;	/* after pushing; all bodies too */
	int verify_only;
	int verify_delta;	/* only what this run recorded */
	const char *report;
	const char *share_ready;	/* the accounts on the destination */
	int shares_only;
	uint64_t batch_bytes;
	int batch_msgs;
	/* the run */
	struct arcidx *ix;
	struct jmap *j;
	struct folder_map *map;
	size_t nr_map, alloc_map;
	char *inbox_id, *trash_id;	/* the destination's, by role */
	struct want *want;
	size_t nr_want, alloc_want;
	struct arc_unit *units;
	size_t nr_units;
	/* counters */
	uint64_t imported, matched, updated, failed, removed, stale;
	uint64_t bytes, mailboxes_created;
	uint64_t rescued, deleted_skipped, adopted, user_changed;
	uint64_t todo_msgs, todo_bytes, done_msgs, done_bytes;
	uint64_t shares_set;
	json_t *shares_pending;	/* identifiers not on the destination yet */
	json_t *recon;		/* folder -> its verify report row */
	long shares_ready;	/* --share-ready's lines; -1 none; -2: the
				 * sharing was not looked at */
};

/* mailboxes.c */
int push_mailboxes(struct push *p, struct buf *err);

/* plan.c */
int push_plan(struct push *p, struct buf *err);
/* Attach the push state of the index to p->want (wants -> units), as
 * the index has it now: what was attached before is let go. */
int push_plan_join(struct push *p, struct buf *err);

/* Order of units: by hash, then copy number. */
int push_cmp_unit(const char *h1, int k1, const char *h2, int k2);
/* Record what came of want `w` in the index's push state. */
int push_record(struct push *p, struct want *w, const char *state,
    const char *id, const char *mailboxes, const char *keywords,
    const char *error, struct buf *err);
int unit_placed(const struct arc_unit *u);
/* "a b c" to {"a": true, "b": true, "c": true} */
json_t *push_set_of(const char *list);
/* The destination mailbox id of an archive folder, or NULL. */
const char *map_folder(struct push *p, const char *folder);
/* UTC dates as JMAP writes them: "2026-01-02T03:04:05Z"; parsed: seconds
 * since the epoch, or -1. */
void push_utc(int64_t t, char *out, size_t size);
int64_t push_parse_utc(const char *s);

/* reconcile.c */
/* A message of the archive's `folder`, `left_out` if it is not carried. */
void recon_source(struct push *p, const char *folder, uint64_t size,
    int left_out);
/* What verify found of `w`, in each folder it is in: `outcome` is
 * "equal", "differs", "rescued" or "not_pushed". */
void recon_checked(struct push *p, const struct want *w,
    const char *outcome);
/* The rows, with what the destination holds (`all`, the emails read
 * back) unless the verify was a delta. */
json_t *recon_table(struct push *p, json_t *all);

/* emails.c */
int push_emails(struct push *p, struct buf *err);

/* update.c */
int push_update_all(struct push *p, struct buf *err);
int push_stale_all(struct push *p, struct buf *err);

/* adopt.c */
/*
 * With no push state (a new or lost state directory), take as its own
 * the emails the destination already holds with the same bodies, and
 * tell whether an existing mailbox holds nothing but the archive's mail.
 */
int push_adopt(struct push *p, struct buf *err);
int push_mailbox_adoptable(struct push *p, const char *mailbox_id,
    struct buf *err);

/* rescue.c */
/* Carry each message the destination refused, repaired or wrapped. */
int push_rescue(struct push *p, struct buf *err);

/* share.c */
/* Each folder's ACL as its mailbox's shareWith; identifiers not on the
 * destination yet into p->shares_pending. */
int push_shares(struct push *p, struct buf *err);

/* verify.c */
int push_verify(struct push *p, struct buf *err);

#endif
