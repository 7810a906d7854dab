/*
 * test-lib.h: a small TAP harness for the unit tests, in the manner of
 * git's t/unit-tests/test-lib.h.  Each test program includes it once:
 *
 *	check(cond);			one "ok N - cond" line
 *	check_int(a, ==, b);		prints both values when it fails
 *	check_str(a, b);		strcmp == 0, prints both when it fails
 *	return test_done();		"1..N", exit 1 if any failed
 */
#ifndef MIGRATE_TEST_LIB_H
#define MIGRATE_TEST_LIB_H

#include "compat.h"

static int test_count, test_failed;
static const char *test_prefix = "";

static int
test_check(int ok, const char *what, const char *file, int line)
{
	test_count++;
	printf("%sok %d - %s%s\n", ok ? "" : "not ", test_count, test_prefix,
	    what);
	if (!ok) {
		test_failed++;
		printf("# failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return ok;
}

#define check(c) test_check(!!(c), #c, __FILE__, __LINE__)

#define check_int(a, op, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (!test_check(a_ op b_, #a " " #op " " #b, __FILE__, __LINE__)) \
		printf("#   left: %lld\n#  right: %lld\n", a_, b_); \
} while (0)

#define check_str(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!test_check(a_ && b_ && !strcmp(a_, b_), #a " == " #b, \
	    __FILE__, __LINE__)) \
		printf("#   left: '%s'\n#  right: '%s'\n", a_ ? a_ : "(null)", \
		    b_ ? b_ : "(null)"); \
} while (0)

/* Run the checks of `fn` with "name: " before each description. */
#define TEST(name, fn) do { \
	test_prefix = name ": "; \
	fn; \
	test_prefix = ""; \
} while (0)

static int
test_done(void)
{
	printf("1..%d\n", test_count);
	if (test_failed)
		printf("# %d of %d failed\n", test_failed, test_count);
	return test_failed ? 1 : 0;
}

#endif
