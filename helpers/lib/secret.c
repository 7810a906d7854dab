#include "compat.h"

#include <ctype.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "log.h"
#include "secret.h"
#include "xalloc.h"

static int
valid_key(const char *k, size_t len)
{
	size_t i;

	if (!len || len > 64)
		return 0;
	for (i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.'))
			return 0;
	}
	return 1;
}

int
secrets_set(struct secrets *s, const char *key, const char *value)
{
	size_t i;

	if (!valid_key(key, strlen(key)) || strchr(value, '\n') ||
	    strlen(key) + strlen(value) + 1 > SECRET_LINE_MAX)
		return -1;
	for (i = 0; i < s->nr; i++) {
		if (!strcmp(s->items[i].key, key)) {
			explicit_bzero(s->items[i].value,
			    strlen(s->items[i].value));
			free(s->items[i].value);
			s->items[i].value = xstrdup(value);
			return 0;
		}
	}
	ALLOC_GROW(s->items, s->nr + 1, s->alloc);
	s->items[s->nr].key = xstrdup(key);
	s->items[s->nr].value = xstrdup(value);
	s->nr++;
	return 0;
}

const char *
secrets_get(const struct secrets *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		if (!strcmp(s->items[i].key, key))
			return s->items[i].value;
	return NULL;
}

void
secrets_format(const struct secrets *s, struct buf *out)
{
	size_t i;

	for (i = 0; i < s->nr; i++)
		buf_addf(out, "%s=%s\n", s->items[i].key, s->items[i].value);
	buf_addch(out, '\n');
}

void
secrets_clear(struct secrets *s)
{
	size_t i;

	for (i = 0; i < s->nr; i++) {
		explicit_bzero(s->items[i].value, strlen(s->items[i].value));
		free(s->items[i].value);
		free(s->items[i].key);
	}
	free(s->items);
	s->items = NULL;
	s->nr = s->alloc = 0;
}

/* Read one line into `line` (without its newline): 1, 0 at EOF, -1. */
static int
read_line(int fd, struct buf *line, struct buf *err)
{
	char c;

	buf_reset(line);
	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			buf_addf(err, "cannot read secrets: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			return line->len ? -2 : 0;
		if (c == '\n')
			return 1;
		if (buf_addch(line, c) < 0) {
			buf_addf(err, "secret line longer than %d bytes",
			    SECRET_LINE_MAX);
			return -1;
		}
	}
}

int
secrets_read(struct secrets *s, int fd, struct buf *err)
{
	struct buf line;
	unsigned lineno = 0;
	int ret = -1, r;

	buf_init(&line, SECRET_LINE_MAX);
	for (;;) {
		char *eq;

		r = read_line(fd, &line, err);
		if (r == -1)
			goto out;
		if (r == 0 && lineno == 0) {
			ret = 0;	/* nothing on stdin: no secrets */
			goto out;
		}
		if (r <= 0) {
			buf_adds(err, "secrets end before the empty line");
			goto out;
		}
		lineno++;
		if (line.len && line.buf[line.len - 1] == '\r')
			buf_setlen(&line, line.len - 1);
		if (!line.len)
			break;
		eq = memchr(line.buf, '=', line.len);
		if (!eq || !valid_key(line.buf, (size_t)(eq - line.buf))) {
			/* never echo the line: it may hold a password */
			buf_addf(err, "secret line %u is not key=value",
			    lineno);
			goto out;
		}
		*eq = '\0';
		if (memchr(eq + 1, '\0', line.len - (size_t)(eq + 1 - line.buf))) {
			buf_addf(err, "secret line %u holds a NUL byte", lineno);
			goto out;
		}
		if (secrets_set(s, line.buf, eq + 1) < 0) {
			buf_addf(err, "secret line %u cannot be carried",
			    lineno);
			goto out;
		}
	}
	ret = 0;
out:
	buf_release_wipe(&line);
	if (ret < 0)
		secrets_clear(s);
	return ret;
}

void
b64_encode(const void *in, size_t len, struct buf *out)
{
	size_t need = (len + 2) / 3 * 4;
	char *enc = xmalloc(need + 1);

	EVP_EncodeBlock((unsigned char *)enc, in, len);
	buf_add(out, enc, need);
	explicit_bzero(enc, need);
	free(enc);
}

int
b64_decode(const char *in, size_t len, struct buf *out)
{
	unsigned char *tmp;
	int n;
	size_t i, pad = 0;

	if (len == 1 && in[0] == '=')
		return 0;		/* an empty response */
	if (len % 4)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char ch = in[i];

		if (ch == '=' && i >= len - 2) {
			pad++;
			continue;
		}
		if (pad || !(isalnum(ch) || ch == '+' || ch == '/'))
			return -1;
	}
	tmp = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, len);
	if (n < 0 || (size_t)n < pad) {
		free(tmp);
		return -1;
	}
	buf_add(out, tmp, n - pad);
	OPENSSL_cleanse(tmp, len / 4 * 3 + 1);
	free(tmp);
	return 0;
}

static void *
json_alloc(size_t n)
{
	return malloc(n);
}

static void
json_wipe_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void
secrets_wipe_json(void)
{
	json_set_alloc_funcs(json_alloc, json_wipe_free);
}

void
secrets_no_core(void)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal(EX_OSERR, "cannot turn core dumps off");
}
