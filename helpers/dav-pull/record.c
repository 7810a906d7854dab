/*
 * record.c: what dav-pull writes into the archive: records into a
 * segment, the segment committed and indexed.
 */
#include "compat.h"

#include <time.h>

#include <openssl/evp.h>

#include "dpull.h"
#include "evline.h"

struct dpull pull;

int
record(json_t *o, struct buf *err)
{
	char *line;

	if (pull.assess) {
		json_decref(o);
		return 0;
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line) {
		buf_adds(err, "cannot encode a manifest record");
		return -1;
	}
	seg_record(pull.w, line, strlen(line));
	free(line);
	pull.dirty = 1;
	return 0;
}

int
record_blob(const struct buf *body, char *hash, struct buf *err)
{
	unsigned char md[32];

	EVP_Digest(body->buf, body->len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, hash);
	if (pull.assess || arcidx_has_blob(pull.ix, hash) == 1)
		return 0;
	if (seg_blob_begin(pull.w, hash, body->len, err) < 0 ||
	    seg_blob_data(pull.w, body->buf, body->len, err) < 0)
		return -1;
	return record(json_pack("{s:s, s:s, s:I, s:I}", "t", "blob", "hash",
	    hash, "size", (json_int_t)body->len, "time",
	    (json_int_t)time(NULL)), err);
}

/* The segment, when the pass changed anything (a token counts). */
int
commit(struct buf *err)
{
	struct buf manifest = BUF_INIT;
	const char *m;
	size_t len;
	char token[32];
	int rc;

	if (!pull.dirty) {
		seg_writer_abort(&pull.w);
		return 0;
	}
	if (record(json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "dav-pass",
	    "time", (json_int_t)time(NULL), "collections",
	    (json_int_t)pull.nr, "resources", (json_int_t)(pull.events +
	    pull.contacts), "bytes", (json_int_t)pull.bytes), err) < 0)
		return -1;
	m = seg_manifest(pull.w, &len);
	buf_add(&manifest, m, len);
	rc = seg_writer_commit(&pull.w, err);
	if (rc == 0)
		rc = arcidx_apply(pull.ix, pull.seq, manifest.buf,
		    manifest.len, err);
	buf_release(&manifest);
	if (rc < 0)
		return -1;
	snprintf(token, sizeof(token), "seg:%u", pull.seq);
	evline_write(1, "checkpoint", "{s:s, s:i}", "token", token, "segment",
	    (int)pull.seq);
	return 0;
}