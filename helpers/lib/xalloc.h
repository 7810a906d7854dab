/*
 * xalloc.h: allocators that do not fail.  When memory runs out they log
 * and exit with EX_OSERR; callers never check for NULL.
 */
#ifndef MIGRATE_XALLOC_H
#define MIGRATE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Grow `arr` (with `alloc` slots) so that it holds at least `nr` items. */
#define ALLOC_GROW(arr, nr, alloc) \
	do { \
		if ((nr) > (alloc)) { \
			(alloc) = (nr) > (alloc) * 2 ? (nr) : (alloc) * 2; \
			(arr) = xreallocarray((arr), (alloc), sizeof(*(arr))); \
		} \
	} while (0)

#endif
