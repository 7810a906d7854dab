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
	long timeout;		/* seconds per request; 0: the client's
				 * default */
};

/*
 * A new easy handle (exits when out of memory): answers appended to
 * `body` (NULL: set per request with CURLOPT_WRITEDATA; over the
 * buffer's cap the transfer fails), no signals, `timeout` seconds a
 * request and 30 to connect, `agent`; the server's certificate verified
 * against the system's CAs or `ca_file` unless `insecure`; Basic
 * authentication when `user` is set.  `*head_ended` tells whether the
 * last answer's headers came to their end (see httpc_failed()).
 */
void *httpc_handle(const char *agent, long timeout, const char *ca_file,
    int insecure, const char *user, const char *password, struct buf *body,
    int *head_ended);

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
