/*
 * t-proxy-pop3ids.c: the proxy's rewrite of a migrated account's POP3
 * ids (pop3ids.c), on a real mapping store, with the answers cut at every
 * byte: UIDL and UIDL n rewritten, every other answer (a RETR that holds
 * an id-like line, a byte-stuffed one, an empty listing, an error) moved
 * as it came, pipelined commands kept in step.
 */
#include "test-lib.h"

#include <event2/buffer.h>

#include "buf.h"
#include "proxy.h"
#include "xalloc.h"

const char *
session_user_log(struct session *s)
{
	return s->user;
}

static struct proxy px;

/* a session of `id`, through the filter when the store has its ids */
static int
start(struct session *s, const char *id)
{
	memset(s, 0, sizeof(*s));
	s->px = &px;
	s->user = (char *)id;
	s->route_id = xstrdup(id);
	s->route = ROUTE_DESTINATION;
	snprintf(s->peer_ip, sizeof(s->peer_ip), "127.0.0.1");
	return pop3ids_start(s);
}

static void
stop(struct session *s)
{
	if (s->proto_state)
		pop3ids_free(s);
	free(s->route_id);
}

/*
 * The client sends `cmds`, the backend answers `answer` in pieces of
 * `step` bytes: what the client gets.
 */
static char *
run(const char *id, const char *cmds, const char *answer, size_t step)
{
	struct session s;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct evbuffer *piece = evbuffer_new();
	size_t off, n, len = strlen(answer);
	char *got;

	start(&s, id);
	evbuffer_add(in, cmds, strlen(cmds));
	s.filter(&s, 0, in, out);
	evbuffer_drain(out, evbuffer_get_length(out));
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		/* a chain of its own: the seams are searched too */
		evbuffer_add(piece, answer + off, n);
		evbuffer_add_buffer(in, piece);
		s.filter(&s, 1, in, out);
	}
	n = evbuffer_get_length(out);
	got = xmalloc(n + 1);
	evbuffer_remove(out, got, n);
	got[n] = '\0';
	stop(&s);
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(piece);
	return got;
}

/* the client's commands and the answers, pipelined in one go */
static const char cmds[] =
	"STAT\r\nUIDL\r\nUIDL 2\r\nRETR 1\r\nLIST\r\nRETR 9\r\nTOP 2 0\r\n"
	"uidl\r\nCAPA\r\nAUTH\r\nUIDL 1\r\nQUIT\r\n";
static const char answer[] =
	"+OK 3 300\r\n"
	"+OK\r\n1 D1\r\n2 D2\r\n3 Dnew\r\n.\r\n"
	"+OK 2 D2\r\n"
	"+OK 12 octets\r\n2 D2\r\n..dot\r\n\r\n.\r\n"
	"+OK\r\n.\r\n"
	"-ERR no such message\r\n"
	"+OK\r\nSubject: x\r\n\r\n.\r\n"
	"-ERR not now\r\n"
	"+OK\r\nUIDL\r\nTOP\r\n.\r\n"
	"+OK\r\n1 D1\r\n.\r\n"
	"+OK 1 D1\r\n"
	"+OK bye\r\n";
static const char expect[] =
	"+OK 3 300\r\n"
	"+OK\r\n1 S1\r\n2 S-two\r\n3 Dnew\r\n.\r\n"
	"+OK 2 S-two\r\n"
	"+OK 12 octets\r\n2 D2\r\n..dot\r\n\r\n.\r\n"
	"+OK\r\n.\r\n"
	"-ERR no such message\r\n"
	"+OK\r\nSubject: x\r\n\r\n.\r\n"
	"-ERR not now\r\n"
	"+OK\r\nUIDL\r\nTOP\r\n.\r\n"
	"+OK\r\n1 D1\r\n.\r\n"
	"+OK 1 S1\r\n"
	"+OK bye\r\n";

static void
rewrites(void)
{
	size_t step;
	char *got;
	int all = 1;

	for (step = 1; step <= sizeof(answer); step++) {
		got = run("alice", cmds, answer, step);
		if (strcmp(got, expect)) {
			all = 0;
			printf("# in pieces of %zu:\n%s", step, got);
		}
		free(got);
	}
	check(all);
	/* the commands in pieces too: one byte at a time */
	{
		struct session s;
		struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
		size_t i, n;

		start(&s, "alice@example.org");
		for (i = 0; cmds[i]; i++) {
			evbuffer_add(in, cmds + i, 1);
			s.filter(&s, 0, in, out);
		}
		check_int(evbuffer_get_length(out), ==, strlen(cmds));
		evbuffer_drain(out, evbuffer_get_length(out));
		evbuffer_add(in, answer, strlen(answer));
		s.filter(&s, 1, in, out);
		n = evbuffer_get_length(out);
		got = xmalloc(n + 1);
		evbuffer_remove(out, got, n);
		got[n] = '\0';
		check_str(got, expect);
		free(got);
		stop(&s);
		evbuffer_free(in);
		evbuffer_free(out);
	}
}

static void
others(void)
{
	struct session s;
	char *got;

	/* an account with no ids recorded is not filtered at all */
	check_int(start(&s, "bob"), ==, 0);
	check(!s.filter);
	stop(&s);
	/* nor is one on the source */
	memset(&s, 0, sizeof(s));
	s.px = &px;
	s.route_id = xstrdup("alice");
	s.route = ROUTE_SOURCE;
	check_int(pop3ids_start(&s), ==, 0);
	stop(&s);
	/* a status line too long for POP3: out of step, bytes go as they
	 * are from then on */
	{
		struct buf a = BUF_INIT;
		size_t i;

		for (i = 0; i < 3000; i++)
			buf_addch(&a, 'x');
		buf_adds(&a, "\r\n+OK\r\n1 D1\r\n.\r\n");
		got = run("alice", "NOOP\r\nUIDL\r\n", a.buf, 512);
		check_str(got, a.buf);
		free(got);
		buf_release(&a);
	}
	/* an answer nobody asked for (the server's goodbye) goes as it is */
	got = run("alice", "", "-ERR autologout\r\n", 4);
	check_str(got, "-ERR autologout\r\n");
	free(got);
}

int
main(void)
{
	char dir[] = "/tmp/t-pop3ids.XXXXXX", path[64];
	const char *ids[] = { "alice", "alice@example.org" };
	const char *dest[] = { "D1", "D2" }, *src[] = { "S1", "S-two" };
	struct buf err = BUF_INIT;
	int changed;
	int64_t version;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/mapping.db", dir);
	if (mapping_open(&px.map, path, 1, &err) < 0 ||
	    mapping_set(px.map, "alice@example.org", ids, 2,
	    ROUTE_DESTINATION, &changed, &version, &err) < 0 ||
	    mapping_set_uidls(px.map, "alice@example.org", dest, src, 2,
	    &err) < 0) {
		printf("Bail out! %s\n", err.buf);
		return 1;
	}
	TEST("rewrites", rewrites());
	TEST("others", others());
	mapping_close(px.map);
	unlink(path);
	snprintf(path, sizeof(path), "%s/mapping.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/mapping.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return test_done();
}
