/*
 * buf.h: growable byte buffers, in the manner of git's strbuf.
 *
 * Invariants: `buf` is never NULL and always NUL-terminated, so it can be
 * handed to string functions; `len` bytes before the NUL may hold any byte,
 * NUL included.  A buffer starts as BUF_INIT or buf_init().
 *
 * A buffer filled from the network gets a size cap (`cap`, 0 for none): an
 * addition that would make it longer than the cap fails with -1 and leaves
 * the buffer as it was.  Uncapped callers may ignore the return values.
 */
#ifndef MIGRATE_BUF_H
#define MIGRATE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;
};

extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0, 0 }

/* Start `b` empty with a size cap (0: none). */
void buf_init(struct buf *b, size_t cap);

/* Free what `b` holds and leave it as after buf_init() with the same cap. */
void buf_release(struct buf *b);

/* Like buf_release(), but zero the bytes first: for secrets. */
void buf_release_wipe(struct buf *b);

/* Hand the bytes over to the caller (who frees them); `b` is reset. */
char *buf_detach(struct buf *b, size_t *len_r);

/* Make room for `extra` more bytes; -1 when that would pass the cap. */
int buf_grow(struct buf *b, size_t extra);

int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addch(struct buf *b, int c);
int buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);

/* Set the length to `len` (<= current length) and NUL-terminate. */
void buf_setlen(struct buf *b, size_t len);
#define buf_reset(b) buf_setlen((b), 0)

/* Drop the first `n` bytes. */
void buf_consume(struct buf *b, size_t n);

/* Remove trailing CR and LF characters. */
void buf_chomp(struct buf *b);

/*
 * Append `s` made safe for a log line: control characters and bytes that
 * are not printable ASCII become '?', and at most `max` bytes are kept
 * (an ellipsis marks a cut).  Server text goes through this before it is
 * logged.
 */
void buf_add_sanitized(struct buf *b, const char *s, size_t len, size_t max);

#endif
