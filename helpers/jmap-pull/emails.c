/*
 * emails.c: the source's emails as the archive's messages.
 *
 * An email in n mailboxes is n messages, one per folder, all with its
 * body (downloaded once: a JMAP email's bytes never change).  Each pass
 * compares emails with what the archive holds for their ids: a mailbox
 * the email left is an expunge, one it came to is a new message with the
 * folder's next UID, other keywords are a flags record.  The same
 * comparison serves a full pass (every email), a delta (the emails
 * Email/changes names) and a rerun after a crash (the records of the
 * interrupted pass are in the archive, so only what is left is done).
 */
#include "compat.h"

#include <time.h>

#include "evline.h"
#include "helper.h"
#include "jpull.h"
#include "keywords.h"
#include "log.h"
#include "now.h"
#include "xalloc.h"

#define CHANGES_MAX	5000	/* ids per Email/changes */

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A UTCDate (RFC 8620 1.4) in seconds since the epoch; 0 if it is not. */
static int64_t
utc_seconds(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return 0;
	return (int64_t)timegm(&tm);
}

/* A row of p->rows: [mailbox id, uid, hash, flags, size]. */
#define ROW_MB(r)	json_string_value(json_array_get(r, 0))
#define ROW_UID(r)	json_integer_value(json_array_get(r, 1))
#define ROW_HASH(r)	json_string_value(json_array_get(r, 2))
#define ROW_FLAGS(r)	json_string_value(json_array_get(r, 3))

int
emails_load(struct jpull *p, struct buf *err)
{
	struct arc_msg *m;
	size_t i, k, nr;

	p->rows = json_object();
	for (i = 0; i < p->nr_old; i++) {
		if (arcidx_msgs(p->st.ix, p->old[i].name, &m, &nr, err) < 0) {
			arc_msgs_free(m, nr);
			return helper_fail(EX_DATAERR);
		}
		for (k = 0; k < nr; k++) {
			json_t *list;

			if (!m[k].source_id) {
				buf_addf(err, "archive '%s' holds mail that"
				    " did not come from JMAP (folder '%s');"
				    " pull into a new archive", p->archive,
				    p->old[i].name);
				arc_msgs_free(m, nr);
				return helper_fail(EX_USAGE);
			}
			if (!(list = json_object_get(p->rows, m[k].source_id)))
				json_object_set_new(p->rows, m[k].source_id,
				    list = json_array());
			json_array_append_new(list, json_pack("[s, I, s, s, I]",
			    p->old[i].raw, (json_int_t)m[k].uid, m[k].hash,
			    m[k].flags, (json_int_t)m[k].size));
		}
		arc_msgs_free(m, nr);
	}
	return 0;
}

/* What the archive holds, counted into the folders (once they are known). */
static void
count_rows(struct jpull *p)
{
	const char *id;
	json_t *rows, *r;
	size_t i;

	json_object_foreach(p->rows, id, rows)
		json_array_foreach(rows, i, r) {
			struct jfolder *f = folder_by_id(p, ROW_MB(r));

			if (!f)
				continue;
			if ((uint32_t)ROW_UID(r) >= f->next_uid)
				f->next_uid = (uint32_t)ROW_UID(r) + 1;
			f->messages++;
			f->bytes += (uint64_t)json_integer_value(
			    json_array_get(r, 4));
		}
}

/* Download an email's body into the store: its hash in hash_r. */
static int
download(struct jpull *p, json_t *e, char *hash_r, struct buf *err)
{
	struct buf body = BUF_INIT;
	struct spool *sp = &p->sp;
	const char *blob = jstr(e, "blobId");
	json_int_t size = json_integer_value(json_object_get(e, "size"));
	int known, ret = -1;

	if (!blob) {
		buf_addf(err, "email %s has no blobId", jstr(e, "id"));
		return helper_fail(EX_PROTOCOL);
	}
	if (jmap_download(p->j, blob, &body, err) < 0) {
		buf_release(&body);
		return helper_fail(p->j->fail);
	}
	spool_begin(sp);
	spool_sink(sp, body.buf, body.len);
	if (spool_end(sp, err) < 0)
		goto out;
	if ((uint64_t)size != sp->len)
		helper_anomaly("size-mismatch", jstr(e, "id"), 0, "the email's"
		    " size is %lld bytes, its blob has %" PRIu64, (long long)size,
		    sp->len);
	if (!sp->len)
		helper_anomaly("empty-message", jstr(e, "id"), 0, "the email"
		    " has no bytes at all");
	if ((known = store_has_blob(&p->st, sp->hash)) < 0) {
		buf_adds(err, "cannot read the archive's index");
		goto out;
	}
	if (!known) {
		char *mid = store_header_mid(body.buf, body.len);
		json_t *rec = json_pack("{s:s, s:s, s:I, s:s?, s:I}", "t",
		    "blob", "hash", sp->hash, "size", (json_int_t)sp->len,
		    "mid", mid, "time", (json_int_t)utc_seconds(jstr(e,
		    "receivedAt")));

		free(mid);
		ret = store_blob(&p->st, sp, rec, err);
		json_decref(rec);
		if (ret < 0)
			goto out;
	}
	p->bytes_done += sp->len;
	memcpy(hash_r, sp->hash, SEG_HASH_HEX + 1);
	ret = 0;
out:
	buf_release(&body);
	return ret;
}

