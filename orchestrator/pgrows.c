/*
 * pgrows.c: rows as PostgreSQL array literals, a column each (pgrows.h).
 * An element is a number, NULL, or a string in double quotes with its
 * quotes and backslashes escaped by a backslash ("Array Value Input" in
 * PostgreSQL's manual); reals as libpq's binding writes them (dbpg.c).
 */
#include "compat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pgrows.h"

void
pgrows_init(struct pgrows *r, int ncol)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->ncol = ncol;
	for (i = 0; i < ncol; i++)
		buf_init(&r->col[i], 0);
}

void
pgrows_release(struct pgrows *r)
{
	int i;

	for (i = 0; i < r->ncol; i++)
		buf_release(&r->col[i]);
	r->nr = 0;
}

void
pgrows_clear(struct pgrows *r)
{
	int i;

	for (i = 0; i < r->ncol; i++)
		buf_setlen(&r->col[i], 0);
	r->nr = 0;
}

/* Column `i`, its separator added when the row is not the first. */
static struct buf *
elem(struct pgrows *r, int i)
{
	struct buf *b = &r->col[i];

	if (r->nr)
		buf_addch(b, ',');
	return b;
}

void
pgrows_int(struct pgrows *r, int i, int64_t v)
{
	buf_addf(elem(r, i), "%" PRId64, v);
}

void
pgrows_real(struct pgrows *r, int i, double v)
{
	buf_addf(elem(r, i), "%.17g", v);
}

void
pgrows_text(struct pgrows *r, int i, const char *s)
{
	struct buf *b = elem(r, i);
	size_t n;

	if (!s) {
		buf_adds(b, "NULL");
		return;
	}
	buf_addch(b, '"');
	while (*s) {
		n = strcspn(s, "\"\\");
		buf_add(b, s, n);
		s += n;
		if (*s) {
			buf_addch(b, '\\');
			buf_addch(b, *s++);
		}
	}
	buf_addch(b, '"');
}

void
pgrows_end(struct pgrows *r)
{
	r->nr++;
}

char *
pgrows_col(const struct pgrows *r, int i)
{
	struct buf b = BUF_INIT;

	buf_addch(&b, '{');
	buf_add(&b, r->col[i].buf, r->col[i].len);
	buf_addch(&b, '}');
	return buf_detach(&b, NULL);
}
