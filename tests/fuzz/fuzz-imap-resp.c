/*
 * fuzz-imap-resp.c: libFuzzer on the IMAP response parser (imap_resp.c),
 * the input as a server's stream: responses one after the other, literals
 * and all, until the parser stops.
 */
#include "compat.h"

#include "buf.h"
#include "imap_resp.h"

struct mem {
	const char *p;
	size_t len, off;
};

static int
mem_line(void *arg, struct buf *line, struct buf *err)
{
	struct mem *m = arg;
	const char *nl;
	size_t n;

	if (m->off == m->len)
		return 0;
	nl = memchr(m->p + m->off, '\n', m->len - m->off);
	n = nl ? (size_t)(nl - m->p - m->off) + 1 : m->len - m->off;
	if (buf_add(line, m->p + m->off, n) < 0) {
		buf_adds(err, "line too long");
		return -1;
	}
	m->off += n;
	return 1;
}

static int
mem_literal(void *arg, size_t len, imap_sink_fn sink, void *sarg,
    struct buf *err)
{
	struct mem *m = arg;

	if (len > m->len - m->off) {
		buf_adds(err, "end of input in a literal");
		return -1;
	}
	if (sink(sarg, m->p + m->off, len) < 0)
		return -1;
	m->off += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { (const char *)data, size, 0 };
	struct imap_src src = { 0 };
	struct imap_resp r = { 0 };
	struct buf err = BUF_INIT, dump = BUF_INIT;

	src.read_line = mem_line;
	src.read_literal = mem_literal;
	src.arg = &m;
	src.max_line = 4096;
	src.max_literal = 4096;
	while (imap_resp_read(&src, &r, &err) == IMAP_READ_OK) {
		imap_resp_dump(&r, &dump);
		buf_reset(&dump);
		buf_reset(&err);
	}
	imap_resp_release(&r);
	buf_release(&dump);
	buf_release(&err);
	return 0;
}
