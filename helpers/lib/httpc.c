#include "compat.h"

#include <curl/curl.h>

#include "buf.h"
#include "httpc.h"
#include "log.h"

size_t
httpc_on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_add(b, data, size * n) < 0)
		return 0;	/* over the cap: curl fails the transfer */
	return size * n;
}

/* Each header line of each answer (a redirect's too): the last one's
 * empty line ends them. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	int *ended = arg;
	size_t len = size * n;

	if (len >= 5 && !memcmp(data, "HTTP/", 5))
		*ended = 0;
	else if ((len == 2 && data[0] == '\r' && data[1] == '\n') ||
	    (len == 1 && data[0] == '\n'))
		*ended = 1;
	return len;
}

static int
has_credential(const struct http_opts *o, int token)
{
	return token || o->user;
}

int
httpc_may_send(const struct http_opts *o, int token, const char *url,
    struct buf *err)
{
	if (!has_credential(o, token) || o->allow_plaintext ||
	    strncasecmp(url, "http://", 7))
		return 0;
	buf_addf(err, "%s: refusing to send a %s over http:// in clear; use"
	    " https://, or --allow-plaintext", url, token ? "token" :
	    "password");
	return EX_CONFIG;
}

void *
httpc_handle(const char *agent, const struct http_opts *o, long timeout,
    int token, struct buf *body, int *head_ended)
{
	CURL *h = curl_easy_init();

	if (!h)
		fatalx(EX_SOFTWARE, "out of memory");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, httpc_on_data);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, head_ended);
	*head_ended = 0;
	if (body)
		curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, o->timeout > 0 ? o->timeout :
	    timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
	if (o->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	if (o->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (has_credential(o, token) && !o->allow_plaintext) {
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	}
	if (o->user && !token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ?
		    o->password : "");
	}
	return h;
}

int
httpc_failed(int rc, int head_ended, const char *what, struct buf *err)
{
	if (rc == CURLE_OK && head_ended)
		return 0;
	if (rc == CURLE_OK) {
		buf_addf(err, "%s: the connection closed in the answer's"
		    " headers", what);
		return EX_TEMPFAIL;
	}
	buf_addf(err, "%s: %s", what, curl_easy_strerror(rc));
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
		return EX_UNAVAILABLE;
	case CURLE_UNSUPPORTED_PROTOCOL:
		buf_adds(err, " (a credential goes to https:// only, unless"
		    " --allow-plaintext)");
		return EX_CONFIG;
	case CURLE_WRITE_ERROR:
		buf_adds(err, " (the answer is too large)");
		return EX_PROTOCOL;
	default:
		return EX_TEMPFAIL;
	}
}
