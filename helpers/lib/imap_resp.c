#include "compat.h"

#include <strings.h>

#include "buf.h"
#include "imap_resp.h"
#include "tls.h"
#include "xalloc.h"

#define MAX_DEPTH	64

struct parser {
	struct imap_src *src;
	struct imap_resp *r;
	struct buf line;	/* the current line */
	size_t pos;
	struct buf *err;
	int depth;
};

static void
val_release(struct imap_val *v)
{
	size_t i;

	for (i = 0; i < v->nr; i++)
		val_release(&v->items[i]);
	free(v->items);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

void
imap_resp_release(struct imap_resp *r)
{
	free(r->tag);
	free(r->text);
	val_release(&r->vals);
	val_release(&r->code);
	memset(r, 0, sizeof(*r));
	r->vals.type = IMAP_LIST;
	r->code.type = IMAP_LIST;
}

int
imap_atom_is(const struct imap_val *v, const char *s)
{
	return v && v->type == IMAP_ATOM && !strcasecmp(v->str, s);
}

static struct imap_val *
push(struct imap_val *list, enum imap_type type)
{
	struct imap_val *v;

	ALLOC_GROW(list->items, list->nr + 1, list->alloc);
	v = &list->items[list->nr++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	return v;
}

static int
bad(struct parser *p, const char *why)
{
	size_t len = p->line.len;

	while (len && (p->line.buf[len - 1] == '\n' ||
	    p->line.buf[len - 1] == '\r'))
		len--;
	buf_addf(p->err, "bad response from server (%s): '", why);
	buf_add_sanitized(p->err, p->line.buf, len, 200);
	buf_addch(p->err, '\'');
	return IMAP_READ_BAD;
}

/* Read the next line into p->line; IMAP_READ_* */
static int
next_line(struct parser *p, int first)
{
	int r;

	buf_reset(&p->line);
	p->pos = 0;
	r = p->src->read_line(p->src->arg, &p->line, p->err);
	if (r > 0)
		return IMAP_READ_OK;
	if (r == 0 && first)
		return IMAP_READ_EOF;
	if (r == 0)
		buf_adds(p->err, "the connection ended in the middle of a "
		    "response");
	return IMAP_READ_IO;
}

static int
at_eol(const struct parser *p)
{
	const char *s = p->line.buf + p->pos;

	return p->pos >= p->line.len || !strcmp(s, "\r\n") || !strcmp(s, "\n");
}

static void
skip_spaces(struct parser *p)
{
	while (p->pos < p->line.len && p->line.buf[p->pos] == ' ')
		p->pos++;
}

static int
is_atom_char(unsigned char c, int in_code)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	if (c == '(' || c == ')' || c == '{' || c == '"')
		return 0;
	if (in_code && c == ']')
		return 0;
	return 1;
}

static int
parse_atom(struct parser *p, struct imap_val *list, int in_code)
{
	const char *s = p->line.buf;
	size_t start = p->pos, bracket = 0;
	struct imap_val *v;

	while (p->pos < p->line.len) {
		unsigned char c = (unsigned char)s[p->pos];

		/* BODY[HEADER.FIELDS (From To)]: a section spans spaces */
		if (c == '[' && !in_code) {
			bracket++;
		} else if (c == ']' && bracket) {
			bracket--;
		} else if (bracket) {
			if (c == '\r' || c == '\n')
				return bad(p, "unterminated section");
		} else if (!is_atom_char(c, in_code)) {
			break;
		}
		p->pos++;
	}
	if (bracket)
		return bad(p, "unterminated section");
	if (p->pos == start)
		return bad(p, "unexpected character");
	if (p->pos - start == 3 && !strncasecmp(s + start, "NIL", 3)) {
		push(list, IMAP_NIL);
		return IMAP_READ_OK;
	}
	v = push(list, IMAP_ATOM);
	v->str = xstrndup(s + start, p->pos - start);
	v->len = p->pos - start;
	return IMAP_READ_OK;
}

static int
parse_quoted(struct parser *p, struct imap_val *list)
{
	struct buf out = BUF_INIT;
	struct imap_val *v;

	p->pos++;	/* the opening quote */
	for (;;) {
		char c;

		if (p->pos >= p->line.len) {
			buf_release(&out);
			return bad(p, "unterminated string");
		}
		c = p->line.buf[p->pos++];
		if (c == '"')
			break;
		if (c == '\r' || c == '\n') {
			buf_release(&out);
			return bad(p, "unterminated string");
		}
		if (c == '\\') {
			if (p->pos >= p->line.len ||
			    (p->line.buf[p->pos] != '\\' &&
			    p->line.buf[p->pos] != '"')) {
				buf_release(&out);
				return bad(p, "bad escape in string");
			}
			c = p->line.buf[p->pos++];
		}
		buf_addch(&out, c);
	}
	v = push(list, IMAP_STRING);
	v->len = out.len;
	v->str = buf_detach(&out, NULL);
	return IMAP_READ_OK;
}

static int
mem_sink(void *arg, const char *data, size_t len)
{
	return buf_add(arg, data, len);
}

/* A literal "{N}" or "{N+}" (or "~{N}") that must end the line. */
static int
parse_literal(struct parser *p, struct imap_val *list)
{
	const char *s = p->line.buf + p->pos;
	size_t max = p->src->max_literal ? p->src->max_literal : 1 << 20;
	unsigned long long n = 0;
	imap_sink_fn sink = NULL;
	void *sarg = NULL;
	struct imap_val *v;
	struct buf mem;
	size_t i = 1;
	int r;

	if (*s == '~')
		i++;
	if (s[i - 1] != '{' || s[i] < '0' || s[i] > '9')
		return bad(p, "bad literal");
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		n = n * 10 + (unsigned)(s[i] - '0');
		if (n > (1ULL << 40))
			return bad(p, "literal too large");
	}
	if (s[i] == '+')
		i++;
	if (s[i] != '}')
		return bad(p, "bad literal");
	p->pos += i + 1;
	if (!at_eol(p))
		return bad(p, "literal not at the end of a line");

	if (p->src->divert)
		p->src->divert(p->src->divert_arg, p->r, list, (size_t)n, &sink,
		    &sarg);
	v = push(list, IMAP_STRING);
	v->literal = 1;
	v->len = (size_t)n;
	if (sink) {
		v->diverted = 1;
		if (p->src->read_literal(p->src->arg, (size_t)n, sink, sarg,
		    p->err) < 0)
			return IMAP_READ_IO;
	} else {
		if (n > max)
			return bad(p, "literal larger than allowed in memory");
		buf_init(&mem, 0);
		buf_grow(&mem, (size_t)n);
		r = p->src->read_literal(p->src->arg, (size_t)n, mem_sink,
		    &mem, p->err);
		v->str = buf_detach(&mem, NULL);
		if (r < 0)
			return IMAP_READ_IO;
	}
	/* the response goes on on the next line */
	return next_line(p, 0);
}

