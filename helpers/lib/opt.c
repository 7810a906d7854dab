#include "compat.h"

#include "log.h"
#include "opt.h"

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
