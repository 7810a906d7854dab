#include "compat.h"

#include "strlist.h"
#include "xalloc.h"

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->nr + 1, sizeof(*l->v));
	l->pos = xreallocarray(l->pos, l->nr + 1, sizeof(*l->pos));
	memset(&l->pos[l->nr], 0, sizeof(*l->pos));
	l->v[l->nr++] = xstrdup(s);
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		free(l->v[i]);
	free(l->v);
	free(l->pos);
	memset(l, 0, sizeof(*l));
}
