/*
 * pull.h: imap-pull's private declarations.
 *
 * imap-pull.c	options, the run, events and the exit code
 * sync.c	folders: LIST, the plan of each folder (what is new, changed,
 *		gone), and fetching bodies into the store
 * acl.c	each folder's ACL
 */
#ifndef MIGRATE_PULL_H
#define MIGRATE_PULL_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "helper.h"
#include "imap.h"
#include "segment.h"
#include "store.h"
#include "strlist.h"

#define PULL_VERSION	"0.1"

struct msginfo {
	uint32_t uid;
	uint64_t size;
	uint64_t modseq;
	int64_t time;
	char *flags;		/* normalized: sorted, one space */
	char *mid;		/* Message-ID, when fetched */
};

struct folder {
	char *raw;		/* the server's name */
	char *name;		/* UTF-8, personal namespace prefix removed */
	char sep;
	int noselect, subscribed;
	char *special;		/* special-use flags, space-separated */
	int name_anomaly;	/* the name could not be decoded */
	/* from LIST-STATUS or STATUS */
	int has_status;
	uint32_t st_messages, st_uidnext, st_uidvalidity;
	uint64_t st_modseq;
	/* what the archive knows */
	const struct arc_folder *old;
	/* EXAMINE */
	uint32_t uidvalidity, uidnext, exists;
	uint64_t modseq;
	int unchanged;		/* nothing to do */
	/* the plan */
	struct msginfo *fetch;	/* bodies to get, by UID */
	size_t nr_fetch, alloc_fetch;
	uint64_t fetch_bytes;
	unsigned long new_msgs, changed, removed, matched;
	json_t *acl;		/* GETACL: identifier -> rights, ours out */
	int taken;		/* a connection fetches it */
	size_t got;		/* bodies fetched so far */
	uint64_t got_bytes;
};

struct pull;

/* One IMAP connection of the run, and the body it is receiving. */
struct conn {
	struct pull *p;
	struct imap *im;
	struct spool sp;
	pthread_t thread;
	struct buf err;		/* why it failed */
	int fail;		/* its exit code then */
};

/* What one FETCH response says about a message. */
struct fetched {
	long long uid;
	int has_flags;
	char *flags;		/* normalized */
	long long size;		/* RFC822.SIZE, -1 if absent */
	long long modseq;
	const char *date;	/* INTERNALDATE as sent */
	int64_t time;
	int has_body;
	size_t body_len;
	char *mid;		/* from a HEADER.FIELDS (MESSAGE-ID) literal */
};

struct pull {
	/* options */
	struct store_opts so;		/* --mode, --size-limit */
	struct conn_opts conn;
	const char *archive, *report;
	struct strlist include, exclude, skip_special;
	int subscribed_only;
	int compress;			/* COMPRESS=DEFLATE when offered */
	int batch;			/* UIDs per FETCH */
	int connections;		/* to fetch bodies over */
	/* the run; the store and counters are shared by the connections */
	pthread_mutex_t lock;		/* recursive */
	int stop;			/* a connection failed: */
	struct conn *failed;		/*   the first that did */
	size_t next_fetch;		/* order[] index of the next folder */
	struct imap *im;		/* the first connection */
	const char *password;		/* for the others to log in */
	struct store st;
	struct spool sp;
	int public_ns;			/* --public: the public folders */
	char *ns_prefix;		/* personal (--public: public) */
	char ns_sep;
	struct strlist other_ns;	/* other users' and shared prefixes */
	int utf8;			/* UTF8=ACCEPT is on */
	struct folder *folders;
	size_t nr_folders, alloc_folders;
	struct arc_folder *old;
	size_t nr_old;
	/* counters */
	uint64_t msgs_total, bytes_total, msgs_done, bytes_done;
	uint64_t msgs_matched, flag_changes, expunged;
	uint64_t shared_folders, acl_entries;	/* acl.c */
	/* --sample-bytes: bodies read in the assessment, timed */
	uint64_t sample_bytes, sample_got;
	double sample_seconds;
	json_t *report_folders;		/* assess */
	json_t *seen;			/* other users' folders it sees */
};

static inline void
pull_lock(struct pull *p)
{
	pthread_mutex_lock(&p->lock);
}

static inline void
pull_unlock(struct pull *p)
{
	pthread_mutex_unlock(&p->lock);
}

/* record.c */
void fetched_release(struct fetched *x);
int parse_fetch(const struct imap_resp *r, struct fetched *x);
int cmp_msginfo(const void *a, const void *b);
const struct arc_msg *find_old(const struct arc_msg *m, size_t nr,
    uint32_t uid);
/* EXAMINE (with CONDSTORE when offered) the folder, on `im`. */
int examine(struct pull *p, struct imap *im, struct folder *f,
    struct buf *err);
int folder_record(struct pull *p, struct folder *f, struct buf *err);
int synced_record(struct pull *p, struct folder *f, struct buf *err);
int meta_changed(const struct folder *f);
int msg_record(struct pull *p, struct folder *f, uint32_t uid,
    const char *hash, uint64_t size, const char *date, int64_t time,
    const char *flags, uint64_t modseq, struct buf *err);
void msginfo_release(struct msginfo *m);

/* list.c */
int sync_list(struct pull *p, struct buf *err);
int sync_deleted(struct pull *p, struct buf *err);
/* acl.c: each folder's ACL (GETACL), recorded or, assessing, counted */
int sync_acls(struct pull *p, struct buf *err);

/* sync.c */
int sync_plan(struct pull *p, struct folder *f, struct buf *err);
int sync_assess(struct pull *p, struct folder *f, struct buf *err);

/* fetch.c */
int sync_fetch(struct conn *c, struct folder *f, struct buf *err);
/* A progress event (with the lock held, or with one connection). */
void pull_progress(struct pull *p, const struct folder *f, int force);

#endif