/* Parse tokens into `list` up to its end: ')' when nested, ']' in a
 * response code, the end of the line at the top. */
static int
parse_list(struct parser *p, struct imap_val *list, char close, int in_code)
{
	int r;

	for (;;) {
		char c;

		skip_spaces(p);
		if (at_eol(p)) {
			if (close)
				return bad(p, close == ')' ?
				    "unbalanced parentheses" :
				    "unterminated response code");
			return IMAP_READ_OK;
		}
		c = p->line.buf[p->pos];
		if (c == close) {
			p->pos++;
			return IMAP_READ_OK;
		}
		switch (c) {
		case '(':
			if (++p->depth > MAX_DEPTH)
				return bad(p, "lists nested too deep");
			p->pos++;
			r = parse_list(p, push(list, IMAP_LIST), ')', in_code);
			p->depth--;
			break;
		case ')':
			return bad(p, "unbalanced parentheses");
		case '"':
			r = parse_quoted(p, list);
			break;
		case '{':
			r = parse_literal(p, list);
			break;
		case '~':
			if (p->line.buf[p->pos + 1] == '{') {
				r = parse_literal(p, list);
				break;
			}
			/* fall through */
		default:
			r = parse_atom(p, list, in_code);
			break;
		}
		if (r != IMAP_READ_OK)
			return r;
	}
}

static void
take_text(struct parser *p)
{
	size_t len = p->line.len;

	skip_spaces(p);
	while (len > p->pos && (p->line.buf[len - 1] == '\n' ||
	    p->line.buf[len - 1] == '\r'))
		len--;
	p->r->text = xstrndup(p->line.buf + p->pos,
	    len > p->pos ? len - p->pos : 0);
}

