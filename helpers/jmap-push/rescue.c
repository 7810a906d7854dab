/*
 * rescue.c: a message the destination refuses (invalidEmail: a header
 * line without a colon, say) is still carried, in a form the user can
 * find in the same folder with its flags and date: first minimally
 * repaired (each broken header line made a header of its own), else the
 * original attached unchanged to a small valid message that says why.
 * The archive keeps the original byte for byte; the report names each.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "log.h"
#include "helper.h"
#include "push.h"
#include "xalloc.h"

/* the largest body a rescue holds in memory */
#define RESCUE_MAX	(64u << 20)

/* Where the header ends: the offset of the empty line, or `len`. */
static size_t
header_end(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i = (size_t)((const char *)memchr(b + i, '\n',
	    len - i) - b) + 1) {
		if (b[i] == '\n' || (b[i] == '\r' && i + 1 < len &&
		    b[i + 1] == '\n'))
			return i;
		if (!memchr(b + i, '\n', len - i))
			break;
	}
	return len;
}

/* Whether a header line (not a continuation) is "Name: ...". */
static int
field_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] != ':'; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127)
			return 0;
	return i > 0 && i < n;
}

/*
 * The repair: each header line that is not a field nor a continuation
 * becomes the value of an X-Invalid-Header field.  0 when nothing was
 * to repair.
 */
static int
repair(const char *b, size_t len, struct buf *out)
{
	size_t end = header_end(b, len), i = 0, n;
	int changed = 0;

	while (i < end) {
		const char *nl = memchr(b + i, '\n', end - i);

		n = nl ? (size_t)(nl - (b + i)) + 1 : end - i;
		if (b[i] != ' ' && b[i] != '\t' && !field_ok(b + i, n)) {
			buf_adds(out, "X-Invalid-Header: ");
			changed = 1;
		}
		buf_add(out, b + i, n);
		i += n;
	}
	buf_add(out, b + end, len - end);
	return changed;
}

/* The unfolded value of header field `name`, if it is plain text. */
static char *
field(const char *b, size_t len, const char *name)
{
	size_t end = header_end(b, len), i = 0, nl = strlen(name);
	struct buf v = BUF_INIT;

	while (i < end) {
		const char *e = memchr(b + i, '\n', end - i);
		size_t n = e ? (size_t)(e - (b + i)) : end - i;

		if (!v.len && n > nl && !strncasecmp(b + i, name, nl) &&
		    b[i + nl] == ':') {
			buf_add(&v, b + i + nl + 1, n - nl - 1);
		} else if (v.len && (b[i] == ' ' || b[i] == '\t')) {
			buf_add(&v, b + i, n);
		} else if (v.len) {
			break;
		}
		i += n + 1;
	}
	for (i = 0; i < v.len; i++)
		if (v.buf[i] == '\r' || v.buf[i] == '\t')
			v.buf[i] = ' ';
		else if ((unsigned char)v.buf[i] < 32 || v.buf[i] == 127)
			break;
	if (i < v.len || v.len > 400) {
		buf_release(&v);
		return NULL;
	}
	return buf_detach(&v, NULL);
}

/*
 * The wrapper: a multipart/mixed message, dated as the original, whose
 * first part says why and whose second is the original, as
 * message/rfc822 (`as_file` 0) or as a base64 file.
 */
static void
wrap(const char *b, size_t len, const struct want *w, const char *why,
    int as_file, struct buf *out)
{
	char *subject = field(b, len, "Subject"), *from = field(b, len, "From");
	char *date = field(b, len, "Date");
	char fallback[64];
	time_t t = (time_t)w->time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(fallback, sizeof(fallback), "%a, %d %b %Y %H:%M:%S +0000",
	    &tm);
	buf_addf(out, "From:%s\r\n", from ? from :
	    " Mail migration <postmaster@invalid>");
	buf_addf(out, "Date:%s\r\n", date ? date : fallback);
	buf_addf(out, "Subject: [as received, unchanged in the attachment]%s"
	    "\r\n", subject ? subject : "");
	buf_addf(out, "Message-ID: <rescue.%.32s@migrate.invalid>\r\n",
	    w->hash);
	buf_addf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
	    " boundary=\"rescue-%.24s\"\r\n\r\n", w->hash);
	buf_addf(out, "--rescue-%.24s\r\nContent-Type: text/plain;"
	    " charset=us-ascii\r\n\r\n", w->hash);
	buf_addf(out, "This message was moved from your old mail server.  The"
	    " new server\r\nrefused it as it was (%s),\r\nso it is attached"
	    " here unchanged, byte for byte, as original.eml.\r\n\r\n", why);
	buf_addf(out, "--rescue-%.24s\r\n", w->hash);
	if (!as_file) {
		buf_adds(out, "Content-Type: message/rfc822\r\nContent-"
		    "Disposition: attachment; filename=\"original.eml\"\r\n\r\n");
		buf_add(out, b, len);
		buf_adds(out, "\r\n");
	} else {
		size_t i, n = 57;
		unsigned char line[80];

		buf_adds(out, "Content-Type: application/octet-stream;"
		    " name=\"original.eml\"\r\nContent-Transfer-Encoding:"
		    " base64\r\nContent-Disposition: attachment;"
		    " filename=\"original.eml\"\r\n\r\n");
		for (i = 0; i < len; i += n) {
			int k = EVP_EncodeBlock(line, (const unsigned char *)b +
			    i, (int)(len - i < n ? len - i : n));

			buf_add(out, line, (size_t)k);
			buf_adds(out, "\r\n");
		}
	}
	buf_addf(out, "--rescue-%.24s--\r\n", w->hash);
	free(subject);
	free(from);
	free(date);
}

