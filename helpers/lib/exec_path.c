#include "compat.h"

#include "exec_path.h"
#include "xalloc.h"

#ifndef MIGRATE_LIBEXECDIR
#define MIGRATE_LIBEXECDIR "/usr/local/libexec/migrate"
#endif

const char *
exec_path(void)
{
	const char *env = getenv("MIGRATE_EXEC_PATH");

	return env && *env ? env : MIGRATE_LIBEXECDIR;
}

char *
exec_path_of(const char *name)
{
	const char *dir = exec_path();
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	return xasprintf("%.*s/%s", (int)len, dir, name);
}
