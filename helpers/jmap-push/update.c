/*
 * update.c: what changed since an earlier push: the mailboxes and
 * keywords the source changed (member by member, so that the user's own
 * changes on the destination stay), and the emails whose messages are
 * gone from the source.
 */
#include "compat.h"

#include "log.h"
#include "helper.h"
#include "push.h"
#include "xalloc.h"

/*
 * Patch `prop` from the set `from` to the set `to` ("a b c" lists), one
 * member at a time, so that what the destination keeps of its own (a
 * keyword it computes, a mailbox the user added) stays.
 */
static void
add_patch(json_t *patch, const char *prop, const char *from, const char *to)
{
	const char *lists[2] = { from, to }, *s, *e;
	struct buf key = BUF_INIT;
	int side;

	for (side = 0; side < 2; side++)
		for (s = lists[side]; *s; s = *e ? e + 1 : e) {
			const char *c;

			e = strchr(s, ' ');
			if (!e)
				e = s + strlen(s);
			if (arc_flags_has(lists[!side], s, (size_t)(e - s)))
				continue;
			buf_reset(&key);
			buf_addf(&key, "%s/", prop);
			for (c = s; c < e; c++)
				buf_adds(&key, *c == '~' ? "~0" : *c == '/' ?
				    "~1" : (char[2]){ *c, 0 });
			json_object_set_new(patch, key.buf, side ?
			    json_true() : json_null());
		}
	buf_release(&key);
}

/* Whether Email/set's answer `r` says that `id` is not there. */
static int
not_found(json_t *r, const char *id)
{
	const char *type = json_string_value(json_object_get(json_object_get(
	    json_object_get(r, "notUpdated"), id), "type"));

	return type && !strcmp(type, "notFound");
}

/*
 * Set mailboxes and keywords where the source changed them since the
 * last push: each member of the sets from what was pushed to what the
 * source has now, so that what the user changed on the destination
 * meanwhile (after the flip) stays as the user left it.
 */
int
push_update_all(struct push *p, struct buf *err)
{
	size_t i, n = 0, per = (size_t)p->j->max_objects_in_set;
	struct want **ws = xreallocarray(NULL, p->nr_want + 1, sizeof(*ws));
	int ret = -1;

	if (per > 200)
		per = 200;
	/* what import_all() just did is in the index, not in p->units */
	if (push_plan_join(p, err) < 0)
		goto out;
	for (i = 0; i < p->nr_want; i++) {
		struct want *w = &p->want[i];

		if (!unit_placed(w->have) || !*w->mailboxes)
			continue;
		/*
		 * A copy the destination merged into the first
		 * (alreadyExists) is that email: leave it as the first is.
		 */
		if (w->k > 0 && i > 0 && p->want[i - 1].have &&
		    p->want[i - 1].have->email_id &&
		    !strcmp(p->want[i - 1].have->email_id, w->have->email_id))
			continue;
		if (strcmp(w->have->mailboxes, w->mailboxes) ||
		    strcmp(w->have->keywords, w->keywords))
			ws[n++] = w;
	}
	for (i = 0; i < n; i += per) {
		size_t k, end = i + per < n ? i + per : n;
		json_t *upd = json_object(), *calls, *resp = NULL, *r;

		for (k = i; k < end; k++) {
			json_t *patch = json_object();

			add_patch(patch, "mailboxIds", ws[k]->have->mailboxes,
			    ws[k]->mailboxes);
			add_patch(patch, "keywords", ws[k]->have->keywords,
			    ws[k]->keywords);
			json_object_set_new(upd, ws[k]->have->email_id, patch);
		}
		calls = json_pack("[[s, {s:s, s:o}, s]]", "Email/set",
		    "accountId", p->j->account_id, "update", upd, "0");
		if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
			json_decref(calls);
			goto out;
		}
		r = jmap_response(resp, "0", NULL);
		if (arcidx_begin(p->ix, err) < 0) {
			json_decref(calls);
			json_decref(resp);
			goto out;
		}
		for (k = i; k < end; k++) {
			struct want *w = ws[k];

			if (json_object_get(json_object_get(r, "updated"),
			    w->have->email_id)) {
				p->updated++;
				push_record(p, w, w->have->state,
				    w->have->email_id, w->mailboxes,
				    w->keywords, NULL, err);
			} else if (p->after_cutover && not_found(r,
			    w->have->email_id)) {
				/* the user deleted it: so be it */
				p->user_changed++;
				log_info("%s UID %u: changed at the source, but"
				    " deleted on the destination since the"
				    " cutover; left so", w->folder, w->uid);
				push_record(p, w, w->have->state,
				    w->have->email_id, w->mailboxes,
				    w->keywords, NULL, err);
			} else {
				helper_anomaly("not-updated", w->folder,
				    w->uid, "the destination refused new"
				    " keywords or mailboxes");
				p->failed++;
			}
		}
		arcidx_commit(p->ix, err);
		json_decref(calls);
		json_decref(resp);
	}
	ret = 0;
out:
	free(ws);
	return ret;
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Emails pushed earlier whose messages are gone from the source.  An
 * email that a wanted unit still uses (a copy the destination merged
 * with another) is never destroyed: only its unit's record goes.
 */
int
push_stale_all(struct push *p, struct buf *err)
{
	const char **used = xreallocarray(NULL, p->nr_want + 1,
	    sizeof(*used));
	size_t i, w = 0, nused = 0;
	int ret = -1;

	for (i = 0; i < p->nr_want; i++)
		if (p->want[i].have && p->want[i].have->email_id &&
		    *p->want[i].have->email_id)
			used[nused++] = p->want[i].have->email_id;
	if (nused)
		qsort(used, nused, sizeof(*used), cmp_strp);
	for (i = 0; i < p->nr_units; i++) {
		struct arc_unit *u = &p->units[i], gone;
		const char *key = u->email_id;
		json_t *calls, *resp = NULL;
		int c = 1;

		while (w < p->nr_want && (c = push_cmp_unit(p->want[w].hash,
		    p->want[w].k, u->hash, u->k)) < 0)
			w++;
		if (c == 0 || !unit_placed(u))
			continue;
		/* after the flip the destination is the user's: a message
		 * gone from the source is not taken from the user */
		if (!p->delete_removed || p->after_cutover) {
			p->stale++;
			continue;
		}
		gone = *u;
		gone.state = "removed";
		if (!nused || !bsearch(&key, used, nused, sizeof(*used),
		    cmp_strp)) {
			calls = json_pack("[[s, {s:s, s:[s]}, s]]", "Email/set",
			    "accountId", p->j->account_id, "destroy",
			    u->email_id, "0");
			if (jmap_call(p->j, calls, NULL, &resp, err) < 0) {
				json_decref(calls);
				goto out;
			}
			json_decref(calls);
			json_decref(resp);
			log_info("removed email %s (body %.12s, copy %d): gone"
			    " from the source", u->email_id, u->hash, u->k);
			p->removed++;
		}
		if (arcidx_push_set(p->ix, &gone, err) < 0)
			goto out;
	}
	ret = 0;
out:
	free(used);
	return ret;
}
