/*
 * fuzz-segment.c: libFuzzer on the archive's segment reader (segment.c):
 * the input as a segment file (tar, zstd) read entry by entry, and checked
 * whole as a writer checks one before it trusts it.  An input whose first
 * byte is even is the tar itself, compressed here, so that mutations reach
 * the tar headers and the manifest rather than dying in zstd's checks; an
 * odd one is the file as it is.
 */
#include "compat.h"

#include <zstd.h>

#include "buf.h"
#include "fuzz-file.h"
#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-segment.XXXXXX";
	struct buf err = BUF_INIT, manifest = BUF_INIT;
	struct seg_reader *r = NULL;
	const char *name;
	uint64_t len;
	char chunk[4096];
	unsigned seq;

	if (size && !(data[0] & 1)) {
		size_t cap = ZSTD_compressBound(size - 1), n;
		uint8_t *z = malloc(cap);

		n = z ? ZSTD_compress(z, cap, data + 1, size - 1, 1) : 0;
		if (!z || ZSTD_isError(n) || fuzz_file(path, z, n) < 0) {
			free(z);
			return 0;
		}
		free(z);
	} else if (fuzz_file(path, data + !!size, size - !!size) < 0)
		return 0;
	if (seg_reader_open(&r, path, &err) == 0) {
		while (seg_reader_next(r, &name, &len, &err) == 1)
			while (seg_reader_data(r, chunk, sizeof(chunk),
			    &err) > 0)
				;
		seg_reader_free(&r);
	}
	buf_reset(&err);
	seg_verify(path, &manifest, &seq, NULL, NULL, &err);
	unlink(path);
	buf_release(&manifest);
	buf_release(&err);
	return 0;
}
