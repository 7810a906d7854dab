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
#include <openssl/evp.h>

#include "buf.h"
#include "dav.h"
#include "plan.h"
#include "xalloc.h"

/* One command; its doveadmResponse object (a new reference), or NULL
 * with `err` set, *missing_r set when the user does not exist. */
static json_t *
call(const struct plan *p, json_t *req, int *missing_r, struct buf *err)
{
	struct dav_opts o = { 0 };
	struct dav *d = NULL;
	struct dav_answer a = { 0 };
	struct buf body = BUF_INIT;
	char *key = secret_resolve(&p->accounts.doveadm_api_key, NULL, err);
	char *data = json_dumps(req, JSON_COMPACT), *auth = NULL, *enc;
	const char *hdrs[2] = { NULL, NULL };
	json_t *ans = NULL, *res = NULL, *r;
	const char *type;

	*missing_r = 0;
	if (!key)
		goto out;
	if (!strncmp(p->accounts.doveadm_url, "http://", 7) &&
	    !p->source.allow_plaintext) {
		buf_addf(err, "%s: the API key would cross the network in clear"
		    " (source.allow_plaintext)", p->accounts.doveadm_url);
		goto out;
	}
	enc = xmalloc(4 * (strlen(key) + 2) / 3 + 4);
	EVP_EncodeBlock((unsigned char *)enc, (unsigned char *)key,
	    strlen(key));
	auth = xasprintf("Authorization: X-Dovecot-API %s", enc);
	explicit_bzero(enc, strlen(enc));
	free(enc);
	hdrs[0] = auth;
	o.url = p->accounts.doveadm_url;
	o.ca_file = p->source.ca_file;
	o.insecure = p->source.insecure;
	o.timeout = 120;
	a.body = &body;
	if (dav_open(&d, &o, err) < 0 || dav_request(d, "POST",
	    p->accounts.doveadm_url, NULL, NULL, data, strlen(data),
	    "application/json", hdrs, &a, err) < 0)
		goto out;
	if (a.code != 200) {
		buf_addf(err, "%s: HTTP %ld%s", p->accounts.doveadm_url, a.code,
		    a.code == 401 || a.code == 403 ? ": the API key is refused"
		    " (accounts.doveadm_api_key)" : "");
		goto out;
	}
	ans = json_loadb(body.buf, body.len, 0, NULL);
	r = json_array_get(ans, 0);
	type = json_string_value(json_array_get(r, 0));
	if (type && !strcmp(type, "doveadmResponse")) {
		res = json_incref(json_array_get(r, 1));
	} else if (type && !strcmp(type, "error")) {
		json_int_t code = json_integer_value(json_object_get(
		    json_array_get(r, 1), "exitCode"));

		*missing_r = code == 67;
		buf_addf(err, "%s: doveadm %s: %s (exit %" JSON_INTEGER_FORMAT
		    ")", p->accounts.doveadm_url, json_string_value(
		    json_array_get(json_array_get(req, 0), 0)),
		    json_string_value(json_object_get(json_array_get(r, 1),
		    "type")), code);
	} else {
		buf_addf(err, "%s: not a doveadm answer",
		    p->accounts.doveadm_url);
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
	dav_answer_release(&a);
	dav_close(&d);
	buf_release_wipe(&body);
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
