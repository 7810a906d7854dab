/*
 * stalwart.c: provision on Stalwart through its management API.
 *
 * Current releases (0.16 and later) manage accounts as JMAP objects:
 * POST /api with the urn:stalwart:jmap capability, x:Domain/get for the
 * domain's id, x:Account/get and x:Account/set.  0.15 and before have a
 * REST API: GET, POST and PATCH on /api/principal.  Both take a password
 * hash as the secret and store it as it is when it has a prefix they
 * verify (pwscheme.h); a plain password they hash themselves.
 */
#include "compat.h"

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "dav.h"
#include "provision.h"
#include "xalloc.h"

struct stalwart_opts stalwart_opts;

static struct {
	struct dav *d;
	struct http_opts o;
	char *bearer;
	const char *hdrs[2];
	char *domain_id, *account_id;
} st;

static const char *
local_of(const struct prov *p, char *buf, size_t size)
{
	const char *at = strchr(p->account, '@');

	snprintf(buf, size, "%.*s", (int)(at - p->account), p->account);
	return buf;
}

/*
 * One request with a JSON body (NULL: none); the answer's JSON into
 * *out_r (NULL if it has none).  Returns the HTTP status, or -1.
 */
static long
call_http(const char *method, const char *path, json_t *body, json_t **out_r,
    int *code, struct buf *err)
{
	struct buf ans = BUF_INIT;
	struct dav_answer a = { 0 };
	char *url = xasprintf("%s%s", stalwart_opts.url, path);
	char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
	long status = -1;

	*out_r = NULL;
	a.body = &ans;
	if (dav_request(st.d, method, url, NULL, NULL, data, data ?
	    strlen(data) : 0, data ? "application/json" : NULL, st.hdrs, &a,
	    err) < 0) {
		*code = st.d->fail ? st.d->fail : EX_UNAVAILABLE;
		goto out;
	}
	status = a.code;
	if (ans.len)
		*out_r = json_loadb(ans.buf, ans.len, 0, NULL);
	if (status == 401 || status == 403) {
		buf_addf(err, "%s %s: HTTP %ld: the destination refuses the"
		    " administrator's credentials, or they lack the permission"
		    " (see provision(8))", method, path, status);
		*code = EX_NOPERM;
		status = -1;
	} else if (status >= 500 || status == 429) {
		buf_addf(err, "%s %s: HTTP %ld", method, path, status);
		*code = EX_TEMPFAIL;
		status = -1;
	}
out:
	if (data) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	if (status < 0) {
		json_decref(*out_r);
		*out_r = NULL;
	}
	dav_answer_release(&a);
	buf_release_wipe(&ans);
	free(url);
	return status;
}

/* --- current releases: JMAP on /api ------------------------------------- */

/* One method call; its arguments (a new reference) or NULL and `err`. */
static json_t *
jcall(const char *method, json_t *args, int *code, struct buf *err)
{
	json_t *req = json_pack("{s:[s, s], s:[[s, o, s]]}", "using",
	    "urn:ietf:params:jmap:core", "urn:stalwart:jmap", "methodCalls",
	    method, args, "c0");
	json_t *resp = NULL, *r, *res = NULL;
	long status = call_http("POST", "/api", req, &resp, code, err);
	const char *name;

	json_decref(req);
	if (status < 0)
		return NULL;
	r = json_array_get(json_object_get(resp, "methodResponses"), 0);
	name = json_string_value(json_array_get(r, 0));
	if (status != 200 || !name) {
		buf_addf(err, "%s: HTTP %ld, not a JMAP answer", method,
		    status);
		*code = EX_PROTOCOL;
	} else if (!strcmp(name, "error")) {
		json_t *e = json_array_get(r, 1);

		buf_addf(err, "%s: %s%s%s", method, json_string_value(
		    json_object_get(e, "type")), json_object_get(e,
		    "description") ? ": " : "", json_object_get(e,
		    "description") ? json_string_value(json_object_get(e,
		    "description")) : "");
		*code = !strcmp(json_string_value(json_object_get(e, "type")) ?
		    json_string_value(json_object_get(e, "type")) : "",
		    "forbidden") ? EX_NOPERM : EX_PROTOCOL;
	} else {
		res = json_incref(json_array_get(r, 1));
	}
	json_decref(resp);
	return res;
}

/* The id of the one item of `list` whose fields match, or NULL. */
static char *
find_id(json_t *list, const char *k1, const char *v1, const char *k2,
    const char *v2)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i, o) {
		const char *a = json_string_value(json_object_get(o, k1));
		const char *b = k2 ? json_string_value(json_object_get(o, k2)) :
		    NULL;

		if (a && !strcasecmp(a, v1) && (!k2 || (b && !strcmp(b, v2))))
			return xstrdup(json_string_value(json_object_get(o,
			    "id")));
	}
	return NULL;
}

