#include "compat.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "buf.h"
#include "log.h"
#include "segment.h"
#include "xalloc.h"

#define MANIFEST_MAX	(512u * 1024 * 1024)

struct seg_writer {
	struct archive *a;
	int fd;
	char *dir;		/* the segments directory */
	char *part;		/* path being written */
	char *final;
	unsigned seq;
	struct buf manifest;
	size_t nr_records, nr_blobs;
	uint64_t blob_bytes;
	uint64_t left;		/* bytes still due in the current blob */
	int in_blob;
	/*
	 * libarchive writes the tar; zstd is applied here, with libzstd's
	 * own worker threads, so compressing overlaps with reading.
	 */
	ZSTD_CCtx *zc;
	char *zbuf;
	size_t zcap;
	off_t written, flushed;	/* bytes in the file; sent to the disk */
	int close_errno;	/* tar_close() failed: libarchive does not
				 * pass that on */
};

struct seg_reader {
	struct archive *a;
	struct archive_entry *e;
};

void
seg_hash_hex(const unsigned char digest[32], char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[SEG_HASH_HEX] = '\0';
}

void
seg_name(unsigned seq, struct buf *out)
{
	buf_addf(out, "%08u.tar.zst", seq);
}

static int
fsync_dir(const char *dir, struct buf *err)
{
	int fd, ret = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) < 0) {
		buf_addf(err, "cannot sync '%s': %s", dir, strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int
arch_fail(struct archive *a, const char *what, const char *path,
    struct buf *err)
{
	const char *msg = archive_error_string(a);

	buf_addf(err, "%s '%s': %s", what, path, msg ? msg : "failed");
	return -1;
}

static int
write_fd(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Compress what is in `in` (all of it, or to the end of the frame). */
static int
zwrite(struct seg_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective how)
{
	ZSTD_outBuffer out;
	size_t left;

	do {
		out.dst = w->zbuf;
		out.size = w->zcap;
		out.pos = 0;
		left = ZSTD_compressStream2(w->zc, &out, in, how);
		if (ZSTD_isError(left)) {
			errno = EIO;
			return -1;
		}
		if (write_fd(w->fd, w->zbuf, out.pos) < 0)
			return -1;
		w->written += (off_t)out.pos;
		/*
		 * Start writing back as we go, so that the fsync at the end
		 * finds little left to do and the reader never waits long.
		 */
		if (w->written - w->flushed >= (8 << 20)) {
			sync_file_range(w->fd, w->flushed,
			    w->written - w->flushed, SYNC_FILE_RANGE_WRITE);
			w->flushed = w->written;
		}
	} while (how == ZSTD_e_end ? left != 0 : in->pos < in->size);
	return 0;
}

static la_ssize_t
tar_write(struct archive *a, void *arg, const void *data, size_t len)
{
	struct seg_writer *w = arg;
	ZSTD_inBuffer in = { data, len, 0 };

	if (zwrite(w, &in, ZSTD_e_continue) < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	return (la_ssize_t)len;
}

static int
tar_close(struct archive *a, void *arg)
{
	struct seg_writer *w = arg;
	ZSTD_inBuffer in = { NULL, 0, 0 };

	if (zwrite(w, &in, ZSTD_e_end) < 0) {
		w->close_errno = errno ? errno : EIO;
		archive_set_error(a, errno, "%s", strerror(errno));
		return ARCHIVE_FATAL;
	}
	return ARCHIVE_OK;
}

int
seg_writer_open(struct seg_writer **w_r, const char *dir, unsigned seq,
    int level, int workers, struct buf *err)
{
	struct seg_writer *w = xcalloc(1, sizeof(*w));
	struct buf name = BUF_INIT;
	int ret = -1;

	*w_r = NULL;
	w->fd = -1;
	w->seq = seq;
	buf_init(&w->manifest, MANIFEST_MAX);
	w->dir = xasprintf("%s/" SEG_DIR, dir);
	if (mkdir(w->dir, 0700) < 0 && errno != EEXIST) {
		buf_addf(err, "cannot create '%s': %s", w->dir,
		    strerror(errno));
		goto out;
	}
	seg_name(seq, &name);
	w->final = xasprintf("%s/%s", w->dir, name.buf);
	w->part = xasprintf("%s.part", w->final);
	w->fd = open(w->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		buf_addf(err, "cannot create '%s': %s", w->part,
		    strerror(errno));
		goto out;
	}
	if (!(w->zc = ZSTD_createCCtx()))
		fatalx(EX_SOFTWARE, "out of memory");
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->zc,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag,
	    1))) {
		buf_addf(err, "zstd does not take level %d", level);
		goto out;
	}
	/* without threads in libzstd, compress in this one */
	if (workers > 0)
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, workers);
	w->zcap = ZSTD_CStreamOutSize();
	w->zbuf = xmalloc(w->zcap);
	w->a = archive_write_new();
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) !=
	    ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, tar_write, tar_close, NULL) !=
	    ARCHIVE_OK) {
		arch_fail(w->a, "cannot start", w->part, err);
		goto out;
	}
	ret = 0;
