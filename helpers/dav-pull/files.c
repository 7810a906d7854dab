/*
 * files.c: a plain WebDAV file tree (--files), walked with PROPFIND and
 * fetched file by file.
 */
#include "compat.h"

#include <time.h>

#include "dpull.h"
#include "xalloc.h"

/*
 * A plain WebDAV file tree (--files): every directory and file below the
 * URL, by PROPFIND Depth 1 a directory at a time; files with GET, byte for
 * byte.  A file whose size and modification time (or ETag) are as the
 * archive has them is not fetched again.
 */
struct fentry {
	char *path;		/* below the root, as the server encodes it */
	int dir;
	uint64_t size;
	char *mtime, *etag, *type;
};

static const char propfind_files[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/>"
	"<D:getcontentlength/><D:getlastmodified/><D:getetag/>"
	"<D:getcontenttype/></D:prop></D:propfind>";

static int
walk(const char *root, const char *rel, int depth, struct fentry **v,
    size_t *nr, size_t *alloc, struct buf *err)
{
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct dav_answer a = { .body = &body };
	size_t k, first = *nr, last;
	int ret = -1;

	if (depth > 64) {
		buf_addf(err, "%s%s: deeper than 64 directories", root, rel);
		pull.d->fail = EX_PROTOCOL;
		return -1;
	}
	buf_addf(&url, "%s%s", root, rel);
	if (propfind(url.buf, "1", propfind_files, &a, err) < 0)
		goto out;
	for (k = 0; k < a.nr; k++) {
		char *p = dav_path(a.v[k].href);
		struct fentry *f;

		if (strncmp(p, root, strlen(root)) || !strcmp(p, url.buf) ||
		    a.v[k].status / 100 != 2) {
			free(p);
			continue;
		}
		ALLOC_GROW(*v, *nr + 1, *alloc);
		f = &(*v)[(*nr)++];
		memset(f, 0, sizeof(*f));
		f->path = xstrdup(p + strlen(root));
		free(p);
		f->dir = dav_child(dav_prop(&a.v[k], NS_DAV, "resourcetype"),
		    NS_DAV, "collection") != NULL;
		if (f->dir && f->path[0] && f->path[strlen(f->path) - 1] !=
		    '/') {
			char *d = xasprintf("%s/", f->path);

			free(f->path);
			f->path = d;
		}
		f->mtime = dav_text(dav_prop(&a.v[k], NS_DAV,
		    "getlastmodified"));
		f->etag = dav_text(dav_prop(&a.v[k], NS_DAV, "getetag"));
		f->type = dav_text(dav_prop(&a.v[k], NS_DAV, "getcontenttype"));
		if (!f->dir) {
			char *n = dav_text(dav_prop(&a.v[k], NS_DAV,
			    "getcontentlength"));

			f->size = n ? strtoull(n, NULL, 10) : 0;
			free(n);
		}
	}
	/* then each directory found here (not those found below them) */
	for (k = first, last = *nr; k < last; k++)
		if ((*v)[k].dir && walk(root, (*v)[k].path, depth + 1, v, nr,
		    alloc, err) < 0)
			goto out;
	ret = 0;
out:
	dav_answer_release(&a);
	buf_release(&body);
	buf_release(&url);
	return ret;
}

static int
open_segment(struct buf *err)
{
	pull.seq = arcidx_last_seq(pull.ix) + 1;
	if (seg_writer_open(&pull.w, pull.archive, pull.seq, 3, 0, err) < 0 ||
	    record(json_pack("{s:s, s:s, s:s, s:s, s:I}", "t", "segment",
	    "helper", "dav-pull", "version", DAV_PULL_VERSION, "mode", "files",
	    "time", (json_int_t)time(NULL)), err) < 0)
		return -1;
	pull.dirty = 0;
	return 0;
}

/* GET one file that changed: its blob (once) and its record. */
static int
fetch_file(const char *root, const struct fentry *f, struct dav_answer *a,
    struct buf *err)
{
	struct buf url = BUF_INIT, *body = a->body;
	char hash[SEG_HASH_HEX + 1];
	int ret = -1;

	buf_addf(&url, "%s%s", root, f->path);
	if (dav_request(pull.d, "GET", url.buf, NULL, NULL, NULL, 0, NULL,
	    NULL, a, err) < 0)
		goto out;
	if (a->code == 404) {
		ret = 0;	/* gone since the listing */
		goto out;
	}
	if (a->code != 200) {
		dav_status_error(pull.d, url.buf, a, err);
		goto out;
	}
	pull.bytes += body->len - f->size;
	if (record_blob(body, hash, err) < 0)
		goto out;
	/* the size and time as listed: the next pass compares them */
	if (record(json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?, s:s?}", "t",
	    "file", "path", f->path, "hash", hash, "size", (json_int_t)f->size,
	    "type", a->content_type ? a->content_type : f->type, "mtime",
	    f->mtime, "etag", f->etag), err) < 0)
		goto out;
	pull.fetched++;
	ret = 0;
out:
	buf_release(&url);
	return ret;
}

int
pull_files(struct buf *err)
{
	struct fentry *v = NULL;
	struct buf body = BUF_INIT;
	struct dav_answer a = { .body = &body };
	char *root = dav_path(pull.o.url), **old = NULL;
	size_t nr = 0, alloc = 0, nr_old = 0, i, k;
	int ret = -1;

	if (root[strlen(root) - 1] != '/') {
		char *r = xasprintf("%s/", root);

		free(root);
		root = r;
	}
	if (walk(root, "", 0, &v, &nr, &alloc, err) < 0)
		goto out;
	if (!pull.assess) {
		if (arcidx_file_listing(pull.ix, &old, &nr_old, err) < 0)
			goto out;
		if (open_segment(err) < 0)
			goto out;
	}
	for (i = 0; i < nr; i++) {
		struct fentry *f = &v[i];
		char **o = NULL;

		for (k = 0; k < nr_old; k++)
			if (!strcmp(old[4 * k], f->path))
				o = &old[4 * k];
		if (f->dir) {
			if (!o && record(json_pack("{s:s, s:s}", "t",
			    "file-dir", "path", f->path), err) < 0)
				goto out;
			continue;
		}
		pull.nr_files++;
		pull.bytes += f->size;
		if (o && strtoull(o[1], NULL, 10) == f->size &&
		    !strcmp(o[2], f->mtime ? f->mtime : "") &&
		    !strcmp(o[3], f->etag ? f->etag : ""))
			continue;	/* unchanged */
		if (fetch_file(root, f, &a, err) < 0)
			goto out;
	}
	for (k = 0; k < nr_old; k++) {
		for (i = 0; i < nr; i++)
			if (!strcmp(old[4 * k], v[i].path))
				break;
		if (i == nr && record(json_pack("{s:s, s:s}", "t",
		    "file-delete", "path", old[4 * k]), err) < 0)
			goto out;
		pull.deleted += i == nr;
	}
	ret = 0;
out:
	for (i = 0; i < nr; i++) {
		free(v[i].path);
		free(v[i].mtime);
		free(v[i].etag);
		free(v[i].type);
	}
	free(v);
	arc_rows_free(old, nr_old, 4);
	dav_answer_release(&a);
	buf_release(&body);
	free(root);
	return ret;
}