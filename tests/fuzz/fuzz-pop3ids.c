/*
 * fuzz-pop3ids.c: libFuzzer on the proxy's reader of POP3 answers for a
 * migrated account (pop3ids.c).  The input is the client's commands, a
 * NUL, then what the backend answers; the first byte sets the size of
 * the pieces the answers come in.  Beyond not crashing: when the client
 * never asked for UIDL, the client must get the backend's bytes as they
 * came, in order, minus what still waits for more.
 */
#include "compat.h"

#include <unistd.h>

#include <event2/buffer.h>

#include "buf.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char *
session_user_log(struct session *s)
{
	return "fuzz";
}

static struct proxy px;

static void
setup(void)
{
	static char path[] = "/tmp/fuzz-pop3ids.XXXXXX";
	const char *ids[] = { "fuzz" };
	const char *dest[] = { "1", "D2", "x" }, *src[] = { "S1", "s2", "" };
	struct buf err = BUF_INIT;
	int changed, fd;
	int64_t version;

	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
	unlink(path);
	if (mapping_open(&px.map, path, 1, &err) < 0 ||
	    mapping_set(px.map, "fuzz", ids, 1, ROUTE_DESTINATION, &changed,
	    &version, &err) < 0 ||
	    mapping_set_uidls(px.map, "fuzz", dest, src, 3, &err) < 0)
		abort();
}

static int
asks_uidl(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if (!strncasecmp((const char *)p + i, "UIDL", 4))
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s;
	struct evbuffer *in, *out, *piece;
	const uint8_t *nul;
	size_t step, off, n, cmd_len, got;
	unsigned char *copy;
	static char id[] = "fuzz";
	int rewrites;

	if (size < 1)
		return 0;
	if (!px.map)
		setup();
	step = data[0] % 64 + 1;
	data++, size--;
	nul = memchr(data, '\0', size);
	cmd_len = nul ? (size_t)(nul - data) : size;
	rewrites = asks_uidl(data, cmd_len);
	memset(&s, 0, sizeof(s));
	s.px = &px;
	s.route = ROUTE_DESTINATION;
	s.route_id = id;
	if (!pop3ids_start(&s))
		abort();
	in = evbuffer_new();
	out = evbuffer_new();
	piece = evbuffer_new();
	evbuffer_add(in, data, cmd_len);
	s.filter(&s, 0, in, out);
	if (evbuffer_get_length(in) ||
	    evbuffer_get_length(out) != cmd_len)
		abort();
	evbuffer_drain(out, cmd_len);
	data += cmd_len + !!nul;
	size -= cmd_len + !!nul;
	for (off = 0; off < size; off += n) {
		n = size - off < step ? size - off : step;
		/* each piece a chain of its own, as sockets leave them */
		evbuffer_add(piece, data + off, n);
		evbuffer_add_buffer(in, piece);
		s.filter(&s, 1, in, out);
	}
	got = evbuffer_get_length(out);
	if (!rewrites) {
		/* everything moved as it came, or still waiting */
		if (got + evbuffer_get_length(in) != size)
			abort();
		copy = malloc(got + 1);
		evbuffer_remove(out, copy, got);
		if (memcmp(copy, data, got))
			abort();
		free(copy);
	}
	pop3ids_free(&s);
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(piece);
	return 0;
}
