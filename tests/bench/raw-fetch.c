/*
 * raw-fetch: the source's raw rate, for `make bench`.  Logs in (STARTTLS
 * unless -m), and in every folder named on the command line sends
 * `UID FETCH 1:* BODY.PEEK[]` and throws the bodies away: no parsing
 * beyond finding literals, no hashing, no disk.  What imap-pull does on
 * top of this is its cost.
 *
 *	raw-fetch [-C ca-file] [-m none|starttls] host port login folder...
 *
 * The password comes on stdin as "password=..." and an empty line.
 * Prints "messages BYTES" on stdout.
 */
#include "compat.h"

#include "buf.h"
#include "secret.h"
#include "tls.h"

static struct tls_conn *conn;
static struct buf err = BUF_INIT;

static void
die(const char *what)
{
	fprintf(stderr, "raw-fetch: %s: %s\n", what, err.buf);
	exit(1);
}

static int
discard(void *arg, const char *data, size_t len)
{
	*(unsigned long long *)arg += len;
	return 0;
}

/* Read to the tagged line of `tag`, skipping literals; count them. */
static void
drain(const char *tag, unsigned long long *msgs, unsigned long long *bytes)
{
	struct buf line = BUF_INIT;
	size_t tlen = strlen(tag);

	buf_init(&line, 1 << 20);
	for (;;) {
		char *brace;

		buf_reset(&line);
		if (tls_conn_read_line(conn, &line, &err) <= 0)
			die("read");
		if (!strncmp(line.buf, tag, tlen) && line.buf[tlen] == ' ') {
			if (strncmp(line.buf + tlen + 1, "OK", 2))
				die(line.buf);
			break;
		}
		if (line.len > 3 && line.buf[line.len - 3] == '}' &&
		    (brace = strrchr(line.buf, '{'))) {
			unsigned long long n = strtoull(brace + 1, NULL, 10);

			if (tls_conn_read_exact(conn, n, discard, bytes,
			    &err) < 0)
				die("literal");
			(*msgs)++;
		}
	}
	buf_release(&line);
}

static void
cmd(const char *tag, const char *fmt, const char *arg)
{
	struct buf l = BUF_INIT;
	unsigned long long m = 0, b = 0;

	buf_addf(&l, "%s ", tag);
	buf_addf(&l, fmt, arg);
	buf_adds(&l, "\r\n");
	if (tls_conn_write(conn, l.buf, l.len, &err) < 0)
		die("write");
	buf_release(&l);
	drain(tag, &m, &b);
}

int
main(int argc, char **argv)
{
	struct tls_opts o = { TLS_NONE, NULL, NULL, 0, 120000 };
	struct secrets sec = SECRETS_INIT;
	struct buf l = BUF_INIT, greet = BUF_INIT;
	unsigned long long msgs = 0, bytes = 0;
	const char *mode = "starttls", *pw;
	int c, i;

	while ((c = getopt(argc, argv, "C:m:")) != -1) {
		if (c == 'C')
			o.ca_file = optarg;
		else if (c == 'm')
			mode = optarg;
		else
			return 64;
	}
	argc -= optind;
	argv += optind;
	if (argc < 4 || secrets_read(&sec, 0, &err) < 0 ||
	    !(pw = secrets_get(&sec, "password")))
		return 64;
	if (tls_conn_open(&conn, argv[0], argv[1], &o, &err) < 0)
		die("connect");
	buf_init(&greet, 65536);
	if (tls_conn_read_line(conn, &greet, &err) <= 0)
		die("greeting");
	if (!strcmp(mode, "starttls")) {
		cmd("s", "STARTTLS%s", "");
		if (tls_conn_starttls(conn, &err) < 0)
			die("starttls");
	}
	buf_addf(&l, "l LOGIN \"%s\" \"%s\"", argv[2], pw);
	cmd("l", "%s", l.buf + 2);
	for (i = 3; i < argc; i++) {
		cmd("e", "EXAMINE \"%s\"", argv[i]);
		buf_reset(&l);
		buf_adds(&l, "f UID FETCH 1:* BODY.PEEK[]\r\n");
		if (tls_conn_write(conn, l.buf, l.len, &err) < 0)
			die("write");
		drain("f", &msgs, &bytes);
	}
	printf("%llu %llu\n", msgs, bytes);
	buf_release_wipe(&l);
	secrets_clear(&sec);
	tls_conn_free(&conn);
	return 0;
}
