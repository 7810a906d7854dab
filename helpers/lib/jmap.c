#include "compat.h"

#include <curl/curl.h>

#include "buf.h"
#include "jmap.h"
#include "httpc.h"
#include "log.h"
#include "now.h"
#include "secret.h"
#include "xalloc.h"

#define RESPONSE_MAX	(256u << 20)
#define RETRIES		5

static const char *const default_using[] = {
	"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", NULL,
};

/* One HTTP exchange: what goes and what comes back. */
struct xfer {
	CURL *h;
	struct curl_slist *headers;
	struct buf body;	/* the response */
	/* the request body when read from a file */
	int fd;
	uint64_t off, size;
	struct jmap_blob *blob;
	int tries;
	int head_ended;		/* httpc_handle() */
};

static int
fail(struct jmap *j, int code)
{
	j->fail = code;
	return -1;
}

static size_t
on_read(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n;
	ssize_t got;

	if (x->size - x->off < want)
		want = (size_t)(x->size - x->off);
	if (!want)
		return 0;
	got = pread(x->fd, data, want, (off_t)x->off);
	if (got <= 0)
		return CURL_READFUNC_ABORT;
	x->off += (uint64_t)got;
	return (size_t)got;
}

static void
setup(struct jmap *j, struct xfer *x, const char *url)
{
	const struct jmap_opts *o = j->opts;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	buf_init(&x->body, RESPONSE_MAX);
	x->h = httpc_handle("migrate jmap-push/0.1", &o->http, 300L,
	    o->token != NULL, &x->body, &x->head_ended);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	if (o->token)
		x->headers = curl_slist_append(x->headers, j->auth_header);
	/* no "Expect: 100-continue" and its wait */
	x->headers = curl_slist_append(x->headers, "Expect:");
}

static void
xfer_release(struct xfer *x)
{
	if (x->h)
		curl_easy_cleanup(x->h);
	curl_slist_free_all(x->headers);
	buf_release(&x->body);
	memset(x, 0, sizeof(*x));
}

/*
 * What a finished transfer means: 0 for a 2xx answer, 1 for "wait and
 * try again" (*wait_r seconds), -1 with j->fail and `err` set.
 */
static int
judge(struct jmap *j, CURL *h, CURLcode rc, int head_ended,
    const char *what, const struct buf *body, long *wait_r, struct buf *err)
{
	long code = 0;
	curl_off_t after = 0;
	int r;

	*wait_r = 0;
	if ((r = httpc_failed(rc, head_ended, what, err)))
		return fail(j, r);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return 0;
	if (code == 429 || code == 503) {
		curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after);
		*wait_r = after > 0 && after < 120 ? (long)after : 2;
		return 1;
	}
	buf_addf(err, "%s: HTTP %ld", what, code);
	if (body->len) {
		buf_adds(err, ": ");
		buf_add_sanitized(err, body->buf, body->len, 200);
	}
	if (code == 401 || code == 403)
		return fail(j, EX_NOPERM);
	if (code >= 500)
		return fail(j, EX_TEMPFAIL);
	return fail(j, EX_PROTOCOL);
}

static void
nap(long seconds)
{
	struct timespec ts = { seconds, 0 };

	log_info("the server asks to wait %ld s", seconds);
	nanosleep(&ts, NULL);
}

