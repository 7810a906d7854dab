#include "compat.h"

#include "buf.h"
#include "utf7.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

static void
put_utf8(struct buf *out, uint32_t cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		s[0] = (char)(0xf0 | cp >> 18);
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(out, s, n);
}

/* Decode one shifted run in[0..len) (between '&' and '-'). */
static int
decode_run(const char *in, size_t len, struct buf *out)
{
	uint32_t bits = 0, hi = 0;
	int nbits = 0, units = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -1;
		bits = bits << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		{
			uint32_t u = (bits >> nbits) & 0xffff;

			units++;
			if (hi) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) +
				    (u - 0xdc00));
				hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -1;
			} else if (u >= 0x20 && u <= 0x7e) {
				return -1;	/* must have been written plainly */
			} else {
				put_utf8(out, u);
			}
		}
	}
	/* at most 5 padding bits left over, and they must be zero */
	if (hi || !units || nbits >= 6 || (bits & ((1u << nbits) - 1)))
		return -1;
	return 0;
}

int
utf7_decode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len, i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		const char *dash;

		if (c < 0x20 || c > 0x7e)
			goto bad;
		if (c != '&') {
			buf_addch(out, c);
			i++;
			continue;
		}
		dash = memchr(in + i + 1, '-', len - i - 1);
		if (!dash)
			goto bad;
		if (dash == in + i + 1) {
			buf_addch(out, '&');
		} else if (decode_run(in + i + 1, (size_t)(dash - in - i - 1),
		    out) < 0) {
			goto bad;
		}
		i = (size_t)(dash - in) + 1;
	}
	return 0;
bad:
	buf_setlen(out, start);
	return -1;
}

/* Next code point of UTF-8 at s[*i]; -1 if malformed. */
static int32_t
next_cp(const char *s, size_t len, size_t *i)
{
	const unsigned char *p = (const unsigned char *)s + *i;
	size_t left = len - *i, n, k;
	uint32_t cp, min;

	if (p[0] < 0x80) {
		(*i)++;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (left < n)
		return -1;
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n;
	return (int32_t)cp;
}

int
utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len)
		if (next_cp(s, len, &i) < 0)
			return 0;
	return 1;
}

static void
flush_run(struct buf *out, const uint16_t *u, size_t n)
{
	uint32_t bits = 0;
	int nbits = 0;
	size_t k;

	buf_addch(out, '&');
	for (k = 0; k < n; k++) {
		bits = bits << 16 | u[k];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			buf_addch(out, b64[(bits >> nbits) & 63]);
		}
	}
	if (nbits)
		buf_addch(out, b64[(bits << (6 - nbits)) & 63]);
	buf_addch(out, '-');
}

int
utf7_encode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len, i = 0, n = 0, alloc = 0;
	uint16_t *run = NULL;

	while (i < len) {
		int32_t cp = next_cp(in, len, &i);

		if (cp < 0) {
			free(run);
			buf_setlen(out, start);
			return -1;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			if (n)
				flush_run(out, run, n);
			n = 0;
			if (cp == '&')
				buf_adds(out, "&-");
			else
				buf_addch(out, (int)cp);
			continue;
		}
		if (n + 2 > alloc) {
			alloc = alloc ? alloc * 2 : 16;
			run = realloc(run, alloc * sizeof(*run));
			if (!run)
				abort();
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			run[n++] = (uint16_t)(0xd800 + (cp >> 10));
			run[n++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			run[n++] = (uint16_t)cp;
		}
	}
	if (n)
		flush_run(out, run, n);
	free(run);
	return 0;
}
