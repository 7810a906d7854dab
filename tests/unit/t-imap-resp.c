#include "test-lib.h"

#include "buf.h"
#include "imap_resp.h"

/* A source reading from memory, as a server would send. */
struct mem {
	const char *data;
	size_t len, pos;
	size_t diverted;	/* bytes that went to the sink */
	int divert_body;	/* divert literals that follow BODY[] */
};

static int
mem_line(void *arg, struct buf *line, struct buf *err)
{
	struct mem *m = arg;
	const char *nl;
	size_t n;

	if (m->pos >= m->len)
		return 0;
	nl = memchr(m->data + m->pos, '\n', m->len - m->pos);
	n = nl ? (size_t)(nl - (m->data + m->pos)) + 1 : m->len - m->pos;
	if (buf_add(line, m->data + m->pos, n) < 0) {
		buf_adds(err, "line too long");
		return -1;
	}
	m->pos += n;
	if (!nl) {
		buf_adds(err, "closed in the middle of a line");
		return -1;
	}
	return 1;
}

static int
mem_literal(void *arg, size_t len, imap_sink_fn sink, void *sarg,
    struct buf *err)
{
	struct mem *m = arg;

	if (m->len - m->pos < len) {
		buf_addf(err, "closed with %zu bytes still to come",
		    len - (m->len - m->pos));
		return -1;
	}
	if (sink(sarg, m->data + m->pos, len) < 0)
		return -1;
	m->pos += len;
	return 0;
}

static int
count_sink(void *sarg, const char *data, size_t len)
{
	*(size_t *)sarg += len;
	return 0;
}

static void
divert(void *arg, const struct imap_resp *sofar, const struct imap_val *list,
    size_t len, imap_sink_fn *sink_r, void **sarg_r)
{
	struct mem *m = arg;

	if (m->divert_body && list->nr &&
	    imap_atom_is(&list->items[list->nr - 1], "BODY[]")) {
		*sink_r = count_sink;
		*sarg_r = &m->diverted;
	}
}

