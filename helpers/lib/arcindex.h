/*
 * arcindex.h: the index of one account's archive (migrate-archive(5)).
 *
 * The index is an SQLite database beside the segments, index.db.  It is
 * derived: folding the manifests of the complete segments, in order,
 * gives it, and arcidx_catch_up() does just that for segments it has not
 * seen (a crash between writing a segment and recording it).  So the
 * segments are the truth and the index is how to find things fast: which
 * bodies are stored, and each folder's state at the source (UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ, and UID -> hash and flags).
 *
 * Every function returns 0 or -1 with `err` set, unless it says otherwise.
 */
#ifndef MIGRATE_ARCINDEX_H
#define MIGRATE_ARCINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

struct buf;
struct arcidx;

#define ARCIDX_FILE	"index.db"
#define ARCIDX_LOCK	"lock"

/*
 * Open (creating) the index of the archive in `dir`.  With `lock`, take
 * the archive's lock first (flock on `dir`/lock), which fails at once if
 * another process holds it: one writer per archive.  Returns -2 (with
 * `err` set) when the lock is held by another process.
 */
int arcidx_open(struct arcidx **ix_r, const char *dir, int lock,
    struct buf *err);
void arcidx_close(struct arcidx **ix);

/*
 * Bring the index up to date with the complete segments in the directory
 * (verifying each before folding it in), and remove partial segments
 * when the lock is held.  A segment the index knows but that is gone is
 * an error.
 */
int arcidx_catch_up(struct arcidx *ix, struct buf *err);

/* The last segment folded in, 0 for none. */
unsigned arcidx_last_seq(struct arcidx *ix);

/* Fold one segment's manifest in, in one transaction. */
int arcidx_apply(struct arcidx *ix, unsigned seq, const char *manifest,
    size_t len, struct buf *err);

/* Whether a body is stored: 1, 0, or -1 on error. */
int arcidx_has_blob(struct arcidx *ix, const char *hash);

/*
 * The one stored body of `size` bytes with Message-ID `mid` received at
 * `time`, if there is exactly one: 1 with hash_r (SEG_HASH_HEX + 1 bytes)
 * set, 0 when there is none or more than one, -1 on error.
 */
int arcidx_blob_match(struct arcidx *ix, uint64_t size, const char *mid,
    int64_t time, char *hash_r);

struct arc_folder {
	char *name;		/* UTF-8 */
	char *raw;		/* as the server names it */
	char sep;		/* hierarchy separator, 0 for none */
	char *special;		/* special-use flags, space-separated */
	int subscribed, noselect;
	uint32_t uidvalidity;
	int synced;		/* the last pass finished the folder: */
	uint32_t uidnext;	/*   its state then */
	uint64_t highestmodseq;
	uint32_t messages;
};

/*
 * Every folder, by name; free with arc_folders_free().  These lists, and
 * those below, are to be freed after a failure too (what was read).
 */
int arcidx_folders(struct arcidx *ix, struct arc_folder **f_r,
    size_t *nr_r, struct buf *err);
void arc_folders_free(struct arc_folder *f, size_t nr);

struct arc_msg {
	uint32_t uid;
	char hash[SEG_HASH_HEX + 1];
	char *flags;		/* flags and keywords, sorted, one space */
	uint64_t modseq;
	uint64_t size;
	int64_t time;		/* internal date, seconds since the epoch */
	char *source_id;	/* a JMAP source's email id, or NULL (set
				 * by arcidx_msgs() only) */
};

/* The messages of a folder, by UID; free with arc_msgs_free(). */
int arcidx_msgs(struct arcidx *ix, const char *folder, struct arc_msg **m_r,
    size_t *nr_r, struct buf *err);
void arc_msgs_free(struct arc_msg *m, size_t nr);

/* A folder's message as another protocol may find it again: its body,
 * size and Message-ID ("" when it has none). */
struct arc_key {
	uint32_t uid;
	char hash[SEG_HASH_HEX + 1];
	uint64_t size;
	char *mid;
};
int arcidx_msg_keys(struct arcidx *ix, const char *folder,
    struct arc_key **v_r, size_t *nr_r, struct buf *err);
