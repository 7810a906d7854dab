#include "test-lib.h"

#include "buf.h"
#include "evline.h"

/* Write events into a pipe and read back the lines. */
static void
t_roundtrip(void)
{
	struct evline ev;
	struct buf err = BUF_INIT;
	char out[8192], *line, *save = NULL;
	int fds[2], n = 0;
	ssize_t got;
	int64_t v;

	check(pipe(fds) == 0);
	check_int(evline_hello(fds[1], "t-evline", "0.1"), ==, 0);
	check_int(evline_write(fds[1], "checkpoint", "{s:s, s:I}", "token",
	    "INBOX:42\nwith newline", "messages", (long long)42), ==, 0);
	check_int(evline_write(fds[1], "done", NULL), ==, 0);
	close(fds[1]);
	got = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	check(got > 0);
	out[got > 0 ? got : 0] = '\0';

	for (line = strtok_r(out, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		n++;
		buf_reset(&err);
		check_int(evline_parse(&ev, line, strlen(line), &err), ==, 0);
		if (n == 1) {
			check(ev.type == EV_HELLO);
			check_str(evline_str(&ev, "name"), "t-evline");
			check(evline_int(&ev, "protocol", &v) == 0 && v == 1);
		} else if (n == 2) {
			check(ev.type == EV_CHECKPOINT);
			check_str(evline_str(&ev, "token"),
			    "INBOX:42\nwith newline");
			check(evline_int(&ev, "messages", &v) == 0 && v == 42);
			check(evline_int(&ev, "token", &v) == -1);
		} else {
			check(ev.type == EV_DONE);
			check(evline_str(&ev, "nothing") == NULL);
		}
		evline_release(&ev);
	}
	/* the newline inside the token did not split the line */
	check_int(n, ==, 3);
	buf_release(&err);
}

static void
t_bad_lines(void)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{ "", "not JSON" },
		{ "not json", "not JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"event\":\"done\"}", "no \"v\":1" },
		{ "{\"v\":2,\"event\":\"done\"}", "no \"v\":1" },
		{ "{\"v\":1}", "no \"event\"" },
		{ "{\"v\":1,\"event\":\"explode\"}", "unknown event" },
		{ "{\"v\":1,\"event\":\"checkpoint\"}", "checkpoint without" },
		{ "{\"v\":1,\"event\":\"hello\",\"name\":\"x\"}", "hello without" },
		{ "{\"v\":1,\"event\":\"done\",\"event\":\"done\"}", "not JSON" },
	};
	struct evline ev;
	struct buf err = BUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		buf_reset(&err);
		check_int(evline_parse(&ev, cases[i].line,
		    strlen(cases[i].line), &err), ==, -1);
		if (!check(strstr(err.buf, cases[i].why) != NULL))
			printf("#   got '%s'\n", err.buf);
	}
	/* unknown fields are ignored */
	buf_reset(&err);
	check_int(evline_parse(&ev,
	    "{\"v\":1,\"event\":\"progress\",\"future\":[1,{}]}", 42, &err),
	    ==, 0);
	check(ev.type == EV_PROGRESS);
	evline_release(&ev);
	buf_release(&err);
}

static void
t_sanitized_error(void)
{
	struct evline ev;
	struct buf err = BUF_INIT;
	char line[600];

	memset(line, 'x', sizeof(line));
	line[0] = '\x1b';
	check_int(evline_parse(&ev, line, sizeof(line), &err), ==, -1);
	check(strchr(err.buf, '\x1b') == NULL);
	check(strstr(err.buf, "...") != NULL);
	check(err.len < 300);
	buf_release(&err);
}

int
main(void)
{
	TEST("roundtrip", t_roundtrip());
	TEST("bad lines", t_bad_lines());
	TEST("sanitized", t_sanitized_error());
	return test_done();
}
