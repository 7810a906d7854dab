/*
 * segment.h: the append-only segments of an account's archive
 * (migrate-archive(5)).
 *
 * A segment is a pax tar compressed with zstd, written through libarchive:
 *
 *	blob/<sha256>.eml	message bodies, byte-exact, each stored once
 *				per archive
 *	manifest.jsonl		one JSON record per line: what the segment
 *				says about folders and messages
 *	END			a JSON object naming the segment and the
 *				SHA-256 of the manifest; written last
 *
 * It is written as SEQ.tar.zst.part and renamed to SEQ.tar.zst only after
 * END is written and the file and its directory are fsynced, so a file
 * without ".part" is complete.  A segment whose END is missing or does
 * not match its manifest is not a segment.
 */
#ifndef MIGRATE_SEGMENT_H
#define MIGRATE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

#define SEG_HASH_HEX	64	/* SHA-256 in lower-case hex */
#define SEG_DIR		"segments"
#define SEG_MANIFEST	"manifest.jsonl"
#define SEG_END		"END"
#define SEG_BLOB_PREFIX	"blob/"

struct seg_writer;

/*
 * Start segment `seq` in `dir`/segments (created if needed), compressed
 * at zstd `level` (negative levels are the fastest) by `workers` threads
 * of libzstd's (0: in the caller's).  A leftover SEQ.tar.zst.part is
 * replaced.
 */
int seg_writer_open(struct seg_writer **w_r, const char *dir, unsigned seq,
    int level, int workers, struct buf *err);

/* A body of `size` bytes: begin, then data adding up to exactly `size`. */
int seg_blob_begin(struct seg_writer *w, const char *hash, uint64_t size,
    struct buf *err);
int seg_blob_data(struct seg_writer *w, const void *data, size_t len,
    struct buf *err);

/* Add one manifest record: a JSON object on one line, without "\n". */
void seg_record(struct seg_writer *w, const char *json, size_t len);

/* The same for a JSON object, which it releases: 0, or -1 when it cannot
 * be encoded. */
struct json_t;
int seg_record_json(struct seg_writer *w, struct json_t *o,
    struct buf *err);

/* What the segment holds so far. */
size_t seg_nr_records(const struct seg_writer *w);
size_t seg_nr_blobs(const struct seg_writer *w);
uint64_t seg_blob_bytes(const struct seg_writer *w);

/* The manifest so far (records, each ended by "\n"). */
const char *seg_manifest(const struct seg_writer *w, size_t *len_r);

/*
 * Write the manifest and END, fsync, rename into place, fsync the
 * directory.  The writer is freed whatever the result; on error the
 * partial file is removed.
 */
int seg_writer_commit(struct seg_writer **w, struct buf *err);

/* Throw the segment away (its .part file is removed). */
void seg_writer_abort(struct seg_writer **w);

/* The file name of segment `seq` ("00000001.tar.zst"). */
void seg_name(unsigned seq, struct buf *out);

/*
 * Reading a segment, entry by entry.  seg_reader_next() returns 1 with
 * the entry's name and size, 0 after the last entry, -1 on error (a
 * truncated or corrupt file).
 */
struct seg_reader;
int seg_reader_open(struct seg_reader **r_r, const char *path,
    struct buf *err);
int seg_reader_next(struct seg_reader *r, const char **name_r,
    uint64_t *size_r, struct buf *err);
/* Read the current entry's data: >0, 0 at its end, -1 on error. */
ssize_t seg_reader_data(struct seg_reader *r, void *data, size_t size,
    struct buf *err);
void seg_reader_free(struct seg_reader **r);

/*
 * Check a whole segment: read every entry, check every blob against its
 * name and the manifest against END.  On success, the manifest is
 * appended to `manifest` (may be NULL) and *seq_r (may be NULL) is the
 * number END gives.  `on_blob` (may be NULL) is called with the hash
 * of each body that checked out.  -1 with `err` set when the segment is
 * incomplete or corrupt.
 */
int seg_verify(const char *path, struct buf *manifest, unsigned *seq_r,
    void (*on_blob)(void *arg, const char *hash), void *arg,
    struct buf *err);

/*
 * List the complete segments of `dir`/segments in order of their number;
 * *seqs_r is allocated.  Files ending in ".part" are removed when
 * `remove_partial` is set (the caller holds the archive's lock).
 */
int seg_list(const char *dir, unsigned **seqs_r, size_t *nr_r,
    int remove_partial, struct buf *err);

/* SHA-256 of a buffer, in hex (out holds SEG_HASH_HEX + 1 bytes). */
void seg_hash_hex(const unsigned char digest[32], char *out);

#endif
