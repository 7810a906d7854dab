/*
 * mapping.c: what a change of the mapping store means, whichever engine
 * keeps its rows (mapping_int.h): the routes of an account's login
 * forms, the default route, the export and its restore.
 */
#include "compat.h"

#include "buf.h"
#include "mapping_int.h"
#include "xalloc.h"

int
mapping_is_url(const char *store)
{
	return !strncmp(store, "postgresql://", 13) ||
	    !strncmp(store, "postgres://", 11);
}

int
mapping_open(struct mapping **m, const char *store, int mode,
    struct buf *err)
{
	*m = NULL;
	if (mapping_is_url(store))
		return mappg_open(m, store, mode, err);
	return mapsqlite_open(m, store, mode == MAPPING_WRITE, err);
}

void
mapping_close(struct mapping *m)
{
	if (m)
		m->ops->close(m);
}

size_t
mapping_forms(const char *account, const char *domain, char ***forms_r)
{
	char **forms = xcalloc(2, sizeof(*forms));
	const char *at = strchr(account, '@');
	size_t n = 0;

	forms[n++] = map_lower(account);
	if (domain && *domain) {
		char *other = NULL;

		if (!at)
			other = xasprintf("%s@%s", account, domain);
		else if (!strcasecmp(at + 1, domain))
			other = xstrndup(account, at - account);
		if (other)
			forms[n++] = map_lower(other);
		free(other);
	}
	*forms_r = forms;
	return n;
}

int64_t
mapping_version(struct mapping *m)
{
	return m->ops->version(m);
}

int
mapping_lookup(struct mapping *m, const char *id, enum route *r,
    struct buf *err)
{
	char *l = map_lower(id);
	int ret = m->ops->lookup(m, l, r, err);

	free(l);
	return ret;
}

int
mapping_default(struct mapping *m, enum route *r, struct buf *err)
{
	*r = ROUTE_SOURCE;
	return m->ops->get_default(m, r, err) < 0 ? -1 : 0;
}

/*
 * Count in `moved` whether routing `id` to `r` sends it elsewhere than it
 * goes now (no row: the default), so that writing a route that changes
 * nothing for the proxy kicks nobody.
 */
static int
moved_from(struct mapping *m, const char *id, enum route r, int *moved,
    struct buf *err)
{
	enum route now = ROUTE_SOURCE;
	int found = m->ops->lookup(m, id, &now, err);

	if (found < 0 || (found == 1 && mapping_default(m, &now, err) < 0))
		return -1;
	if (now != r)
		++*moved;
	return 0;
}

/* Within a transaction: the default route, counted in `changed`. */
static int
put_default(struct mapping *m, enum route r, int *changed, struct buf *err)
{
	enum route now;

	if (mapping_default(m, &now, err) < 0)
		return -1;
	if (now == r)
		return 0;
	if (m->ops->put_default(m, r, err) < 0)
		return -1;
	++*changed;
	return 0;
}

/* The end of a writer's transaction: a change is the next version. */
static int
end(struct mapping *m, int ok, int changed, int64_t *version_r,
    struct buf *err)
{
	if (ok && changed)
		ok = m->ops->bump(m, err) == 0;
	if (m->ops->end(m, ok, err) < 0)
		return -1;
	if (version_r)
		*version_r = m->ops->version(m);
	return 0;
}

int
mapping_set(struct mapping *m, const char *account, const char *const *ids,
    size_t nr_ids, enum route r, int *changed_r, int64_t *version_r,
    struct buf *err)
{
	char *acc = map_lower(account);
	int changed = 0, moved = 0, ok;
	size_t i;

	if (m->ops->begin(m, err) < 0) {
		free(acc);
		return -1;
	}
	ok = moved_from(m, acc, r, &moved, err) == 0 &&
	    m->ops->put_route(m, acc, acc, r, &changed, err) == 0;
	for (i = 0; ok && i < nr_ids; i++) {
		char *id = map_lower(ids[i]);

		ok = moved_from(m, id, r, &moved, err) == 0 &&
		    m->ops->put_route(m, id, acc, r, &changed, err) == 0;
		free(id);
	}
	free(acc);
	*changed_r = moved > 0;
	return end(m, ok, changed, version_r, err);
}

int
mapping_set_uidls(struct mapping *m, const char *account,
    const char *const *dest, const char *const *src, size_t nr,
    struct buf *err)
{
	char *acc = map_lower(account);
	int ok;

	if (m->ops->begin(m, err) < 0) {
		free(acc);
		return -1;
	}
	ok = m->ops->put_uidls(m, acc, dest, src, nr, err) == 0;
	free(acc);
	return end(m, ok, 0, NULL, err);
}

int
mapping_uidls(struct mapping *m, const char *id, struct uidl_pair **pairs_r,
    size_t *nr_r, struct buf *err)
{
	char *l = map_lower(id);
	int ret;

	*pairs_r = NULL;
	*nr_r = 0;
	ret = m->ops->uidls(m, l, pairs_r, nr_r, err);
	free(l);
	return ret;
}

