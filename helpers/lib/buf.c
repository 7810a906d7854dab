#include "compat.h"

#include "buf.h"
#include "xalloc.h"

char buf_empty[1];

void
buf_init(struct buf *b, size_t cap)
{
	b->buf = buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void
buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->buf);
	buf_init(b, b->cap);
}

void
buf_release_wipe(struct buf *b)
{
	if (b->alloc)
		explicit_bzero(b->buf, b->alloc);
	buf_release(b);
}

char *
buf_detach(struct buf *b, size_t *len_r)
{
	char *p;

	if (!b->alloc)
		buf_grow(b, 0);
	p = b->buf;
	if (len_r)
		*len_r = b->len;
	buf_init(b, b->cap);
	return p;
}

int
buf_grow(struct buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	if (b->cap && b->len + extra > b->cap)
		return -1;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 3 / 2)
		want = b->alloc * 3 / 2;
	if (want < 64)
		want = 64;
	if (!b->alloc) {
		b->buf = xmalloc(want);
		b->buf[0] = '\0';
	} else {
		b->buf = xreallocarray(b->buf, want, 1);
	}
	b->alloc = want;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addch(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_add(b, &ch, 1);
}

int
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(b->buf + b->len, b->alloc ? b->alloc - b->len : 0,
	    fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n >= (b->alloc ? b->alloc - b->len : 0)) {
		if (buf_grow(b, (size_t)n) < 0) {
			if (b->alloc)
				b->buf[b->len] = '\0';
			return -1;
		}
		n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
		if (n < 0)
			return -1;
	} else if (b->cap && b->len + (size_t)n > b->cap) {
		b->buf[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ret;
}

void
buf_setlen(struct buf *b, size_t len)
{
	if (len > b->len)
		abort();
	b->len = len;
	if (b->alloc)
		b->buf[len] = '\0';
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (!n)
		return;
	memmove(b->buf, b->buf + n, b->len - n);
	buf_setlen(b, b->len - n);
}

void
buf_chomp(struct buf *b)
{
	size_t n = b->len;

	while (n && (b->buf[n - 1] == '\n' || b->buf[n - 1] == '\r'))
		n--;
	buf_setlen(b, n);
}

void
buf_add_sanitized(struct buf *b, const char *s, size_t len, size_t max)
{
	size_t i;

	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		buf_addch(b, c >= 0x20 && c < 0x7f ? c : '?');
	}
	if (len > max)
		buf_adds(b, "...");
}
