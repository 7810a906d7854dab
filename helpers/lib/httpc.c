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

void *
httpc_handle(const char *agent, long timeout, const char *ca_file,
    int insecure, const char *user, const char *password, struct buf *body)
{
	CURL *h = curl_easy_init();

	if (!h)
		fatalx(EX_SOFTWARE, "out of memory");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, httpc_on_data);
	if (body)
		curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password :
		    "");
	}
	return h;
}
