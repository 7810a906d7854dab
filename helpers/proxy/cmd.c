/*
 * cmd.c: the words of IMAP and ManageSieve commands, which share atoms,
 * quoted strings and literals.
 */
#include "compat.h"

#include <ctype.h>

#include "proxy.h"

/*
 * The next argument of a command at *pp: an atom, a quoted string or a
 * literal ("{N}" CRLF N bytes, as the session put them in s->acc).
 * NULL when there is none or it is malformed.
 */
char *
cmd_arg(const char **pp, const char *end, size_t *len_r)
{
	const char *p = *pp + 1;
	char *w;

	if (*pp >= end || **pp != ' ' || !(w = cmd_word(&p, end, len_r)))
		return NULL;
	*pp = p;
	return w;
}

char *
cmd_word(const char **pp, const char *end, size_t *len_r)
{
	const char *p = *pp;
	struct buf b = BUF_INIT;

	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end &&
			    (p[1] == '"' || p[1] == '\\'))
				p++;
			else if (*p == '\\' || *p == '\r' || *p == '\n')
				goto bad;
			buf_addch(&b, *p);
		}
		if (p >= end)
			goto bad;
		p++;
	} else if (p < end && *p == '{') {
		char *e;
		unsigned long n = strtoul(p + 1, &e, 10);

		if (e != p + 1 && *e == '+')
			e++;
		if (e == p + 1 || *e != '}' ||
		    e + 3 > end || e[1] != '\r' || e[2] != '\n' ||
		    n > (size_t)(end - e - 3))
			goto bad;
		buf_add(&b, e + 3, n);
		p = e + 3 + n;
	} else {
		const char *a = p;

		while (p < end && *p != ' ' && (unsigned char)*p > 0x20 &&
		    *p != '"' && *p != '(' && *p != ')' && *p != '{')
			p++;
		if (p == a)
			goto bad;
		buf_add(&b, a, p - a);
	}
	*pp = p;
	*len_r = b.len;
	return buf_detach(&b, NULL);
bad:
	buf_release_wipe(&b);
	return NULL;
}

/* "{123}" or "{123+}" at the end of a line: the literal's size. */
int
cmd_literal(const char *line, size_t n, size_t *size, int *sync)
{
	const char *p;

	if (n < 3 || line[n - 1] != '}')
		return 0;
	p = line + n - 2;
	*sync = *p != '+';
	if (!*sync)
		p--;
	if (p < line || !isdigit((unsigned char)*p))
		return 0;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	if (p == line || p[-1] != '{')
		return 0;
	*size = strtoul(p, NULL, 10);
	return 1;
}

