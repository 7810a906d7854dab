#include "compat.h"

#include <getopt.h>

#include "log.h"
#include "opt.h"
#include "strlist.h"
#include "xalloc.h"

uint64_t
opt_size(const char *opt, const char *s, uint64_t min)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		fatalx(EX_USAGE, "%s: '%s' is not a number", opt, s);
	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	}
	if (*end || n < min)
		fatalx(EX_USAGE, "%s: '%s' is not a number of at least %"
		    PRIu64, opt, s, min);
	return n;
}

/* "a|b|c": the index of `arg` among them, or -1 */
static int
choice_index(const char *choices, const char *arg)
{
	size_t len = strlen(arg);
	const char *p = choices;
	int i;

	for (i = 0; *p; i++) {
		size_t n = strcspn(p, "|");

		if (n == len && !strncmp(p, arg, n))
			return i;
		p += n + (p[n] == '|');
	}
	return -1;
}

static void
opt_take(const struct opt *o, const char *arg)
{
	char name[64], *end;
	long long n;

	snprintf(name, sizeof(name), "--%s", o->name);
	switch (o->kind) {
	case OPT_KIND_STRING: *(const char **)o->value = arg; break;
	case OPT_KIND_FLAG: *(int *)o->value = 1; break;
	case OPT_KIND_SIZE:
		*(uint64_t *)o->value = opt_size(name, arg,
		    (uint64_t)o->min);
		break;
	case OPT_KIND_INT:
		errno = 0;
		n = strtoll(arg, &end, 10);
		if (errno || end == arg || *end || n < o->min || n > o->max)
			fatalx(EX_USAGE, o->max == INT_MAX ? "%s: '%s' is "
			    "not a number of at least %lld" :
			    "%s: '%s' is not a number from %lld to %lld",
			    name, arg, o->min, o->max);
		*(int *)o->value = (int)n;
		break;
	case OPT_KIND_LIST: strlist_add(o->value, arg); break;
	case OPT_KIND_CHOICE:
		if ((*(int *)o->value = choice_index(o->choices, arg)) < 0)
			fatalx(EX_USAGE, "%s: one of %s, not '%s'", name,
			    o->choices, arg);
		break;
	case OPT_KIND_END:
		break;
	}
}

/* The tables being read; file-scope, so that a bad value's exit leaves
 * them reachable, not leaked. */
static const struct opt **flat;
static struct option *lo;

int
opt_parse(int argc, char **argv, const struct opt *const *tables,
    size_t nr)
{
	size_t n = 0, i, j;
	int c, ret = 0;

	for (i = 0; i < nr; i++)
		for (j = 0; tables[i] && tables[i][j].kind; j++) {
			flat = xreallocarray(flat, n + 1, sizeof(*flat));
			lo = xreallocarray(lo, n + 2, sizeof(*lo));
			flat[n] = &tables[i][j];
			lo[n].name = flat[n]->name;
			lo[n].has_arg = flat[n]->kind == OPT_KIND_FLAG ?
			    no_argument : required_argument;
			lo[n].flag = NULL;
			lo[n].val = 256 + (int)n;
			n++;
		}
	lo = xreallocarray(lo, n + 2, sizeof(*lo));
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	while (!ret && (c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (c >= 256 && (size_t)c < 256 + n)
			opt_take(flat[c - 256], optarg);
		else
			ret = -1;
	if (optind != argc)
		ret = -1;
	free(flat);
	free(lo);
	flat = NULL;
	lo = NULL;
	return ret;
}

const char *
human_bytes(double b, char *out, size_t n)
{
	const char *u[] = { "B", "kB", "MB", "GB", "TB" };
	int i = 0;

	while (b >= 1000 && i < 4)
		b /= 1000, i++;
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return out;
}
