#include "test-lib.h"

#include "buf.h"

static void
t_basic(void)
{
	struct buf b = BUF_INIT;
	char *p;
	size_t len;

	check(b.buf && b.buf[0] == '\0');
	check_int(buf_adds(&b, "hello"), ==, 0);
	check_int(buf_addch(&b, ' '), ==, 0);
	check_int(buf_addf(&b, "%s %d", "world", 42), ==, 0);
	check_str(b.buf, "hello world 42");
	check_int(b.len, ==, 14);
	buf_consume(&b, 6);
	check_str(b.buf, "world 42");
	buf_setlen(&b, 5);
	check_str(b.buf, "world");
	p = buf_detach(&b, &len);
	check_str(p, "world");
	check_int(len, ==, 5);
	check(b.buf == buf_empty && b.len == 0);
	free(p);
	buf_release(&b);
}

static void
t_binary_and_growth(void)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < 100000; i++)
		buf_addch(&b, (int)(i % 256));
	for (i = 0; i < 100000; i++)
		if ((unsigned char)b.buf[i] != i % 256)
			ok = 0;
	check(ok);
	check_int(b.len, ==, 100000);
	check(b.buf[b.len] == '\0');
	/* a long formatted string forces the second vsnprintf */
	buf_reset(&b);
	buf_addf(&b, "%0500d|", 7);
	check_int(b.len, ==, 501);
	check(b.buf[499] == '7' && b.buf[500] == '|');
	buf_release(&b);
}

static void
t_cap(void)
{
	struct buf b;

	buf_init(&b, 8);
	check_int(buf_adds(&b, "12345678"), ==, 0);
	check_int(buf_addch(&b, '9'), ==, -1);
	check_str(b.buf, "12345678");
	buf_reset(&b);
	check_int(buf_addf(&b, "%s", "abcdefghij"), ==, -1);
	check_int(b.len, ==, 0);
	check_str(b.buf, "");
	check_int(buf_addf(&b, "%d", 1234), ==, 0);
	check_int(buf_addf(&b, "%d", 12345), ==, -1);
	check_str(b.buf, "1234");
	buf_release(&b);
	check_int(b.cap, ==, 8);
}

static void
t_chomp_sanitize(void)
{
	static const struct {
		const char *in;
		size_t max;
		const char *out;
	} cases[] = {
		{ "plain", 100, "plain" },
		{ "tab\there", 100, "tab?here" },
		{ "esc\x1b[31m", 100, "esc?[31m" },
		{ "caf\xc3\xa9", 100, "caf??" },
		{ "0123456789", 4, "0123..." },
	};
	struct buf b = BUF_INIT;
	size_t i;

	buf_adds(&b, "line\r\n\n");
	buf_chomp(&b);
	check_str(b.buf, "line");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		buf_reset(&b);
		buf_add_sanitized(&b, cases[i].in, strlen(cases[i].in),
		    cases[i].max);
		check_str(b.buf, cases[i].out);
	}
	buf_release(&b);
}

int
main(void)
{
	TEST("basic", t_basic());
	TEST("binary", t_binary_and_growth());
	TEST("cap", t_cap());
	TEST("chomp/sanitize", t_chomp_sanitize());
	return test_done();
}
