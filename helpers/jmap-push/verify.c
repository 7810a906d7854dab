#include "compat.h"

#include <ctype.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "evline.h"
#include "keywords.h"
#include "log.h"
#include "helper.h"
#include "push.h"
#include "xalloc.h"

/* The emails `ids` (a JSON array), as jmap_fetch_emails() gives them. */
static int
fetch_ids(struct push *p, json_t *all, json_t *ids, struct buf *err)
{
	size_t limit = p->j->max_objects_in_get > 1000 ? 1000 :
	    (size_t)p->j->max_objects_in_get, start, i;
	json_t *calls, *resp, *list, *e, *some;

	for (start = 0; start < json_array_size(ids); start += limit) {
		some = json_array();
		for (i = start; i < start + limit && i < json_array_size(ids);
		    i++)
			json_array_append(some, json_array_get(ids, i));
		calls = json_pack("[[s, {s:s, s:o, s:[s, s, s, s, s]}, s]]",
		    "Email/get", "accountId", p->j->account_id, "ids", some,
		    "properties", "blobId", "mailboxIds", "keywords",
		    "receivedAt", "size", "g");
		resp = NULL;
		if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
			json_decref(calls);
			return -1;
		}
		json_decref(calls);
		list = json_object_get(jmap_response(resp, "g", NULL), "list");
		if (!json_is_array(list)) {
			jmap_call_failed(p->j, resp, "g", "Email/get", err);
			json_decref(resp);
			return -1;
		}
		json_array_foreach(list, i, e)
			json_object_set(all, json_string_value(json_object_get(
			    e, "id")), e);
		json_decref(resp);
	}
	return 0;
}

/*
 * What verify reads back: the whole account, or with --verify-delta the
 * emails this run recorded (a final delta in the cutover window, right
 * after a whole verify: the rest has not changed since).
 */
static int
fetch_for_verify(struct push *p, json_t *all, struct buf *err)
{
	json_t *ids;
	size_t i;
	int ret;

	if (!p->verify_delta)
		return jmap_fetch_emails(p->j, all, NULL, err);
	ids = json_array();
	for (i = 0; i < p->nr_want; i++)
		if (p->want[i].touched && unit_placed(p->want[i].have))
			json_array_append_new(ids, json_string(
			    p->want[i].have->email_id));
	ret = fetch_ids(p, all, ids, err);
	json_decref(ids);
	return ret;
}

/* Whether every word of the list `small` is in the list `big`. */
static int
within(const char *small, const char *big)
{
	const char *s = small, *e;

	for (; *s; s = *e ? e + 1 : e) {
		e = strchr(s, ' ');
		if (!e)
			e = s + strlen(s);
		if (!arc_flags_has(big, s, (size_t)(e - s)))
			return 0;
	}
	return 1;
}

/*
 * Where the destination's email `e` is and its keywords, against `w`;
 * after the flip both are the user's: told in `user`, never a
 * difference.
 */
static void
compare_placement(struct push *p, const struct want *w, json_t *e,
    int merged, struct buf *why, struct buf *user)
{
	char *mbs = kw_of_set(json_object_get(e, "mailboxIds"));
	char *kws = kw_of_set(json_object_get(e, "keywords"));
	struct buf *to = p->after_cutover ? user : why;

	if (merged ? !within(w->mailboxes, mbs) : strcmp(mbs, w->mailboxes))
		buf_addf(to, "in mailboxes '%s', not '%s'; ", mbs,
		    w->mailboxes);
	if (!merged && strcmp(kws, w->keywords))
		buf_addf(to, "keywords '%s', not '%s'; ", kws, w->keywords);
	free(mbs);
	free(kws);
}

/* Its date, its size and, with --verify-content, its body's SHA-256. */
static int
compare_body(struct push *p, const struct want *w, json_t *e,
    struct buf *why, struct buf *body, uint64_t *content, struct buf *err)
{
	const char *at = json_string_value(json_object_get(e, "receivedAt"));
	json_int_t size = json_integer_value(json_object_get(e, "size"));
	unsigned char md[32];
	char hex[SEG_HASH_HEX + 1];

