/*
 * plansafe.c: what a plan may not do with a credential.  The plan is
 * committed to the audit repository and its commands are shown in logs
 * and process lists, so a password written into a URL or a command is
 * refused, and so is a password that would cross the network in clear
 * without the plan saying allow_plaintext for that server.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "plan.h"
#include "xalloc.h"

/* Names whose value is a credential: PASSWORD=..., --token ..., ... */
static const char *const cred_words[] = {
	"password", "passwd", "secret", "token", "apikey", "api_key",
	"api-key", "authorization",
};

/* Where a value is a reference rather than the credential itself. */
static int
is_reference(const char *v)
{
	return *v == '$' || *v == '`' || *v == '{' || *v == '<' || *v == '@';
}

/* After a credential word at `p`: "=value", ": value" or " value". */
static int
inline_value(const char *p, int space_ok)
{
	const char *v = p;

	v += strspn(v, " \t");
	if (*v == '=' || *v == ':')
		v++;
	else if (v == p || !space_ok)
		return 0;
	v += strspn(v, " \t\"'");
	return *v && !isspace((unsigned char)*v) && !is_reference(v) &&
	    *v != '-';
}

/*
 * What in `cmd` looks like a credential written into it, or NULL: a URL
 * with a user and password, a word such as PASSWORD or --token with a
 * literal value, curl's -u USER:PASSWORD.
 */
const char *
plan_inline_credential(const char *cmd)
{
	const char *p, *at, *end;
	size_t i, n;

	for (p = cmd; (p = strstr(p, "://")); p += 3) {
		end = p + 3 + strcspn(p + 3, "/ \t\"'");
		at = memchr(p + 3, '@', end - p - 3);
		if (at && memchr(p + 3, ':', at - p - 3))
			return "a URL with a user and password";
	}
	for (p = cmd; *p; p++) {
		for (i = 0; i < ARRAY_SIZE(cred_words); i++) {
			n = strlen(cred_words[i]);
			if (!strncasecmp(p, cred_words[i], n) &&
			    !isalnum((unsigned char)p[n]) && p[n] != '_' &&
			    inline_value(p + n, p > cmd && p[-1] == '-'))
				return "a password, token or key written in";
		}
		if ((p == cmd || isspace((unsigned char)p[-1])) &&
		    !strncmp(p, "-u", 2)) {
			const char *v = p + 2 + strspn(p + 2, " \t");

			n = strcspn(v, " \t");
			if (n && !is_reference(v) && memchr(v, ':', n))
				return "a -u USER:PASSWORD written in";
		}
	}
	return NULL;
}

/* A secret's {command: ...} that only prints what is written in it. */
int
plan_echo_command(const char *cmd)
{
	size_t n;

	cmd += strspn(cmd, " \t");
	n = strcspn(cmd, " \t");
	return (n == 4 && !strncmp(cmd, "echo", 4)) ||
	    (n == 6 && !strncmp(cmd, "printf", 6));
}
void
parse_command(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	char *s = yconf_string(c, n, what);
	const char *why;

	(void)k;
	if (!s)
		return;
	if ((why = plan_inline_credential(s))) {
		yconf_err(c, n, "%s: %s: the plan is committed to the audit"
		    " repository and commands show in process lists; read the"
		    " credential from a file or the environment instead", what,
		    why);
		free(s);
		return;
	}
	free(*(char **)field);
	*(char **)field = s;
}

/*
 * The plan's HTTP servers that take a credential, and the server whose
 * allow_plaintext lets it go over http://.
 */
static const struct {
	const char *key;
	size_t url;		/* offset in struct plan of the char * */
	size_t allow;		/* of the int */
	const char *allow_key;
} http_urls[] = {
#define P(f) offsetof(struct plan, f)
	{ "source.jmap", P(source.jmap), P(source.allow_plaintext),
	    "source.allow_plaintext" },
	{ "source.dav", P(source.dav), P(source.allow_plaintext),
	    "source.allow_plaintext" },
	{ "source.files", P(source.files), P(source.allow_plaintext),
	    "source.allow_plaintext" },
	{ "accounts.doveadm_url", P(accounts.doveadm_url),
	    P(source.allow_plaintext), "source.allow_plaintext" },
	{ "accounts.stalwart.url", P(accounts.stalwart.url),
	    P(source.allow_plaintext), "source.allow_plaintext" },
	{ "destination.jmap", P(destination.jmap),
	    P(destination.allow_plaintext), "destination.allow_plaintext" },
	{ "destination.dav", P(destination.dav),
	    P(destination.allow_plaintext), "destination.allow_plaintext" },
	{ "destination.files", P(destination.files),
	    P(destination.allow_plaintext), "destination.allow_plaintext" },
	{ "provision.url", P(provision.url), P(provision.allow_plaintext),
	    "provision.allow_plaintext" },
#undef P
};

void
plan_check_plaintext(struct yconf *c, const struct plan *p,
    const yaml_node_t *root)
{
	const char *url;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(http_urls); i++) {
		url = *(char *const *)((const char *)p + http_urls[i].url);
		if (!url || strncmp(url, "http://", 7) ||
		    *(const int *)((const char *)p + http_urls[i].allow))
			continue;
		yconf_err(c, yconf_get(c, root, http_urls[i].key), "%s: http://"
		    " would send its credential in clear; use https://, or say"
		    " %s: true", http_urls[i].key, http_urls[i].allow_key);
	}
}
