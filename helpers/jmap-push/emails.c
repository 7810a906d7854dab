#include "compat.h"

#include <ctype.h>
#include <fcntl.h>
#include <time.h>

#include <openssl/evp.h>

#include "log.h"
#include "evline.h"
#include "helper.h"
#include "push.h"
#include "segment.h"
#include "xalloc.h"

/* bodies up to this size are uploaded from memory, larger from a file */
#define BODY_MEM	(8u << 20)

static void
push_progress(struct push *p, int force)
{
	if (!helper_progress_due(force))
		return;
	evline_write(1, "progress", "{s:I, s:I, s:I, s:I}", "messages",
	    (json_int_t)p->done_msgs, "bytes", (json_int_t)p->done_bytes,
	    "messages_total", (json_int_t)p->todo_msgs, "bytes_total",
	    (json_int_t)p->todo_bytes);
}

static int
needs_import(const struct want *w)
{
	return !unit_placed(w->have);
}

/* A body read out of its segment, for upload. */
struct body {
	char hash[SEG_HASH_HEX + 1];
	char *data;		/* or in fd */
	int fd;
	uint64_t size;
	char *blob_id;
	char *error;
};

struct batch {
	struct push *p;
	struct body *b;
	size_t nr, alloc;
	uint64_t bytes;
	size_t msgs;
};

static void
batch_clear(struct batch *bt)
{
	size_t i;

	for (i = 0; i < bt->nr; i++) {
		free(bt->b[i].data);
		if (bt->b[i].fd >= 0)
			close(bt->b[i].fd);
		free(bt->b[i].blob_id);
		free(bt->b[i].error);
	}
	bt->nr = 0;
	bt->bytes = 0;
	bt->msgs = 0;
}

static struct body *
body_of(struct batch *bt, const char *hash)
{
	size_t i;

	for (i = 0; i < bt->nr; i++)
		if (!strcmp(bt->b[i].hash, hash))
			return &bt->b[i];
	return NULL;
}

/*
 * Put want `w` (entry e`i`) into the request `calls`, in its last
 * Email/import call while that has room, and record it "sending"; or,
 * with nowhere to go or no body uploaded, record it failed.
 */
static int
import_add(struct push *p, struct batch *bt, struct want *w, size_t i,
    json_t *calls, json_t **emails, int *ncall, size_t per_call,
    struct buf *err)
{
	struct body *b = body_of(bt, w->hash);
	char cid[32], when[32];

	/* after the flip, new mail of a folder whose mailbox the user
	 * deleted goes to the Inbox */
	if (!*w->mailboxes && p->after_cutover && p->inbox_id) {
		helper_anomaly("into-inbox", w->folder, w->uid, "its mailbox"
		    " was deleted on the destination since the cutover;"
		    " carried to the Inbox");
		free(w->mailboxes);
		w->mailboxes = xstrdup(p->inbox_id);
	}
	if (!b || !b->blob_id || !*w->mailboxes) {
		const char *why = !*w->mailboxes ? "no destination mailbox" :
		    b && b->error ? b->error : "body not uploaded";

		helper_anomaly("not-imported", w->folder, w->uid, "%s", why);
		p->failed++;
		return push_record(p, w, "failed", NULL, NULL, NULL, why, err);
	}
	if (!*emails || json_object_size(*emails) >= per_call) {
		char id[32];

		*emails = json_object();
		snprintf(id, sizeof(id), "%d", (*ncall)++);
		json_array_append_new(calls, json_pack("[s, {s:s, s:o}, s]",
		    "Email/import", "accountId", p->j->account_id, "emails",
		    *emails, id));
	}
	push_utc(w->time, when, sizeof(when));
	snprintf(cid, sizeof(cid), "e%zu", i);
	json_object_set_new(*emails, cid, json_pack("{s:s, s:o, s:o, s:s}",
	    "blobId", b->blob_id, "mailboxIds", push_set_of(w->mailboxes),
	    "keywords", push_set_of(w->keywords), "receivedAt", when));
	return push_record(p, w, "sending", NULL, NULL, NULL, NULL, err);
}

