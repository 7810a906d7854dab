/*
 * fuzz-dav-xml.c: libFuzzer on the reader of WebDAV multistatus answers
 * (dav.c, libxml2), and on what the pulls take from each response.
 */
#include "compat.h"

#include "buf.h"
#include "dav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf body = BUF_INIT, err = BUF_INIT;
	struct dav d = { 0 };
	struct dav_answer a = { 0 };
	size_t i;

	buf_add(&body, data, size);
	a.code = 207;
	a.body = &body;
	if (dav_parse_multistatus(&d, &a, "http://fuzz/", &err) == 0)
		for (i = 0; i < a.nr; i++) {
			free(dav_path(a.v[i].href));
			free(dav_text(dav_prop(&a.v[i], NS_DAV, "getetag")));
			free(dav_href_in(dav_prop(&a.v[i], NS_DAV,
			    "resourcetype")));
		}
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&err);
	return 0;
}
