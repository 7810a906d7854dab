/*
 * fuzz-jmap.c: libFuzzer on what jmap.c takes from a server's JSON (with
 * jansson): the session (account, URLs resolved against the base, limits,
 * the download template expanded) and a methodResponses array.
 */
#include "compat.h"

#include <jansson.h>

#include "buf.h"
#include "jmap.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct jmap_opts o;
	struct jmap *j = xcalloc(1, sizeof(*j));
	struct buf err = BUF_INIT;
	const char *name = NULL;
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);

	j->opts = &o;
	j->base = xstrdup("https://mail.example.org/.well-known/jmap");
	j->session = json_incref(doc);
	if (jmap_take_session(j, &err) == 0)
		free(jmap_download_url(j, "Gb{accountId}/%2F../x"));
	jmap_response(json_object_get(doc, "methodResponses"), "0", &name);
	jmap_response(doc, "c1", NULL);
	json_decref(doc);
	jmap_close(&j);
	buf_release(&err);
	return 0;
}
