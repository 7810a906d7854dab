/*
 * doveadm.c: Dovecot's doveadm HTTP API (POST /doveadm/v1), for a
 * source whose doveadm is not on this machine: the users (`user` with a
 * userMask) and one field of a user's userdb entry.  The API has no
 * passdb lookup, so the userdb must return the password entry as a field
 * (accounts.dovecot_hash_field).  Answers are read one command per
 * request: 2.3 writes several without the commas between them.
 */
#include "compat.h"

#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "plan.h"
#include "secret.h"
#include "xalloc.h"

/* One command; its doveadmResponse object (a new reference), or NULL
 * with `err` set, *missing_r set when the user does not exist. */
static json_t *
call(const struct plan *p, json_t *req, int *missing_r, struct buf *err)
{
	struct dir_req rq = { p->accounts.doveadm_url, NULL, NULL, NULL,
	    NULL, "the API key" };
	char *key = secret_resolve(&p->accounts.doveadm_api_key, NULL, err);
	char *data = json_dumps(req, JSON_COMPACT), *auth = NULL;
	struct buf enc = BUF_INIT;
	json_t *ans = NULL, *res = NULL, *r;
	const char *type;
	long code;

	*missing_r = 0;
	if (!key)
		goto out;
	buf_adds(&enc, "Authorization: X-Dovecot-API ");
	b64_encode(key, strlen(key), &enc);
	auth = buf_detach(&enc, NULL);
	rq.data = data;
	rq.header = auth;
	if (!(ans = dir_http(p, &rq, &code, err)))
		goto out;
	r = json_array_get(ans, 0);
	type = json_string_value(json_array_get(r, 0));
	if (code == 200 && type && !strcmp(type, "doveadmResponse")) {
		res = json_incref(json_array_get(r, 1));
	} else if (type && !strcmp(type, "error")) {
		json_int_t x = json_integer_value(json_object_get(
		    json_array_get(r, 1), "exitCode"));

		*missing_r = x == 67;
		buf_addf(err, "%s: doveadm %s: %s (exit %" JSON_INTEGER_FORMAT
		    ")", rq.url, json_string_value(json_array_get(
		    json_array_get(req, 0), 0)), json_string_value(
		    json_object_get(json_array_get(r, 1), "type")), x);
	} else {
		buf_addf(err, "%s: HTTP %ld, not a doveadm answer", rq.url,
		    code);
	}
out:
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	json_decref(ans);
	free(data);
	return res;
}

int
doveadm_users(const struct plan *p, struct buf *out, struct buf *err)
{
	json_t *req = json_pack("[[s, {s:[s]}, s]]", "user", "userMask", "*",
	    "c0");
	json_t *res, *u;
	int missing;
	size_t i;

	res = call(p, req, &missing, err);
	json_decref(req);
	if (!res)
		return -1;
	json_array_foreach(json_object_get(res, "userList"), i, u)
		buf_addf(out, "%s\n", json_string_value(u));
	json_decref(res);
	return 0;
}

char *
doveadm_field(const struct plan *p, const char *login, const char *field,
    struct buf *err)
{
	json_t *req = json_pack("[[s, {s:[s], s:s}, s]]", "user", "userMask",
	    login, "field", field, "c0");
	json_t *res, *v;
	const char *k;
	char *ret = NULL;
	int missing;

	res = call(p, req, &missing, err);
	json_decref(req);
	json_object_foreach(res, k, v) {
		const char *s = json_string_value(json_object_get(v, field));

		if (s && *s)
			ret = xstrdup(s);
	}
	json_decref(res);
	return ret;
}
