#include "test-lib.h"

#include "buf.h"
#include "sievereq.h"
#include "strlist.h"

/* scripts and the extensions their require commands name, joined by ' ' */
static const struct {
	const char *script, *want;
} good[] = {
	{ "", "" },
	{ "keep;", "" },
	{ "require \"fileinto\";\nfileinto \"Junk\";", "fileinto" },
	{ "REQUIRE [\"vacation\", \"imap4flags\"];", "vacation imap4flags" },
	{ "require [\"a\",\"b\"]; require \"a\"; require [\"c\"];", "a b c" },
	{ "# require \"no\";\nrequire \"yes\";", "yes" },
	{ "/* require \"no\";\n */ require \"yes\";", "yes" },
	{ "require \"esc\\\"aped\";", "esc\"aped" },
	/* a vacation text that holds the word: not a command */
	{ "require \"vacation\";\nvacation text:\nrequire \"x\";\n..dot\n.\n;",
	    "vacation" },
	{ "if true { require \"inner\"; }", "inner" },
	/* an argument named require is not the command */
	{ "fileinto require;", "" },
	{ "require \"comparator-i;ascii-numeric\";\r\n",
	    "comparator-i;ascii-numeric" },
	{ "require text:\nmulti\n.\n;", "multi\r\n" },
	{ "require [\"\", \"x\"];", " x" },
};

static const char *bad[] = {
	"require \"open;",
	"/* never closed",
	"require;",
	"require [\"a\" \"b\"];",
	"require [\"a\",];",
	"require \"a\"",
	"require [];",
	"vacation text:\nno end\n",
	"vacation text: junk\n.\n",
};

static void
joined(const struct strlist *l, struct buf *b)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < l->nr; i++)
		buf_addf(b, "%s%s", i ? " " : "", l->v[i]);
}

int
main(void)
{
	struct strlist l = { 0 };
	struct buf b = BUF_INIT, err = BUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		check_int(sieve_requires(good[i].script, strlen(good[i].script),
		    &l, &err), ==, 0);
		joined(&l, &b);
		check_str(b.buf, good[i].want);
		strlist_free(&l);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		check_int(sieve_requires(bad[i], strlen(bad[i]), &l, &err),
		    ==, -1);
		check(!strncmp(err.buf, "line ", 5));
		strlist_free(&l);
	}
	buf_reset(&err);
	sieve_requires("\n\n/* x */ require 7;", 19, &l, &err);
	check_str(err.buf, "line 3: require is not followed by its strings"
	    " and ;");
	strlist_free(&l);

	check(sieve_offers("fileinto reject vacation", "vacation"));
	check(sieve_offers("fileinto reject vacation", "fileinto"));
	check(!sieve_offers("fileinto reject vacation-seconds", "vacation"));
	check(!sieve_offers("xfileinto", "fileinto"));
	check(!sieve_offers("", "mime"));
	check(!sieve_offers(NULL, "mime"));
	check(!sieve_offers("fileinto", ""));	/* and it ends */
	check(sieve_offers("", "comparator-i;octet"));
	buf_release(&b);
	buf_release(&err);
	return test_done();
}