/* What came of want `w` (entry e`i`) in the answer `resp`, recorded. */
static int
import_result(struct push *p, struct want *w, size_t i, json_t *resp,
    int ncall, struct buf *err)
{
	json_t *r, *created = NULL, *bad = NULL;
	const char *type, *desc;
	char cid[32], id[32];
	int c;

	snprintf(cid, sizeof(cid), "e%zu", i);
	for (c = 0; c < ncall && !created && !bad; c++) {
		snprintf(id, sizeof(id), "%d", c);
		r = jmap_response(resp, id, NULL);
		created = json_object_get(json_object_get(r, "created"), cid);
		bad = json_object_get(json_object_get(r, "notCreated"), cid);
	}
	if (!created && !bad)
		return 0;	/* failed before: recorded */
	if (created) {
		p->imported++;
		p->done_msgs++;
		p->done_bytes += w->size;
		return push_record(p, w, "done", json_string_value(
		    json_object_get(created, "id")), w->mailboxes,
		    w->keywords, NULL, err);
	}
	type = json_string_value(json_object_get(bad, "type"));
	if (type && !strcmp(type, "alreadyExists") &&
	    json_string_value(json_object_get(bad, "existingId"))) {
		/* there already: make it what it should be */
		p->matched++;
		p->done_msgs++;
		p->done_bytes += w->size;
		if (w->k > 0)
			helper_anomaly("duplicate-merged", w->folder, w->uid,
			    "the destination keeps one email per content;"
			    " this copy is the same email");
		return push_record(p, w, "done", json_string_value(
		    json_object_get(bad, "existingId")), "", "", NULL, err);
	}
	p->failed++;
	desc = json_string_value(json_object_get(bad, "description"));
	helper_anomaly("not-imported", w->folder, w->uid, "%s%s%s",
	    type ? type : "refused", desc ? ": " : "", desc ? desc : "");
	return push_record(p, w, "failed", NULL, NULL, NULL, type ? type :
	    "refused", err);
}

/*
 * Import the wants whose bodies are in the batch: upload them, then
 * Email/import in as few requests as the server's limits allow.  Each
 * request's emails are recorded as "sending" before it goes and as what
 * came of them after, so a crash in between is reconciled, not repeated.
 */
static int
import_batch(struct push *p, struct batch *bt, struct want **ws, size_t nws,
    struct buf *err)
{
	struct jmap_blob *jb = xcalloc(bt->nr + 1, sizeof(*jb));
	size_t i, start, per_call = (size_t)p->j->max_objects_in_set;
	size_t per_req = per_call * (size_t)p->j->max_calls_in_request;
	int ret = -1, rc;

	if (per_call > 100)
		per_call = 100;
	if (per_req > 500)
		per_req = 500;
	for (i = 0; i < bt->nr; i++) {
		jb[i].data = bt->b[i].data;
		jb[i].fd = bt->b[i].fd;
		jb[i].size = bt->b[i].size;
	}
	rc = jmap_upload_many(p->j, jb, bt->nr, err);
	for (i = 0; i < bt->nr; i++) {	/* the batch frees them, either way */
		bt->b[i].blob_id = jb[i].blob_id;
		bt->b[i].error = jb[i].error;
	}
	if (rc < 0)
		goto out;
	for (start = 0; start < nws; start += per_req) {
		size_t end = start + per_req < nws ? start + per_req : nws;
		json_t *calls = json_array(), *emails = NULL, *resp = NULL;
		int ncall = 0;

		if (arcidx_begin(p->ix, err) < 0)
			goto out;
		for (i = start; i < end; i++)
			if (import_add(p, bt, ws[i], i, calls, &emails,
			    &ncall, per_call, err) < 0)
				goto fail_tx;
		if (arcidx_commit(p->ix, err) < 0)
			goto fail_req;
		if (ncall && jmap_call(p->j, calls, NULL, &resp, err) < 0)
			goto fail_req;
		if (arcidx_begin(p->ix, err) < 0)
			goto fail_req;
		for (i = start; ncall && i < end; i++)
			if (import_result(p, ws[i], i, resp, ncall, err) < 0)
				goto fail_tx;
		if (arcidx_commit(p->ix, err) < 0)
			goto fail_req;
		json_decref(calls);
		json_decref(resp);
		push_progress(p, 0);
		continue;
fail_tx:
		arcidx_commit(p->ix, &(struct buf)BUF_INIT);
fail_req:
		json_decref(calls);
		json_decref(resp);
		goto out;
	}
	ret = 0;
out:
	free(jb);
	return ret;
}

