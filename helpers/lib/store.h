/*
 * store.h: an archive being written by a pull helper (imap-pull,
 * jmap-pull): bodies spooled and hashed as they arrive, then stored once
 * each in segments that close at checkpoints (migrate-archive(5)).
 */
#ifndef MIGRATE_STORE_H
#define MIGRATE_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "opt.h"
#include "segment.h"

/* What a pull does: --mode. */
enum store_mode {
	STORE_FULL,
	STORE_DELTA,
	STORE_ASSESS,		/* count and report; no archive */
	STORE_AUTO,		/* full until a full pass is complete */
};

/*
 * The options every pull helper takes for its archive, for its option
 * table: --mode, --level, --compress-threads, --checkpoint-messages,
 * --checkpoint-bytes and --size-limit (what assess flags as too large).
 * --mode's words are in the order of enum store_mode.
 */
#define STORE_OPTS(st, so) \
	OPT_CHOICE("mode", &(so)->mode, "full|delta|assess|auto"), \
	OPT_INT("level", &(st)->level, -7, 19), \
	OPT_INT("compress-threads", &(st)->workers, 0, INT_MAX), \
	OPT_SIZE("checkpoint-messages", &(st)->ckpt_messages, 1), \
	OPT_SIZE("checkpoint-bytes", &(st)->ckpt_bytes, 1), \
	OPT_SIZE("size-limit", &(so)->size_limit, 0)

struct store;

/* Those options as a pull helper takes them, with their defaults. */
struct store_opts {
	int mode;		/* enum store_mode */
	uint64_t size_limit;
};
void store_defaults(struct store *st, struct store_opts *so);

/* The last log line of a pull: what it assessed (the totals) or
 * pulled (what it did) in `seconds`. */
void store_log_done(const struct store_opts *so, uint64_t msgs_total,
    uint64_t msgs_done, uint64_t bytes_total, uint64_t bytes_done,
    double seconds);

/* --mode's word for store_open(): "full", "delta" or "auto". */
const char *store_mode_name(enum store_mode mode);

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
	const char *helper, *version;	/* who writes: the segment record */
	const char *dir;
	const char *mode;
	int level, workers;		/* zstd's */
	struct arcidx *ix;
	struct seg_writer *seg;
	unsigned seq;			/* of the open segment */
	int dirty;			/* it holds more than its header */
	size_t seg_msgs;
	uint64_t ckpt_messages;	/* close a segment after so many */
	uint64_t ckpt_bytes;		/* or so many bytes of bodies */
	char (*set)[SEG_HASH_HEX + 1];	/* bodies in the open segment */
	size_t set_nr, set_cap;
	unsigned long segments;		/* written this run */
};

void spool_init(struct spool *sp, const char *dir, uint64_t max_bps);
void spool_release(struct spool *sp);
void spool_begin(struct spool *sp);
int spool_sink(void *sp, const char *data, size_t len);
/* Finish: sp->hash is set; -1 when spooling failed. */
int spool_end(struct spool *sp, struct buf *err);
/* The first bytes of the body (all of it when small). */
const char *spool_head(const struct spool *sp, size_t *len_r);

/* `mode`: full, delta, or auto (chosen here); -2 when another process holds
 * the archive.  st->helper and st->version are set by the caller. */
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

/* The Message-ID in a header section (caller frees), or NULL. */
char *store_header_mid(const char *h, size_t len);
/* The system flags (`system`) or the keywords of a flag string (the
 * archive's form), as a JSON array for a record. */
json_t *store_flags_json(const char *flags, int system);

#endif
