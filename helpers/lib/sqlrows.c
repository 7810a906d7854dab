#include "compat.h"

#include <time.h>

#include "log.h"
#include "sqlrows.h"
#include "xalloc.h"

static void
read_num(sqlite3_stmt *s, int i, void *field, size_t size)
{
	sqlite3_int64 n = sqlite3_column_int64(s, i);
	int8_t n8 = (int8_t)n;
	int16_t n16 = (int16_t)n;
	int32_t n32 = (int32_t)n;

	switch (size) {
	case 1: memcpy(field, &n8, 1); break;
	case 2: memcpy(field, &n16, 2); break;
	case 4: memcpy(field, &n32, 4); break;
	case 8: memcpy(field, &n, 8); break;
	default: BUG("an integer field of %zu bytes", size);
	}
}

void
sql_row_read(sqlite3_stmt *s, const struct sql_row *row, void *elem)
{
	const struct sql_col *c;
	const char *t;
	char *field, *str;
	double d;
	size_t i;

	memset(elem, 0, row->size);
	for (i = 0; i < row->nr; i++) {
		c = &row->cols[i];
		field = (char *)elem + c->off;
		t = (const char *)sqlite3_column_text(s, (int)i);
		switch (c->type) {
		case SQL_NUM:
			read_num(s, (int)i, field, c->size);
			break;
		case SQL_REAL:
			d = sqlite3_column_double(s, (int)i);
			memcpy(field, &d, sizeof(d));
			break;
		case SQL_STR:
		case SQL_STR_NULL:
			str = t || c->type == SQL_STR ? xstrdup(t ? t : "") :
			    NULL;
			memcpy(field, &str, sizeof(str));
			break;
		case SQL_CHAR:
			*field = t ? t[0] : 0;
			break;
		case SQL_CHARS:
			snprintf(field, c->size, "%s", t ? t : "");
			break;
		case SQL_SKIP:
			break;
		}
	}
	if (row->fill)
		row->fill(s, elem);
}

void *
sql_rows(sqlite3_stmt *s, const struct sql_row *row, size_t *nr_r,
    int *rc_r)
{
	char *v = NULL;
	size_t nr = 0, alloc = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xreallocarray(v, alloc, row->size);
		}
		sql_row_read(s, row, v + nr++ * row->size);
	}
	*nr_r = nr;
	*rc_r = rc;
	return v;
}

void
sql_row_clear(void *elem, const struct sql_row *row)
{
	char *str;
	size_t i;

	for (i = 0; i < row->nr; i++) {
		if (row->cols[i].type != SQL_STR &&
		    row->cols[i].type != SQL_STR_NULL)
			continue;
		memcpy(&str, (char *)elem + row->cols[i].off, sizeof(str));
		free(str);
	}
	memset(elem, 0, row->size);
}

void
sql_rows_free(void *v, size_t nr, const struct sql_row *row)
{
	size_t i;

	for (i = 0; i < nr; i++)
		sql_row_clear((char *)v + i * row->size, row);
	free(v);
}

int
sql_exec_setup(sqlite3 *db, const char *sql)
{
	struct timespec pause = { 0, 100 * 1000000 };
	int rc, tries = 0;

	while ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) == SQLITE_BUSY &&
	    ++tries < 100)
		nanosleep(&pause, NULL);
	return rc;
}