static const struct {
	const char *in;
	int ret;
	const char *want;	/* the dump, or a part of the error */
} cases[] = {
	{ "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n",
	    IMAP_READ_OK,
	    "* (OK) [(CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN)] text=Dovecot ready." },
	{ "a1 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).\r\n",
	    IMAP_READ_OK,
	    "a1 (OK) [(READ-ONLY)] text=Examine completed (0.001 + 0.000 secs)." },
	{ "a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
	    IMAP_READ_OK, "a2 (NO) [(AUTHENTICATIONFAILED)] text=Authentication failed." },
	{ "* OK [PERMANENTFLAGS (\\Answered \\Seen $Forwarded \\*)] Flags.\r\n",
	    IMAP_READ_OK,
	    "* (OK) [(PERMANENTFLAGS (\\Answered \\Seen $Forwarded \\*))] text=Flags." },
	{ "* BYE Server shutting down\r\n", IMAP_READ_OK,
	    "* (BYE) text=Server shutting down" },
	{ "+ \r\n", IMAP_READ_OK, "+ () text=" },
	{ "+\r\n", IMAP_READ_OK, "+ () text=" },
	{ "* 23 EXISTS\r\n", IMAP_READ_OK, "* (23 EXISTS)" },
	{ "* 5 EXPUNGE\r\n", IMAP_READ_OK, "* (5 EXPUNGE)" },
	{ "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n", IMAP_READ_OK,
	    "* (LIST (\\HasNoChildren \\Sent) \"/\" Sent)" },
	{ "* LIST () \"/\" \"Back\\\\slash &- Co\"\r\n", IMAP_READ_OK,
	    "* (LIST () \"/\" \"Back\\slash &- Co\")" },
	{ "* LIST () NIL INBOX\r\n", IMAP_READ_OK, "* (LIST () NIL INBOX)" },
	{ "* LIST () \"/\" {12}\r\nOdd \"name\"\r\n\r\n", IMAP_READ_OK,
	    "* (LIST () \"/\" {Odd \"name\"??})" },
	{ "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n", IMAP_READ_OK,
	    "* (NAMESPACE ((\"\" \"/\")) NIL NIL)" },
	{ "* STATUS \"Caf&AOk-\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 17)\r\n",
	    IMAP_READ_OK,
	    "* (STATUS \"Caf&AOk-\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 17))" },
	{ "* 1 FETCH (UID 7 FLAGS (\\Seen) INTERNALDATE \"15-Dec-1995 05:40:16 +0000\" RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n",
	    IMAP_READ_OK,
	    "* (1 FETCH (UID 7 FLAGS (\\Seen) INTERNALDATE \"15-Dec-1995 05:40:16 +0000\" RFC822.SIZE 5 BODY[] {hello}))" },
	{ "* 2 FETCH (BODY[] {0}\r\n UID 8)\r\n", IMAP_READ_OK,
	    "* (2 FETCH (BODY[] {} UID 8))" },
	{ "* 3 FETCH (BODY[HEADER.FIELDS (From To)] {4}\r\nF: x)\r\n",
	    IMAP_READ_OK, "* (3 FETCH (BODY[HEADER.FIELDS (From To)] {F: x}))" },
	{ "* 4 FETCH (BINARY[] ~{2}\r\n\x00\x01)\r\n", IMAP_READ_OK,
	    "* (4 FETCH (BINARY[] {??}))" },
	{ "* 5 FETCH (FLAGS ())\n", IMAP_READ_OK, "* (5 FETCH (FLAGS ()))" },
	{ "*  6   FETCH  (UID  9)\r\n", IMAP_READ_OK, "* (6 FETCH (UID 9))" },
	{ "* SEARCH\r\n", IMAP_READ_OK, "* (SEARCH)" },
	{ "* VANISHED (EARLIER) 1:5,9\r\n", IMAP_READ_OK,
	    "* (VANISHED (EARLIER) 1:5,9)" },
	{ "* ID (\"name\" \"Dovecot\" \"x\" NIL)\r\n", IMAP_READ_OK,
	    "* (ID (\"name\" \"Dovecot\" \"x\" NIL))" },
	{ "* LIST () \"/\" \"Gr\xc3\xbc\xc3\x9f" "e\"\r\n", IMAP_READ_OK,
	    "* (LIST () \"/\" \"Gr????e\")" },
	{ "", IMAP_READ_EOF, "" },
	/* broken */
	{ "\r\n", IMAP_READ_BAD, "no tag" },
	{ "*\r\n", IMAP_READ_BAD, "no response type" },
	{ "* LIST (\\HasNoChildren \"/\" INBOX\r\n", IMAP_READ_BAD,
	    "unbalanced parentheses" },
	{ "* LIST ()) \"/\" INBOX\r\n", IMAP_READ_BAD, "unbalanced" },
	{ "* LIST () \"/\" \"INBOX\r\n", IMAP_READ_BAD, "unterminated string" },
	{ "* LIST () \"/\" \"IN\\BOX\"\r\n", IMAP_READ_BAD, "bad escape" },
	{ "* OK [ALERT\r\n", IMAP_READ_BAD, "unterminated response code" },
	{ "* 1 FETCH (BODY[] {5} UID 3)\r\n", IMAP_READ_BAD,
	    "literal not at the end" },
	{ "* 1 FETCH (BODY[] {5x}\r\n", IMAP_READ_BAD, "bad literal" },
	{ "* 1 FETCH (BODY[] {99999999999999}\r\n", IMAP_READ_BAD,
	    "literal too large" },
	{ "* 1 FETCH (BODY[] {2000000}\r\n", IMAP_READ_BAD,
	    "larger than allowed in memory" },
	{ "* 1 FETCH (BODY[HEADER\r\n", IMAP_READ_BAD, "unterminated section" },
	{ "* 1 FETCH (BODY[] {10}\r\nshort", IMAP_READ_IO, "still to come" },
	{ "* 1 FETCH (BODY[] {5}\r\nhello", IMAP_READ_IO, "middle of a response" },
	{ "* 1 FETCH (UID 3", IMAP_READ_IO, "middle of a line" },
	{ "* \x1b[31mevil\x07 (\r\n", IMAP_READ_BAD, "'* ?[31mevil? ('" },
};

static void
t_table(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mem m = { cases[i].in, strlen(cases[i].in), 0, 0, 0 };
		struct imap_src src = { mem_line, mem_literal, divert, &m,
		    &m, 0, 0 };
		struct imap_resp r = { 0 };
		struct buf err = BUF_INIT, dump = BUF_INIT;
		int ret;

		/* the one case with NUL bytes in it */
		if (strstr(cases[i].in, "~{2}"))
			m.len = strlen(cases[i].in) + 5;
		ret = imap_resp_read(&src, &r, &err);
		check_int(ret, ==, cases[i].ret);
		if (ret == IMAP_READ_OK) {
			imap_resp_dump(&r, &dump);
			check_str(dump.buf, cases[i].want);
		} else if (!check(strstr(err.buf, cases[i].want) != NULL)) {
			printf("#   case %zu: '%s'\n", i, err.buf);
		}
		imap_resp_release(&r);
		buf_release(&err);
		buf_release(&dump);
	}
}

