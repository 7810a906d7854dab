/*
 * sievereq.h: the extensions a Sieve script asks for, read from its
 * `require` commands (RFC 5228, 3.2) without running or checking the
 * script: what a destination must offer before it takes the script.
 */
#ifndef MIGRATE_SIEVEREQ_H
#define MIGRATE_SIEVEREQ_H

#include <stddef.h>

#include "buf.h"
#include "strlist.h"

/*
 * Append to `out` the capability strings of every `require` in `text`,
 * in order and each once.  Comments and strings are skipped as the
 * grammar says (RFC 5228, 8.1), so a "require" inside a vacation text is
 * not one.  Returns 0; -1 when the script cannot be read that far (a
 * string or comment left open, a require without its strings), with
 * `err` naming the line.
 */
int sieve_requires(const char *text, size_t len, struct strlist *out,
    struct buf *err);

/*
 * Whether `offered`, a ManageSieve SIEVE capability (names separated by
 * spaces), holds extension `ext`.  The comparators every implementation
 * has (RFC 5228, 2.7.3) are always offered.
 */
int sieve_offers(const char *offered, const char *ext);

#endif
