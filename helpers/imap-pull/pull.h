/*
 * pull.h: imap-pull's private declarations.
 *
 * imap-pull.c	options, the run, events and the exit code
 * sync.c	folders: LIST, the plan of each folder (what is new, changed,
 *		gone), and fetching bodies into the store
 * store.c	the archive being written: the body spool, segments,
 *		checkpoints
 */
#ifndef MIGRATE_PULL_H
#define MIGRATE_PULL_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "imap.h"
#include "segment.h"

#define PULL_VERSION	"0.1"

enum pull_mode {
	MODE_FULL,
	MODE_DELTA,
	MODE_ASSESS,
	MODE_AUTO,		/* full until a full pass is complete */
};

struct strlist {
	char **v;
	size_t nr, alloc;
};

/* A body being received: hashed as it comes, in memory up to a limit. */
struct spool {
	struct buf mem;
	int fd;			/* the rest, in an unlinked file; -1 */
	const char *dir;	/* where that file goes */
	uint64_t len;
	void *md;		/* EVP_MD_CTX */
	char hash[SEG_HASH_HEX + 1];
	int error;		/* errno of a failed spool write */
	/* throttling: bytes allowed per second, 0 for no limit */
	uint64_t max_bps, thr_bytes;
	double thr_start;
};

/* The archive being written. */
struct store {
	const char *dir;
	const char *mode;
	int level, workers;		/* zstd's */
	struct arcidx *ix;
	struct seg_writer *seg;
	unsigned seq;			/* of the open segment */
	int dirty;			/* it holds more than its header */
	size_t seg_msgs;
	unsigned long ckpt_messages;	/* close a segment after so many */
	uint64_t ckpt_bytes;		/* or so many bytes of bodies */
	char (*set)[SEG_HASH_HEX + 1];	/* bodies in the open segment */
	size_t set_nr, set_cap;
	unsigned long segments;		/* written this run */
};

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

struct pull {
	/* options */
	enum pull_mode mode;
	struct imap_opts conn;
	const char *user, *auth_user, *master_sep;
	enum imap_auth auth;
	const char *archive, *report;
	struct strlist include, exclude, skip_special;
	int subscribed_only;
	int compress;			/* COMPRESS=DEFLATE when offered */
	int batch;			/* UIDs per FETCH */
	int connections;		/* to fetch bodies over */
	uint64_t size_limit;		/* assess: flag messages above */
	/* the run; the store and counters are shared by the connections */
	pthread_mutex_t lock;		/* recursive */
	int stop;			/* a connection failed: */
	struct conn *failed;		/*   the first that did */
	size_t next_fetch;		/* order[] index of the next folder */
	struct imap *im;		/* the first connection */
	const char *password;		/* for the others to log in */
	struct store st;
	struct spool sp;
	char *ns_prefix;		/* personal namespace */
	char ns_sep;
	struct strlist other_ns;	/* other users' and shared prefixes */
	int utf8;			/* UTF8=ACCEPT is on */
	struct folder *folders;
	size_t nr_folders, alloc_folders;
	struct arc_folder *old;
	size_t nr_old;
	/* counters */
	uint64_t msgs_total, bytes_total, msgs_done, bytes_done;
	uint64_t msgs_matched, flag_changes, expunged, anomalies;
	double last_progress;
	json_t *report_folders;		/* assess */
};

/* imap-pull.c */
void pull_lock(struct pull *p);
void pull_unlock(struct pull *p);
void pull_anomaly(struct pull *p, const char *kind, const char *folder,
    uint32_t uid, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void pull_progress(struct pull *p, const struct folder *f, int force);

/* sync.c */
int sync_list(struct pull *p, struct buf *err);
int sync_plan(struct pull *p, struct folder *f, struct buf *err);
int sync_fetch(struct conn *c, struct folder *f, struct buf *err);
int sync_deleted(struct pull *p, struct buf *err);
int sync_assess(struct pull *p, struct folder *f, struct buf *err);
void msginfo_release(struct msginfo *m);

/* store.c */
void spool_init(struct spool *sp, const char *dir, uint64_t max_bps);
void spool_release(struct spool *sp);
void spool_begin(struct spool *sp);
int spool_sink(void *sp, const char *data, size_t len);
/* Finish: sp->hash is set; -1 when spooling failed. */
int spool_end(struct spool *sp, struct buf *err);
/* The first bytes of the body (all of it when small). */
const char *spool_head(const struct spool *sp, size_t *len_r);

/* `mode`: full, delta, or auto (chosen here); -2 when another process holds
 * the archive */
int store_open(struct store *st, const char *dir, const char *mode,
    struct buf *err);
int store_record(struct store *st, json_t *rec, struct buf *err);
int store_has_blob(struct store *st, const char *hash);
int store_blob(struct store *st, struct spool *sp, json_t *blob_rec,
    struct buf *err);
/* After a message: close the segment when it is full enough. */
int store_maybe_commit(struct store *st, struct buf *err);
/* At the end of the run: commit what is there (with `pass`), if any. */
int store_finish(struct store *st, json_t *pass, struct buf *err);
void store_abort(struct store *st);

#endif
