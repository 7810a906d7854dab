/*
 * reconcile.c: the verify report's table of folders.
 *
 * For each archive folder: what the source had (messages and bytes, as
 * pulled), what was left out on purpose (\Deleted, unless --deleted
 * trash), what the destination's mailbox holds (a whole verify only:
 * --verify-delta reads back only what it carried), and what this verify
 * found of the messages it checked there: equal, different, rescued
 * (carried repaired or wrapped) or not pushed (refused, or not yet).
 */
#include "compat.h"

#include "push.h"
#include "xalloc.h"

static void
bump(json_t *row, const char *key, uint64_t n)
{
	json_t *v = json_object_get(row, key);

	json_object_set_new(row, key, json_integer((v ?
	    json_integer_value(v) : 0) + (json_int_t)n));
}

/* The row of `folder`, made on first use with every counter at 0. */
static json_t *
row_of(struct push *p, const char *folder)
{
	json_t *row;

	if (!p->recon)
		p->recon = json_object();
	if ((row = json_object_get(p->recon, folder)))
		return row;
	row = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
	    "folder", folder, "source_messages", 0, "source_bytes", 0,
	    "left_out", 0, "checked", 0, "equal", 0, "differs", 0, "rescued",
	    0, "not_pushed", 0);
	json_object_set_new(p->recon, folder, row);
	return row;
}

void
recon_source(struct push *p, const char *folder, uint64_t size,
    int left_out)
{
	json_t *row = row_of(p, folder);

	bump(row, "source_messages", 1);
	bump(row, "source_bytes", size);
	if (left_out)
		bump(row, "left_out", 1);
}

/* The archive folder of a destination mailbox, or NULL. */
static const char *
folder_of(struct push *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nr_map; i++)
		if (!strcmp(p->map[i].id, id))
			return p->map[i].folder;
	return NULL;
}

void
recon_checked(struct push *p, const struct want *w, const char *outcome)
{
	const char *s = w->mailboxes, *e;
	char id[256];
	int any = 0;

	for (; s && *s; s = *e ? e + 1 : e) {
		const char *f;

		e = s + strcspn(s, " ");
		snprintf(id, sizeof(id), "%.*s", (int)(e - s), s);
		if (!(f = folder_of(p, id)))
			continue;
		bump(row_of(p, f), "checked", 1);
		bump(row_of(p, f), outcome, 1);
		any = 1;
	}
	if (!any && w->folder) {	/* no mailbox on the destination yet */
		bump(row_of(p, w->folder), "checked", 1);
		bump(row_of(p, w->folder), outcome, 1);
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
recon_table(struct push *p, json_t *all)
{
	json_t *rows = json_array(), *e, *ids, *in, *row;
	const char *id, *key, *f, **names;
	size_t i, n = 0;

	for (i = 0; i < p->nr_map; i++)	/* the empty ones too */
		row_of(p, p->map[i].folder);
	if (!p->verify_delta) {
		json_object_foreach(p->recon, key, row) {
			json_object_set_new(row, "destination_messages",
			    json_integer(0));
			json_object_set_new(row, "destination_bytes",
			    json_integer(0));
		}
		json_object_foreach(all, key, e) {
			ids = json_object_get(e, "mailboxIds");
			json_object_foreach(ids, id, in) {
				if (!json_is_true(in) ||
				    !(f = folder_of(p, id)))
					continue;
				row = row_of(p, f);
				bump(row, "destination_messages", 1);
				bump(row, "destination_bytes", (uint64_t)
				    json_integer_value(json_object_get(e,
				    "size")));
			}
		}
	}
	names = xcalloc(json_object_size(p->recon) + 1, sizeof(*names));
	json_object_foreach(p->recon, key, row)
		names[n++] = key;
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append(rows, json_object_get(p->recon, names[i]));
	free(names);
	return rows;
}
