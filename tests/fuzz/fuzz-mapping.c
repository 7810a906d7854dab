/*
 * fuzz-mapping.c: libFuzzer on the reader of the mapping export
 * (mapping_restore(), what map-flip --restore and a rollback read), into
 * one store that lives for the whole run.
 */
#include "compat.h"

#include <unistd.h>

#include "buf.h"
#include "mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mapping *m;
	static char path[] = "/tmp/fuzz-mapping.XXXXXX";
	struct buf err = BUF_INIT, out = BUF_INIT;
	char **ids = NULL;
	size_t nr = 0, i;
	int64_t version;
	int fd;

	if (!m) {
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
		unlink(path);
		if (mapping_open(&m, path, 1, &err) < 0)
			abort();
	}
	if (mapping_restore(m, (const char *)data, size, &ids, &nr, &version,
	    &err) == 0)
		mapping_export(m, &out, &err);
	for (i = 0; i < nr; i++)
		free(ids[i]);
	free(ids);
	buf_release(&out);
	buf_release(&err);
	return 0;
}
