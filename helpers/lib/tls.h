/*
 * tls.h: a client connection over TCP, in clear or with TLS (OpenSSL),
 * with buffered line and exact-length reads for line protocols.
 *
 * TLS is implicit (TLS_IMPLICIT: the handshake right after connecting) or
 * a STARTTLS upgrade (tls_conn_starttls() once the protocol agreed to it).
 * The server's certificate and name are verified by default, against the
 * system's CAs or `ca_file`; `insecure` turns verification off and must
 * be asked for explicitly.  Every read and write waits at most
 * `timeout_ms` (default 60 s).  Opening a connection sets SIGPIPE to be
 * ignored (when it was not handled), so that a peer that went away shows
 * as an error, not as the death of the process.
 */
#ifndef MIGRATE_TLS_H
#define MIGRATE_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct buf;
struct tls_conn;

enum tls_mode {
	TLS_NONE,		/* clear text; STARTTLS may follow */
	TLS_IMPLICIT,		/* TLS from the first byte */
};

struct tls_opts {
	enum tls_mode mode;
	const char *ca_file;	/* NULL: the system's CAs */
	const char *servername;	/* name to verify and send (SNI); NULL:
				 * the host connected to */
	int insecure;		/* do not verify the certificate */
	int timeout_ms;		/* per read or write; 0: 60000 */
};

/* A server a line protocol (IMAP, ManageSieve) talks to. */
struct server_opts {
	const char *host, *port;
	struct tls_opts tls;	/* TLS_IMPLICIT, or TLS_NONE: */
	int starttls;		/*   upgrade with STARTTLS */
	int allow_plaintext;	/* a password may go in clear */
};

/*
 * Connect to host:port (a name or an address) and, for TLS_IMPLICIT,
 * handshake.  `opts` is copied.  On error returns -1 with `err` set, and
 * *conn_r is NULL.
 */
int tls_conn_open(struct tls_conn **conn_r, const char *host,
    const char *port, const struct tls_opts *opts, struct buf *err);

/* Upgrade a clear connection; nothing may be buffered unread. */
int tls_conn_starttls(struct tls_conn *c, struct buf *err);

/*
 * Compress both ways from now on (raw deflate, as IMAP's COMPRESS=DEFLATE
 * and RFC 4978 want); what is buffered unread is taken as compressed.
 */
int tls_conn_compress(struct tls_conn *c, struct buf *err);

int tls_conn_is_tls(const struct tls_conn *c);

/* Description of the TLS session ("TLSv1.3 TLS_AES_256_GCM_SHA384"). */
const char *tls_conn_describe(const struct tls_conn *c);

/* Write all of `data`; -1 with `err` set. */
int tls_conn_write(struct tls_conn *c, const void *data, size_t len,
    struct buf *err);

/*
 * Read one line, up to and including "\n", into `line` (appended; its cap
 * bounds the length).  Returns 1, 0 at end of file before any byte, -1 on
 * error (a line over the cap is an error).
 */
int tls_conn_read_line(struct tls_conn *c, struct buf *line,
    struct buf *err);

/*
 * Read exactly `len` bytes and hand them to `sink` in chunks as they come
 * (a literal streamed to disk never sits whole in memory).  Returns 0, or
 * -1 on error, on early end of file or when `sink` returns -1.
 */
int tls_conn_read_exact(struct tls_conn *c, size_t len,
    int (*sink)(void *arg, const char *data, size_t len), void *arg,
    struct buf *err);

/* Read up to `size` bytes: >0, 0 at end of file, -1 on error. */
ssize_t tls_conn_read(struct tls_conn *c, void *data, size_t size,
    struct buf *err);

void tls_conn_free(struct tls_conn **c);

#endif
