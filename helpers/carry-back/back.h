/*
 * back.h: carry-back's private declarations.
 *
 * carry-back.c	options, the connections, the report, exit code
 * plan.c	the archive (the source, as the last pull saw it) against
 *		the destination: what to do at the source
 * apply.c	doing it over IMAP, recording it in the archive, anomalies
 */
#ifndef MIGRATE_BACK_H
#define MIGRATE_BACK_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "helper.h"
#include "imap.h"
#include "jmap.h"

#define BACK_VERSION	"0.1"

/* A folder at the source, as the archive knows it or as it will be. */
struct bfolder {
	char *name;		/* the archive's name (UTF-8) */
	char *raw;		/* as the source names it */
	uint32_t uidvalidity;	/* 0: to be created */
	char *mailbox_id;	/* the destination mailbox it is, or NULL */
	int gone;		/* its mailbox is gone from the destination */
	int kept;		/* messages stay in it after the plan */
};

enum bact {
	B_APPEND,		/* a destination email into a folder */
	B_FLAGS,		/* a message's flags, as the email's keywords */
	B_DELETE,		/* a message gone from the destination */
};

struct baction {
	enum bact what;
	size_t folder;		/* index in back.folders */
	uint32_t uid;		/* B_FLAGS, B_DELETE */
	char *email_id;		/* B_APPEND, B_FLAGS */
	char hash[SEG_HASH_HEX + 1];
	char *flags;		/* B_APPEND, B_FLAGS: IMAP flags, space */
	int64_t time;		/* B_APPEND: its receivedAt */
	int done;
};

/* A destination email that no carried unit names: the user's own. */
struct bnew {
	char *email_id;
	char hash[SEG_HASH_HEX + 1];
	char *mailboxes, *keywords;	/* as the destination has them */
	int recorded;
};

struct back {
	/* options */
	struct jmap_opts jo;
	struct conn_opts io;		/* the source */
	const char *archive, *report;
	int check;			/* plan only; 65 if anything is left */
	/* the run */
	struct arcidx *ix;
	struct jmap *j;
	struct imap *im;
	int utf8;			/* UTF8=ACCEPT enabled at the source */
	char sep;			/* the source's hierarchy separator */
	struct bfolder *folders;
	size_t nr_folders, alloc_folders;
	struct baction *acts;
	size_t nr_acts, alloc_acts;
	struct bnew *news;
	size_t nr_news, alloc_news;
	json_t *emails;			/* the destination's, by id */
	json_t *identity;		/* email id -> the hash it carries */
	/* counters */
	uint64_t appended, flagged, deleted, created, removed_folders;
	uint64_t recorded, downloaded, bytes;
};

/* apply.c */

/* plan.c */
int back_plan(struct back *b, struct buf *err);
/* A destination email's body: from the archive if it holds it, else
 * downloaded; checked against `hash`. */
int back_body(struct back *b, const char *email_id, const char *hash,
    struct buf *out, struct buf *err);

int back_apply(struct back *b, struct buf *err);

#endif