/* GET or POST on j->curl (kept alive between calls). */
static int
request(struct jmap *j, const char *url, const char *type,
    const char *data, size_t len, struct buf *out, struct buf *err)
{
	struct curl_slist *headers = NULL;
	struct buf ctype = BUF_INIT;
	CURL *h = j->curl;
	CURLcode rc;
	long wait;
	int tries, r = -1;

	if (j->opts->token)
		headers = curl_slist_append(headers, j->auth_header);
	headers = curl_slist_append(headers, "Expect:");
	if (type) {
		buf_addf(&ctype, "Content-Type: %s", type);
		headers = curl_slist_append(headers, ctype.buf);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (data) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	for (tries = 0; tries < RETRIES; tries++) {
		buf_reset(out);
		rc = curl_easy_perform(h);
		j->requests++;
		r = judge(j, h, rc, j->head_ended, url, out, &wait, err);
		if (r != 1)
			break;
		nap(wait);
	}
	if (r == 1) {
		buf_addf(err, "%s: still busy after %d tries", url, RETRIES);
		r = fail(j, EX_TEMPFAIL);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	buf_release(&ctype);
	return r;
}

/* Resolve `ref` against the session's URL (apiUrl may be "/jmap/"). */
static char *
resolve(struct jmap *j, const char *ref)
{
	CURLU *u = curl_url();
	char *full = NULL, *out;

	if (curl_url_set(u, CURLUPART_URL, j->base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return xstrdup(ref);
	}
	out = xstrdup(full);
	curl_free(full);
	curl_url_cleanup(u);
	return out;
}

/* The value for the "{name}" at `p`, and the length of "{name}". */
static const char *
lookup(const char *const *kv, const char *p, size_t *len_r)
{
	size_t i, n;

	for (i = 0; kv[i]; i += 2) {
		n = strlen(kv[i]);
		if (p[0] == '{' && !strncmp(p + 1, kv[i], n) &&
		    p[n + 1] == '}') {
			*len_r = n + 2;
			return kv[i + 1];
		}
	}
	return NULL;
}

/* Replace "{name}" in a URL template; values are URL-escaped. */
static char *
expand(const char *tmpl, const char *const *kv)
{
	struct buf out = BUF_INIT;
	const char *p = tmpl, *v;
	size_t n;

	while (*p) {
		if ((v = lookup(kv, p, &n))) {
			char *e = curl_easy_escape(NULL, v, 0);

			buf_adds(&out, e ? e : "");
			curl_free(e);
			p += n;
		} else {
			buf_addch(&out, *p++);
		}
	}
	return buf_detach(&out, NULL);
}

static long
limit(json_t *core, const char *key, long dflt)
{
	json_int_t v = json_integer_value(json_object_get(core, key));

	return v > 0 ? (long)v : dflt;
}

int
jmap_take_session(struct jmap *j, struct buf *err)
{
	json_t *s = j->session, *core, *accts;
	const char *acct, *api, *up, *down;

	core = json_object_get(json_object_get(s, "capabilities"),
	    "urn:ietf:params:jmap:core");
	api = json_string_value(json_object_get(s, "apiUrl"));
	up = json_string_value(json_object_get(s, "uploadUrl"));
	down = json_string_value(json_object_get(s, "downloadUrl"));
	accts = json_object_get(s, "accounts");
	if (!core || !api || !up || !down || !json_is_object(accts)) {
		buf_addf(err, "%s: not a JMAP session", j->base);
		return fail(j, EX_PROTOCOL);
	}
	acct = j->opts->account ? j->opts->account : json_string_value(
	    json_object_get(json_object_get(s, "primaryAccounts"),
	    "urn:ietf:params:jmap:mail"));
	if (!acct || !json_object_get(accts, acct)) {
		buf_addf(err, "%s: no mail account '%s' in the session",
		    j->base, acct ? acct : "(primary)");
		return fail(j, EX_NOPERM);
	}
	j->account_id = xstrdup(acct);
	j->api_url = resolve(j, api);
	j->upload_url = resolve(j, up);
	j->download_url = resolve(j, down);
	j->max_size_upload = (uint64_t)limit(core, "maxSizeUpload", 50 << 20);
	j->max_size_request = (uint64_t)limit(core, "maxSizeRequest",
	    10 << 20);
	j->max_concurrent_upload = limit(core, "maxConcurrentUpload", 4);
	j->max_calls_in_request = limit(core, "maxCallsInRequest", 16);
	j->max_objects_in_set = limit(core, "maxObjectsInSet", 500);
	j->max_objects_in_get = limit(core, "maxObjectsInGet", 500);
	j->has_blob_ext = json_object_get(json_object_get(s, "capabilities"),
	    "urn:ietf:params:jmap:blob") != NULL;
	return 0;
}

int
jmap_open(struct jmap **j_r, const struct jmap_opts *o, struct buf *err)
{
	struct jmap *j = xcalloc(1, sizeof(*j));
	struct buf url = BUF_INIT, body = BUF_INIT;
	struct xfer x;
	json_error_t jerr;
	char *eff = NULL;
	CURLU *u;
	char *path = NULL;
	int ret = -1;

	*j_r = j;
	j->opts = o;
	if ((ret = httpc_may_send(&o->http, o->token != NULL, o->http.url,
	    err)))
		return fail(j, ret);
	ret = -1;
	if (o->token)
		j->auth_header = xasprintf("Authorization: Bearer %s",
		    o->token);
	/* a bare server URL means its well-known session */
	buf_adds(&url, o->http.url);
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, o->http.url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		buf_addf(err, "'%s' is not a URL", o->http.url);
		return fail(j, EX_USAGE);
	}
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (!path || !strcmp(path, "/")) {
		buf_reset(&url);
		buf_addf(&url, "%s%s.well-known/jmap", o->http.url,
		    o->http.url[strlen(o->http.url) - 1] == '/' ? "" : "/");
	}
	curl_free(path);
	curl_url_cleanup(u);

	setup(j, &x, url.buf);
	j->curl = x.h;
	curl_easy_setopt(j->curl, CURLOPT_HEADERDATA, &j->head_ended);
	x.h = NULL;
	curl_easy_setopt(j->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(j->curl, CURLOPT_MAXREDIRS, 5L);
	curl_slist_free_all(x.headers);
	buf_release(&x.body);
	buf_init(&body, RESPONSE_MAX);
	if (request(j, url.buf, NULL, NULL, 0, &body, err) < 0)
		goto out;
	curl_easy_getinfo(j->curl, CURLINFO_EFFECTIVE_URL, &eff);
	j->base = xstrdup(eff ? eff : url.buf);
	curl_easy_setopt(j->curl, CURLOPT_FOLLOWLOCATION, 0L);
	j->session = json_loadb(body.buf, body.len, 0, &jerr);
	if (!json_is_object(j->session)) {
		buf_addf(err, "%s: the session is not JSON: %s", j->base,
		    jerr.text);
		fail(j, EX_PROTOCOL);
		goto out;
	}
	if (jmap_take_session(j, err) < 0)
		goto out;
	j->multi = curl_multi_init();
	ret = 0;
out:
	buf_release(&url);
	buf_release(&body);
	return ret;
}

void
jmap_close(struct jmap **jp)
{
	struct jmap *j = *jp;

	if (!j)
		return;
	if (j->curl)
		curl_easy_cleanup(j->curl);
	if (j->multi)
		curl_multi_cleanup(j->multi);
	json_decref(j->session);
	free(j->api_url);
	free(j->upload_url);
	free(j->download_url);
	free(j->account_id);
	if (j->auth_header) {
		explicit_bzero(j->auth_header, strlen(j->auth_header));
		free(j->auth_header);
	}
	free(j->base);
	free(j);
	*jp = NULL;
}

json_t *
jmap_response(json_t *resp, const char *id, const char **name_r)
{
	size_t i;
	json_t *r;

	json_array_foreach(resp, i, r) {
		const char *rid = json_string_value(json_array_get(r, 2));

		if (rid && !strcmp(rid, id)) {
			if (name_r)
				*name_r = json_string_value(
				    json_array_get(r, 0));
			return json_array_get(r, 1);
		}
	}
	return NULL;
}

int
jmap_call_failed(struct jmap *j, json_t *resp, const char *id,
    const char *what, struct buf *err)
{
	const char *name = NULL, *type, *desc;
	json_t *r = jmap_response(resp, id, &name);

	if (!r || !name || strcmp(name, "error")) {
		buf_addf(err, "%s: the answer is not what was asked", what);
		return fail(j, EX_PROTOCOL);
	}
	type = json_string_value(json_object_get(r, "type"));
	desc = json_string_value(json_object_get(r, "description"));
	buf_addf(err, "%s: the server answered %s", what, type ? type :
	    "an error");
	if (desc) {
		buf_adds(err, " (");
		buf_add_sanitized(err, desc, strlen(desc), 200);
		buf_addch(err, ')');
	}
	return fail(j, type && (!strcmp(type, "serverUnavailable") ||
	    !strcmp(type, "serverFail")) ? EX_TEMPFAIL : EX_PROTOCOL);
}

int
jmap_call(struct jmap *j, json_t *calls, const char *const *using,
    json_t **resp_r, struct buf *err)
{
	struct buf out = BUF_INIT;
	json_t *req, *u = json_array(), *resp = NULL, *mr;
	json_error_t jerr;
	char *body;
	size_t i;
	int ret = -1;
	double t0;

	*resp_r = NULL;
	for (i = 0; (using ? using : default_using)[i]; i++)
		json_array_append_new(u, json_string((using ? using :
		    default_using)[i]));
	req = json_pack("{s:o, s:O}", "using", u, "methodCalls", calls);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		BUG("cannot encode a JMAP request");
	buf_init(&out, RESPONSE_MAX);
	t0 = now_seconds();
	if (request(j, j->api_url, "application/json", body, strlen(body),
	    &out, err) < 0)
		goto out;
	log_debug("%s%s: %.3f s", json_string_value(json_array_get(
	    json_array_get(calls, 0), 0)), json_array_size(calls) > 1 ?
	    " and more" : "", now_seconds() - t0);
	resp = json_loadb(out.buf, out.len, 0, &jerr);
	mr = json_object_get(resp, "methodResponses");
	if (!json_is_array(mr)) {
		buf_addf(err, "%s: the answer is not JMAP: '", j->api_url);
		buf_add_sanitized(err, out.buf, out.len, 200);
		buf_addch(err, '\'');
		fail(j, EX_PROTOCOL);
		goto out;
	}
	*resp_r = json_incref(mr);
	ret = 0;
out:
	json_decref(resp);
	free(body);
	buf_release(&out);
	return ret;
}

static void
start_upload(struct jmap *j, struct xfer *x, struct jmap_blob *b)
{
	const char *kv[] = { "accountId", j->account_id, NULL };
	char *url = expand(j->upload_url, kv);

	setup(j, x, url);
	free(url);
	x->blob = b;
	x->headers = curl_slist_append(x->headers,
	    "Content-Type: message/rfc822");
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->h, CURLOPT_POST, 1L);
	curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
	if (b->data) {
		curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, b->data);
	} else {
		x->fd = b->fd;
		x->size = b->size;
		curl_easy_setopt(x->h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(x->h, CURLOPT_READDATA, x);
	}
	curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)b->size);
	curl_multi_add_handle(j->multi, x->h);
}

