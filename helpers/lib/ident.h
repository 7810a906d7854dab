/*
 * ident.h: what an account's identifier (a login, an address) may hold
 * for the proxy to route it, map-flip to write it and a plan to name it.
 */
#ifndef MIGRATE_IDENT_H
#define MIGRATE_IDENT_H

/*
 * Not empty, at most 255 bytes, no control characters, blanks, quotes or
 * backslashes: a login with any of them is refused before it is looked
 * up, so an entry with one could never be used.
 */
int ident_ok(const char *id);

#endif
