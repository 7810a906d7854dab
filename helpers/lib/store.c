/*
 * store.c: the archive a pull helper writes (store.h).
 */
#include "compat.h"

#include <fcntl.h>
#include <time.h>

#include <openssl/evp.h>

#include "evline.h"
#include "log.h"
#include "now.h"
#include "opt.h"
#include "store.h"
#include "xalloc.h"

/* bodies up to this size never touch the disk before their segment */
#define SPOOL_MEM	(8u << 20)

void
spool_init(struct spool *sp, const char *dir, uint64_t max_bps)
{
	memset(sp, 0, sizeof(*sp));
	buf_init(&sp->mem, SPOOL_MEM);
	sp->fd = -1;
	sp->dir = dir;
	sp->md = EVP_MD_CTX_new();
	sp->max_bps = max_bps;
	if (!sp->md)
		fatalx(EX_SOFTWARE, "out of memory");
}

void
spool_release(struct spool *sp)
{
	if (!sp->md)
		return;		/* never started */
	buf_release(&sp->mem);
	if (sp->fd >= 0)
		close(sp->fd);
	EVP_MD_CTX_free(sp->md);
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
}

void
spool_begin(struct spool *sp)
{
	buf_reset(&sp->mem);
	sp->len = 0;
	sp->error = 0;
	sp->hash[0] = '\0';
	if (sp->fd >= 0 && ftruncate(sp->fd, 0) < 0)
		sp->error = errno;
	if (sp->fd >= 0 && lseek(sp->fd, 0, SEEK_SET) < 0)
		sp->error = errno;
	if (!EVP_DigestInit_ex(sp->md, EVP_sha256(), NULL))
		BUG("SHA-256 failed");
}