static int
msg_record(struct jpull *p, struct jfolder *f, json_t *e, const char *hash,
    uint64_t size, const char *flags, struct buf *err)
{
	const char *date = jstr(e, "receivedAt");

	f->touched = 1;
	f->messages++;
	f->bytes += size;
	return jpull_record(p, json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:s?,"
	    " s:I, s:o, s:o, s:i, s:s}", "t", "msg", "folder", f->name,
	    "uidvalidity", JPULL_UIDVALIDITY, "uid", (json_int_t)f->next_uid++,
	    "hash", hash, "size", (json_int_t)size, "date", date, "time",
	    (json_int_t)utc_seconds(date), "flags", store_flags_json(flags, 1),
	    "keywords", store_flags_json(flags, 0), "modseq", 0, "id",
	    jstr(e, "id")), err);
}

static int
expunge(struct jpull *p, struct jfolder *f, json_t *row, struct buf *err)
{
	f->touched = 1;
	if (f->messages)
		f->messages--;
	p->expunged++;
	return jpull_record(p, json_pack("{s:s, s:s, s:I}", "t", "expunge",
	    "folder", f->name, "uid", (json_int_t)ROW_UID(row)), err);
}

/*
 * The rows of an email that are in a mailbox it still is in: their flags;
 * the others are expunged.  `have` gets the mailboxes it is in already.
 */
static int
reconcile_rows(struct jpull *p, json_t *e, json_t *rows, const char *flags,
    json_t *have, struct buf *err)
{
	json_t *want = json_object_get(e, "mailboxIds"), *r;
	struct jfolder *f;
	size_t i;
	int ret = 0;

	json_array_foreach(rows, i, r) {
		if (ret || !(f = folder_by_id(p, ROW_MB(r))))
			continue;	/* the folder went, its messages too */
		if (!json_is_true(json_object_get(want, ROW_MB(r))) ||
		    json_object_get(have, ROW_MB(r))) {
			ret = expunge(p, f, r, err);
			continue;
		}
		json_object_set_new(have, ROW_MB(r), json_true());
		if (!strcmp(ROW_FLAGS(r), flags))
			continue;
		f->touched = 1;
		p->flag_changes++;
		ret = jpull_record(p, json_pack("{s:s, s:s, s:I, s:o, s:o,"
		    " s:i}", "t", "flags", "folder", f->name, "uid",
		    (json_int_t)ROW_UID(r), "flags", store_flags_json(flags, 1),
		    "keywords", store_flags_json(flags, 0), "modseq", 0), err);
	}
	return ret;
}

/* Make the archive hold email `e` as it is now. */
static int
reconcile(struct jpull *p, json_t *e, struct buf *err)
{
	json_t *rows = json_object_get(p->rows, jstr(e, "id"));
	json_t *have = json_object(), *v;
	const char *mb, *was = json_array_size(rows) ?
	    ROW_FLAGS(json_array_get(rows, 0)) : NULL;
	char *kw = kw_of_set(json_object_get(e, "keywords"));
	char *flags = kw_to_flags(kw, was);
	char hash[SEG_HASH_HEX + 1] = "";
	uint64_t size = (uint64_t)json_integer_value(json_object_get(e,
	    "size"));
	int ret = reconcile_rows(p, e, rows, flags, have, err);

	if (json_array_size(rows))
		snprintf(hash, sizeof(hash), "%s",
		    ROW_HASH(json_array_get(rows, 0)));
	json_object_foreach(json_object_get(e, "mailboxIds"), mb, v) {
		struct jfolder *f = folder_by_id(p, mb);

		if (ret || !json_is_true(v) || !f || json_object_get(have, mb))
			continue;
		if (*hash)
			p->matched++;	/* its body is in the archive */
		else if ((ret = download(p, e, hash, err)) < 0)
			break;
		p->msgs_done++;
		ret = msg_record(p, f, e, hash, size, flags, err);
		if (!ret)
			ret = store_maybe_commit(&p->st, err);
	}
	json_decref(have);
	free(kw);
	free(flags);
	return ret;
}

