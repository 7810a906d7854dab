/*
 * pop3ids.c: a migrated account keeps its POP3 ids.
 *
 * After the flip the destination gives each message an id of its own,
 * and a client that leaves mail on the server would fetch all of it
 * again.  For an account whose ids map-flip recorded (pop3-uidl(8)),
 * SPLICE runs through this filter: the client's commands are read as
 * they pass, to know what each answer is, and in an answer to UIDL each
 * destination id the store knows becomes the source's.  Mail that came
 * after the move keeps the destination's id.  Every other answer, a
 * RETR above all, is found whole by one search for its end and moved as
 * the buffer chains it came in.
 */
#include "compat.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"
#include "proxy.h"
#include "xalloc.h"

/* what the command awaiting its answer was */
enum kind {
	K_LINE,			/* one status line */
	K_MULTI,		/* with +OK, lines up to "." */
	K_UIDL_ALL,		/* UIDL: K_MULTI, each line rewritten */
	K_UIDL_ONE,		/* UIDL n: the status line rewritten */
};

enum at {
	AT_STATUS,		/* the next answer's status line */
	AT_BODY,		/* a multi-line answer, moved as it is */
	AT_UIDL,		/* UIDL's lines */
};

/* a line longer than this, where one is parsed, is not POP3 */
#define IDS_LINE_MAX	1024

struct pop3ids {
	struct uidl_pair *pairs;
	size_t nr;
	unsigned char *q;	/* commands not yet answered, a ring */
	size_t q_head, q_len, q_alloc;
	char cmd[16];		/* the start of the client's line */
	size_t cmd_len;
	enum at at;
	int bol;		/* AT_BODY: nothing of it moved yet */
	int lost;		/* out of step: bytes copied as they are */
	unsigned long long rewritten;
};

static void
push(struct pop3ids *f, enum kind k)
{
	size_t i;

	if (f->q_len == f->q_alloc) {
		size_t n = f->q_alloc ? 2 * f->q_alloc : 16;
		unsigned char *q = xmalloc(n);

		for (i = 0; i < f->q_len; i++)
			q[i] = f->q[(f->q_head + i) % f->q_alloc];
		free(f->q);
		f->q = q;
		f->q_head = 0;
		f->q_alloc = n;
	}
	f->q[(f->q_head + f->q_len++) % f->q_alloc] = k;
}

static enum kind
pop(struct pop3ids *f)
{
	enum kind k = f->q[f->q_head];

	f->q_head = (f->q_head + 1) % f->q_alloc;
	f->q_len--;
	return k;
}

/* A client's command, by its first bytes (`len` of them kept). */
static enum kind
classify(const char *cmd, size_t len)
{
	int arg;

	while (len && (cmd[len - 1] == '\r' || cmd[len - 1] == ' '))
		len--;
	if (len > 4 && !strncasecmp(cmd, "TOP ", 4))
		return K_MULTI;
	arg = len > 4 && cmd[4] == ' ';
	if (len < 4 || (len > 4 && !arg))
		return K_LINE;
	if (!strncasecmp(cmd, "UIDL", 4))
		return arg ? K_UIDL_ONE : K_UIDL_ALL;
	if (!strncasecmp(cmd, "LIST", 4))
		return arg ? K_LINE : K_MULTI;
	if (!strncasecmp(cmd, "RETR", 4) || !strncasecmp(cmd, "CAPA", 4))
		return K_MULTI;
	/* the mechanisms, where a server lists them after login */
	if (!strncasecmp(cmd, "AUTH", 4))
		return arg ? K_LINE : K_MULTI;
	return K_LINE;
}