void arc_keys_free(struct arc_key *v, size_t nr);

/*
 * The POP3 unique ids of a maildrop on `side` ("source", "destination"),
 * each with the body it was matched to, replacing those recorded before
 * (a "pop3-uidls" record, from pop3-uidl(8)).
 */
struct arc_uidl {
	char *uidl;
	char hash[SEG_HASH_HEX + 1];
};
int arcidx_pop3_uidls(struct arcidx *ix, const char *side,
    struct arc_uidl **v_r, size_t *nr_r, struct buf *err);
void arc_uidls_free(struct arc_uidl *v, size_t nr);

/*
 * The destination's POP3 id of each message whose source id is known,
 * with that source id: the two sides joined by body, the n-th copy of a
 * body on one side with the n-th on the other.
 */
struct arc_uidl_pair {
	char *dest, *src;
};
int arcidx_pop3_pairs(struct arcidx *ix, struct arc_uidl_pair **v_r,
    size_t *nr_r, struct buf *err);
void arc_uidl_pairs_free(struct arc_uidl_pair *v, size_t nr);

/* The segment that holds a body: > 0, 0 when none, -1 on error. */
long long arcidx_blob_seq(struct arcidx *ix, const char *hash);

/*
 * A stored body (a small one: a script), read whole from its segment and
 * appended to `out`: 1, 0 when the index knows no such body, -1 on error.
 */
int arcidx_blob_read(struct arcidx *ix, const char *hash, struct buf *out,
    struct buf *err);

/* The body of a folder's message: 1 with hash_r set, 0 if none, -1. */
int arcidx_msg_hash(struct arcidx *ix, const char *folder, uint32_t uid,
    char *hash_r);

/*
 * Call `fn` for each body the messages refer to, once each; stops at the
 * first call that returns non-zero and returns that.
 */
int arcidx_each_hash(struct arcidx *ix, int (*fn)(void *arg,
    const char *hash), void *arg);

/* A value of the meta table (caller frees), or NULL. */
char *arcidx_meta(struct arcidx *ix, const char *key);
/* The ACL recorded for `folder` (a "folder-acl" record), identifier to
 * rights, empty when none: a new reference, or NULL on error. */
struct json_t *arcidx_folder_acl(struct arcidx *ix, const char *folder,
    struct buf *err);

/* Counts for reports: folders, messages, distinct bodies, their bytes. */
int arcidx_counts(struct arcidx *ix, uint64_t *folders, uint64_t *messages,
    uint64_t *blobs, uint64_t *bytes);

/*
 * The archive's form of a message's flags and keywords, as the index keeps
 * and compares them: sorted (strcmp), each once, separated by one space.
 * `v` is sorted in place; the caller frees the result.
 */
char *arc_flags_join(const char **v, size_t nr);

/* Whether the list (that form) holds the word `w` of `n` bytes. */
int arc_flags_has(const char *list, const char *w, size_t n);

/* A transaction of several changes (arcidx_apply() has its own). */
int arcidx_begin(struct arcidx *ix, struct buf *err);
int arcidx_commit(struct arcidx *ix, struct buf *err);

/*
 * Every message of every folder, ordered by hash, folder and UID; `m` and
 * `folder` live for the call only.  Stops at, and returns, the first
 * non-zero result of `fn`.
 */
int arcidx_all_msgs(struct arcidx *ix, int (*fn)(void *arg,
    const struct arc_msg *m, const char *folder), void *arg,
    struct buf *err);

/*
 * jmap-push's state.  A unit is one email on the destination: the k-th
 * copy of a body in each folder that holds it (a body in several folders
 * is one email in several mailboxes; two copies in one folder are two).
 */
struct arc_unit {
	char hash[SEG_HASH_HEX + 1];
	int k;
	char *state;		/* "sending", "done" or "failed" */
	char *email_id;
	char *mailboxes;	/* as pushed: mailbox ids, sorted, space */
	char *keywords;		/* as pushed: sorted, space */
	char *error;		/* why it failed */
};