static int
j_init(struct prov *p, int *code, struct buf *err)
{
	const char *domain = strchr(p->account, '@') + 1;
	json_t *r = jcall("x:Domain/get", json_pack("{s:n, s:[s]}", "ids",
	    "properties", "name"), code, err);

	if (!r)
		return -1;
	st.domain_id = find_id(json_object_get(r, "list"), "name", domain,
	    NULL, NULL);
	json_decref(r);
	if (!st.domain_id) {
		buf_addf(err, "the destination has no domain %s: create it"
		    " first (x:Domain)", domain);
		*code = EX_DATAERR;
		return -1;
	}
	return 0;
}

static int
j_exists(struct prov *p, int *code, struct buf *err)
{
	char local[256];
	json_t *r = jcall("x:Account/get", json_pack("{s:n, s:[s, s]}",
	    "ids", "properties", "name", "domainId"), code, err);

	if (!r)
		return -1;
	free(st.account_id);
	st.account_id = find_id(json_object_get(r, "list"), "name",
	    local_of(p, local, sizeof(local)), "domainId", st.domain_id);
	json_decref(r);
	return st.account_id != NULL;
}

/* The fields of an account the plan carries: all, or those of `update`. */
static json_t *
j_fields(struct prov *p, unsigned which)
{
	json_t *o = json_object(), *al;
	char local[256];
	size_t i;

	if (which & UPD_PASSWORD && p->secret)
		json_object_set_new(o, "credentials", json_pack("[{s:s, s:s}]",
		    "@type", "Password", "secret", p->secret));
	if (which & UPD_NAME && p->name)
		json_object_set_new(o, "description", json_string(p->name));
	if (which & UPD_QUOTA && p->quota)
		json_object_set_new(o, "quotas", json_pack("{s:I}",
		    "maxDiskQuota", (json_int_t)p->quota));
	if (which & UPD_ALIASES) {
		al = json_array();
		for (i = 0; i < p->nr_aliases; i++) {
			const char *at = strchr(p->aliases[i], '@');

			snprintf(local, sizeof(local), "%.*s", at ? (int)(at -
			    p->aliases[i]) : (int)strlen(p->aliases[i]),
			    p->aliases[i]);
			json_array_append_new(al, json_pack("{s:s, s:s}",
			    "name", local, "domainId", st.domain_id));
		}
		json_object_set_new(o, "aliases", al);
	}
	return o;
}

static int
j_set(const char *what, json_t *args, int *code, struct buf *err)
{
	json_t *r = jcall("x:Account/set", args, code, err), *e;
	const char *k;
	int ret = 0;

	if (!r)
		return -1;
	json_object_foreach(json_object_get(r, what), k, e) {
		buf_addf(err, "x:Account/set: %s: %s%s%s", what,
		    json_string_value(json_object_get(e, "type")),
		    json_object_get(e, "description") ? ": " : "",
		    json_object_get(e, "description") ? json_string_value(
		    json_object_get(e, "description")) : "");
		*code = EX_DATAERR;
		ret = -1;
	}
	json_decref(r);
	return ret;
}

static int
j_create(struct prov *p, int *code, struct buf *err)
{
	json_t *o = j_fields(p, UPD_PASSWORD | UPD_NAME | UPD_QUOTA |
	    UPD_ALIASES);
	char local[256];

	json_object_set_new(o, "@type", json_string("User"));
	json_object_set_new(o, "name", json_string(local_of(p, local,
	    sizeof(local))));
	json_object_set_new(o, "domainId", json_string(st.domain_id));
	json_object_set_new(o, "roles", json_pack("{s:s}", "@type", "User"));
	json_object_set_new(o, "permissions", json_pack("{s:s}", "@type",
	    "Inherit"));
	json_object_set_new(o, "encryptionAtRest", json_pack("{s:s}", "@type",
	    "Disabled"));
	return j_set("notCreated", json_pack("{s:{s:o}}", "create", "a", o),
	    code, err);
}

static int
j_update(struct prov *p, int *code, struct buf *err)
{
	return j_set("notUpdated", json_pack("{s:{s:o}}", "update",
	    st.account_id, j_fields(p, p->update)), code, err);
}

/* --- 0.15 and before: REST on /api/principal ---------------------------- */

static char *
principal_path(const struct prov *p)
{
	char *esc = curl_easy_escape(NULL, p->login ? p->login : p->account,
	    0);
	char *path = xasprintf("/api/principal/%s", esc);

	curl_free(esc);
	return path;
}

static int
r_exists(struct prov *p, int *code, struct buf *err)
{
	char *path = principal_path(p);
	json_t *r = NULL;
	long status = call_http("GET", path, NULL, &r, code, err);
	const char *e = json_string_value(json_object_get(r, "error"));
	int ret;

	if (status < 0)
		ret = -1;
	else if (status == 404 || (e && !strcmp(e, "notFound")))
		ret = 0;
	else if (status == 200 && json_object_get(r, "data"))
		ret = 1;
	else {
		buf_addf(err, "GET %s: HTTP %ld%s%s", path, status, e ? ": " :
		    "", e ? e : "");
		*code = EX_PROTOCOL;
		ret = -1;
	}
	json_decref(r);
	free(path);
	return ret;
}

