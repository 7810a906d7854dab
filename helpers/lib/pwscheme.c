/*
 * pwscheme.c: Dovecot password entries and the forms Stalwart verifies.
 * The schemes are doveadm-pw(1)'s; Stalwart's prefixes are those of its
 * password documentation (stalw.art/docs/auth/authentication/password).
 */
#include "compat.h"

#include <ctype.h>

#include "buf.h"
#include "pwscheme.h"
#include "secret.h"
#include "xalloc.h"

const char *
pw_scheme(const char *entry, char *scheme, size_t size)
{
	const char *close;
	size_t n, i;

	*scheme = '\0';
	if (*entry != '{' || !(close = strchr(entry, '}'))) {
		if (*entry == '$')
			snprintf(scheme, size, "CRYPT");
		return entry;
	}
	n = close - entry - 1;
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		scheme[i] = toupper((unsigned char)entry[1 + i]);
	scheme[n] = '\0';
	return close + 1;
}

/* Dovecot's ".HEX" digest in base64, or NULL if it is not hex. */
static char *
hex_to_b64(const char *hex)
{
	size_t n = strlen(hex), i;
	unsigned char *raw;
	struct buf out = BUF_INIT;

	if (n == 0 || n % 2 || n > 256)
		return NULL;
	raw = xmalloc(n / 2);
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)hex[2 * i]) ||
		    !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1) {
			free(raw);
			return NULL;
		}
		raw[i] = v;
	}
	b64_encode(raw, n / 2, &out);
	free(raw);
	return buf_detach(&out, NULL);
}

/* Whether `v` is a crypt(3) string of the kind `prefix` begins. */
static int
crypt_of(const char *v, const char *prefix)
{
	return !strncmp(v, prefix, strlen(prefix)) && strlen(v) > strlen(prefix)
	    + 8;
}

/* The LDAP-style digests, base64 unless the scheme says ".HEX". */
static enum pw_form
digest(const char *scheme, const char *v, char **out_r, const char **why_r)
{
	static const char *const kinds[] = { "SHA", "SSHA", "SHA256",
	    "SSHA256", "SHA512", "SSHA512", "MD5", NULL };
	char name[32], *b64 = NULL;
	const char *dot = strchr(scheme, '.');
	size_t n = dot ? (size_t)(dot - scheme) : strlen(scheme);
	int i;

	snprintf(name, sizeof(name), "%.*s", (int)n, scheme);
	if (!strcmp(name, "SHA1"))
		snprintf(name, sizeof(name), "SHA");
	else if (!strcmp(name, "PLAIN-MD5") || !strcmp(name, "LDAP-MD5"))
		snprintf(name, sizeof(name), "MD5");
	for (i = 0; kinds[i] && strcmp(kinds[i], name); i++)
		;
	if (!kinds[i])
		return PW_NONE;
	/* PLAIN-MD5 is hex unless told; the others base64 unless told */
	if (dot ? !strcasecmp(dot, ".HEX") : !strcmp(scheme, "PLAIN-MD5")) {
		if (!(b64 = hex_to_b64(v))) {
			*why_r = "the digest is not hex as its scheme says";
			return PW_NONE;
		}
		v = b64;
	} else if (dot && strcasecmp(dot, ".B64") && strcasecmp(dot,
	    ".BASE64")) {
		*why_r = "an encoding Stalwart does not read";
		return PW_NONE;
	}
	*out_r = xasprintf("{%s}%s", name, v);
	free(b64);
	return PW_HASH;
}

enum pw_form
pw_stalwart(const char *entry, char **out_r, const char **why_r)
{
	static const struct {
		const char *scheme, *prefix;
	} crypts[] = {
		{ "SHA512-CRYPT", "$6$" }, { "SHA256-CRYPT", "$5$" },
		{ "MD5-CRYPT", "$1$" }, { "MD5", "$1$" },
		{ "BLF-CRYPT", "$2" }, { "ARGON2I", "$argon2i$" },
		{ "ARGON2ID", "$argon2id$" },
	};
	char scheme[64];
	const char *v = pw_scheme(entry, scheme, sizeof(scheme));
	enum pw_form form;
	size_t i;

	*out_r = NULL;
	*why_r = NULL;
	if (!*scheme) {
		*why_r = "no {SCHEME} prefix (Dovecot's default_pass_scheme"
		    " is not known here)";
		return PW_NONE;
	}
	if (!*v) {
		*why_r = "an empty password";
		return PW_NONE;
	}
	if (!strcmp(scheme, "PLAIN") || !strcmp(scheme, "CLEAR") ||
	    !strcmp(scheme, "CLEARTEXT")) {
		*out_r = xstrdup(v);
		return PW_PLAIN;
	}
	for (i = 0; i < sizeof(crypts) / sizeof(crypts[0]); i++) {
		if (strcmp(scheme, crypts[i].scheme))
			continue;
		if (!crypt_of(v, crypts[i].prefix)) {
			*why_r = "the value is not of its scheme's form";
			return PW_NONE;
		}
		*out_r = xstrdup(v);
		return PW_HASH;
	}
	if (!strcmp(scheme, "CRYPT")) {
		if (*v == '$' && strlen(v) > 12) {
			*out_r = xstrdup(v);
			return PW_HASH;
		}
		if (strlen(v) == 13) {	/* traditional DES */
			*out_r = xasprintf("{CRYPT}%s", v);
			return PW_HASH;
		}
		*why_r = "a crypt string of no known kind";
		return PW_NONE;
	}
	if ((form = digest(scheme, v, out_r, why_r)) != PW_NONE || *why_r)
		return form;
	*why_r = !strcmp(scheme, "PBKDF2") ? "Dovecot's PBKDF2 form is not"
	    " the PHC string Stalwart reads" : "a scheme Stalwart does not"
	    " verify (CRAM-MD5, DIGEST-MD5, SCRAM, NTLM, SMD5 and the like"
	    " keep only what their own mechanism needs)";
	return PW_NONE;
}
