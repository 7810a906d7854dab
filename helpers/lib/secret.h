/*
 * secret.h: secrets on a helper's stdin (migrate-helper(7)).
 *
 * Before anything else a helper reads `key=value` lines from stdin, ended
 * by an empty line; a value runs to the end of its line, unquoted, at most
 * SECRET_LINE_MAX bytes.  stdin at end of file straight away means no
 * secrets (a helper run by hand with </dev/null); end of file after some
 * lines but before the empty line is an error, since the secrets may be
 * cut short.  Values are wiped from memory when released.
 */
#ifndef MIGRATE_SECRET_H
#define MIGRATE_SECRET_H

#include <stddef.h>

struct buf;

#define SECRET_LINE_MAX	(64 * 1024)

struct secret {
	char *key;
	char *value;
};

struct secrets {
	struct secret *items;
	size_t nr, alloc;
};

#define SECRETS_INIT { NULL, 0, 0 }

/*
 * Read the secrets block from `fd`, one byte at a time so that nothing
 * after the empty line is consumed.  Returns 0 or -1 with `err` set.
 */
int secrets_read(struct secrets *s, int fd, struct buf *err);

/* Add or replace `key`; -1 if the key or value cannot be carried. */
int secrets_set(struct secrets *s, const char *key, const char *value);

/* The value of `key`, or NULL. */
const char *secrets_get(const struct secrets *s, const char *key);

/* The block for a child's stdin, ended by the empty line. */
void secrets_format(const struct secrets *s, struct buf *out);

/* Wipe and free everything. */
void secrets_clear(struct secrets *s);

/*
 * For a process that holds secrets, first thing: no core dump, and no
 * other process of its user may read its memory (RLIMIT_CORE 0,
 * PR_SET_DUMPABLE 0).  Exits when the kernel refuses.
 */
void secrets_no_core(void);

/*
 * Every JSON value is wiped when it is freed: an answer may carry a
 * password, a token or a hash (a directory's listing, a session), and
 * json_decref() would leave it in the freed memory.  Called before the
 * first JSON value is made.
 */
void secrets_wipe_json(void);

/* Base64 (RFC 4648) of `len` bytes, appended to `out`; the scratch
 * copy is wiped (it may be a secret). */
void b64_encode(const void *in, size_t len, struct buf *out);
/* Base64 decoded into `out`; -1 when it is not base64 ("=" alone is the
 * empty string, as SASL says). */
int b64_decode(const char *in, size_t len, struct buf *out);

#endif
