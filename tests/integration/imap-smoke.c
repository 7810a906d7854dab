/*
 * imap-smoke: prove an IMAP server of the test world is real, through the
 * TLS connection object of helpers/lib.
 *
 *	imap-smoke [-C ca-file] [-k] [-m none|starttls|implicit] [-n name]
 *	    HOST PORT LOGIN MAILBOX
 *
 * The password comes on stdin as a secrets block (password=...).  It logs
 * in, LISTs, EXAMINEs MAILBOX, FETCHes the first message whole with
 * BODY.PEEK[] and prints what it saw as "key value" lines:
 *
 *	tls TLSv1.3 ...		list N		exists N
 *	fetched N		seen-before 0|1	seen-after 0|1
 *
 * Exit 0 when all went through, 77 when the login was refused, 69 when the
 * server or TLS failed, 76 when a response made no sense.
 */
#include "compat.h"

#include "buf.h"
#include "imap_resp.h"
#include "secret.h"
#include "tls.h"

static struct tls_conn *conn;
static struct buf err = BUF_INIT;
static int tagn;

static void ATTR_NORETURN
fail(int code, const char *what)
{
	fprintf(stderr, "imap-smoke: %s%s%s\n", what, err.len ? ": " : "",
	    err.buf);
	exit(code);
}

static int
count_sink(void *arg, const char *data, size_t len)
{
	*(size_t *)arg += len;
	return 0;
}

/* every literal goes to the counter: a body is measured, not kept */
static size_t *litp;

static void
divert(void *arg, const struct imap_resp *sofar, const struct imap_val *list,
    size_t len, imap_sink_fn *sink_r, void **sarg_r)
{
	*sink_r = count_sink;
	*sarg_r = litp;
}

/*
 * Send a command and read responses with imap_resp_read() up to its
 * tagged answer; untagged ones are dumped into `untagged`, one a line.
 * Returns 1 for OK, 0 for NO or BAD.
 */
static int
command(const char *cmd, struct buf *untagged, size_t *literal_r)
{
	struct imap_src src = { 0 };
	struct imap_resp r = { 0 };
	struct buf line = BUF_INIT;
	size_t lit = 0;
	char tag[16];
	int ok = -1, ret;

	imap_src_from_tls(&src, conn);
	src.divert = divert;
	snprintf(tag, sizeof(tag), "t%d", ++tagn);
	buf_addf(&line, "%s %s\r\n", tag, cmd);
	if (tls_conn_write(conn, line.buf, line.len, &err) < 0)
		fail(69, "write");
	buf_release_wipe(&line);
	while (ok < 0) {
		litp = &lit;
		ret = imap_resp_read(&src, &r, &err);
		if (ret == IMAP_READ_BAD)
			fail(76, "response");
		if (ret != IMAP_READ_OK)
			fail(69, "read");
		if (!strcmp(r.tag, tag)) {
			ok = imap_atom_is(&r.vals.items[0], "OK");
		} else if (untagged) {
			imap_resp_dump(&r, untagged);
			buf_addch(untagged, '\n');
		}
	}
	if (literal_r)
		*literal_r = lit;
	imap_resp_release(&r);
	return ok;
}

static int
count_lines(const struct buf *b, const char *prefix)
{
	const char *p = b->buf;
	int n = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

static int
seen_flag(void)
{
	struct buf out = BUF_INIT;
	int seen;

	if (command("FETCH 1 (FLAGS)", &out, NULL) != 1)
		fail(76, "FETCH FLAGS refused");
	seen = strstr(out.buf, "\\Seen") != NULL;
	buf_release(&out);
	return seen;
}

int
main(int argc, char **argv)
{
	struct tls_opts o = { TLS_NONE, NULL, NULL, 0, 30000 };
	struct secrets sec = SECRETS_INIT;
	struct buf out = BUF_INIT, cmd = BUF_INIT, greet;
	const char *mode = "starttls", *pw;
	size_t fetched = 0;
	int c, before;
	long exists;

	while ((c = getopt(argc, argv, "C:km:n:")) != -1) {
		switch (c) {
		case 'C': o.ca_file = optarg; break;
		case 'k': o.insecure = 1; break;
		case 'm': mode = optarg; break;
		case 'n': o.servername = optarg; break;
		default: return 64;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4) {
		fprintf(stderr, "usage: imap-smoke [-C ca] [-k] [-m mode] "
		    "[-n name] host port login mailbox\n");
		return 64;
	}
	if (secrets_read(&sec, 0, &err) < 0 ||
	    !(pw = secrets_get(&sec, "password")))
		fail(64, "no password on stdin");
	if (!strcmp(mode, "implicit"))
		o.mode = TLS_IMPLICIT;
	if (tls_conn_open(&conn, argv[0], argv[1], &o, &err) < 0)
		fail(69, "connect");
	buf_init(&greet, 65536);
	if (tls_conn_read_line(conn, &greet, &err) <= 0 ||
	    strncmp(greet.buf, "* OK", 4))
		fail(76, "no greeting");
	if (!strcmp(mode, "starttls")) {
		if (command("STARTTLS", NULL, NULL) != 1)
			fail(76, "STARTTLS refused");
		if (tls_conn_starttls(conn, &err) < 0)
			fail(69, "STARTTLS");
	}
	printf("tls %s\n", tls_conn_describe(conn));

	/* quoted strings: the world's passwords are hex, logins plain */
	buf_addf(&cmd, "LOGIN \"%s\" \"%s\"", argv[2], pw);
	if (command(cmd.buf, NULL, NULL) != 1) {
		buf_release_wipe(&cmd);
		fail(77, "LOGIN refused");
	}
	buf_release_wipe(&cmd);
	secrets_clear(&sec);
	printf("login ok\n");

	if (command("LIST \"\" \"*\"", &out, NULL) != 1)
		fail(76, "LIST refused");
	printf("list %d\n", count_lines(&out, "* (LIST "));

	buf_reset(&out);
	buf_addf(&cmd, "EXAMINE \"%s\"", argv[3]);
	if (command(cmd.buf, &out, NULL) != 1)
		fail(76, "EXAMINE refused");
	{
		char *p = strstr(out.buf, " EXISTS");

		while (p && p > out.buf && p[-1] != '(')
			p--;
		exists = p ? strtol(p, NULL, 10) : -1L;
		printf("exists %ld\n", exists);
	}
	if (exists <= 0)
		goto logout;
	before = seen_flag();
	if (command("FETCH 1 (BODY.PEEK[])", NULL, &fetched) != 1)
		fail(76, "FETCH refused");
	printf("fetched %zu\n", fetched);
	printf("seen-before %d\nseen-after %d\n", before, seen_flag());
logout:
	command("LOGOUT", NULL, NULL);
	tls_conn_free(&conn);
	buf_release(&out);
	buf_release(&cmd);
	buf_release(&greet);
	buf_release(&err);
	return 0;
}
