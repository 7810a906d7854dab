/*
 * exec_path.h: where the helper binaries are.
 *
 * Installed helpers live in $(LIBEXECDIR)/migrate, fixed at build time;
 * MIGRATE_EXEC_PATH, when set and not empty, names another directory, so
 * that an uninstalled tree (the tests) runs its own helpers.
 */
#ifndef MIGRATE_EXEC_PATH_H
#define MIGRATE_EXEC_PATH_H

/* The directory helpers are taken from. */
const char *exec_path(void);

/* The full path of helper `name` (caller frees). */
char *exec_path_of(const char *name);

#endif
