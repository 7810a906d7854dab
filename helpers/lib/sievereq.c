/*
 * sievereq.c: the `require` commands of a Sieve script, from a lexer of
 * RFC 5228's grammar (8.1) that knows its comments and strings and
 * nothing of its commands but `require`.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "sievereq.h"

struct lex {
	const char *p, *end;
	int line;
	struct buf str;		/* the last string's value */
	struct buf *err;
};

enum tok { T_END, T_ERROR, T_STRING, T_WORD, T_PUNCT, T_OTHER };

static int
lex_fail(struct lex *x, const char *what)
{
	buf_addf(x->err, "line %d: %s", x->line, what);
	return T_ERROR;
}

/* Past the end of the line; 0 when the text ends first. */
static int
to_eol(struct lex *x)
{
	const char *nl = memchr(x->p, '\n', x->end - x->p);

	if (!nl)
		return 0;
	x->p = nl + 1;
	x->line++;
	return 1;
}

/* A "text:" string, from after the colon to its lone dot (8.1). */
static int
multiline(struct lex *x)
{
	const char *s;
	size_t n;

	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t'))
		x->p++;
	if (x->p < x->end && *x->p != '#' && *x->p != '\r' && *x->p != '\n')
		return lex_fail(x, "text: not followed by the end of the line");
	if (!to_eol(x))
		return lex_fail(x, "a text: string is not ended");
	for (;;) {
		s = x->p;
		if (!to_eol(x))
			return lex_fail(x, "a text: string is not ended");
		n = x->p - s - 1;
		if (n && s[n - 1] == '\r')
			n--;
		if (n == 1 && s[0] == '.')
			return T_STRING;
		if (s[0] == '.')
			s++, n--;	/* dot-stuffed */
		buf_add(&x->str, s, n);
		buf_adds(&x->str, "\r\n");
	}
}

static int
quoted(struct lex *x)
{
	for (x->p++; x->p < x->end && *x->p != '"'; x->p++) {
		if (*x->p == '\\' && x->p + 1 < x->end)
			x->p++;
		if (*x->p == '\n')
			x->line++;
		buf_add(&x->str, x->p, 1);
	}
	if (x->p == x->end)
		return lex_fail(x, "a quoted string is not ended");
	x->p++;
	return T_STRING;
}

/* The next token; a word's or string's text in x->str. */
static int
next(struct lex *x)
{
	const char *s;

	buf_reset(&x->str);
	for (;;) {
		if (x->p == x->end)
			return T_END;
		if (*x->p == '\n')
			x->line++;
		if (*x->p == '#') {
			if (!to_eol(x))
				return T_END;
		} else if (x->end - x->p > 1 && !memcmp(x->p, "/*", 2)) {
			for (s = x->p + 2; s + 1 < x->end &&
			    memcmp(s, "*/", 2); s++)
				x->line += *s == '\n';
			if (s + 1 >= x->end)
				return lex_fail(x, "a comment is not ended");
			x->p = s + 2;
		} else if (strchr(" \t\r\n", *x->p)) {
			x->p++;
		} else
			break;
	}
	if (*x->p == '"')
		return quoted(x);
	if (isalpha((unsigned char)*x->p) || *x->p == '_') {
		for (s = x->p; x->p < x->end && (isalnum((unsigned char)*x->p)
		    || *x->p == '_'); x->p++)
			;
		buf_add(&x->str, s, x->p - s);
		if (x->p < x->end && *x->p == ':' &&
		    !strcasecmp(x->str.buf, "text")) {
			x->p++;
			buf_reset(&x->str);
			return multiline(x);
		}
		return T_WORD;
	}
	buf_add(&x->str, x->p++, 1);
	return strchr("[],;{}()", x->str.buf[0]) ? T_PUNCT : T_OTHER;
}

static void
add_once(struct strlist *out, const char *s)
{
	size_t i;

	for (i = 0; i < out->nr; i++)
		if (!strcmp(out->v[i], s))
			return;
	strlist_add(out, s);
}

static int
is(const struct lex *x, int t, char c)
{
	return t == T_PUNCT && x->str.buf[0] == c;
}

/* After "require": a string or a list of them (at least one), then ";". */
static int
require_args(struct lex *x, struct strlist *out)
{
	int t = next(x), list = is(x, t, '[');

	if (list)
		t = next(x);
	for (;;) {
		if (t != T_STRING)
			goto fail;
		add_once(out, x->str.buf);
		t = next(x);
		if (!list || !is(x, t, ','))
			break;
		t = next(x);
	}
	if (list && !is(x, t, ']'))
		goto fail;
	if (list)
		t = next(x);
	if (is(x, t, ';'))
		return 0;
fail:
	if (t != T_ERROR)
		lex_fail(x, "require is not followed by its strings and ;");
	return -1;
}

int
sieve_requires(const char *text, size_t len, struct strlist *out,
    struct buf *err)
{
	struct lex x = { text, text + len, 1, BUF_INIT, err };
	int t, command = 1, ret = 0;

	while ((t = next(&x)) != T_END) {
		if (t == T_ERROR) {
			ret = -1;
			break;
		}
		if (t == T_WORD && command && !strcasecmp(x.str.buf,
		    "require")) {
			if ((ret = require_args(&x, out)) < 0)
				break;
			continue;	/* after its ";": a command again */
		}
		command = t == T_PUNCT && strchr(";{}", x.str.buf[0]);
	}
	buf_release(&x.str);
	return ret;
}

int
sieve_offers(const char *offered, const char *ext)
{
	size_t n = strlen(ext);
	const char *p;

	if (!strcmp(ext, "comparator-i;octet") ||
	    !strcmp(ext, "comparator-i;ascii-casemap"))
		return 1;
	if (!n)
		return 0;	/* require "": no server offers it */
	for (p = offered; p && (p = strstr(p, ext)); p += n)
		if ((p == offered || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return 1;
	return 0;
}
