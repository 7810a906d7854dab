/*
 * dirhttp.c: one request to a source's directory API (doveadm.c,
 * stalwart_src.c), its certificates checked as the source's, a
 * credential never sent over plain http without source.allow_plaintext.
 */
#include "compat.h"

#include <jansson.h>

#include "accounts.h"
#include "buf.h"
#include "dav.h"
#include "plan.h"
#include "xalloc.h"

json_t *
dir_http(const struct plan *p, const struct dir_req *rq, long *code_r,
    struct buf *err)
{
	struct http_opts o = { 0 };
	struct dav *d = NULL;
	struct dav_answer a = { 0 };
	struct buf body = BUF_INIT;
	const char *hdrs[2] = { rq->header, NULL };
	json_t *ans = NULL;

	*code_r = 0;
	if (!strncmp(rq->url, "http://", 7) && !p->source.allow_plaintext) {
		buf_addf(err, "%s: %s would cross the network in clear"
		    " (source.allow_plaintext)", rq->url, rq->what);
		return NULL;
	}
	o.url = rq->url;
	o.user = rq->user;
	o.password = rq->password;
	o.ca_file = p->source.ca_file;
	o.insecure = p->source.insecure;
	o.allow_plaintext = p->source.allow_plaintext;
	o.timeout = 120;
	a.body = &body;
	if (dav_open(&d, &o, err) == 0 && dav_request(d, rq->data ? "POST" :
	    "GET", rq->url, NULL, NULL, rq->data, rq->data ?
	    strlen(rq->data) : 0, rq->data ? "application/json" : NULL, hdrs,
	    &a, err) == 0) {
		*code_r = a.code;
		ans = json_loadb(body.buf, body.len, 0, NULL);
		if (a.code == 401 || a.code == 403)
			buf_addf(err, "%s: HTTP %ld: %s is refused", rq->url,
			    a.code, rq->what);
		else if (!ans)
			buf_addf(err, "%s: HTTP %ld, not JSON", rq->url,
			    a.code);
	}
	dav_answer_release(&a);
	dav_close(&d);
	buf_release_wipe(&body);
	if (*code_r == 401 || *code_r == 403) {
		json_decref(ans);
		return NULL;
	}
	return ans;
}
