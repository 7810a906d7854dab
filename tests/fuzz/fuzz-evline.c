/*
 * fuzz-evline.c: libFuzzer on the reader of the helpers' event lines
 * (evline.c), each line of the input as the orchestrator reads it.
 */
#include "compat.h"

#include "buf.h"
#include "evline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct buf err = BUF_INIT;
	struct evline ev;
	int64_t n;
	char *d;

	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', end - p)))
			nl = end;
		if (evline_parse(&ev, p, nl - p, &err) == 0) {
			evline_str(&ev, "name");
			evline_int(&ev, "messages", &n);
			free(d = evline_dump(&ev));
			evline_release(&ev);
		}
		buf_reset(&err);
	}
	buf_release(&err);
	return 0;
}