/* A finished upload: 0 (the blob has its id or its error), 1 retry, -1. */
static int
end_upload(struct jmap *j, struct xfer *x, CURLcode rc, struct buf *err)
{
	struct jmap_blob *b = x->blob;
	json_t *o;
	long wait, code = 0;
	int r;

	r = judge(j, x->h, rc, x->head_ended, "upload", &x->body, &wait,
	    err);
	if (r == 1) {
		if (++x->tries >= RETRIES) {
			buf_adds(err, "upload: the server stays busy");
			return fail(j, EX_TEMPFAIL);
		}
		nap(wait);
		return 1;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (r < 0 && (code == 400 || code == 413)) {
		/* this blob is refused, not the whole run */
		b->error = xstrdup(err->buf);
		buf_reset(err);
		j->fail = 0;
		return 0;
	}
	if (r < 0)
		return -1;
	o = json_loadb(x->body.buf, x->body.len, 0, NULL);
	if (!json_string_value(json_object_get(o, "blobId"))) {
		buf_adds(err, "upload: the answer has no blobId: '");
		buf_add_sanitized(err, x->body.buf, x->body.len, 200);
		buf_addch(err, '\'');
		json_decref(o);
		return fail(j, EX_PROTOCOL);
	}
	b->blob_id = xstrdup(json_string_value(json_object_get(o,
	    "blobId")));
	json_decref(o);
	j->uploads++;
	j->bytes_up += b->size;
	return 0;
}

/* bodies up to this size go in Blob/upload calls when the server can */
#define INLINE_MAX	(1u << 20)

static const char *const blob_using[] = {
	"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:blob", NULL,
};

static int
send_blob_calls(struct jmap *j, json_t *calls, struct jmap_blob **who,
    size_t nwho, struct buf *err)
{
	json_t *resp, *created, *bad, *r;
	size_t i, c;
	int ret = -1;

	if (jmap_call(j, calls, blob_using, &resp, err) < 0)
		return -1;
	for (i = 0; i < nwho; i++) {
		char cid[32];

		snprintf(cid, sizeof(cid), "b%zu", i);
		created = bad = NULL;
		for (c = 0; c < json_array_size(calls) && !created && !bad;
		    c++) {
			char id[32];

			snprintf(id, sizeof(id), "%zu", c);
			r = jmap_response(resp, id, NULL);
			created = json_object_get(json_object_get(r, "created"),
			    cid);
			bad = json_object_get(json_object_get(r, "notCreated"),
			    cid);
		}
		if (json_string_value(json_object_get(created, "id"))) {
			who[i]->blob_id = xstrdup(json_string_value(
			    json_object_get(created, "id")));
			j->uploads++;
			j->bytes_up += who[i]->size;
		} else if (bad) {
			who[i]->error = xasprintf("Blob/upload: %s",
			    json_string_value(json_object_get(bad, "type")) ?
			    json_string_value(json_object_get(bad, "type")) :
			    "refused");
		}
		/* neither: left for an HTTP upload */
	}
	ret = 0;
	json_decref(resp);
	return ret;
}

/*
 * RFC 9404: small bodies go base64 in Blob/upload method calls, many to a
 * call and several calls to a request, within the session's limits: one
 * request instead of one per body.
 */
static int
upload_inline(struct jmap *j, struct jmap_blob *blobs, size_t nr,
    struct buf *err)
{
	uint64_t budget = j->max_size_request / 4 * 3, used = 0;
	size_t per_call = (size_t)j->max_objects_in_set, i, nwho = 0;
	size_t max_calls = (size_t)j->max_calls_in_request;
	struct jmap_blob **who = xcalloc(nr + 1, sizeof(*who));
	json_t *calls = json_array(), *create = NULL;
	struct buf enc = BUF_INIT;
	int ret = 0;

	for (i = 0; i <= nr && !ret; i++) {
		struct jmap_blob *b = i < nr ? &blobs[i] : NULL;
		uint64_t cost = b ? 4 * ((b->size + 2) / 3) + 200 : 0;
		char cid[32];

		if (b && (!b->data || b->error || b->size > INLINE_MAX ||
		    cost > budget))
			continue;
		if (!b || used + cost > budget || (create &&
		    json_object_size(create) >= per_call &&
		    json_array_size(calls) >= max_calls)) {
			if (nwho)
				ret = send_blob_calls(j, calls, who, nwho, err);
			json_decref(calls);
			calls = json_array();
			create = NULL;
			nwho = 0;
			used = 0;
			if (!b)
				break;
		}
		if (!create || json_object_size(create) >= per_call) {
			char id[32];

			create = json_object();
			snprintf(id, sizeof(id), "%zu", json_array_size(calls));
			json_array_append_new(calls, json_pack("[s, {s:s, s:o},"
			    " s]", "Blob/upload", "accountId", j->account_id,
			    "create", create, id));
		}
		buf_reset(&enc);
		b64_encode(b->data, b->size, &enc);
		snprintf(cid, sizeof(cid), "b%zu", nwho);
		json_object_set_new(create, cid, json_pack("{s:[{s:s}], s:s}",
		    "data", "data:asBase64", enc.buf, "type",
		    "message/rfc822"));
		who[nwho++] = b;
		used += cost;
	}
	json_decref(calls);
	free(who);
	buf_release(&enc);
	return ret;
}

int
jmap_upload_many(struct jmap *j, struct jmap_blob *blobs, size_t nr,
    struct buf *err)
{
	long conc = j->max_concurrent_upload > 0 ? j->max_concurrent_upload :
	    1;
	struct xfer *slots = xcalloc((size_t)conc, sizeof(*slots));
	size_t next = 0, i;
	int running = 0, active = 0, ret = 0;
	CURLMsg *m;
	int left;

	for (i = 0; i < nr; i++) {
		blobs[i].blob_id = blobs[i].error = NULL;
		if (blobs[i].size > j->max_size_upload)
			blobs[i].error = xasprintf("%" PRIu64 " bytes is over"
			    " the server's maxSizeUpload of %" PRIu64,
			    blobs[i].size, j->max_size_upload);
	}
	if (j->has_blob_ext && upload_inline(j, blobs, nr, err) < 0) {
		free(slots);
		return -1;
	}
	for (;;) {
		/* the session's first upload goes alone: Cyrus 3.6 makes the
		 * upload collection then, and 404s the uploads racing it */
		size_t width = j->uploads ? (size_t)conc : 1;

		for (i = 0; i < width && next < nr && !ret; i++) {
			if (slots[i].h)
				continue;
			while (next < nr && (blobs[next].error ||
			    blobs[next].blob_id))
				next++;
			if (next == nr)
				break;
			start_upload(j, &slots[i], &blobs[next++]);
			active++;
		}
		if (!active)
			break;
		if (curl_multi_perform(j->multi, &running) != CURLM_OK) {
			buf_adds(err, "upload: curl failed");
			ret = fail(j, EX_SOFTWARE);
		}
		while ((m = curl_multi_info_read(j->multi, &left))) {
			struct xfer *x;
			int r;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&x);
			curl_multi_remove_handle(j->multi, x->h);
			r = ret ? 0 : end_upload(j, x, m->data.result, err);
			if (r == 1) {
				struct jmap_blob *b = x->blob;
				int tries = x->tries;

				xfer_release(x);
				start_upload(j, x, b);
				x->tries = tries;
				continue;
			}
			if (r < 0)
				ret = -1;
			xfer_release(x);
			active--;
		}
		if (active)
			curl_multi_poll(j->multi, NULL, 0, 1000, NULL);
	}
	for (i = 0; i < (size_t)conc; i++)
		if (slots[i].h) {
			curl_multi_remove_handle(j->multi, slots[i].h);
			xfer_release(&slots[i]);
		}
	free(slots);
	return ret;
}