static int
by_received(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jstr(x, "receivedAt") ? jstr(x, "receivedAt") : "",
	    jstr(y, "receivedAt") ? jstr(y, "receivedAt") : "");

	return c ? c : strcmp(jstr(x, "id"), jstr(y, "id"));
}

/* The emails of `all` (id -> email), oldest first, each made to agree. */
static int
reconcile_all(struct jpull *p, json_t *all, struct buf *err)
{
	json_t **v = xcalloc(json_object_size(all) + 1, sizeof(*v)), *e;
	const char *id;
	size_t nr = 0, i;
	double last = 0;
	int ret = 0;

	json_object_foreach(all, id, e)
		v[nr++] = e;
	qsort(v, nr, sizeof(*v), by_received);
	p->msgs_total = nr;
	for (i = 0; i < nr && !ret; i++) {
		ret = reconcile(p, v[i], err);
		if (now_seconds() - last >= 1.0 || i + 1 == nr) {
			last = now_seconds();
			evline_write(1, "progress", "{s:I, s:I, s:I}",
			    "messages", (json_int_t)(i + 1), "bytes",
			    (json_int_t)p->bytes_done, "messages_total",
			    (json_int_t)nr);
		}
	}
	free(v);
	return ret;
}

/* The rows of emails no longer at the source: expunged. */
static int
expunge_gone(struct jpull *p, json_t *gone, struct buf *err)
{
	const char *id;
	json_t *v, *rows, *r;
	size_t i;
	int ret = 0;

	json_object_foreach(gone, id, v) {
		rows = json_object_get(p->rows, id);
		json_array_foreach(rows, i, r) {
			struct jfolder *f = folder_by_id(p, ROW_MB(r));

			if (f && !ret)
				ret = expunge(p, f, r, err);
		}
	}
	return ret;
}

/* The account's Email state now, before anything is listed. */
static int
email_state(struct jpull *p, struct buf *err)
{
	json_t *calls, *resp = NULL, *r;
	int ret = 0;

	calls = json_pack("[[s, {s:s, s:[], s:[s]}, s]]", "Email/get",
	    "accountId", p->j->account_id, "ids", "properties", "id", "s");
	if (jmap_call(p->j, calls, NULL, &resp, err) < 0)
		ret = helper_fail(p->j->fail);
	else if (!(r = jmap_response(resp, "s", NULL)) || !jstr(r, "state")) {
		buf_adds(err, "Email/get gave no state");
		ret = helper_fail(EX_PROTOCOL);
	} else {
		free(p->new_email_state);
		p->new_email_state = xstrdup(jstr(r, "state"));
	}
	json_decref(calls);
	json_decref(resp);
	return ret;
}

/*
 * Email/changes since the last pass, every page: the ids in `ids`.  1
 * when the server cannot calculate them (a full comparison follows).
 */
static int
email_changes(struct jpull *p, json_t *ids, struct buf *err)
{
	char *since = xstrdup(p->email_state);
	int more = 1, ret = 0;

	while (more && !ret) {
		json_t *calls, *resp = NULL, *r, *id;
		const char *name, *lists[] = { "created", "updated",
		    "destroyed" };
		size_t i, k;

		calls = json_pack("[[s, {s:s, s:s, s:i}, s]]", "Email/changes",
		    "accountId", p->j->account_id, "sinceState", since,
		    "maxChanges", CHANGES_MAX, "c");
		ret = jmap_call(p->j, calls, NULL, &resp, err);
		json_decref(calls);
		if (ret < 0) {
			ret = helper_fail(p->j->fail);
			break;
		}
		r = jmap_response(resp, "c", &name);
		if (r && !strcmp(name, "error")) {
			log_info("Email/changes: %s; comparing every email",
			    jstr(r, "type") ? jstr(r, "type") : "error");
			ret = 1;
		} else if (!r || !jstr(r, "newState")) {
			buf_adds(err, "Email/changes gave no newState");
			ret = helper_fail(EX_PROTOCOL);
		} else {
			for (k = 0; k < ARRAY_SIZE(lists); k++)
				json_array_foreach(json_object_get(r, lists[k]),
				    i, id)
					if (json_is_string(id))
						json_object_set_new(ids,
						    json_string_value(id),
						    json_true());
			free(since);
			since = xstrdup(jstr(r, "newState"));
			more = json_is_true(json_object_get(r,
			    "hasMoreChanges"));
		}
		json_decref(resp);
	}
	if (ret == 0) {
		free(p->new_email_state);
		p->new_email_state = since;
	} else {
		free(since);
	}
	return ret;
}