static void
throttle(struct spool *sp, size_t len)
{
	double t, due;

	if (!sp->max_bps)
		return;
	t = now_seconds();
	if (!sp->thr_start)
		sp->thr_start = t;
	sp->thr_bytes += len;
	due = sp->thr_start + (double)sp->thr_bytes / (double)sp->max_bps;
	if (due > t) {
		struct timespec ts;

		ts.tv_sec = (time_t)(due - t);
		ts.tv_nsec = (long)((due - t - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static int
spool_file(struct spool *sp)
{
	char *tmpl;

	if (sp->fd >= 0)
		return 0;
	sp->fd = open(sp->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd >= 0)
		return 0;
	tmpl = xasprintf("%s/spool.XXXXXX", sp->dir);
	sp->fd = mkostemp(tmpl, O_CLOEXEC);
	if (sp->fd >= 0)
		unlink(tmpl);
	free(tmpl);
	return sp->fd >= 0 ? 0 : -1;
}

int
spool_sink(void *arg, const char *data, size_t len)
{
	struct spool *sp = arg;
	size_t room = SPOOL_MEM - sp->mem.len;
	size_t n = len < room ? len : room;

	EVP_DigestUpdate(sp->md, data, len);
	sp->len += len;
	throttle(sp, len);
	if (sp->error)
		return 0;	/* drain the literal; spool_end() fails */
	buf_add(&sp->mem, data, n);
	data += n;
	len -= n;
	if (!len)
		return 0;
	if (spool_file(sp) < 0) {
		sp->error = errno;
		return 0;
	}
	while (len) {
		ssize_t w = write(sp->fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			sp->error = w < 0 ? errno : ENOSPC;
			return 0;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int
spool_end(struct spool *sp, struct buf *err)
{
	unsigned char md[32];

	EVP_DigestFinal_ex(sp->md, md, NULL);
	seg_hash_hex(md, sp->hash);
	if (sp->error) {
		buf_addf(err, "cannot spool a message in '%s': %s", sp->dir,
		    strerror(sp->error));
		return -1;
	}
	return 0;
}

const char *
spool_head(const struct spool *sp, size_t *len_r)
{
	*len_r = sp->mem.len;
	return sp->mem.buf;
}

static int
spool_copy(struct spool *sp, struct seg_writer *w, struct buf *err)
{
	char *chunk;
	uint64_t left = sp->len - sp->mem.len;
	ssize_t n;
	off_t off = 0;
	int ret = -1;

	if (seg_blob_data(w, sp->mem.buf, sp->mem.len, err) < 0)
		return -1;
	if (!left)
		return 0;
	chunk = xmalloc(1 << 20);
	while (left) {
		n = pread(sp->fd, chunk, left < (1 << 20) ? left : 1 << 20,
		    off);
		if (n <= 0) {
			buf_addf(err, "cannot read the spooled message: %s",
			    n ? strerror(errno) : "short file");
			goto out;
		}
		if (seg_blob_data(w, chunk, (size_t)n, err) < 0)
			goto out;
		off += n;
		left -= (uint64_t)n;
	}
	ret = 0;
out:
	free(chunk);
	return ret;
}

/* Bodies in the open segment: a small open-addressing set. */
static size_t
set_slot(struct store *st, const char *hash)
{
	size_t i = 0, k;

	/* the hash is already uniform: its first hex digits will do */
	for (k = 0; k < 2 * sizeof(size_t); k++)
		i = i << 4 | (size_t)(hash[k] <= '9' ? hash[k] - '0' :
		    hash[k] - 'a' + 10);
	for (i &= st->set_cap - 1; st->set[i][0]; i = (i + 1) &
	    (st->set_cap - 1))
		if (!strcmp(st->set[i], hash))
			break;
	return i;
}

static void
set_add(struct store *st, const char *hash)
{
	size_t i, old_cap = st->set_cap;
	char (*old)[SEG_HASH_HEX + 1] = st->set;

	if (2 * (st->set_nr + 1) > st->set_cap) {
		st->set_cap = old_cap ? 2 * old_cap : 1024;
		st->set = xcalloc(st->set_cap, sizeof(*st->set));
		for (i = 0; i < old_cap; i++)
			if (old[i][0])
				memcpy(st->set[set_slot(st, old[i])], old[i],
				    SEG_HASH_HEX + 1);
		free(old);
	}
	i = set_slot(st, hash);
	if (!st->set[i][0]) {
		memcpy(st->set[i], hash, SEG_HASH_HEX + 1);
		st->set_nr++;
	}
}

static int
seg_begin(struct store *st, struct buf *err)
{
	json_t *rec;
	int ret;

	st->seq = arcidx_last_seq(st->ix) + 1;
	if (seg_writer_open(&st->seg, st->dir, st->seq, st->level,
	    st->workers, err) < 0)
		return -1;
	st->dirty = 0;
	st->seg_msgs = 0;
	if (st->set)
		memset(st->set, 0, st->set_cap * sizeof(*st->set));
	st->set_nr = 0;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:I}", "t", "segment",
	    "helper", st->helper, "version", st->version, "mode", st->mode,
	    "time", (json_int_t)time(NULL));
	ret = store_record(st, rec, err);
	json_decref(rec);
	st->dirty = 0;
	return ret;
}

int
store_open(struct store *st, const char *dir, const char *mode,
    struct buf *err)
{
	int rc;

	st->dir = dir;
	st->mode = mode;
	if ((rc = arcidx_open(&st->ix, dir, 1, err)) < 0)
		return rc;
	if (arcidx_catch_up(st->ix, err) < 0)
		return -1;
	if (!strcmp(mode, "auto")) {
		char *full = arcidx_meta(st->ix, "pass.full");

		st->mode = full ? "delta" : "full";
		free(full);
	}
	return seg_begin(st, err);
}

int
store_record(struct store *st, json_t *rec, struct buf *err)
{
	char *line;

	if (!rec)
		BUG("record not built");
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		buf_adds(err, "cannot encode a manifest record");
		return -1;
	}
	seg_record(st->seg, line, strlen(line));
	free(line);
	st->dirty = 1;
	if (!strcmp(json_string_value(json_object_get(rec, "t")), "msg"))
		st->seg_msgs++;
	return 0;
}

int
store_has_blob(struct store *st, const char *hash)
{
	if (st->set_cap && st->set[set_slot(st, hash)][0])
		return 1;
	return arcidx_has_blob(st->ix, hash);
}

int
store_blob(struct store *st, struct spool *sp, json_t *blob_rec,
    struct buf *err)
{
	if (seg_blob_begin(st->seg, sp->hash, sp->len, err) < 0 ||
	    spool_copy(sp, st->seg, err) < 0 ||
	    store_record(st, blob_rec, err) < 0)
		return -1;
	set_add(st, sp->hash);
	return 0;
}

static int
commit(struct store *st, struct buf *err)
{
	struct buf manifest = BUF_INIT;
	const char *m;
	size_t len, nr_msgs = st->seg_msgs;
	uint64_t bytes = seg_blob_bytes(st->seg);
	unsigned seq = st->seq;
	char token[32];
	int ret = -1;

	m = seg_manifest(st->seg, &len);
	buf_add(&manifest, m, len);
	if (seg_writer_commit(&st->seg, err) < 0 ||
	    arcidx_apply(st->ix, seq, manifest.buf, manifest.len, err) < 0)
		goto out;
	st->segments++;
	snprintf(token, sizeof(token), "seg:%u", seq);
	evline_write(1, "checkpoint", "{s:s, s:i, s:I, s:I}", "token", token,
	    "segment", (int)seq, "messages", (json_int_t)nr_msgs,
	    "bytes", (json_int_t)bytes);
	log_debug("segment %u written: %zu messages, %" PRIu64 " bytes",
	    seq, nr_msgs, bytes);
	ret = 0;
out:
	buf_release(&manifest);
	return ret;
}

int
store_maybe_commit(struct store *st, struct buf *err)
{
	if (st->seg_msgs < st->ckpt_messages &&
	    seg_blob_bytes(st->seg) < st->ckpt_bytes)
		return 0;
	if (commit(st, err) < 0)
		return -1;
	return seg_begin(st, err);
}

int
store_finish(struct store *st, json_t *pass, struct buf *err)
{
	int ret = 0;

	if (st->dirty || st->segments) {
		/* a pass that wrote anything says so when it ends */
		ret = store_record(st, pass, err);
		if (ret == 0)
			ret = commit(st, err);
	}
	store_abort(st);
	return ret;
}

void
store_abort(struct store *st)
{
	seg_writer_abort(&st->seg);
	arcidx_close(&st->ix);
	free(st->set);
	st->set = NULL;
	st->set_cap = st->set_nr = 0;
}

/* The Message-ID in a header section, or NULL. */
char *
store_header_mid(const char *h, size_t len)
{
	struct buf v = BUF_INIT;
	const char *p = h, *end = h + len, *nl, *lt, *gt;
	int in = 0;

	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			break;		/* end of the header */
		if (in && (*p == ' ' || *p == '\t')) {
			buf_add(&v, p, (size_t)(nl - p));
			continue;
		}
		in = 0;
		if ((size_t)(nl - p) > 11 && !strncasecmp(p, "Message-ID:",
		    11)) {
			buf_add(&v, p + 11, (size_t)(nl - p - 11));
			in = 1;
		}
	}
	if (v.len && (lt = memchr(v.buf, '<', v.len)) &&
	    (gt = memchr(lt, '>', v.len - (size_t)(lt - v.buf)))) {
		char *mid = xstrndup(lt, (size_t)(gt - lt + 1));

		buf_release(&v);
		return mid;
	}
	buf_release(&v);
	return NULL;
}

/* The system flags, or the keywords, of a flag string, as JSON. */
json_t *
store_flags_json(const char *flags, int system)
{
	json_t *a = json_array();
	const char *s = flags, *e;

	while (*s) {
		e = strchr(s, ' ');
		if (!e)
			e = s + strlen(s);
		if ((*s == '\\') == system)
			json_array_append_new(a, json_stringn(s,
			    (size_t)(e - s)));
		s = *e ? e + 1 : e;
	}
	return a;
}

void
store_defaults(struct store *st, struct store_opts *so)
{
	so->mode = STORE_FULL;
	so->size_limit = 50u << 20;
	st->level = 1;
	st->workers = 2;
	st->ckpt_messages = 2000;
	st->ckpt_bytes = 256u << 20;
}

void
store_log_done(const struct store_opts *so, uint64_t msgs_total,
    uint64_t msgs_done, uint64_t bytes_total, uint64_t bytes_done,
    double seconds)
{
	int assess = so->mode == STORE_ASSESS;

	log_info("%s: %" PRIu64 " messages, %" PRIu64 " bytes in %.1f s",
	    assess ? "assessed" : "pulled", assess ? msgs_total : msgs_done,
	    assess ? bytes_total : bytes_done, seconds);
}

const char *
store_mode_name(enum store_mode mode)
{
	return mode == STORE_AUTO ? "auto" : mode == STORE_FULL ? "full" :
	    "delta";
}