/* The client's bytes go on as they are; note each command's kind. */
static void
from_client(struct pop3ids *f, struct evbuffer *in, struct evbuffer *out)
{
	struct evbuffer_iovec few[8], *v = few;
	int n, i;
	size_t j;

	n = evbuffer_peek(in, -1, NULL, NULL, 0);
	if (n > 8)
		v = xreallocarray(NULL, n, sizeof(*v));
	n = evbuffer_peek(in, -1, NULL, v, n);
	for (i = 0; i < n; i++) {
		const char *p = v[i].iov_base;

		for (j = 0; j < v[i].iov_len; j++) {
			if (p[j] != '\n') {
				if (f->cmd_len < sizeof(f->cmd))
					f->cmd[f->cmd_len++] = p[j];
				continue;
			}
			push(f, classify(f->cmd, f->cmd_len));
			f->cmd_len = 0;
		}
	}
	if (v != few)
		free(v);
	evbuffer_add_buffer(out, in);
}

static int
pair_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct uidl_pair *)elem)->dest);
}

/*
 * "n id" (after "+OK " in an answer to UIDL n) with the source's id,
 * when the store has one, onto `out`.
 */
static void
put_uidl(struct pop3ids *f, const char *line, size_t skip,
    struct evbuffer *out)
{
	const char *id = line + skip + strspn(line + skip, "0123456789");
	const struct uidl_pair *p = NULL;

	if (*id == ' ')
		p = bsearch(id + 1, f->pairs, f->nr, sizeof(*f->pairs),
		    pair_cmp);
	if (!p) {
		evbuffer_add_printf(out, "%s\r\n", line);
		return;
	}
	evbuffer_add(out, line, id + 1 - line);
	evbuffer_add_printf(out, "%s\r\n", p->src);
	f->rewritten++;
}

/* The next answer's status line: 0 taken, 1 wait for more. */
static int
status(struct pop3ids *f, struct evbuffer *in, struct evbuffer *out)
{
	struct evbuffer_ptr eol;
	size_t eol_len, n;
	char *line, head[3];
	enum kind k;
	int ok;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) > IDS_LINE_MAX)
			f->lost = 1;
		return 1;
	}
	/* the server speaks unasked (a goodbye): a line as it is */
	k = f->q_len ? pop(f) : K_LINE;
	evbuffer_copyout(in, head, sizeof(head));
	ok = eol.pos >= 3 && !memcmp(head, "+OK", 3);
	if (ok && k == K_UIDL_ONE) {
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		put_uidl(f, line, 3 + strspn(line + 3, " "), out);
		free(line);
		return 0;
	}
	evbuffer_remove_buffer(in, out, eol.pos + eol_len);
	if (ok && k == K_MULTI) {
		f->at = AT_BODY;
		f->bol = 1;
	} else if (ok && k == K_UIDL_ALL)
		f->at = AT_UIDL;
	return 0;
}

/*
 * Where the end of a multi-line answer, CRLF "." CRLF, starts in `in`,
 * or -1: memmem(3) on each chain, and on each seam between two.
 */
static ssize_t
find_end(struct evbuffer *in)
{
	static const char end[] = "\r\n.\r\n";
	struct evbuffer_iovec few[16], *v = few;
	char seam[8], tail[4];
	size_t off = 0, tl = 0, k, len;
	ssize_t at = -1;
	const char *b, *p;
	int n, i;

	n = evbuffer_peek(in, -1, NULL, NULL, 0);
	if (n > 16)
		v = xreallocarray(NULL, n, sizeof(*v));
	n = evbuffer_peek(in, -1, NULL, v, n);
	for (i = 0; i < n && at < 0; off += len, i++) {
		b = v[i].iov_base;
		len = v[i].iov_len;
		k = len < 4 ? len : 4;
		memcpy(seam, tail, tl);
		memcpy(seam + tl, b, k);
		if ((p = memmem(seam, tl + k, end, 5)))
			at = off - tl + (p - seam);
		else if ((p = memmem(b, len, end, 5)))
			at = off + (p - b);
		/* the last four bytes so far, for the next seam */
		if (len >= 4) {
			memcpy(tail, b + len - 4, 4);
			tl = 4;
		} else {
			k = tl + len > 4 ? tl + len - 4 : 0;
			memmove(tail, seam + k, tl + len - k);
			tl = tl + len - k;
		}
	}
	if (v != few)
		free(v);
	return at;
}

