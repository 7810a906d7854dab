/*
 * fuzz-plan.c: libFuzzer on the plan loader (yconf.c with plan.c's keys
 * and checks), the input as a plan file.
 */
#include "compat.h"

#include <unistd.h>

#include "buf.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-plan.XXXXXX";
	struct buf err = BUF_INIT;
	struct plan p;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd), unlink(path);
		return 0;
	}
	close(fd);
	memset(&p, 0, sizeof(p));
	plan_load(&p, path, &err);
	plan_free(&p);
	unlink(path);
	buf_release(&err);
	return 0;
}