	if (push_parse_utc(at) != w->time)
		buf_addf(why, "received at %s; ", at);
	if ((uint64_t)size != w->size)
		buf_addf(why, "size %" JSON_INTEGER_FORMAT ", not %" PRIu64
		    "; ", size, w->size);
	if (why->len || !p->verify_content)
		return 0;
	buf_reset(body);
	if (jmap_download(p->j, json_string_value(json_object_get(e,
	    "blobId")), body, err) < 0)
		return -1;
	EVP_Digest(body->buf, body->len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, hex);
	if (strcmp(hex, w->hash))
		buf_addf(why, "the body differs (SHA-256 %s)", hex);
	++*content;
	return 0;
}

/* An entry of one of the report's lists. */
static void
add_entry(json_t *list, const struct want *w, const char *key,
    const char *val)
{
	json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s}",
	    "folder", w->folder, "uid", (json_int_t)w->uid, "hash", w->hash,
	    key, val));
}

int
push_verify(struct push *p, struct buf *err)
{
	json_t *all = json_object(), *diffs = json_array(), *report;
	json_t *rescues = json_array(), *changed = json_array();
	struct buf body = BUF_INIT, why = BUF_INIT, user = BUF_INIT;
	uint64_t checked = 0, content = 0;
	size_t i;
	int ret = -1;

	buf_init(&body, 256u << 20);
	if (fetch_for_verify(p, all, err) < 0)
		goto out;
	for (i = 0; i < p->nr_want; i++) {
		struct want *w = &p->want[i];
		const char *id = unit_placed(w->have) ? w->have->email_id :
		    NULL;
		int rescued = id && !strcmp(w->have->state, "rescued");
		/* a copy the destination merged with another (alreadyExists) */
		int merged = w->k > 0 && id && i > 0 && p->want[i - 1].have &&
		    p->want[i - 1].have->email_id &&
		    !strcmp(p->want[i - 1].have->email_id, id);
		json_t *e = id ? json_object_get(all, id) : NULL;

		if (p->verify_delta && !w->touched)
			continue;
		checked++;
		buf_reset(&why);
		buf_reset(&user);
		if (!id)
			buf_addf(&why, "not pushed (%s)", w->have ?
			    w->have->state : "never");
		else if (!e)	/* deleting it is the user's right too */
			buf_addf(p->after_cutover ? &user : &why, "email %s is"
			    " not on the destination", id);
		else
			compare_placement(p, w, e, merged, &why, &user);
		/* a rescued one is another body, of another size */
		if (e && !rescued && compare_body(p, w, e, &why, &body,
		    &content, err) < 0)
			goto out;
		if (rescued)
			add_entry(rescues, w, "why", w->have->error ?
			    w->have->error : "");
		if (user.len) {
			p->user_changed++;
			add_entry(changed, w, "what", user.buf);
		}
		if (why.len) {
			helper_anomaly("verify-differs", w->folder, w->uid,
			    "%s", why.buf);
			add_entry(diffs, w, "why", why.buf);
		}
		recon_checked(p, w, !id ? "not_pushed" : why.len ? "differs" :
		    rescued ? "rescued" : "equal");
	}
	report = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:O,"
	    " s:o}",
	    "account", p->j->account_id, "delta", p->verify_delta,
	    "emails_expected",
	    (json_int_t)p->nr_want, "emails_on_destination",
	    (json_int_t)json_object_size(all), "checked", (json_int_t)checked,
	    "bodies_compared", (json_int_t)content, "deleted_not_carried",
	    (json_int_t)p->deleted_skipped, "differences", diffs, "rescued",
	    rescues, "changed_on_destination", changed, "folders",
	    recon_table(p, all));
	evline_write(1, "progress", "{s:s, s:I, s:I, s:I}", "verify",
	    json_array_size(diffs) ? "differs" : "equal", "checked",
	    (json_int_t)checked, "bodies_compared", (json_int_t)content,
	    "differences", (json_int_t)json_array_size(diffs));
	if (p->report && evline_report(p->report, report, err) < 0) {
		json_decref(report);
		goto out;
	}
	json_decref(report);
	log_info("verify: %" PRIu64 " emails checked, %" PRIu64 " bodies"
	    " compared, %zu differences", checked, content,
	    json_array_size(diffs));
	ret = json_array_size(diffs) ? 1 : 0;
out:
	buf_release(&body);
	buf_release(&why);
	buf_release(&user);
	json_decref(all);
	json_decref(diffs);
	json_decref(rescues);
	json_decref(changed);
	return ret;
}
