/*
 * repair.c: a calendar object or a vCard that the destination refused,
 * made valid where that is safe.  Today one repair: a component without
 * a UID (RFC 5545 and RFC 6350 want one, CalDAV servers refuse the
 * object without it) gets one made from the resource's hash, the same
 * at every run and for every component of the object, as the
 * components of a recurring event share theirs.
 */
#include "compat.h"

#include <strings.h>

#include "buf.h"
#include "repair.h"

/* Components that carry a UID. */
static const char *const with_uid[] = {
	"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VCARD",
};

static int
is_begin_of_uid_component(const char *line, size_t n)
{
	size_t i, k;

	if (n < 6 || strncasecmp(line, "BEGIN:", 6))
		return 0;
	for (i = 0; i < sizeof(with_uid) / sizeof(with_uid[0]); i++) {
		k = strlen(with_uid[i]);
		if (n == 6 + k && !strncasecmp(line + 6, with_uid[i], k))
			return 1;
	}
	return 0;
}

int
dav_repair(const char *text, size_t len, const char *hash, struct buf *out)
{
	const char *p = text, *end = text + len, *nl, *begin_end = NULL;
	int crlf = memchr(text, '\r', len) != NULL, depth = 0, has_uid = 0;
	int changed = 0;
	size_t n;

	buf_reset(out);
	for (; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		n = (size_t)(nl - p);
		while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		if (depth == 0 && is_begin_of_uid_component(p, n)) {
			/* copy up to here; the UID may go right after */
			depth = 1;
			has_uid = 0;
			buf_add(out, p, (size_t)(nl - p));
			begin_end = nl;
			continue;
		}
		if (depth > 0 && n >= 6 && !strncasecmp(p, "BEGIN:", 6))
			depth++;
		else if (depth > 1 && n >= 4 && !strncasecmp(p, "END:", 4))
			depth--;
		else if (depth == 1 && n >= 4 && !strncasecmp(p, "END:", 4)) {
			if (!has_uid) {
				/* insert after the BEGIN line: move what
				 * followed it behind the new line */
				size_t at = out->len - (size_t)(p - begin_end);
				struct buf tail = BUF_INIT;

				buf_add(&tail, out->buf + at, out->len - at);
				buf_setlen(out, at);
				buf_addf(out, "UID:migrate-%.40s@repaired%s",
				    hash, crlf ? "\r\n" : "\n");
				buf_add(out, tail.buf, tail.len);
				buf_release(&tail);
				changed = 1;
			}
			depth = 0;
		} else if (depth == 1 && n > 3 && !strncasecmp(p, "UID", 3) &&
		    (p[3] == ':' || p[3] == ';'))
			has_uid = 1;
		buf_add(out, p, (size_t)(nl - p));
	}
	return changed;
}
