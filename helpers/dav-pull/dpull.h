/*
 * dpull.h: dav-pull's own: the run (one, global), its collections, and
 * who does what.
 *
 * dav-pull.c	options, the report, main
 * collections.c	calendars and address books: found, listed, fetched
 * files.c	a plain WebDAV file tree (--files)
 * record.c	the records into the archive's segment, and its commit
 */
#ifndef MIGRATE_DPULL_H
#define MIGRATE_DPULL_H

#include <stdint.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "dav.h"
#include "segment.h"
#include "strlist.h"

#define DAV_PULL_VERSION	"1"

struct member {
	char *href, *name, *etag;
	int gone;
};

struct collection {
	char *path, *kind, *name;
	json_t *props;
	char *sync_token;
	int shared;
	struct member *m;
	size_t nr, alloc;
	int synced;		/* the members came by sync-collection */
	unsigned changes;	/* records written for its resources */
	uint64_t resources, bytes;
};

struct dpull {
	struct http_opts o;
	const char *archive, *report;
	int assess;
	int files;		/* a plain WebDAV file tree at opts.url */
	uint64_t size_limit;
	struct strlist explicit;	/* --collection */
	struct dav *d;
	char *principal;
	struct collection *c;
	size_t nr, alloc;
	struct arcidx *ix;
	struct seg_writer *w;
	unsigned seq;
	int dirty;
	uint64_t events, contacts, bytes, fetched, deleted, nr_files;
};

extern struct dpull pull;

/* record.c */
/* Write record `o` (taken) into the open segment. */
int record(json_t *o, struct buf *err);
/* Hash `body` into `hash`, and store it unless the archive holds it. */
int record_blob(const struct buf *body, char *hash, struct buf *err);
int commit(struct buf *err);

/* collections.c */
/* PROPFIND `body` on `url`: a 207 wanted. */
int propfind(const char *url, const char *depth, const char *body,
    struct dav_answer *a, struct buf *err);
int find_collections(struct buf *err);
int pull_all(struct buf *err);

/* files.c */
int pull_files(struct buf *err);

#endif