/*
 * Upload `body` and import it as `w`: the email's id, or NULL with
 * `why` set to the server's reason.
 */
static char *
import_one(struct push *p, const struct want *w, const struct buf *body,
    struct buf *why, struct buf *err)
{
	struct jmap_blob jb = { body->buf, -1, body->len, NULL, NULL };
	json_t *calls = NULL, *resp = NULL, *r, *e;
	char when[32], *id = NULL;
	time_t t = (time_t)w->time;
	struct tm tm;

	if (jmap_upload_many(p->j, &jb, 1, err) < 0)
		return NULL;
	if (!jb.blob_id) {
		buf_adds(why, jb.error ? jb.error : "not uploaded");
		goto out;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	calls = json_pack("[[s, {s:s, s:{s:{s:s, s:o, s:o, s:s}}}, s]]",
	    "Email/import", "accountId", p->j->account_id, "emails", "r",
	    "blobId", jb.blob_id, "mailboxIds", push_set_of(w->mailboxes),
	    "keywords", push_set_of(w->keywords), "receivedAt", when, "0");
	if (jmap_call(p->j, calls, NULL, &resp, err) < 0)
		goto out;
	r = jmap_response(resp, "0", NULL);
	if ((e = json_object_get(json_object_get(r, "created"), "r")))
		id = xstrdup(json_string_value(json_object_get(e, "id")));
	else if ((e = json_object_get(json_object_get(r, "notCreated"), "r"))) {
		if (json_string_value(json_object_get(e, "existingId")))
			id = xstrdup(json_string_value(json_object_get(e,
			    "existingId")));
		else
			buf_adds(why, json_string_value(json_object_get(e,
			    "type")) ? json_string_value(json_object_get(e,
			    "type")) : "refused");
	} else {
		buf_adds(why, "no answer for it");
	}
out:
	json_decref(calls);
	json_decref(resp);
	free(jb.blob_id);
	free(jb.error);
	return id;
}

/* One refused message: repaired, else wrapped; 1 when carried. */
static int
rescue_one(struct push *p, struct want *w, struct buf *err)
{
	static const char *const how[] = { "repaired", "wrapped as"
	    " message/rfc822", "wrapped as a file" };
	struct buf orig = BUF_INIT, body = BUF_INIT, why = BUF_INIT;
	struct arc_unit u;
	char *id = NULL, *note;
	int ret = 0, k;

	buf_init(&orig, RESCUE_MAX);
	if (arcidx_blob_read(p->ix, w->hash, &orig, err) != 1) {
		buf_release(&orig);
		return -1;
	}
	for (k = 0; k < 3 && !id && !err->len; k++) {
		buf_reset(&body);
		buf_reset(&why);
		if (k == 0 && !repair(orig.buf, orig.len, &body))
			continue;
		if (k > 0)
			wrap(orig.buf, orig.len, w, w->have->error, k == 2,
			    &body);
		id = import_one(p, w, &body, &why, err);
		if (!id && !err->len)
			log_info("%s UID %u: %s, refused too: %s", w->folder,
			    w->uid, how[k], why.buf);
	}
	if (id) {
		note = xasprintf("%s; %s", w->have->error, how[k - 1]);
		memset(&u, 0, sizeof(u));
		memcpy(u.hash, w->hash, sizeof(u.hash));
		u.k = w->k;
		u.state = "rescued";
		u.email_id = id;
		u.mailboxes = w->mailboxes;
		u.keywords = w->keywords;
		u.error = note;
		ret = arcidx_push_set(p->ix, &u, err) < 0 ? -1 : 1;
		if (ret == 1)
			helper_anomaly("rescued", w->folder, w->uid, "the"
			    " destination refused it (%s); carried %s, the"
			    " original kept in the archive", w->have->error,
			    how[k - 1]);
		free(note);
		free(id);
	} else if (err->len) {
		ret = -1;
	}
	buf_release(&orig);
	buf_release(&body);
	buf_release(&why);
	return ret;
}

int
push_rescue(struct push *p, struct buf *err)
{
	size_t i;
	int r;

	/* what import_all() recorded is in the index, not in p->units */
	if (push_plan_join(p, err) < 0)
		return -1;
	for (i = 0; i < p->nr_want; i++) {
		struct want *w = &p->want[i];

		if (!w->have || strcmp(w->have->state, "failed") ||
		    !w->have->error || strcmp(w->have->error, "invalidEmail") ||
		    !*w->mailboxes)
			continue;
		if ((r = rescue_one(p, w, err)) < 0)
			return -1;
		if (r == 1) {
			p->rescued++;
			if (p->failed)
				p->failed--;
		}
	}
	return 0;
}
