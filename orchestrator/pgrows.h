/*
 * pgrows.h: rows for PostgreSQL as an array literal per column ("{1,2}",
 * "{\"a\",NULL}"), each bound as text and cast to its column's array
 * type, then read with unnest().  The server reads them about three
 * times as fast as the same rows as JSON objects (json_to_recordset()),
 * and they are made without an object per row.
 *
 * A row is added a column at a time, every column once, in any order,
 * then ended with pgrows_end().
 */
#ifndef MIGRATE_PGROWS_H
#define MIGRATE_PGROWS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PGROWS_COLS	10

struct pgrows {
	int ncol;
	size_t nr;		/* rows ended */
	struct buf col[PGROWS_COLS];
};

void pgrows_init(struct pgrows *r, int ncol);
void pgrows_release(struct pgrows *r);
void pgrows_clear(struct pgrows *r);	/* no rows */
void pgrows_int(struct pgrows *r, int i, int64_t v);
void pgrows_real(struct pgrows *r, int i, double v);
void pgrows_text(struct pgrows *r, int i, const char *s); /* NULL: NULL */
void pgrows_end(struct pgrows *r);
/* Column `i`'s literal, which the caller frees. */
char *pgrows_col(const struct pgrows *r, int i);

#endif
