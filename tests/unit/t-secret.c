#include "test-lib.h"

#include <sys/mman.h>

#include <jansson.h>

#include "buf.h"
#include "secret.h"

/* Feed `in` to secrets_read() from a file; return what it returns. */
static int
read_from(const char *in, size_t len, struct secrets *s, struct buf *err,
    struct buf *rest)
{
	int fd = memfd_create("t-secret", 0), ret;
	char tmp[256];
	ssize_t n;

	if (fd < 0 || write(fd, in, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) != 0)
		return -2;
	ret = secrets_read(s, fd, err);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(rest, tmp, (size_t)n);
	close(fd);
	return ret;
}

static void
t_table(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *key, *value, *rest, *err;
	} cases[] = {
		{ "password=s3cr=t\n\nAFTER", 0, "password", "s3cr=t", "AFTER",
		    NULL },
		{ "", 0, "password", NULL, "", NULL },
		{ "user=alice\r\npassword=pw\r\n\r\n", 0, "password", "pw", "",
		    NULL },
		{ "password=pw\n", -1, NULL, NULL, "", "before the empty line" },
		{ "password=pw", -1, NULL, NULL, "", "before the empty line" },
		{ "no equals sign\n\n", -1, NULL, NULL, "\n", "line 1 is not" },
		{ "bad key=v\n\n", -1, NULL, NULL, "\n", "line 1 is not" },
		{ "=v\n\n", -1, NULL, NULL, "\n", "line 1 is not" },
		{ "a=1\na=2\n\n", 0, "a", "2", "", NULL },
		{ "token=\n\n", 0, "token", "", "", NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct secrets s = SECRETS_INIT;
		struct buf err = BUF_INIT, rest = BUF_INIT;

		check_int(read_from(cases[i].in, strlen(cases[i].in), &s, &err,
		    &rest), ==, cases[i].ret);
		if (cases[i].key && cases[i].value)
			check_str(secrets_get(&s, cases[i].key),
			    cases[i].value);
		else if (cases[i].key)
			check(secrets_get(&s, cases[i].key) == NULL);
		check_str(rest.buf, cases[i].rest);
		if (cases[i].err)
			check(strstr(err.buf, cases[i].err) != NULL);
		/* an error never quotes the line: it may be a password */
		check(strstr(err.buf, "pw") == NULL);
		secrets_clear(&s);
		buf_release(&err);
		buf_release(&rest);
	}
}

static void
t_limits(void)
{
	struct secrets s = SECRETS_INIT;
	struct buf in = BUF_INIT, err = BUF_INIT, rest = BUF_INIT;

	/* 64 KiB is the longest line; a NUL byte is refused */
	buf_adds(&in, "k=");
	while (in.len < SECRET_LINE_MAX)
		buf_addch(&in, 'v');
	buf_adds(&in, "\n\n");
	check_int(read_from(in.buf, in.len, &s, &err, &rest), ==, 0);
	check_int(strlen(secrets_get(&s, "k")), ==, SECRET_LINE_MAX - 2);
	secrets_clear(&s);

	buf_reset(&in);
	buf_adds(&in, "k=");
	while (in.len <= SECRET_LINE_MAX)
		buf_addch(&in, 'v');
	buf_adds(&in, "\n\n");
	check_int(read_from(in.buf, in.len, &s, &err, &rest), ==, -1);
	check(strstr(err.buf, "longer than") != NULL);

	buf_reset(&err);
	check_int(read_from("k=a\0b\n\n", 7, &s, &err, &rest), ==, -1);
	check(strstr(err.buf, "NUL") != NULL);

	check_int(secrets_set(&s, "k", "two\nlines"), ==, -1);
	check_int(secrets_set(&s, "k", "v"), ==, 0);
	check_int(secrets_set(&s, "k2", "w"), ==, 0);
	buf_reset(&in);
	secrets_format(&s, &in);
	check_str(in.buf, "k=v\nk2=w\n\n");
	secrets_clear(&s);
	buf_release(&in);
	buf_release(&err);
	buf_release(&rest);
}

/* JSON values go through the wiping allocator once it is set */
static void
t_json(void)
{
	json_malloc_t m0, m1;
	json_free_t f0, f1;
	json_t *v;

	json_get_alloc_funcs(&m0, &f0);
	secrets_wipe_json();
	json_get_alloc_funcs(&m1, &f1);
	check(f0 == free && f1 != free);
	v = json_pack("{s:s}", "secrets", "$6$salt$hash");
	check(v != NULL);
	json_decref(v);
}

int
main(void)
{
	TEST("table", t_table());
	TEST("limits", t_limits());
	TEST("json", t_json());
	return test_done();
}
