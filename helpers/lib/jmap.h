/*
 * jmap.h: a JMAP client (RFC 8620) over libcurl, with jansson for JSON.
 *
 * jmap_open() finds the session from a base URL (/.well-known/jmap,
 * redirects followed) and reads the server's limits; jmap_call() sends
 * method calls and returns the responses; jmap_upload_many() uploads
 * blobs, several at a time up to the server's maxConcurrentUpload, over
 * one curl multi handle whose connections are kept alive.
 *
 * Every function that can fail returns -1 with `err` set and j->fail set
 * to the sysexits(3) code that fits: EX_UNAVAILABLE when the server cannot
 * be reached, EX_NOPERM when it refuses the credentials, EX_TEMPFAIL when
 * it fails for now (HTTP 5xx, or 429/503 after waiting as Retry-After
 * asks, a few times), EX_PROTOCOL when it answers what is not JMAP.
 */
#ifndef MIGRATE_JMAP_H
#define MIGRATE_JMAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include "httpc.h"

struct buf;

struct jmap_opts {
	struct http_opts http;	/* the base URL, or the session URL
				 * itself; Basic auth, or: */
	const char *token;	/*   Bearer auth */
	const char *account;	/* the account to act on; NULL: the
				 * primary mail account */
};

struct jmap {
	char *api_url, *upload_url, *download_url;
	char *account_id;
	json_t *session;
	/* the server's limits */
	uint64_t max_size_upload, max_size_request;
	long max_concurrent_upload, max_calls_in_request;
	long max_objects_in_set, max_objects_in_get;
	int has_blob_ext;	/* urn:ietf:params:jmap:blob (RFC 9404) */
	int fail;
	int head_ended;		/* httpc_handle(), for curl */
	/* counters */
	unsigned long requests, uploads;
	uint64_t bytes_up;
	void *curl;		/* CURL *, for method calls */
	void *multi;		/* CURLM *, for uploads */
	const struct jmap_opts *opts;
	char *auth_header;
	char *base;		/* the session's URL, to resolve others */
};

int jmap_open(struct jmap **j_r, const struct jmap_opts *opts,
    struct buf *err);
void jmap_close(struct jmap **j);

/*
 * Send `calls` (a JSON array of [name, args, id]; a reference is taken)
 * with the capabilities in `using` (NULL: core and mail).  On success
 * *resp_r is the methodResponses array (caller decrefs).
 */
int jmap_call(struct jmap *j, json_t *calls, const char *const *using,
    json_t **resp_r, struct buf *err);

/* Find the response to call `id` in `resp`; NULL if absent. */
json_t *jmap_response(json_t *resp, const char *id, const char **name_r);

/*
 * Call `id` (`what`) did not give what was asked: -1 with the reason in
 * `err` and j->fail set.  A method error the server calls passing
 * (serverUnavailable, serverFail, RFC 8620 3.6.2) is EX_TEMPFAIL; any
 * other error, or no answer at all, EX_PROTOCOL.
 */
int jmap_call_failed(struct jmap *j, json_t *resp, const char *id,
    const char *what, struct buf *err);

/*
 * What jmap_open() takes from j->session (the server's JSON, against
 * j->base): the account, the URLs, the limits; -1 with j->fail and `err`
 * set when it is not a JMAP session.  Public for tests/fuzz.
 */
int jmap_take_session(struct jmap *j, struct buf *err);

/* The session's downloadUrl for `blob_id`, its variables URL-escaped. */
char *jmap_download_url(const struct jmap *j, const char *blob_id);

/* A blob to upload: the bytes, or a file descriptor to read them from. */
struct jmap_blob {
	const char *data;	/* or NULL and: */
	int fd;
	uint64_t size;
	char *blob_id;		/* out: set on success (caller frees) */
	char *error;		/* out: set on a failure of this blob */
};

/*
 * Upload every blob, up to max_concurrent_upload at a time.  A blob the
 * server refuses (too large, quota) gets `error` and does not fail the
 * call; -1 only when the server cannot be used at all.
 */
int jmap_upload_many(struct jmap *j, struct jmap_blob *blobs, size_t nr,
    struct buf *err);

/* Download a blob into `out` (capped by its cap). */
int jmap_download(struct jmap *j, const char *blob_id, struct buf *out,
    struct buf *err);

/*
 * Every email of the account that `filter` (may be NULL) selects, into
 * `all`: id -> {id, blobId, mailboxIds, keywords, receivedAt, size}.
 */
int jmap_fetch_emails(struct jmap *j, json_t *all, json_t *filter,
    struct buf *err);

#endif
