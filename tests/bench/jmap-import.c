/*
 * jmap-import: the destination's JMAP ingest rate, for `make bench`.  A
 * tight batched importer with no state and no checks: reads .eml files
 * named on standard input (after the secrets block), uploads them up to
 * maxConcurrentUpload at a time, and imports each 100 with one
 * Email/import call into the inbox.  What jmap-push does on top of this
 * is its cost.
 *
 *	jmap-import URL USER <secrets-and-file-list
 *
 * Prints "messages BYTES".
 */
#include "compat.h"

#include <curl/curl.h>

#include "buf.h"
#include "jmap.h"
#include "secret.h"
#include "xalloc.h"

#include "eml.h"

#define BATCH	100

static struct buf err = BUF_INIT;

static void
die(const char *what)
{
	fprintf(stderr, "jmap-import: %s: %s\n", what, err.buf);
	exit(1);
}

static char *
inbox_of(struct jmap *j)
{
	json_t *calls, *resp, *list, *m;
	char *id = NULL;
	size_t i;

	calls = json_pack("[[s, {s:s}, s]]", "Mailbox/get", "accountId",
	    j->account_id, "0");
	if (jmap_call(j, calls, NULL, &resp, &err) < 0)
		die("Mailbox/get");
	list = json_object_get(jmap_response(resp, "0", NULL), "list");
	json_array_foreach(list, i, m)
		if (json_string_value(json_object_get(m, "role")) &&
		    !strcmp(json_string_value(json_object_get(m, "role")),
		    "inbox"))
			id = xstrdup(json_string_value(json_object_get(m,
			    "id")));
	json_decref(calls);
	json_decref(resp);
	if (!id)
		die("no inbox");
	return id;
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct jmap_opts o;
	struct jmap *j;
	struct jmap_blob b[BATCH];
	char line[4096], *inbox;
	unsigned long long msgs = 0, bytes = 0;
	size_t nr = 0, i;
	int more = 1;

	if (argc != 3)
		return 64;
	if (secrets_read(&sec, 0, &err) < 0)
		die("secrets");
	memset(&o, 0, sizeof(o));
	o.http.url = argv[1];
	o.http.user = argv[2];
	o.http.password = secrets_get(&sec, "password");
	o.http.allow_plaintext = 1;	/* the bench world, on loopback */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (jmap_open(&j, &o, &err) < 0)
		die("session");
	inbox = inbox_of(j);
	while (more) {
		json_t *emails, *calls, *resp;

		more = fgets(line, sizeof(line), stdin) != NULL;
		if (more) {
			line[strcspn(line, "\n")] = '\0';
			memset(&b[nr], 0, sizeof(b[nr]));
			b[nr].fd = -1;
			{
				size_t len;

				b[nr].data = eml_read(line, &len);
				b[nr].size = len;
			}
			nr++;
		}
		if (nr < BATCH && more)
			continue;
		if (!nr)
			break;
		if (jmap_upload_many(j, b, nr, &err) < 0)
			die("upload");
		emails = json_object();
		for (i = 0; i < nr; i++) {
			char cid[16];

			if (!b[i].blob_id)
				continue;
			snprintf(cid, sizeof(cid), "m%zu", i);
			json_object_set_new(emails, cid, json_pack("{s:s,"
			    " s:{s:b}, s:{s:b}}", "blobId", b[i].blob_id,
			    "mailboxIds", inbox, 1, "keywords", "$seen", 1));
		}
		calls = json_pack("[[s, {s:s, s:o}, s]]", "Email/import",
		    "accountId", j->account_id, "emails", emails, "0");
		if (jmap_call(j, calls, NULL, &resp, &err) < 0)
			die("Email/import");
		msgs += json_object_size(json_object_get(jmap_response(resp,
		    "0", NULL), "created"));
		json_decref(calls);
		json_decref(resp);
		for (i = 0; i < nr; i++) {
			bytes += b[i].size;
			free((char *)b[i].data);
			free(b[i].blob_id);
			free(b[i].error);
		}
		nr = 0;
	}
	printf("%llu %llu\n", msgs, bytes);
	free(inbox);
	jmap_close(&j);
	secrets_clear(&sec);
	curl_global_cleanup();
	return 0;
}
