/*
 * jpull.h: jmap-pull's private declarations.
 *
 * jmap-pull.c	options, the run, events, the report and the exit code
 * mailboxes.c	mailboxes to folders: names, roles, renames and deletions
 * emails.c	emails to messages: what is new, moved, changed or gone,
 *		and the bodies downloaded into the store
 *
 * The archive is imap-pull's (migrate-archive(5)); a JMAP mailbox is a
 * folder whose "raw" name is the mailbox id, an email in a mailbox is a
 * message with a UID given here, in order, and the email id kept in the
 * message record's "id".
 */
#ifndef MIGRATE_JPULL_H
#define MIGRATE_JPULL_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "jmap.h"
#include "store.h"

#define JPULL_VERSION	"0.1"
#define JPULL_UIDVALIDITY 1	/* a mailbox id never changes meaning */

/* A mailbox of the source, and the folder it is in the archive. */
struct jfolder {
	char *id;
	char *name;		/* its path, "/" between levels */
	char *special;		/* from its role: "\Sent" and so on */
	int subscribed;
	const struct arc_folder *old;	/* the archive's, by id */
	uint32_t next_uid;
	uint64_t messages, bytes, largest;
	int touched;		/* a message came, went or changed */
};

struct jpull {
	/* options */
	struct store_opts so;	/* --mode, --size-limit */
	struct jmap_opts conn;
	const char *archive, *report;
	/* the run */
	struct jmap *j;
	struct store st;
	struct spool sp;
	struct jfolder *folders;
	size_t nr_folders;
	struct arc_folder *old;	/* the archive's folders */
	size_t nr_old;
	json_t *rows;		/* email id -> [[mailbox id, uid, hash,
				 * flags, size], ...]: what the archive
				 * holds */
	char *email_state, *mailbox_state;	/* from the last pass */
	char *new_email_state, *new_mailbox_state;
	int full;		/* compare everything (no usable state) */
	/* counters */
	uint64_t msgs_done, bytes_done, matched, flag_changes, expunged;
	uint64_t msgs_total, bytes_total;
	json_t *report_folders;
};

/* mailboxes.c */
/* Write record `rec` (taken) into the archive. */
int jpull_record(struct jpull *p, json_t *rec, struct buf *err);
/* The mailboxes now, and (not in assess) the folder records that make
 * the archive agree: new, renamed, changed, deleted. */
int mailboxes_sync(struct jpull *p, struct buf *err);
struct jfolder *folder_by_id(struct jpull *p, const char *id);
void folders_free(struct jpull *p);

/* emails.c */
/* What the archive holds, as p->rows; before anything is written, so
 * that an archive of another source is refused untouched. */
int emails_load(struct jpull *p, struct buf *err);
/* Bring the archive's messages to the source's emails. */
int emails_sync(struct jpull *p, struct buf *err);
/* assess: count and size every mailbox's emails */
int emails_assess(struct jpull *p, struct buf *err);

#endif