/* The destination mailbox of a folder (caller frees), or NULL. */
char *arcidx_push_mailbox(struct arcidx *ix, const char *folder);
/* the sharing jmap-push last gave a folder's mailbox (JSON; NULL: none) */
int arcidx_push_share(struct arcidx *ix, const char *folder,
    const char *mbox, struct json_t **last, struct buf *err);
int arcidx_push_set_share(struct arcidx *ix, const char *folder,
    const char *mbox, struct json_t *share, struct buf *err);
int arcidx_push_set_mailbox(struct arcidx *ix, const char *folder,
    const char *id, struct buf *err);
int arcidx_push_units(struct arcidx *ix, struct arc_unit **u_r,
    size_t *nr_r, struct buf *err);
int arcidx_push_set(struct arcidx *ix, const struct arc_unit *u,
    struct buf *err);
void arc_units_free(struct arc_unit *u, size_t nr);

/*
 * The Sieve scripts: each as the source has it now (hash "" when it is
 * gone from the source but was pushed), with what sieve-push gave the
 * destination (push_state "" when nothing yet: "done" or "failed").
 */
struct arc_sieve {
	char *name;
	char hash[SEG_HASH_HEX + 1];
	uint64_t size;
	int active;
	char *push_hash, *push_state, *push_error;
};

int arcidx_sieve(struct arcidx *ix, struct arc_sieve **v_r, size_t *nr_r,
    struct buf *err);
void arc_sieve_free(struct arc_sieve *v, size_t nr);
/* Record what the destination holds of a script; state NULL: nothing. */
int arcidx_push_sieve_set(struct arcidx *ix, const char *name,
    const char *hash, const char *state, const char *error,
    struct buf *err);

/*
 * The calendars and address books (dav-pull's): each collection by its
 * path on the source, with its properties (a JSON object) and the
 * sync-token of the last pass; its resources by name.
 */
struct arc_davcol {
	char *path, *kind, *name, *props, *sync_token;
	int shared;
	uint64_t resources;
};

struct arc_davres {
	char *name;
	char hash[SEG_HASH_HEX + 1];
	uint64_t size;
	char *etag, *type;
};

int arcidx_dav_collections(struct arcidx *ix, struct arc_davcol **v_r,
    size_t *nr_r, struct buf *err);
void arc_davcols_free(struct arc_davcol *v, size_t nr);
int arcidx_dav_resources(struct arcidx *ix, const char *collection,
    struct arc_davres **v_r, size_t *nr_r, struct buf *err);
void arc_davres_free(struct arc_davres *v, size_t nr);

/*
 * The WebDAV side's tables, as rows of `cols` strings each (NULL as "";
 * arc_rows_free() them).  -1 with `err` set on failure.
 */
void arc_rows_free(char **v, size_t nr, int cols);
/* The file tree dav-pull found: path, size, mtime, etag (4), or path,
 * dir ("1" or "0"), hash, type (4) in path order. */
int arcidx_file_listing(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err);
int arcidx_files(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err);

/* dav-push's: where each collection went (path, dest, created: 3), */
int arcidx_dav_dests(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err);
/* one of them (*dest_r NULL when it never went), */
int arcidx_dav_dest(struct arcidx *ix, const char *path, char **dest_r,
    struct buf *err);
int arcidx_dav_dest_set(struct arcidx *ix, const char *path,
    const char *dest, int created, struct buf *err);
/* forgotten with its resources, */
int arcidx_dav_dest_drop(struct arcidx *ix, const char *path,
    struct buf *err);
/* what each resource of a collection is there (name, hash, etag, state:
 * 4), or each file of the tree (path, hash, etag, state: 4, children
 * after their directory in reverse path order); */
int arcidx_dav_pushed(struct arcidx *ix, const char *collection,
    char ***v_r, size_t *nr_r, struct buf *err);
int arcidx_files_pushed(struct arcidx *ix, char ***v_r, size_t *nr_r,
    struct buf *err);
/* a resource's (`collection` NULL: a file's) state set, or with `state`
 * NULL forgotten. */
int arcidx_dav_pushed_set(struct arcidx *ix, const char *collection,
    const char *name, const char *hash, const char *etag, const char *state,
    const char *error, struct buf *err);

/* The directory the archive lives in. */
const char *arcidx_dir(const struct arcidx *ix);

#endif
