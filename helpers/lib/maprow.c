/*
 * maprow.c: the words of the mapping store that mapping.c and its
 * engines (mapping_int.h) share: routes, rows, identifiers lowercased.
 */
#include "compat.h"

#include <ctype.h>

#include "mapping_int.h"
#include "xalloc.h"

const char *
route_name(enum route r)
{
	return r == ROUTE_DESTINATION ? "destination" : "source";
}

int
route_parse(const char *s, enum route *r)
{
	if (!strcmp(s, "source"))
		*r = ROUTE_SOURCE;
	else if (!strcmp(s, "destination"))
		*r = ROUTE_DESTINATION;
	else
		return -1;
	return 0;
}

char *
map_lower(const char *s)
{
	char *l = xstrdup(s), *p;

	for (p = l; *p; p++)
		*p = tolower((unsigned char)*p);
	return l;
}

void
uidl_pairs_free(struct uidl_pair *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].dest);
		free(v[i].src);
	}
	free(v);
}

int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->id, ((const struct row *)b)->id);
}

void
rows_free(struct row *rows, size_t nr)
{
	while (nr--) {
		free(rows[nr].id);
		free(rows[nr].account);
	}
	free(rows);
}

void
row_add(struct row **rows, size_t *nr, size_t *alloc, const char *id,
    const char *account, const char *route)
{
	ALLOC_GROW(*rows, *nr + 1, *alloc);
	(*rows)[*nr].id = map_lower(id);
	(*rows)[*nr].account = account ? xstrdup(account) : NULL;
	(*rows)[*nr].r = ROUTE_SOURCE;
	route_parse(route, &(*rows)[*nr].r);
	++*nr;
}
