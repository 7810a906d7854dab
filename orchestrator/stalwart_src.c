/*
 * stalwart_src.c: Stalwart 0.15 and before as the source's directory:
 * its individual principals through the management API (GET
 * /api/principal), each with its addresses, quota, description and
 * secrets.  The first address is the account, the principal's name its
 * login, the others its aliases; the first secret is its password entry,
 * already in a form Stalwart verifies (provision(8) carries it as it is).
 */
#include "compat.h"

#include <curl/curl.h>
#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "plan.h"
#include "xalloc.h"

#define PAGE	100

/* GET `path` on the API; its "data" (a new reference), or NULL. */
static json_t *
get(const struct plan *p, const char *path, int *missing_r, struct buf *err)
{
	const struct stalwart_src *ss = &p->accounts.stalwart;
	const struct secret_ref *ref = ss->token.kind != SECRET_NONE ?
	    &ss->token : &ss->admin_password;
	struct dir_req rq = { NULL, NULL, NULL, NULL, NULL,
	    "the administrator's credential" };
	char *secret = secret_resolve(ref, NULL, err), *bearer = NULL;
	json_t *ans = NULL, *res = NULL;
	long code;

	*missing_r = 0;
	if (!secret)
		return NULL;
	if (ss->token.kind != SECRET_NONE) {
		bearer = xasprintf("Authorization: Bearer %s", secret);
		rq.header = bearer;
	} else {
		rq.user = ss->admin_user;
		rq.password = secret;
	}
	rq.url = xasprintf("%s%s", ss->url, path);
	ans = dir_http(p, &rq, &code, err);
	if (code == 404) {
		*missing_r = 1;
		buf_addf(err, "%s: no such principal", rq.url);
	} else if (ans && (code != 200 || !json_object_get(ans, "data"))) {
		buf_addf(err, "%s: HTTP %ld, not a principal", rq.url, code);
	} else if (ans) {
		res = json_incref(json_object_get(ans, "data"));
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (bearer) {
		explicit_bzero(bearer, strlen(bearer));
		free(bearer);
	}
	json_decref(ans);
	free((char *)rq.url);
	return res;
}

int
stalwart_accounts(const struct plan *p, struct buf *out, struct buf *err)
{
	json_t *data, *it;
	json_int_t total;
	size_t i, seen = 0;
	int page, missing;

	for (page = 1;; page++) {
		char *path = xasprintf("/api/principal?types=individual"
		    "&limit=%d&page=%d", PAGE, page);

		data = get(p, path, &missing, err);
		free(path);
		if (!data)
			return -1;
		total = json_integer_value(json_object_get(data, "total"));
		json_array_foreach(json_object_get(data, "items"), i, it) {
			const char *addr = json_string_value(json_array_get(
			    json_object_get(it, "emails"), 0));
			const char *name = json_string_value(json_object_get(
			    it, "name"));

			/* the account, then its login at the source */
			if (addr && name)
				buf_addf(out, "%s,%s\n", addr, name);
			seen++;
		}
		i = json_array_size(json_object_get(data, "items"));
		json_decref(data);
		if (!i || (json_int_t)seen >= total)
			return 0;
	}
}

int
stalwart_entry(const struct plan *p, const char *login,
    struct account_entry *e, struct buf *err)
{
	char *esc = curl_easy_escape(NULL, login, 0);
	char *path = xasprintf("/api/principal/%s", esc);
	json_t *data, *v;
	const char *s;
	size_t i;
	int missing;

	curl_free(esc);
	data = get(p, path, &missing, err);
	free(path);
	if (!data && missing) {
		/* an account from another source: no entry here */
		buf_setlen(err, 0);
		return 0;
	}
	if (!data)
		return -1;
	if ((s = json_string_value(json_array_get(json_object_get(data,
	    "secrets"), 0))) && *s)
		e->hash = xstrdup(s);
	if ((s = json_string_value(json_object_get(data, "description"))) &&
	    *s && !e->name)
		e->name = xstrdup(s);
	if (json_integer_value(json_object_get(data, "quota")) > 0 &&
	    !e->quota)
		e->quota = xasprintf("%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(data, "quota")));
	json_array_foreach(json_object_get(data, "emails"), i, v)
		if (i > 0 && json_string_value(v))
			strlist_add(&e->aliases, json_string_value(v));
	json_decref(data);
	return 0;
}