/* The emails `ids` names, into `all`; those gone into `gone`. */
static int
emails_get(struct jpull *p, json_t *ids, json_t *all, json_t *gone,
    struct buf *err)
{
	size_t per = p->j->max_objects_in_get > 500 ? 500 :
	    (size_t)p->j->max_objects_in_get, i;
	void *it = json_object_iter(ids);
	int ret = 0;

	while (it && !ret) {
		json_t *want = json_array(), *calls, *resp = NULL, *r, *e;

		for (; it && json_array_size(want) < per;
		    it = json_object_iter_next(ids, it))
			json_array_append_new(want, json_string(
			    json_object_iter_key(it)));
		calls = json_pack("[[s, {s:s, s:o, s:[s, s, s, s, s, s]}, s]]",
		    "Email/get", "accountId", p->j->account_id, "ids", want,
		    "properties", "id", "blobId", "mailboxIds", "keywords",
		    "receivedAt", "size", "g");
		if (jmap_call(p->j, calls, NULL, &resp, err) < 0)
			ret = helper_fail(p->j->fail);
		else if (!(r = jmap_response(resp, "g", NULL)) ||
		    !json_is_array(json_object_get(r, "list"))) {
			buf_adds(err, "Email/get failed");
			ret = helper_fail(EX_PROTOCOL);
		} else {
			json_array_foreach(json_object_get(r, "list"), i, e)
				if (jstr(e, "id"))
					json_object_set(all, jstr(e, "id"), e);
			json_array_foreach(json_object_get(r, "notFound"), i, e)
				if (json_is_string(e))
					json_object_set_new(gone,
					    json_string_value(e), json_true());
		}
		json_decref(calls);
		json_decref(resp);
	}
	return ret;
}

int
emails_sync(struct jpull *p, struct buf *err)
{
	json_t *all = json_object(), *gone = json_object(), *ids;
	const char *id;
	json_t *v;
	int rc = 1;

	count_rows(p);
	if (!p->full && p->email_state) {
		ids = json_object();
		rc = email_changes(p, ids, err);
		if (rc == 0)
			rc = emails_get(p, ids, all, gone, err);
		json_decref(ids);
		if (rc < 0)
			goto out;
	}
	if (rc == 1) {
		/* everything: what the archive has and the source lacks goes */
		p->full = 1;
		if ((rc = email_state(p, err)) < 0 ||
		    (rc = jmap_fetch_emails(p->j, all, NULL, err)) < 0) {
			rc = helper_fail(p->j->fail ? p->j->fail :
			    EX_PROTOCOL);
			goto out;
		}
		json_object_foreach(p->rows, id, v)
			if (!json_object_get(all, id))
				json_object_set_new(gone, id, json_true());
	}
	if ((rc = reconcile_all(p, all, err)) == 0)
		rc = expunge_gone(p, gone, err);
out:
	json_decref(all);
	json_decref(gone);
	return rc;
}

int
emails_assess(struct jpull *p, struct buf *err)
{
	json_t *all = json_object(), *e, *v;
	const char *id, *mb;
	size_t i;

	if (jmap_fetch_emails(p->j, all, NULL, err) < 0) {
		json_decref(all);
		return helper_fail(p->j->fail ? p->j->fail : EX_PROTOCOL);
	}
	json_object_foreach(all, id, e) {
		uint64_t size = (uint64_t)json_integer_value(json_object_get(
		    e, "size"));

		json_object_foreach(json_object_get(e, "mailboxIds"), mb, v) {
			struct jfolder *f = folder_by_id(p, mb);

			if (!f || !json_is_true(v))
				continue;
			f->messages++;
			f->bytes += size;
			if (size > f->largest)
				f->largest = size;
			p->msgs_total++;
			p->bytes_total += size;
			if (p->so.size_limit && size > p->so.size_limit)
				helper_anomaly("too-large", f->name, 0, "email"
				    " %s: %" PRIu64 " bytes is over %" PRIu64,
				    id, size, p->so.size_limit);
		}
	}
	for (i = 0; i < p->nr_folders; i++)
		json_array_append_new(p->report_folders, json_pack("{s:s, s:I,"
		    " s:I, s:I}", "name", p->folders[i].name, "messages",
		    (json_int_t)p->folders[i].messages, "bytes",
		    (json_int_t)p->folders[i].bytes, "largest",
		    (json_int_t)p->folders[i].largest));
	json_decref(all);
	return 0;
}
