/*
 * fuzz-sieve-require.c: libFuzzer on the reader of Sieve scripts' require
 * commands (sievereq.c): a script as sieve-pull reads it from a source.
 */
#include "compat.h"

#include "buf.h"
#include "sievereq.h"
#include "strlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strlist l = { 0 };
	struct buf err = BUF_INIT;
	size_t i;

	if (sieve_requires((const char *)data, size, &l, &err) == 0)
		for (i = 0; i < l.nr; i++)
			sieve_offers("fileinto vacation", l.v[i]);
	strlist_free(&l);
	buf_release(&err);
	return 0;
}
