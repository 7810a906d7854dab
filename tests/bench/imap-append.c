/*
 * imap-append: imapsync-class copying for `make bench`: a tight IMAP
 * client that APPENDs .eml files (named on standard input, after the
 * secrets block) into one folder, with LITERAL+ and 16 commands in
 * flight, no checks.  The destination's IMAP ingest rate, to set beside
 * its JMAP one.
 *
 *	imap-append [-C ca-file] host port login folder <secrets-and-files
 *
 * STARTTLS first.  Prints "messages BYTES".
 */
#include "compat.h"

#include "buf.h"
#include "secret.h"
#include "tls.h"

#include "eml.h"

#define WINDOW	16

static struct tls_conn *conn;
static struct buf err = BUF_INIT;

static void
die(const char *what)
{
	fprintf(stderr, "imap-append: %s: %s\n", what, err.buf);
	exit(1);
}

/* Read lines up to the tagged answer of `tag`; die unless it is OK. */
static void
wait_tag(unsigned tag)
{
	struct buf line = BUF_INIT;
	char want[32];

	snprintf(want, sizeof(want), "a%u ", tag);
	buf_init(&line, 1 << 20);
	for (;;) {
		buf_reset(&line);
		if (tls_conn_read_line(conn, &line, &err) <= 0)
			die("read");
		if (!strncmp(line.buf, want, strlen(want))) {
			if (strncmp(line.buf + strlen(want), "OK", 2))
				die(line.buf);
			break;
		}
	}
	buf_release(&line);
}

static void
send_line(const char *s)
{
	if (tls_conn_write(conn, s, strlen(s), &err) < 0)
		die("write");
}

int
main(int argc, char **argv)
{
	struct tls_opts o = { TLS_NONE, NULL, NULL, 0, 120000 };
	struct secrets sec = SECRETS_INIT;
	struct buf l = BUF_INIT, greet = BUF_INIT;
	unsigned long long msgs = 0, bytes = 0;
	unsigned tag = 1, oldest = 1;
	char path[4096];
	const char *pw;
	int c;

	while ((c = getopt(argc, argv, "C:")) != -1) {
		if (c != 'C')
			return 64;
		o.ca_file = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc != 4 || secrets_read(&sec, 0, &err) < 0 ||
	    !(pw = secrets_get(&sec, "password")))
		return 64;
	if (tls_conn_open(&conn, argv[0], argv[1], &o, &err) < 0)
		die("connect");
	buf_init(&greet, 65536);
	if (tls_conn_read_line(conn, &greet, &err) <= 0)
		die("greeting");
	send_line("a0 STARTTLS\r\n");
	{
		struct buf line = BUF_INIT;

		buf_init(&line, 65536);
		if (tls_conn_read_line(conn, &line, &err) <= 0 ||
		    strncmp(line.buf, "a0 OK", 5))
			die("STARTTLS");
		buf_release(&line);
	}
	if (tls_conn_starttls(conn, &err) < 0)
		die("starttls");
	buf_addf(&l, "a%u LOGIN \"%s\" \"%s\"\r\n", tag, argv[2], pw);
	send_line(l.buf);
	buf_release_wipe(&l);
	wait_tag(tag++);
	oldest = tag;
	while (fgets(path, sizeof(path), stdin)) {
		size_t len;
		char *data;

		path[strcspn(path, "\n")] = '\0';
		data = eml_read(path, &len);
		buf_reset(&l);
		buf_addf(&l, "a%u APPEND \"%s\" (\\Seen) {%zu+}\r\n", tag,
		    argv[3], len);
		send_line(l.buf);
		if (tls_conn_write(conn, data, len, &err) < 0)
			die("write");
		send_line("\r\n");
		free(data);
		tag++;
		msgs++;
		bytes += len;
		while (tag - oldest >= WINDOW)
			wait_tag(oldest++);
	}
	while (oldest < tag)
		wait_tag(oldest++);
	printf("%llu %llu\n", msgs, bytes);
	buf_release(&l);
	secrets_clear(&sec);
	tls_conn_free(&conn);
	return 0;
}