/* Read a body out of the segment being scanned into the batch. */
static int
take_body(struct push *p, struct seg_reader *r, const char *hash,
    uint64_t size, struct batch *bt, struct buf *err)
{
	struct body *b;
	char chunk[65536];
	ssize_t n;
	uint64_t got = 0;

	ALLOC_GROW(bt->b, bt->nr + 1, bt->alloc);
	b = &bt->b[bt->nr++];
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	memcpy(b->hash, hash, SEG_HASH_HEX);
	b->hash[SEG_HASH_HEX] = '\0';
	b->size = size;
	if (size <= BODY_MEM) {
		b->data = xmalloc(size + 1);
		while (got < size && (n = seg_reader_data(r, b->data + got,
		    (size_t)(size - got), err)) > 0)
			got += (uint64_t)n;
	} else {
		b->fd = open(p->archive, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (b->fd < 0) {
			buf_addf(err, "cannot make a file in '%s': %s",
			    p->archive, strerror(errno));
			return -1;
		}
		while ((n = seg_reader_data(r, chunk, sizeof(chunk),
		    err)) > 0) {
			if (write(b->fd, chunk, (size_t)n) != n) {
				buf_addf(err, "cannot spool a body: %s",
				    strerror(errno));
				return -1;
			}
			got += (uint64_t)n;
		}
	}
	if (got != size) {
		buf_addf(err, "body %s is shorter than its entry", hash);
		return -1;
	}
	bt->bytes += size;
	return 0;
}

struct need {
	const char *hash;	/* of the wants to import, by hash */
	long long seq;
};

static int
cmp_need(const void *a, const void *b)
{
	const struct need *x = a, *y = b;

	return x->seq != y->seq ? (x->seq < y->seq ? -1 : 1) :
	    strcmp(x->hash, y->hash);
}

static int
cmp_hash_key(const void *key, const void *elem)
{
	return strncmp(key, ((const struct need *)elem)->hash, SEG_HASH_HEX);
}

/* The wants of the batch's bodies, in want order. */
static size_t
batch_wants(struct push *p, struct batch *bt, struct want ***ws_r)
{
	struct want **ws = xreallocarray(NULL, p->nr_want + 1, sizeof(*ws));
	size_t i, n = 0;

	for (i = 0; i < p->nr_want; i++)
		if (needs_import(&p->want[i]) && body_of(bt, p->want[i].hash))
			ws[n++] = &p->want[i];
	*ws_r = ws;
	return n;
}

static int
flush(struct push *p, struct batch *bt, struct buf *err)
{
	struct want **ws;
	size_t n;
	int ret;

	if (!bt->nr)
		return 0;
	n = batch_wants(p, bt, &ws);
	ret = import_batch(p, bt, ws, n, err);
	free(ws);
	batch_clear(bt);
	return ret;
}

/*
 * Import every want that is not done: scan the segments that hold their
 * bodies once, in order, and import batch by batch.
 */
static int
import_all(struct push *p, struct buf *err)
{
	struct need *need = NULL;
	struct batch bt;
	struct buf path = BUF_INIT;
	size_t i, nn = 0, lo;
	long long seq;
	int ret = -1;

	memset(&bt, 0, sizeof(bt));
	bt.p = p;
	need = xreallocarray(NULL, p->nr_want + 1, sizeof(*need));
	for (i = 0; i < p->nr_want; i++) {
		struct want *w = &p->want[i];

		if (!needs_import(w) || (i && !strcmp(w->hash,
		    p->want[i - 1].hash) && nn && !strcmp(need[nn - 1].hash,
		    w->hash)))
			continue;
		p->todo_msgs++;
		p->todo_bytes += w->size;
		need[nn].hash = w->hash;
		need[nn++].seq = arcidx_blob_seq(p->ix, w->hash);
	}
	if (nn)
		qsort(need, nn, sizeof(*need), cmp_need);
	push_progress(p, 1);
	for (lo = 0; lo < nn; ) {
		struct seg_reader *r;
		const char *name;
		uint64_t size;
		size_t hi = lo;
		int st;

		seq = need[lo].seq;
		while (hi < nn && need[hi].seq == seq)
			hi++;
		if (seq <= 0) {
			buf_addf(err, "body %s is in no segment of '%s'",
			    need[lo].hash, p->archive);
			goto out;
		}
		buf_reset(&path);
		buf_addf(&path, "%s/" SEG_DIR "/", p->archive);
		seg_name((unsigned)seq, &path);
		if (seg_reader_open(&r, path.buf, err) < 0)
			goto out;
		while ((st = seg_reader_next(r, &name, &size, err)) == 1) {
			const char *h = name + strlen(SEG_BLOB_PREFIX);

			if (strncmp(name, SEG_BLOB_PREFIX,
			    strlen(SEG_BLOB_PREFIX)) || !bsearch(h, need + lo,
			    hi - lo, sizeof(*need), cmp_hash_key))
				continue;
			if (take_body(p, r, h, size, &bt, err) < 0) {
				seg_reader_free(&r);
				goto out;
			}
			if (bt.nr >= (size_t)p->batch_msgs ||
			    bt.bytes >= p->batch_bytes) {
				if (flush(p, &bt, err) < 0) {
					seg_reader_free(&r);
					goto out;
				}
			}
		}
		seg_reader_free(&r);
		if (st < 0)
			goto out;
		lo = hi;
	}
	if (flush(p, &bt, err) < 0)
		goto out;
	ret = 0;
out:
	batch_clear(&bt);
	free(bt.b);
	free(need);
	buf_release(&path);
	return ret;
}

/*
 * Emails sent in a request whose answer never got recorded: find each on
 * the destination by size and date in its mailbox, and prove it by its
 * body's SHA-256, before importing anything again.
 */
static int
reconcile(struct push *p, struct buf *err)
{
	struct buf body = BUF_INIT;
	size_t i, c;
	int ret = -1;

	buf_init(&body, 256u << 20);
	for (i = 0; i < p->nr_want; i++) {
		struct want *w = &p->want[i];
		json_t *calls, *resp = NULL, *list;
		char after[32], before[32], first[256];
		const char *sp;

		if (!w->have || strcmp(w->have->state, "sending") ||
		    !*w->mailboxes)
			continue;
		sp = strchr(w->mailboxes, ' ');
		snprintf(first, sizeof(first), "%.*s", sp ?
		    (int)(sp - w->mailboxes) : (int)strlen(w->mailboxes),
		    w->mailboxes);
		push_utc(w->time, after, sizeof(after));
		push_utc(w->time + 1, before, sizeof(before));
		calls = json_pack("[[s, {s:s, s:{s:s, s:I, s:I, s:s, s:s}}, s],"
		    " [s, {s:s, s:{s:s, s:s, s:s}, s:[s]}, s]]", "Email/query",
		    "accountId", p->j->account_id, "filter", "inMailbox", first,
		    "minSize", (json_int_t)w->size, "maxSize",
		    (json_int_t)w->size, "after", after, "before", before, "q",
		    "Email/get", "accountId", p->j->account_id, "#ids",
		    "resultOf", "q", "name", "Email/query", "path", "/ids",
		    "properties", "blobId", "g");
		if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
			json_decref(calls);
			goto out;
		}
		json_decref(calls);
		list = json_object_get(jmap_response(resp, "g", NULL), "list");
		for (c = 0; c < json_array_size(list); c++) {
			json_t *e = json_array_get(list, c);
			const char *id = json_string_value(json_object_get(e,
			    "id"));
			const char *blob = json_string_value(json_object_get(e,
			    "blobId"));
			unsigned char md[32];
			char hex[SEG_HASH_HEX + 1];
			size_t u;
			int used = 0;

			for (u = 0; u < p->nr_units && !used; u++)
				used = p->units[u].email_id &&
				    !strcmp(p->units[u].email_id, id);
			if (used || !blob)
				continue;
			buf_reset(&body);
			if (jmap_download(p->j, blob, &body, err) < 0)
				goto fail;
			EVP_Digest(body.buf, body.len, md, NULL, EVP_sha256(),
			    NULL);
			seg_hash_hex(md, hex);
			if (strcmp(hex, w->hash))
				continue;
			log_info("email for %s UID %u was imported before the"
			    " crash: %s", w->folder, w->uid, id);
			if (push_record(p, w, "done", id, "", "", NULL,
			    err) < 0)
				goto fail;
			free(w->have->state);
			w->have->state = xstrdup("done");
			free(w->have->email_id);
			w->have->email_id = xstrdup(id);
			p->matched++;
			break;
		}
		json_decref(resp);
		continue;
fail:
		json_decref(resp);
		goto out;
	}
	ret = 0;
out:
	buf_release(&body);
	return ret;
}

int
push_emails(struct push *p, struct buf *err)
{
	if (reconcile(p, err) < 0 || push_adopt(p, err) < 0 ||
	    import_all(p, err) < 0 || (p->rescue && push_rescue(p, err) < 0) ||
	    push_update_all(p, err) < 0 || push_stale_all(p, err) < 0)
		return -1;
	push_progress(p, 1);
	return 0;
}
