/*
 * strlist.h: a list of strings, each with where it was read.
 */
#ifndef MIGRATE_STRLIST_H
#define MIGRATE_STRLIST_H

#include <stddef.h>

/* Where a value was in a file, for errors found after reading; zero for
 * one that came from the command line. */
struct pos {
	int line, col;
};

struct strlist {
	char **v;
	struct pos *pos;
	size_t nr;
};

/* Add a copy of `s`, read from nowhere in particular. */
void strlist_add(struct strlist *l, const char *s);

/* Free the strings and empty the list. */
void strlist_free(struct strlist *l);

#endif
