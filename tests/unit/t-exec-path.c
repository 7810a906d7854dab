#include "test-lib.h"

#include "exec_path.h"

int
main(void)
{
	static const struct {
		const char *env;
		const char *want;
	} cases[] = {
		{ NULL, MIGRATE_LIBEXECDIR "/imap-pull" },
		{ "", MIGRATE_LIBEXECDIR "/imap-pull" },
		{ "/src/migrate/build/bin", "/src/migrate/build/bin/imap-pull" },
		{ "/src/migrate/build/bin//", "/src/migrate/build/bin/imap-pull" },
		{ "/", "//imap-pull" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p;

		if (cases[i].env)
			setenv("MIGRATE_EXEC_PATH", cases[i].env, 1);
		else
			unsetenv("MIGRATE_EXEC_PATH");
		p = exec_path_of("imap-pull");
		check_str(p, cases[i].want);
		free(p);
	}
	return test_done();
}
