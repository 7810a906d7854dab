/*
 * httpc.h: the one way the helpers set up libcurl (dav.c, jmap.c): a
 * handle with the settings every request shares.
 */
#ifndef MIGRATE_HTTPC_H
#define MIGRATE_HTTPC_H

struct buf;

/* How to reach an HTTP server (dav.c, jmap.c). */
struct http_opts {
	const char *url;	/* the server, or a resource on it */
	const char *user, *password;	/* Basic authentication */
	const char *ca_file;	/* NULL: the system's CAs */
	int insecure;		/* do not verify the certificate */
	int allow_plaintext;	/* a credential may go to http:// */
	long timeout;		/* seconds per request; 0: the client's
				 * default */
};

/*
 * A new easy handle (exits when out of memory): answers appended to
 * `body` (NULL: set per request with CURLOPT_WRITEDATA; over the
 * buffer's cap the transfer fails), no signals, `o->timeout` seconds a
 * request (`timeout` when it is 0) and 30 to connect, `agent`; the
 * server's certificate verified against the system's CAs or
 * `o->ca_file` unless `o->insecure`; Basic authentication when
 * `o->user` is set and not `token` (the caller then sends its own
 * Authorization header).  With a credential and without
 * `o->allow_plaintext`, the handle speaks https:// only, redirects
 * included.  `*head_ended` tells whether the last answer's headers came
 * to their end (see httpc_failed()).
 */
void *httpc_handle(const char *agent, const struct http_opts *o,
    long timeout, int token, struct buf *body, int *head_ended);

/*
 * 0 if a credential may go to `url`: it is https://, or there is no
 * credential, or `o->allow_plaintext`.  Otherwise EX_CONFIG, with the
 * reason in `err`.
 */
int httpc_may_send(const struct http_opts *o, int token, const char *url,
    struct buf *err);

/*
 * How a transfer ended, as an exit code (0: an answer came whole enough
 * to read its status), with the reason appended to `err` after `what`.
 * curl takes a connection closed in the middle of the headers for an
 * answer without them; that is a cut connection here (EX_TEMPFAIL), not
 * the server's word.  `rc` is a CURLcode.
 */
int httpc_failed(int rc, int head_ended, const char *what, struct buf *err);

/* The write callback httpc_handle() sets: into a struct buf. */
size_t httpc_on_data(char *data, size_t size, size_t n, void *arg);

#endif