static json_t *
r_emails(const struct prov *p)
{
	json_t *a = json_array();
	size_t i;

	json_array_append_new(a, json_string(p->account));
	for (i = 0; i < p->nr_aliases; i++)
		json_array_append_new(a, json_string(p->aliases[i]));
	return a;
}

/* A 0.15 answer: {"data": ...} or {"error": ..., ...}. */
static int
r_answer(const char *what, long status, json_t *r, int *code,
    struct buf *err)
{
	const char *e = json_string_value(json_object_get(r, "error"));

	if (status < 0)
		return -1;
	if (status == 200 && !e)
		return 0;
	buf_addf(err, "%s: HTTP %ld: %s%s%s", what, status, e ? e :
	    "an answer with no error", json_object_get(r, "details") ? ": " :
	    "", json_object_get(r, "details") ? json_string_value(
	    json_object_get(r, "details")) : "");
	*code = EX_DATAERR;
	return -1;
}

static int
r_create(struct prov *p, int *code, struct buf *err)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "type", "individual", "name",
	    p->login ? p->login : p->account, "emails", r_emails(p)), *r = NULL;
	long status;
	int ret;

	if (p->secret)
		json_object_set_new(o, "secrets", json_pack("[s]", p->secret));
	if (p->name)
		json_object_set_new(o, "description", json_string(p->name));
	if (p->quota)
		json_object_set_new(o, "quota", json_integer(p->quota));
	status = call_http("POST", "/api/principal", o, &r, code, err);
	ret = r_answer("POST /api/principal", status, r, code, err);
	json_decref(r);
	json_decref(o);
	return ret;
}

static int
r_update(struct prov *p, int *code, struct buf *err)
{
	json_t *ops = json_array(), *r = NULL;
	char *path = principal_path(p);
	long status;
	int ret;

	if (p->update & UPD_PASSWORD && p->secret)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:[s]}",
		    "action", "set", "field", "secrets", "value", p->secret));
	if (p->update & UPD_NAME && p->name)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:s}",
		    "action", "set", "field", "description", "value", p->name));
	if (p->update & UPD_QUOTA && p->quota)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:I}",
		    "action", "set", "field", "quota", "value",
		    (json_int_t)p->quota));
	if (p->update & UPD_ALIASES)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:o}",
		    "action", "set", "field", "emails", "value", r_emails(p)));
	status = call_http("PATCH", path, ops, &r, code, err);
	ret = r_answer("PATCH /api/principal", status, r, code, err);
	json_decref(r);
	json_decref(ops);
	free(path);
	return ret;
}

/* --- the driver --------------------------------------------------------- */

static int
s_init(struct prov *p, int *code, struct buf *err)
{
	struct stalwart_opts *so = &stalwart_opts;

	if (!strncmp(so->url, "http://", 7) && !so->allow_plaintext) {
		buf_addf(err, "%s is plain http: the administrator's credential"
		    " would cross the network in clear (allow_plaintext)",
		    so->url);
		*code = EX_USAGE;
		return -1;
	}
	if (!so->token && !(so->admin_user && so->password)) {
		buf_adds(err, "no administrator credential: token=, or"
		    " --admin-user and admin_password= on standard input");
		*code = EX_USAGE;
		return -1;
	}
	st.o.url = so->url;
	st.o.ca_file = so->ca_file;
	st.o.insecure = so->insecure;
	st.o.allow_plaintext = so->allow_plaintext;
	if (so->token) {
		st.bearer = xasprintf("Authorization: Bearer %s", so->token);
		st.hdrs[0] = st.bearer;
	} else {
		st.o.user = so->admin_user;
		st.o.password = so->password;
	}
	if (dav_open(&st.d, &st.o, err) < 0) {
		*code = st.d->fail;
		return -1;
	}
	return so->v015 ? 0 : j_init(p, code, err);
}

static int
s_exists(struct prov *p, int *code, struct buf *err)
{
	return stalwart_opts.v015 ? r_exists(p, code, err) :
	    j_exists(p, code, err);
}

static int
s_create(struct prov *p, int *code, struct buf *err)
{
	return stalwart_opts.v015 ? r_create(p, code, err) :
	    j_create(p, code, err);
}

static int
s_update(struct prov *p, int *code, struct buf *err)
{
	return stalwart_opts.v015 ? r_update(p, code, err) :
	    j_update(p, code, err);
}

static void
s_finish(void)
{
	dav_close(&st.d);
	if (st.bearer) {
		explicit_bzero(st.bearer, strlen(st.bearer));
		free(st.bearer);
	}
	free(st.domain_id);
	free(st.account_id);
}

const struct driver stalwart_driver = {
	"stalwart", s_init, s_exists, s_create, s_update, s_finish,
};