int
imap_resp_read(struct imap_src *src, struct imap_resp *r, struct buf *err)
{
	struct parser p;
	size_t start;
	int ret;

	imap_resp_release(r);
	memset(&p, 0, sizeof(p));
	p.src = src;
	p.r = r;
	p.err = err;
	buf_init(&p.line, src->max_line ? src->max_line : 16 << 20);

	ret = next_line(&p, 1);
	if (ret != IMAP_READ_OK)
		goto out;

	/* the tag */
	start = p.pos;
	while (p.pos < p.line.len && is_atom_char(
	    (unsigned char)p.line.buf[p.pos], 0))
		p.pos++;
	if (p.pos == start || (p.pos < p.line.len &&
	    p.line.buf[p.pos] != ' ' && !at_eol(&p))) {
		ret = bad(&p, "no tag");
		goto out;
	}
	r->tag = xstrndup(p.line.buf + start, p.pos - start);
	if (!strcmp(r->tag, "+")) {
		take_text(&p);
		ret = IMAP_READ_OK;
		goto out;
	}

	/* "* 12 EXISTS", "* 3 FETCH (...)": a number goes first */
	skip_spaces(&p);
	if (p.pos < p.line.len && p.line.buf[p.pos] >= '0' &&
	    p.line.buf[p.pos] <= '9') {
		ret = parse_atom(&p, &r->vals, 0);
		if (ret != IMAP_READ_OK)
			goto out;
		skip_spaces(&p);
	}
	if (at_eol(&p)) {
		ret = bad(&p, "no response type");
		goto out;
	}
	ret = parse_atom(&p, &r->vals, 1);
	if (ret != IMAP_READ_OK)
		goto out;
	{
		const struct imap_val *kind = &r->vals.items[r->vals.nr - 1];

		if (imap_atom_is(kind, "OK") || imap_atom_is(kind, "NO") ||
		    imap_atom_is(kind, "BAD") || imap_atom_is(kind, "BYE") ||
		    imap_atom_is(kind, "PREAUTH")) {
			skip_spaces(&p);
			if (p.pos < p.line.len && p.line.buf[p.pos] == '[') {
				p.pos++;
				ret = parse_list(&p, &r->code, ']', 1);
				if (ret != IMAP_READ_OK)
					goto out;
			}
			take_text(&p);
			ret = IMAP_READ_OK;
			goto out;
		}
	}
	ret = parse_list(&p, &r->vals, 0, 0);
out:
	if (ret != IMAP_READ_OK && ret != IMAP_READ_EOF) {
		/* keep what was read for the caller's error message only */
		val_release(&r->vals);
		r->vals.type = IMAP_LIST;
	}
	buf_release(&p.line);
	return ret;
}

static int
tls_line(void *arg, struct buf *line, struct buf *err)
{
	return tls_conn_read_line(arg, line, err);
}

static int
tls_literal(void *arg, size_t len, imap_sink_fn sink, void *sarg,
    struct buf *err)
{
	return tls_conn_read_exact(arg, len, sink, sarg, err);
}

void
imap_src_from_tls(struct imap_src *src, struct tls_conn *c)
{
	src->read_line = tls_line;
	src->read_literal = tls_literal;
	src->arg = c;
}

static void
dump_val(const struct imap_val *v, struct buf *out)
{
	size_t i;

	switch (v->type) {
	case IMAP_ATOM:
		buf_adds(out, v->str);
		break;
	case IMAP_NIL:
		buf_adds(out, "NIL");
		break;
	case IMAP_STRING:
		if (v->diverted) {
			buf_addf(out, "<%zu diverted>", v->len);
			break;
		}
		buf_addch(out, v->literal ? '{' : '"');
		buf_add_sanitized(out, v->str, v->len, 64);
		buf_addch(out, v->literal ? '}' : '"');
		break;
	case IMAP_LIST:
		buf_addch(out, '(');
		for (i = 0; i < v->nr; i++) {
			if (i)
				buf_addch(out, ' ');
			dump_val(&v->items[i], out);
		}
		buf_addch(out, ')');
		break;
	}
}

void
imap_resp_dump(const struct imap_resp *r, struct buf *out)
{
	buf_addf(out, "%s ", r->tag ? r->tag : "?");
	dump_val(&r->vals, out);
	if (r->code.nr) {
		buf_adds(out, " [");
		dump_val(&r->code, out);
		buf_addch(out, ']');
	}
	if (r->text)
		buf_addf(out, " text=%s", r->text);
}