out:
	buf_release(&name);
	if (ret < 0)
		seg_writer_abort(&w);
	*w_r = w;
	return ret;
}

static int
write_header(struct seg_writer *w, const char *path, uint64_t size,
    struct buf *err)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		ret = arch_fail(w->a, "cannot write to", w->part, err);
	archive_entry_free(e);
	return ret;
}

static int
write_data(struct seg_writer *w, const void *data, size_t len,
    struct buf *err)
{
	const char *p = data;
	la_ssize_t n;

	while (len) {
		n = archive_write_data(w->a, p, len);
		if (n <= 0)
			return arch_fail(w->a, "cannot write to", w->part,
			    err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
seg_blob_begin(struct seg_writer *w, const char *hash, uint64_t size,
    struct buf *err)
{
	struct buf path = BUF_INIT;
	int ret;

	if (w->in_blob && w->left)
		BUG("blob begun before the last one was complete");
	buf_addf(&path, SEG_BLOB_PREFIX "%s.eml", hash);
	ret = write_header(w, path.buf, size, err);
	buf_release(&path);
	if (ret == 0) {
		w->in_blob = 1;
		w->left = size;
		w->nr_blobs++;
		w->blob_bytes += size;
	}
	return ret;
}

int
seg_blob_data(struct seg_writer *w, const void *data, size_t len,
    struct buf *err)
{
	if (!w->in_blob || len > w->left)
		BUG("blob data beyond the announced size");
	w->left -= len;
	return write_data(w, data, len, err);
}

void
seg_record(struct seg_writer *w, const char *json, size_t len)
{
	if (buf_add(&w->manifest, json, len) < 0 ||
	    buf_addch(&w->manifest, '\n') < 0)
		BUG("manifest over %u bytes", MANIFEST_MAX);
	w->nr_records++;
}

int
seg_record_json(struct seg_writer *w, json_t *o, struct buf *err)
{
	char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;

	json_decref(o);
	if (!line) {
		buf_adds(err, "cannot encode a manifest record");
		return -1;
	}
	seg_record(w, line, strlen(line));
	free(line);
	return 0;
}

size_t
seg_nr_records(const struct seg_writer *w)
{
	return w->nr_records;
}

size_t
seg_nr_blobs(const struct seg_writer *w)
{
	return w->nr_blobs;
}

uint64_t
seg_blob_bytes(const struct seg_writer *w)
{
	return w->blob_bytes;
}

const char *
seg_manifest(const struct seg_writer *w, size_t *len_r)
{
	*len_r = w->manifest.len;
	return w->manifest.buf;
}

static void
sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		BUG("SHA-256 failed");
	seg_hash_hex(md, out);
}

int
seg_writer_commit(struct seg_writer **wp, struct buf *err)
{
	struct seg_writer *w = *wp;
	struct buf end = BUF_INIT;
	char mhash[SEG_HASH_HEX + 1];
	int ret = -1;

	if (w->in_blob && w->left)
		BUG("segment committed inside a blob");
	sha256_hex(w->manifest.buf, w->manifest.len, mhash);
	buf_addf(&end, "{\"seq\":%u,\"records\":%zu,\"blobs\":%zu,"
	    "\"blob_bytes\":%" PRIu64 ",\"manifest_sha256\":\"%s\"}\n",
	    w->seq, w->nr_records, w->nr_blobs, w->blob_bytes, mhash);
	if (write_header(w, SEG_MANIFEST, w->manifest.len, err) < 0 ||
	    write_data(w, w->manifest.buf, w->manifest.len, err) < 0 ||
	    write_header(w, SEG_END, end.len, err) < 0 ||
	    write_data(w, end.buf, end.len, err) < 0)
		goto out;
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		arch_fail(w->a, "cannot finish", w->part, err);
		goto out;
	}
	if (w->close_errno) {	/* the last of the zstd frame: a full disk */
		buf_addf(err, "cannot write '%s': %s", w->part,
		    strerror(w->close_errno));
		goto out;
	}
	if (fsync(w->fd) < 0 || close(w->fd) < 0) {
		w->fd = -1;
		buf_addf(err, "cannot write '%s': %s", w->part,
		    strerror(errno));
		goto out;
	}
	w->fd = -1;
	if (rename(w->part, w->final) < 0) {
		buf_addf(err, "cannot rename '%s': %s", w->part,
		    strerror(errno));
		goto out;
	}
	free(w->part);
	w->part = NULL;
	if (fsync_dir(w->dir, err) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&end);
	seg_writer_abort(wp);
	return ret;
}

void
seg_writer_abort(struct seg_writer **wp)
{
	struct seg_writer *w = *wp;

	if (!w)
		return;
	if (w->a)
		archive_write_free(w->a);	/* closes too; fd is ours */
	ZSTD_freeCCtx(w->zc);
	free(w->zbuf);
	if (w->fd >= 0)
		close(w->fd);
	if (w->part)
		unlink(w->part);
	free(w->part);
	free(w->final);
	free(w->dir);
	buf_release(&w->manifest);
	free(w);
	*wp = NULL;
}

int
seg_reader_open(struct seg_reader **r_r, const char *path, struct buf *err)
{
	struct seg_reader *r = xcalloc(1, sizeof(*r));

	*r_r = NULL;
	r->a = archive_read_new();
	archive_read_support_filter_zstd(r->a);
	archive_read_support_format_tar(r->a);
	if (archive_read_open_filename(r->a, path, 256 * 1024) !=
	    ARCHIVE_OK) {
		arch_fail(r->a, "cannot read", path, err);
		seg_reader_free(&r);
		return -1;
	}
	*r_r = r;
	return 0;
}

int
seg_reader_next(struct seg_reader *r, const char **name_r,
    uint64_t *size_r, struct buf *err)
{
	int st = archive_read_next_header(r->a, &r->e);

	if (st == ARCHIVE_EOF)
		return 0;
	if (st != ARCHIVE_OK) {
		buf_addf(err, "%s", archive_error_string(r->a) ?
		    archive_error_string(r->a) : "unreadable entry");
		return -1;
	}
	*name_r = archive_entry_pathname(r->e);
	*size_r = (uint64_t)archive_entry_size(r->e);
	if (!*name_r) {
		buf_adds(err, "entry without a name");
		return -1;
	}
	return 1;
}

ssize_t
seg_reader_data(struct seg_reader *r, void *data, size_t size,
    struct buf *err)
{
	la_ssize_t n = archive_read_data(r->a, data, size);

