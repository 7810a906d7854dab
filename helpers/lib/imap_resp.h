/*
 * imap_resp.h: reading IMAP server responses (RFC 3501, RFC 9051).
 *
 * imap_resp_read() reads one whole response, however many lines and
 * literals it spans, into a tree of values.  Where the bytes come from is
 * up to the caller (a struct imap_src), so the parser is tested without a
 * network, and a caller may divert any literal to a sink of its own (a
 * message body streamed to disk) instead of keeping it in memory.
 *
 *	tag	"*" for untagged data, "+" for a continuation, else the tag
 *	vals	the tokens after the tag, as a list
 *	text	for a continuation and for status responses (OK, NO, BAD,
 *		BYE, PREAUTH), the human text after the response code
 *	code	for status responses with "[...]": the code's tokens
 *
 * Lenient where servers commonly stray (several spaces, a bare LF), strict
 * where it matters: an unterminated string, unbalanced parentheses, a
 * literal not at the end of a line, lists nested deeper than a limit, or
 * anything over the size caps is a protocol error, reported with the
 * offending line, sanitized and cut short.  Never a crash, never a read
 * past what the server announced.
 */
#ifndef MIGRATE_IMAP_RESP_H
#define MIGRATE_IMAP_RESP_H

#include <stddef.h>

struct buf;

enum imap_type {
	IMAP_ATOM,	/* also numbers, flags (\Seen), BODY[...] items */
	IMAP_STRING,	/* quoted or literal */
	IMAP_NIL,
	IMAP_LIST,
};

struct imap_val {
	enum imap_type type;
	char *str;		/* ATOM, STRING: NUL-terminated; a literal may
				 * hold NUL bytes (see len); NULL if diverted */
	size_t len;
	unsigned literal : 1;	/* came as a literal */
	unsigned diverted : 1;	/* its bytes went to the caller's sink */
	struct imap_val *items;	/* LIST */
	size_t nr, alloc;
};

struct imap_resp {
	char *tag;
	struct imap_val vals;	/* always a LIST */
	struct imap_val code;	/* a LIST; empty without "[...]" */
	char *text;		/* may be NULL */
};

typedef int (*imap_sink_fn)(void *sarg, const char *data, size_t len);

struct imap_src {
	/*
	 * Append one line, with its line end, to `line` (whose cap limits
	 * it).  Returns 1, 0 at end of file before any byte, -1 on error.
	 */
	int (*read_line)(void *arg, struct buf *line, struct buf *err);
	/* Read exactly `len` bytes into `sink`; 0 or -1. */
	int (*read_literal)(void *arg, size_t len, imap_sink_fn sink,
	    void *sarg, struct buf *err);
	/*
	 * May be NULL.  Called before a literal is read, with the response
	 * so far and the list the literal goes into: set *sink_r (and
	 * *sarg_r) to divert it, or leave *sink_r NULL to keep it in memory.
	 */
	void (*divert)(void *divert_arg, const struct imap_resp *sofar,
	    const struct imap_val *list, size_t len, imap_sink_fn *sink_r,
	    void **sarg_r);
	void *arg;		/* for read_line and read_literal */
	void *divert_arg;
	size_t max_line;	/* 0: 16 MiB */
	size_t max_literal;	/* kept in memory; 0: 1 MiB */
};

enum imap_read_result {
	IMAP_READ_OK = 1,
	IMAP_READ_EOF = 0,	/* the connection ended between responses */
	IMAP_READ_IO = -1,	/* reading failed or ended mid-response */
	IMAP_READ_BAD = -2,	/* the server broke the protocol */
};

/*
 * Read one response into `r`, which must start zeroed ({ 0 }) and is
 * released first on every call.  See the results above.
 */
int imap_resp_read(struct imap_src *src, struct imap_resp *r,
    struct buf *err);

void imap_resp_release(struct imap_resp *r);

/* Fill `src` to read from a connection (its divert, arg and caps kept). */
struct tls_conn;
void imap_src_from_tls(struct imap_src *src, struct tls_conn *c);

/* For tests and debug logs: the response in a normalized form. */
void imap_resp_dump(const struct imap_resp *r, struct buf *out);

/* Whether `v` is an atom equal to `s`, ignoring case. */
int imap_atom_is(const struct imap_val *v, const char *s);

#endif
