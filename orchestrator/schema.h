/*
 * schema.h: the numbered migrations of the state database, made from
 * state/NNNN-*.sql by state/embed.sh.
 */
#ifndef MIGRATE_SCHEMA_H
#define MIGRATE_SCHEMA_H

struct migration {
	int version;		/* NNNN; PRAGMA user_version after it */
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];	/* ends with version 0 */

#endif