	if (n < 0) {
		buf_addf(err, "%s", archive_error_string(r->a) ?
		    archive_error_string(r->a) : "unreadable data");
		return -1;
	}
	return n;
}

void
seg_reader_free(struct seg_reader **r)
{
	if (!*r)
		return;
	archive_read_free((*r)->a);
	free(*r);
	*r = NULL;
}

static int
is_hex_name(const char *name)
{
	size_t i, plen = strlen(SEG_BLOB_PREFIX);

	if (strncmp(name, SEG_BLOB_PREFIX, plen) ||
	    strlen(name) != plen + SEG_HASH_HEX + 4 ||
	    strcmp(name + plen + SEG_HASH_HEX, ".eml"))
		return 0;
	for (i = plen; i < plen + SEG_HASH_HEX; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	return 1;
}

static int
check_end(const struct buf *end, const struct buf *manifest,
    unsigned *seq_r, struct buf *err)
{
	char mhash[SEG_HASH_HEX + 1];
	const char *want = NULL;
	json_int_t seq = -1;
	json_error_t jerr;
	json_t *o;
	int ret = -1;

	o = json_loadb(end->buf, end->len, 0, &jerr);
	if (!o || json_unpack(o, "{s:I, s:s}", "seq", &seq,
	    "manifest_sha256", &want) < 0 || seq < 1 || seq > UINT_MAX) {
		buf_adds(err, "unreadable END");
		goto out;
	}
	sha256_hex(manifest->buf, manifest->len, mhash);
	if (strcmp(mhash, want)) {
		buf_adds(err, "manifest does not match END");
		goto out;
	}
	if (seq_r)
		*seq_r = (unsigned)seq;
	ret = 0;
out:
	json_decref(o);
	return ret;
}

int
seg_verify(const char *path, struct buf *manifest_out, unsigned *seq_r,
    void (*on_blob)(void *arg, const char *hash), void *arg,
    struct buf *err)
{
	struct seg_reader *r = NULL;
	struct buf manifest = BUF_INIT, end = BUF_INIT, why = BUF_INIT;
	unsigned char md[32];
	char hex[SEG_HASH_HEX + 1], *data = xmalloc(256 * 1024);
	const char *name;
	uint64_t size;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int st, seen_manifest = 0, seen_end = 0, ret = -1;
	ssize_t n;

	buf_init(&manifest, MANIFEST_MAX);
	buf_init(&end, 64 * 1024);
	if (seg_reader_open(&r, path, err) < 0)
		goto out;
	while ((st = seg_reader_next(r, &name, &size, &why)) == 1) {
		int blob = is_hex_name(name);
		struct buf *keep = NULL;

		if (seen_end) {
			buf_addf(&why, "entry '%s' after END", name);
			goto bad;
		}
		if (!strcmp(name, SEG_MANIFEST) && !seen_manifest) {
			keep = &manifest;
			seen_manifest = 1;
		} else if (!strcmp(name, SEG_END) && seen_manifest) {
			keep = &end;
			seen_end = 1;
		} else if (!blob || seen_manifest) {
			buf_addf(&why, "unexpected entry '%s'", name);
			goto bad;
		}
		if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
			BUG("SHA-256 failed");
		while ((n = seg_reader_data(r, data, 256 * 1024, &why)) > 0) {
			EVP_DigestUpdate(ctx, data, (size_t)n);
			if (keep && buf_add(keep, data, (size_t)n) < 0) {
				buf_addf(&why, "'%s' too long", name);
				goto bad;
			}
		}
		if (n < 0)
			goto bad;
		EVP_DigestFinal_ex(ctx, md, NULL);
		seg_hash_hex(md, hex);
		if (blob && strncmp(hex, name + strlen(SEG_BLOB_PREFIX),
		    SEG_HASH_HEX)) {
			buf_addf(&why, "'%s' does not match its hash", name);
			goto bad;
		}
		if (blob && on_blob)
			on_blob(arg, hex);
	}
	if (st < 0)
		goto bad;
	if (!seen_end) {
		buf_adds(&why, "no END: the segment is incomplete");
		goto bad;
	}
	if (check_end(&end, &manifest, seq_r, &why) < 0)
		goto bad;
	if (manifest_out)
		buf_add(manifest_out, manifest.buf, manifest.len);
	ret = 0;
	goto out;
bad:
	buf_addf(err, "'%s': %s", path, why.buf);
out:
	seg_reader_free(&r);
	EVP_MD_CTX_free(ctx);
	free(data);
	buf_release(&manifest);
	buf_release(&end);
	buf_release(&why);
	return ret;
}

static int
cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int
seg_list(const char *dir, unsigned **seqs_r, size_t *nr_r,
    int remove_partial, struct buf *err)
{
	char *path = xasprintf("%s/" SEG_DIR, dir);
	unsigned *seqs = NULL, seq;
	size_t nr = 0, alloc = 0;
	struct dirent *de;
	DIR *d;
	int n, ret = -1;

	*seqs_r = NULL;
	*nr_r = 0;
	if (!(d = opendir(path))) {
		if (errno == ENOENT)
			ret = 0;
		else
			buf_addf(err, "cannot read '%s': %s", path,
			    strerror(errno));
		goto out;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 5 && !strcmp(de->d_name + len - 5, ".part")) {
			if (remove_partial) {
				char *p = xasprintf("%s/%s", path,
				    de->d_name);

				unlink(p);
				free(p);
			}
			continue;
		}
		n = 0;
		if (sscanf(de->d_name, "%8u.tar.zst%n", &seq, &n) != 1 ||
		    n != (int)len || len != 16 || seq == 0)
			continue;
		ALLOC_GROW(seqs, nr + 1, alloc);
		seqs[nr++] = seq;
	}
	closedir(d);
	if (nr)
		qsort(seqs, nr, sizeof(*seqs), cmp_uint);
	*seqs_r = seqs;
	*nr_r = nr;
	ret = 0;
out:
	free(path);
	return ret;
}