/* A multi-line answer moved as it is, up to its ".": 0 done, 1 wait. */
static int
body(struct pop3ids *f, struct evbuffer *in, struct evbuffer *out)
{
	static const char end[] = "\r\n.\r\n";
	size_t len = evbuffer_get_length(in);
	ssize_t at;
	char head[3];

	if (f->bol) {
		/* an empty answer: the "." right after the status line */
		if (len < 3) {
			evbuffer_copyout(in, head, len);
			if (!memcmp(head, end + 2, len))
				return 1;
		} else {
			evbuffer_copyout(in, head, 3);
			if (!memcmp(head, end + 2, 3)) {
				evbuffer_remove_buffer(in, out, 3);
				f->at = AT_STATUS;
				return 0;
			}
		}
		f->bol = 0;
	}
	if ((at = find_end(in)) >= 0) {
		evbuffer_remove_buffer(in, out, at + 5);
		f->at = AT_STATUS;
		return 0;
	}
	/* keep what may be the start of the end */
	if (len > 4)
		evbuffer_remove_buffer(in, out, len - 4);
	return 1;
}

/* UIDL's lines, each rewritten: 0 done, 1 wait. */
static int
uidl_lines(struct pop3ids *f, struct evbuffer *in, struct evbuffer *out)
{
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		if (!strcmp(line, ".")) {
			free(line);
			evbuffer_add(out, ".\r\n", 3);
			f->at = AT_STATUS;
			return 0;
		}
		put_uidl(f, line, 0, out);
		free(line);
	}
	if (evbuffer_get_length(in) > IDS_LINE_MAX)
		f->lost = 1;
	return 1;
}

static void
from_backend(struct pop3ids *f, struct evbuffer *in, struct evbuffer *out)
{
	int wait = 0;

	while (!wait && !f->lost && evbuffer_get_length(in))
		switch (f->at) {
		case AT_STATUS:
			wait = status(f, in, out);
			break;
		case AT_BODY:
			wait = body(f, in, out);
			break;
		case AT_UIDL:
			wait = uidl_lines(f, in, out);
			break;
		}
	if (f->lost)
		evbuffer_add_buffer(out, in);
}

static void
pop3ids_move(struct session *s, int from_backend_side, struct evbuffer *in,
    struct evbuffer *out)
{
	struct pop3ids *f = s->proto_state;
	int was_lost = f->lost;

	if (f->lost)
		evbuffer_add_buffer(out, in);
	else if (from_backend_side)
		from_backend(f, in, out);
	else
		from_client(f, in, out);
	if (f->lost && !was_lost)
		log_warnx("%s: %s: POP3 answers out of step; ids go"
		    " unchanged from now on", s->peer_ip,
		    session_user_log(s));
}

void
pop3ids_free(struct session *s)
{
	struct pop3ids *f = s->proto_state;

	if (f->rewritten)
		log_info("%s: %s: %llu POP3 ids given as the source's",
		    s->peer_ip, session_user_log(s), f->rewritten);
	uidl_pairs_free(f->pairs, f->nr);
	free(f->q);
	free(f);
	s->proto_state = NULL;
}

int
pop3ids_start(struct session *s)
{
	struct uidl_pair *pairs;
	size_t nr;
	struct buf err = BUF_INIT;
	struct pop3ids *f;

	if (s->route != ROUTE_DESTINATION || !s->px->map || !s->route_id)
		return 0;
	if (mapping_uidls(s->px->map, s->route_id, &pairs, &nr, &err) < 0) {
		log_warnx("%s: %s: %s; its POP3 ids go unchanged",
		    s->peer_ip, session_user_log(s), err.buf);
		buf_release(&err);
		return 0;
	}
	if (!nr)
		return 0;
	f = xcalloc(1, sizeof(*f));
	f->pairs = pairs;
	f->nr = nr;
	s->proto_state = f;
	s->filter = pop3ids_move;
	return 1;
}
