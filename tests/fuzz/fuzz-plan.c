/*
 * fuzz-plan.c: libFuzzer on the plan loader (yconf.c with plan.c's keys
 * and checks), the input as a plan file.
 */
#include "compat.h"

#include "buf.h"
#include "fuzz-file.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-plan.XXXXXX";
	struct buf err = BUF_INIT;
	struct plan p;

	if (fuzz_file(path, data, size) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	plan_load(&p, path, &err);
	plan_free(&p);
	unlink(path);
	buf_release(&err);
	return 0;
}
