/*
 * pwscheme.h: a password entry as a Dovecot passdb holds it ("{SCHEME}
 * value", doveadm-pw(1)), and the form another server takes it in.
 *
 * Stalwart verifies a stored secret by its prefix: "$6$", "$2y$",
 * "$argon2id$" (crypt and PHC strings) or "{SSHA}" and its kin (LDAP
 * style, base64); a secret with no prefix it knows is a plain password.
 * pw_stalwart() turns a Dovecot entry into that form, or says why it
 * cannot be carried without the user's password.
 */
#ifndef MIGRATE_PWSCHEME_H
#define MIGRATE_PWSCHEME_H

#include <stddef.h>

enum pw_form {
	PW_NONE,		/* cannot be carried; see `why` */
	PW_HASH,		/* a hash the server verifies as it is */
	PW_PLAIN,		/* the password itself (the server hashes it) */
};

/*
 * The scheme of `entry`, upper case, into `scheme` (at most `size`
 * bytes): "SHA512-CRYPT" of "{SHA512-CRYPT}$6$...", "CRYPT" of a bare
 * crypt string, "" of a bare value that is none.  Returns the value
 * after the prefix.
 */
const char *pw_scheme(const char *entry, char *scheme, size_t size);

/*
 * `entry` in the form Stalwart verifies, into *out_r (the caller wipes
 * and frees it), or PW_NONE with *why_r saying why (a static string).
 */
enum pw_form pw_stalwart(const char *entry, char **out_r, const char **why_r);

#endif
