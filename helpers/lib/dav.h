/*
 * dav.h: a WebDAV client (RFC 4918) for CalDAV and CardDAV, over libcurl,
 * with libxml2 for the XML.
 *
 * dav_request() sends one request on a connection kept alive between
 * requests; a 207 Multi-Status answer is parsed into its responses, each
 * with its href, its status and the <prop> of its successful propstat.
 * Bodies (GET) are kept as the server sent them, byte for byte: XML text
 * is not (its parser turns CRLF into LF), which is why resources are read
 * with GET and not from a multiget's calendar-data.
 *
 * Every function that can fail returns -1 with `err` set and d->fail set
 * to the sysexits(3) code that fits, as jmap.h's do: EX_UNAVAILABLE (the
 * server cannot be reached, or its certificate), EX_NOPERM (401, 403),
 * EX_TEMPFAIL (5xx, a broken connection, a timeout), EX_PROTOCOL (an
 * answer that is not WebDAV).
 */
#ifndef MIGRATE_DAV_H
#define MIGRATE_DAV_H

#include <stddef.h>

#include <libxml/tree.h>

#include "httpc.h"

struct buf;

#define NS_DAV		"DAV:"
#define NS_CALDAV	"urn:ietf:params:xml:ns:caldav"
#define NS_CARDDAV	"urn:ietf:params:xml:ns:carddav"
#define NS_APPLE	"http://apple.com/ns/ical/"
#define NS_CS		"http://calendarserver.org/ns/"


struct dav {
	void *curl;		/* CURL * */
	const struct http_opts *opts;
	char *origin;		/* scheme://host:port of opts->url */
	int fail;
	int head_ended;		/* httpc_handle() */
	unsigned long requests;
};

struct dav_resp {
	char *href;		/* as the server wrote it (a path, usually) */
	int status;		/* of the <propstat> kept, or the <response> */
	xmlNodePtr prop;	/* the 200 <propstat>'s <prop>, or NULL */
};

struct dav_answer {
	long code;		/* the HTTP status */
	char *etag;		/* the ETag header, if any */
	char *content_type;
	struct buf *body;	/* the body (the caller's buffer) */
	/* a 207's responses */
	xmlDocPtr doc;
	struct dav_resp *v;
	size_t nr;
	char *sync_token;	/* a sync-collection's new token */
};

int dav_open(struct dav **d_r, const struct http_opts *opts, struct buf *err);

/*
 * A 207's body (a->body) into a->doc and a->v: dav_request() does it; on
 * its own for the fuzzer.  -1 with `err` (and d->fail) when it is not a
 * DAV multistatus.
 */
int dav_parse_multistatus(struct dav *d, struct dav_answer *a,
    const char *url, struct buf *err);
void dav_close(struct dav **d);

/*
 * `method` on `url` (absolute, or a path on the server) with `depth` (NULL:
 * none) and an XML `body` (NULL: none), or `data` of `len` bytes with
 * `type` for PUT; extra request headers in `hdrs` (NULL-terminated, may
 * be NULL).  Any HTTP status is an answer (a->code); only a failure to
 * get one, or a 207 that is not XML, is -1.
 */
int dav_request(struct dav *d, const char *method, const char *url,
    const char *depth, const char *body, const char *data, size_t len,
    const char *type, const char *const *hdrs, struct dav_answer *a,
    struct buf *err);
void dav_answer_release(struct dav_answer *a);

/* Turn an HTTP status that is not wanted into an error, as above. */
int dav_status_error(struct dav *d, const char *what, const struct dav_answer *a,
    struct buf *err);

/*
 * Discovery: the account's principal (asked of opts->url, then of
 * /.well-known/caldav and /.well-known/carddav), then its calendar and
 * address book homes.  *homes_r gets their paths (calendar homes first,
 * each once; caller frees), *principal_r the principal's path.
 */
int dav_homes(struct dav *d, char **principal_r, char ***homes_r,
    size_t *nr_r, struct buf *err);
/* The path of the account's principal (current-user-principal), or -1. */
int dav_principal(struct dav *d, char **principal_r, struct buf *err);
/* The one home of a kind ("calendar" or "addressbook"), or -1. */
int dav_home_of(struct dav *d, const char *kind, char **home_r,
    struct buf *err);

/* A property of a response's <prop>, by namespace and name, or NULL. */
xmlNodePtr dav_prop(const struct dav_resp *r, const char *ns,
    const char *name);
/* Whether `n` is the element `name` of namespace `ns`. */
int dav_is(xmlNodePtr n, const char *ns, const char *name);
/* A child element by namespace and name, or NULL. */
xmlNodePtr dav_child(xmlNodePtr n, const char *ns, const char *name);
/* The text of an element (caller frees), "" for none, NULL for no node. */
char *dav_text(xmlNodePtr n);
/* The first <D:href> inside `n` (caller frees), or NULL. */
char *dav_href_in(xmlNodePtr n);
/* The path of a URL or path ("/a/b/" of "http://h/a/b/"; caller frees). */
char *dav_path(const char *href);

#endif