char *
jmap_download_url(const struct jmap *j, const char *blob_id)
{
	const char *kv[] = { "accountId", j->account_id, "blobId", blob_id,
	    "name", "message.eml", "type", "application/octet-stream", NULL };

	return expand(j->download_url, kv);
}

int
jmap_download(struct jmap *j, const char *blob_id, struct buf *out,
    struct buf *err)
{
	char *url = jmap_download_url(j, blob_id);
	int ret;

	ret = request(j, url, NULL, NULL, 0, out, err);
	free(url);
	return ret;
}

int
jmap_fetch_emails(struct jmap *j, json_t *all, json_t *filter, struct buf *err)
{
	long limit = j->max_objects_in_get > 1000 ? 1000 :
	    j->max_objects_in_get;
	json_int_t position = 0, total = -1;

	while (total < 0 || position < total) {
		json_t *calls, *resp = NULL, *q, *list, *e;
		size_t i;

		calls = json_pack("[[s, {s:s, s:I, s:I, s:b, s:O?}, s], [s,"
		    " {s:s, s:{s:s, s:s, s:s}, s:[s, s, s, s, s]}, s]]",
		    "Email/query", "accountId", j->account_id, "position",
		    position, "limit", (json_int_t)limit, "calculateTotal", 1,
		    "filter", filter,
		    "q", "Email/get", "accountId", j->account_id, "#ids",
		    "resultOf", "q", "name", "Email/query", "path", "/ids",
		    "properties", "blobId", "mailboxIds", "keywords",
		    "receivedAt", "size", "g");
		if (jmap_call(j, calls, NULL, &resp, err) < 0) {
			json_decref(calls);
			return -1;
		}
		json_decref(calls);
		q = jmap_response(resp, "q", NULL);
		list = json_object_get(jmap_response(resp, "g", NULL), "list");
		if (!q || !json_is_array(list)) {
			jmap_call_failed(j, resp, json_object_get(q, "ids") ?
			    "g" : "q", "Email/query and Email/get", err);
			json_decref(resp);
			return -1;
		}
		total = json_integer_value(json_object_get(q, "total"));
		json_array_foreach(list, i, e)
			json_object_set(all, json_string_value(json_object_get(
			    e, "id")), e);
		position += (json_int_t)json_array_size(json_object_get(q,
		    "ids"));
		json_decref(resp);
		if (!json_array_size(list))
			break;
	}
	return 0;
}