/* The export's lines, sorted by identifier. */
static int
parse_export(const char *text, size_t len, struct row **rows_r,
    size_t *nr_r, enum route *dflt_r, struct buf *err)
{
	const char *p = text, *eot = text + len;
	struct row *rows = NULL;
	size_t nr = 0, alloc = 0;
	unsigned lineno = 0;

	while (p < eot) {
		const char *nl = memchr(p, '\n', eot - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(eot - p);
		char *line = xstrndup(p, n), *sp, *rt;
		enum route r;

		lineno++;
		p += n + (nl ? 1 : 0);
		if (!strcmp(line, MAPPING_DEFAULT_LINE))
			*dflt_r = ROUTE_DESTINATION;
		if (!*line || *line == '#') {
			free(line);
			continue;
		}
		sp = strpbrk(line, " \t");
		rt = sp ? sp + strspn(sp, " \t") : NULL;
		if (!sp || route_parse(rt, &r) < 0) {
			buf_addf(err, "line %u: not \"identifier source|"
			    "destination\"", lineno);
			free(line);
			rows_free(rows, nr);
			return -1;
		}
		*sp = '\0';
		row_add(&rows, &nr, &alloc, line, NULL, rt);
		free(line);
	}
	if (nr)
		qsort(rows, nr, sizeof(*rows), row_cmp);
	*rows_r = rows;
	*nr_r = nr;
	return 0;
}

/* Note `id` in the list of changed identifiers when `changed` grew. */
static void
note_changed(char ***ids, size_t *nr, const char *id, int before, int after)
{
	if (after == before)
		return;
	*ids = xreallocarray(*ids, *nr + 1, sizeof(**ids));
	(*ids)[(*nr)++] = xstrdup(id);
}

int
mapping_restore(struct mapping *m, const char *text, size_t len,
    char ***ids_r, size_t *changed_r, int64_t *version_r, struct buf *err)
{
	struct row *want, *have = NULL, *w, *h;
	size_t nr_want, nr_have = 0, i;
	int changed = 0, ok = 1, before;
	enum route dflt = ROUTE_SOURCE;

	*ids_r = NULL;
	*changed_r = 0;

	if (parse_export(text, len, &want, &nr_want, &dflt, err) < 0)
		return -1;
	if (m->ops->begin(m, err) < 0) {
		rows_free(want, nr_want);
		return -1;
	}
	if (m->ops->rows(m, &have, &nr_have, err) < 0) {
		rows_free(want, nr_want);
		return end(m, 0, 0, NULL, err);
	}
	/* identifiers the export does not name go back to the source */
	for (i = 0; ok && i < nr_have; i++) {
		h = &have[i];
		w = nr_want ? bsearch(h, want, nr_want, sizeof(*want),
		    row_cmp) : NULL;
		before = changed;
		if (!w && h->r != ROUTE_SOURCE)
			ok = m->ops->put_route(m, h->id, h->account,
			    ROUTE_SOURCE, &changed, err) == 0;
		note_changed(ids_r, changed_r, h->id, before, changed);
	}
	for (i = 0; ok && i < nr_want; i++) {
		w = &want[i];
		h = nr_have ? bsearch(w, have, nr_have, sizeof(*have),
		    row_cmp) : NULL;
		before = changed;
		ok = m->ops->put_route(m, w->id, h ? h->account : w->id, w->r,
		    &changed, err) == 0;
		note_changed(ids_r, changed_r, w->id, before, changed);
	}
	if (ok)
		ok = put_default(m, dflt, &changed, err) == 0;
	rows_free(want, nr_want);
	rows_free(have, nr_have);
	return end(m, ok, changed, version_r, err);
}

int
mapping_set_default(struct mapping *m, enum route r, int *changed_r,
    int64_t *version_r, struct buf *err)
{
	int changed = 0, ok;

	if (m->ops->begin(m, err) < 0)
		return -1;
	ok = put_default(m, r, &changed, err) == 0;
	*changed_r = changed;
	return end(m, ok, changed, version_r, err);
}

int
mapping_export(struct mapping *m, struct buf *out, struct buf *err)
{
	struct row *rows;
	enum route dflt;
	size_t nr, i;

	if (mapping_default(m, &dflt, err) < 0 ||
	    m->ops->rows(m, &rows, &nr, err) < 0)
		return -1;
	if (dflt == ROUTE_DESTINATION)
		buf_addf(out, "%s\n", MAPPING_DEFAULT_LINE);
	for (i = 0; i < nr; i++)
		buf_addf(out, "%s %s\n", rows[i].id, route_name(rows[i].r));
	rows_free(rows, nr);
	return 0;
}

int
mapping_tell(struct mapping *m, const char *lines, struct buf *err)
{
	if (!m->ops->tell)
		return 1;
	if (m->ops->begin(m, err) < 0)
		return -1;
	return end(m, m->ops->tell(m, lines, err) == 0, 0, NULL, err);
}
