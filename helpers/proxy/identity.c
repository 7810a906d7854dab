/*
 * identity.c: the rules of who a login is: the mechanisms the proxy
 * takes, the identifier a login is routed by (the account part, before a
 * master-user separator, in the default domain when bare, lowercased),
 * and the name each backend is given.
 */
#include "compat.h"

#include <ctype.h>

#include "proxy.h"
#include "xalloc.h"

static const char *const mechs[] = {
	"PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"
};

int
sasl_mech_ok(const struct config *cf, const char *mech)
{
	size_t i;

	if (cf) {
		for (i = 0; i < cf->mechanisms.nr; i++)
			if (!strcasecmp(cf->mechanisms.v[i], mech))
				return 1;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(mechs); i++)
		if (!strcasecmp(mechs[i], mech))
			return 1;
	return 0;
}

/* Length of the account part: before the first master separator. */
static size_t
account_len(const struct config *cf, const char *user)
{
	return cf->master_separators && *cf->master_separators ?
	    strcspn(user, cf->master_separators) : strlen(user);
}

char *
sasl_route_id(const struct config *cf, const char *user)
{
	size_t n = account_len(cf, user);
	char *id, *p;

	if (!memchr(user, '@', n) && cf->default_domain)
		id = xasprintf("%.*s@%s", (int)n, user, cf->default_domain);
	else
		id = xstrndup(user, n);
	for (p = id; *p; p++)
		*p = tolower((unsigned char)*p);
	return id;
}

char *
sasl_backend_user(const struct config *cf, const char *user, enum route r)
{
	size_t n = account_len(cf, user);

	if (r == ROUTE_SOURCE || memchr(user, '@', n) || !cf->default_domain)
		return xstrdup(user);
	return xasprintf("%.*s@%s%s", (int)n, user, cf->default_domain,
	    user + n);
}
