/*
 * opt.h: option values in numbers.
 */
#ifndef MIGRATE_OPT_H
#define MIGRATE_OPT_H

#include <stddef.h>
#include <stdint.h>

/*
 * A number given to option `opt`, with an optional k, M or G (powers of
 * 1024), at least `min`; anything else exits with EX_USAGE and says so.
 */
uint64_t opt_size(const char *opt, const char *s, uint64_t min);

/* `b` bytes as people read them ("1.2 GB", powers of 1000), into `out`. */
const char *human_bytes(double b, char *out, size_t n);

#endif
