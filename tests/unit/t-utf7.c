#include "test-lib.h"

#include "buf.h"
#include "utf7.h"

/* the shape of isync's tst_imap_utf7.c: pairs both ways, then bad input */
static const struct {
	const char *utf8, *utf7;
} pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Q&A", "Q&-A" },
	{ "&&", "&-&-" },
	{ "Café Ünïcödé ☕", "Caf&AOk- &ANw-n&AO8-c&APY-d&AOk- &JhU-" },
	{ "Пример", "&BB8EQAQ4BDwENQRA-" },
	{ "日本語", "&ZeVnLIqe-" },
	{ "Back\\slash & Co", "Back\\slash &- Co" },
	{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "😀 emoji", "&2D3eAA- emoji" },
	{ "a\tb", "a&AAk-b" },
};

static const char *bad7[] = {
	"&",			/* unterminated */
	"&AOk",			/* unterminated */
	"&AO!-",		/* not base64 */
	"&AOl-",		/* bits left over that are not zero */
	"&2D0-",		/* lone high surrogate */
	"&3gA-",		/* lone low surrogate */
	"&AGE-",		/* "a", which must be written plainly */
	"caf\xc3\xa9",		/* raw 8-bit */
	"tab\there",		/* a control character */
	"&AOkA6Q",		/* unterminated after a full unit */
};

static const char *bad8[] = {
	"\xc3",			/* cut short */
	"\xc0\xaf",		/* overlong */
	"\xed\xa0\x80",		/* a surrogate */
	"\xff",
	"\xf4\x90\x80\x80",	/* past U+10FFFF */
};

int
main(void)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		buf_reset(&b);
		check_int(utf7_decode(pairs[i].utf7, strlen(pairs[i].utf7), &b),
		    ==, 0);
		check_str(b.buf, pairs[i].utf8);
		buf_reset(&b);
		check_int(utf7_encode(pairs[i].utf8, strlen(pairs[i].utf8), &b),
		    ==, 0);
		check_str(b.buf, pairs[i].utf7);
		check(utf8_valid(pairs[i].utf8, strlen(pairs[i].utf8)));
	}
	for (i = 0; i < ARRAY_SIZE(bad7); i++) {
		buf_reset(&b);
		buf_adds(&b, "keep");
		check_int(utf7_decode(bad7[i], strlen(bad7[i]), &b), ==, -1);
		check_str(b.buf, "keep");
	}
	for (i = 0; i < ARRAY_SIZE(bad8); i++) {
		buf_reset(&b);
		check(!utf8_valid(bad8[i], strlen(bad8[i])));
		check_int(utf7_encode(bad8[i], strlen(bad8[i]), &b), ==, -1);
		check_int(b.len, ==, 0);
	}
	buf_release(&b);
	return test_done();
}
