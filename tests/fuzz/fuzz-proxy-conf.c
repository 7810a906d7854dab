/*
 * fuzz-proxy-conf.c: libFuzzer on migrate-proxy's configuration loader
 * (yconf.c with config.c's keys and checks), the input as its file.
 */
#include "compat.h"

#include "buf.h"
#include "fuzz-file.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-proxy-conf.XXXXXX";
	struct buf err = BUF_INIT;
	struct config *cf;

	if (fuzz_file(path, data, size) < 0)
		return 0;
	if ((cf = config_load(path, &err)))
		config_unref(cf);
	unlink(path);
	buf_release(&err);
	return 0;
}
