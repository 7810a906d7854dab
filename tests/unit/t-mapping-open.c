/*
 * t-mapping-open.c: several processes make the same new mapping store at
 * once, as the map-flips of an apply's first flips do: each opens it.
 * SQLite answers the change to WAL mode of one with SQLITE_BUSY at once
 * while another makes it (sql_exec_setup()).
 */
#include "test-lib.h"

#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "mapping.h"

#define TRIALS	40
#define OPENERS	8

/* One opener: waits on `gate` until all are there, then opens. */
static void
opener(int gate, const char *path)
{
	struct mapping *m;
	struct buf err = BUF_INIT;
	char c;

	if (read(gate, &c, 1) < 0)
		_exit(2);
	if (mapping_open(&m, path, 1, &err) < 0) {
		printf("# %s\n", err.buf);
		fflush(stdout);
		_exit(1);
	}
	mapping_close(m);
	_exit(0);
}

static void
test_at_once(const char *dir)
{
	char path[4096];
	int gate[2], i, k, st, failed = 0;
	pid_t pid;

	for (i = 0; i < TRIALS; i++) {
		snprintf(path, sizeof(path), "%s/m%d.db", dir, i);
		if (pipe(gate) < 0)
			abort();
		for (k = 0; k < OPENERS; k++) {
			if ((pid = fork()) < 0)
				abort();
			if (pid == 0) {
				close(gate[1]);
				opener(gate[0], path);
			}
		}
		close(gate[0]);
		close(gate[1]);		/* all go */
		for (k = 0; k < OPENERS; k++)
			if (wait(&st) < 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				failed++;
	}
	check_int(failed, ==, 0);
}

int
main(void)
{
	char dir[] = "/tmp/t-mapping-open.XXXXXX";
	char cmd[64];

	if (!mkdtemp(dir))
		abort();
	TEST("eight processes make one new store, forty times",
	    test_at_once(dir));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
	return test_done();
}
