/*
 * mapping_int.h: what mapping.c asks of a store's engine.
 *
 * mapping.c holds what a route change means (which rows, what counts as
 * changed, the export and its restore); an engine holds the rows: SQLite
 * (mapsqlite.c), the default, or PostgreSQL (mappg.c), which several
 * proxies can share and follow (mapping_follow()).  Identifiers reach an
 * engine lowercased.
 */
#ifndef MIGRATE_MAPPING_INT_H
#define MIGRATE_MAPPING_INT_H

#include "mapping.h"

struct row {
	char *id, *account;
	enum route r;
};

struct mapping_ops {
	void (*close)(struct mapping *m);
	/* a writer's transaction: no other writer until end() */
	int (*begin)(struct mapping *m, struct buf *err);
	int (*end)(struct mapping *m, int ok, struct buf *err);
	int64_t (*version)(struct mapping *m);
	/* within a transaction: the next version, told to the followers */
	int (*bump)(struct mapping *m, struct buf *err);
	/* 0 found, 1 no row, -1 error */
	int (*lookup)(struct mapping *m, const char *id, enum route *r,
	    struct buf *err);
	/* the row of `id` says `r` for `account`, with the version the
	 * transaction bumps to; `changed` counts a row written */
	int (*put_route)(struct mapping *m, const char *id,
	    const char *account, enum route r, int *changed, struct buf *err);
	/* every row, sorted by identifier as strcmp(3) sorts */
	int (*rows)(struct mapping *m, struct row **rows_r, size_t *nr_r,
	    struct buf *err);
	/* the 'default' setting: 0, or 1 when there is none */
	int (*get_default)(struct mapping *m, enum route *r,
	    struct buf *err);
	int (*put_default)(struct mapping *m, enum route r, struct buf *err);
	/* within a transaction: `account`'s ids replaced by these */
	int (*put_uidls)(struct mapping *m, const char *account,
	    const char *const *dest, const char *const *src, size_t nr,
	    struct buf *err);
	int (*uidls)(struct mapping *m, const char *id,
	    struct uidl_pair **pairs_r, size_t *nr_r, struct buf *err);
	/* lines for the followers, in the transaction (NULL: no followers) */
	int (*tell)(struct mapping *m, const char *lines, struct buf *err);
};

/* Every engine's handle begins with this. */
struct mapping {
	const struct mapping_ops *ops;
};

/* mapsqlite.c, mappg.c: open the store `path` names (see mapping_open) */
int mapsqlite_open(struct mapping **m, const char *path, int create,
    struct buf *err);
int mappg_open(struct mapping **m, const char *url, int mode,
    struct buf *err);

/* maprow.c */
char *map_lower(const char *s);
int row_cmp(const void *a, const void *b);	/* by identifier */
void rows_free(struct row *rows, size_t nr);
void row_add(struct row **rows, size_t *nr, size_t *alloc, const char *id,
    const char *account, const char *route);

#endif
