/*
 * shareready.c: STATE/share-ready, the accounts on the destination that
 * a share may name (shareready.h).
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "fileio.h"
#include "shareready.h"
#include "xalloc.h"

char *
share_ready_norm(const struct share_ready *sr, const char *id)
{
	char *s = strchr(id, '@') || !sr->domain ? xstrdup(id) :
	    xasprintf("%s%s", id, sr->domain);
	char *c;

	for (c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

int
share_ready_load(struct share_ready *sr, const char *file, const char *user,
    struct buf *err)
{
	const char *at = user ? strchr(user, '@') : NULL;
	struct buf text = BUF_INIT;
	char *line, *next, *key, src[512], dst[512];
	unsigned n = 0;

	memset(sr, 0, sizeof(*sr));
	sr->nr = -1;
	sr->domain = at ? xstrdup(at) : NULL;
	if (!file)
		return 0;
	if (file_read(file, &text, err) < 0)
		return -1;
	sr->map = json_object();
	sr->nr = 0;
	for (line = text.buf; line && *line; line = next) {
		n++;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (!*line || *line == '#')
			continue;
		if (sscanf(line, "%511s %511s", src, dst) != 2) {
			buf_addf(err, "%s:%u: not \"SOURCE DESTINATION\"",
			    file, n);
			buf_release(&text);
			return -1;
		}
		key = share_ready_norm(sr, src);
		json_object_set_new(sr->map, key, json_string(dst));
		free(key);
		sr->nr++;
	}
	buf_release(&text);
	return 0;
}

/*
 * Without a file the normalized identifier itself, which the caller
 * frees through *own; else the file's destination login, or NULL.
 */
const char *
share_ready_dest(const struct share_ready *sr, const char *id, char **own)
{
	char *n = share_ready_norm(sr, id);
	const char *login;

	*own = NULL;
	if (!sr->map) {
		*own = n;
		return n;
	}
	login = json_string_value(json_object_get(sr->map, n));
	free(n);
	return login;
}

int
share_not_one(const char *id)
{
	return !strcasecmp(id, "anyone") || !strcasecmp(id, "authenticated") ||
	    !strcasecmp(id, "anonymous") || strchr("-$", *id) ||
	    !strncasecmp(id, "group:", 6) || strchr(id, '=');
}

void
share_pending_add(json_t *pending, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(pending, i, e)
		if (!strcasecmp(json_string_value(e), id))
			return;
	json_array_append_new(pending, json_string(id));
}

void
share_ready_free(struct share_ready *sr)
{
	json_decref(sr->map);
	free(sr->domain);
	memset(sr, 0, sizeof(*sr));
}
