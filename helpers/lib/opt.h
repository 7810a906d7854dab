/*
 * opt.h: command-line options, described by a table, and their values.
 */
#ifndef MIGRATE_OPT_H
#define MIGRATE_OPT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct strlist;

/*
 * One option: its long name, what it takes, and where its value goes,
 * as git's parse-options has them.  A table of them ends with OPT_END.
 */
enum opt_kind {
	OPT_KIND_END,
	OPT_KIND_STRING,	/* const char *: the argument itself */
	OPT_KIND_FLAG,		/* int: set to 1; takes no argument */
	OPT_KIND_SIZE,		/* uint64_t: opt_size(), at least `min` */
	OPT_KIND_INT,		/* int: from `min` to `max` */
	OPT_KIND_LIST,		/* struct strlist: each one added */
	OPT_KIND_CHOICE,	/* int: the index of the argument among
				 * `choices`, "a|b|c" */
};

struct opt {
	const char *name;
	enum opt_kind kind;
	void *value;
	long long min, max;
	const char *choices;
};

/* Each macro checks the type of the value it is given. */
#define OPT_TYPED(t, v) ((void *)(1 ? (v) : (t *)0))
#define OPT_STRING(n, v) \
	{ (n), OPT_KIND_STRING, OPT_TYPED(const char *, v), 0, 0, NULL }
#define OPT_FLAG(n, v) { (n), OPT_KIND_FLAG, OPT_TYPED(int, v), 0, 0, NULL }
#define OPT_SIZE(n, v, lo) \
	{ (n), OPT_KIND_SIZE, OPT_TYPED(uint64_t, v), (lo), 0, NULL }
#define OPT_INT(n, v, lo, hi) \
	{ (n), OPT_KIND_INT, OPT_TYPED(int, v), (lo), (hi), NULL }
#define OPT_LIST(n, v) \
	{ (n), OPT_KIND_LIST, OPT_TYPED(struct strlist, v), 0, 0, NULL }
#define OPT_CHOICE(n, v, c) \
	{ (n), OPT_KIND_CHOICE, OPT_TYPED(int, v), 0, 0, (c) }
#define OPT_END { NULL, OPT_KIND_END, NULL, 0, 0, NULL }

/*
 * Read argv's options, as getopt_long() finds them, into the tables of
 * `tables` (`nr` of them), --help included.  --help, an unknown option or
 * an operand return -1; a bad value exits with EX_USAGE and says which.
 */
int opt_parse(int argc, char **argv, const struct opt *const *tables,
    size_t nr);

/*
 * A number given to option `opt`, with an optional k, M or G (powers of
 * 1024), at least `min`; anything else exits with EX_USAGE and says so.
 */
uint64_t opt_size(const char *opt, const char *s, uint64_t min);

/* `b` bytes as people read them ("1.2 GB", powers of 1000), into `out`. */
const char *human_bytes(double b, char *out, size_t n);

#endif