static void
t_stream(void)
{
	/* responses one after another; a body diverted to a sink */
	static const char in[] =
	    "* 1 FETCH (UID 10 BODY[] {11}\r\nhello world)\r\n"
	    "* 1 EXPUNGE\r\n"
	    "a3 OK done\r\n";
	struct mem m = { in, sizeof(in) - 1, 0, 0, 1 };
	struct imap_src src = { mem_line, mem_literal, divert, &m, &m, 0, 0 };
	struct imap_resp r = { 0 };
	struct buf err = BUF_INIT, dump = BUF_INIT;

	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_OK);
	imap_resp_dump(&r, &dump);
	check_str(dump.buf, "* (1 FETCH (UID 10 BODY[] <11 diverted>))");
	check_int(m.diverted, ==, 11);
	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_OK);
	check(imap_atom_is(&r.vals.items[1], "expunge"));
	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_OK);
	check_str(r.tag, "a3");
	check_str(r.text, "done");
	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_EOF);
	imap_resp_release(&r);
	buf_release(&err);
	buf_release(&dump);
}

static void
t_limits(void)
{
	struct buf in = BUF_INIT, err = BUF_INIT;
	struct imap_resp r = { 0 };
	struct mem m;
	struct imap_src src = { mem_line, mem_literal, NULL, &m, NULL, 100, 0 };
	int i;

	/* lists nested past the limit */
	buf_adds(&in, "* X ");
	for (i = 0; i < 100; i++)
		buf_addch(&in, '(');
	for (i = 0; i < 100; i++)
		buf_addch(&in, ')');
	buf_adds(&in, "\r\n");
	m = (struct mem){ in.buf, in.len, 0, 0, 0 };
	src.max_line = 0;
	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_BAD);
	check(strstr(err.buf, "nested too deep") != NULL);

	/* a line over the cap */
	buf_reset(&in);
	buf_adds(&in, "* SEARCH");
	while (in.len < 300)
		buf_adds(&in, " 12345");
	buf_adds(&in, "\r\n");
	m = (struct mem){ in.buf, in.len, 0, 0, 0 };
	src.max_line = 100;
	buf_reset(&err);
	check_int(imap_resp_read(&src, &r, &err), ==, IMAP_READ_IO);
	imap_resp_release(&r);
	buf_release(&in);
	buf_release(&err);
}

/* Token soup, deterministic: whatever comes, a result and no crash. */
static void
t_soup(void)
{
	static const char *bits[] = { "* ", "a1 ", "+ ", "(", ")", "\"", "\\",
	    "{3}\r\n", "{0}\r\n", "~{1}\r\n", "[", "]", " ", "NIL", "OK ",
	    "FETCH", "BODY[", "\r\n", "\n", "x", "\x01", "\xff", "12 " };
	unsigned long long seed = 42;
	int i, k, ok = 1;

	for (i = 0; i < 5000; i++) {
		struct buf in = BUF_INIT, err = BUF_INIT;
		struct imap_resp r = { 0 };
		struct mem m;
		struct imap_src src = { mem_line, mem_literal, divert, &m, &m,
		    0, 16 };
		int n = 1 + (int)(seed % 12), ret;

		for (k = 0; k < n; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf_adds(&in, bits[(seed >> 33) % ARRAY_SIZE(bits)]);
		}
		m = (struct mem){ in.buf, in.len, 0, 0, (int)(seed & 1) };
		do {
			ret = imap_resp_read(&src, &r, &err);
		} while (ret == IMAP_READ_OK && m.pos < m.len);
		if (ret < IMAP_READ_BAD || ret > IMAP_READ_OK)
			ok = 0;
		imap_resp_release(&r);
		buf_release(&in);
		buf_release(&err);
	}
	check(ok);
}

int
main(void)
{
	TEST("table", t_table());
	TEST("soup", t_soup());
	TEST("stream", t_stream());
	TEST("limits", t_limits());
	return test_done();
}
