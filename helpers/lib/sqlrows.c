#include "compat.h"

#include "sqlrows.h"
#include "xalloc.h"

void *
sql_rows(sqlite3_stmt *s, size_t size, sql_fill_fn fill, size_t *nr_r,
    int *rc_r)
{
	char *v = NULL;
	size_t nr = 0, alloc = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xreallocarray(v, alloc, size);
		}
		memset(v + nr * size, 0, size);
		fill(s, v + nr * size);
		nr++;
	}
	*nr_r = nr;
	*rc_r = rc;
	return v;
}
