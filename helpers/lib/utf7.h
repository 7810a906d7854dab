/*
 * utf7.h: IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3).
 *
 * Servers without UTF8=ACCEPT send mailbox names in modified UTF-7:
 * printable ASCII stands for itself ("&" as "&-"), anything else is
 * UTF-16 in a base64 variant between "&" and "-".
 */
#ifndef MIGRATE_UTF7_H
#define MIGRATE_UTF7_H

#include <stddef.h>

struct buf;

/*
 * Append the UTF-8 form of `in` to `out`.  Returns 0, or -1 when `in` is
 * not valid modified UTF-7 (bad base64, bits left over, a lone surrogate,
 * raw 8-bit bytes, printable ASCII encoded, an unterminated shift); `out`
 * is then left as it was.
 */
int utf7_decode(const char *in, size_t len, struct buf *out);

/* Append the modified UTF-7 form of UTF-8 `in`; -1 if `in` is not UTF-8. */
int utf7_encode(const char *in, size_t len, struct buf *out);

/* Whether `s` is well-formed UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);

#endif
