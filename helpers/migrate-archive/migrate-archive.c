/*
 * migrate-archive: look into an account's archive.  See
 * migrate-archive(1) and migrate-archive(5).
 */
#include "compat.h"

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "log.h"
#include "segment.h"
#include "xalloc.h"

static const char usage_text[] =
"usage: migrate-archive ls [-r] DIR [FOLDER]\n"
"       migrate-archive segments DIR\n"
"       migrate-archive cat DIR HASH\n"
"       migrate-archive cat DIR FOLDER UID\n"
"       migrate-archive verify DIR\n";

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

static struct arcidx *
open_index(const char *dir)
{
	struct buf err = BUF_INIT;
	struct arcidx *ix;

	if (arcidx_open(&ix, dir, 0, &err) < 0)
		fatalx(EX_NOINPUT, "%s", err.buf);
	return ix;
}

static void
ls_msgs(struct arcidx *ix, const char *folder, int prefix)
{
	struct buf err = BUF_INIT;
	struct arc_msg *m;
	size_t i, nr;

	if (arcidx_msgs(ix, folder, &m, &nr, &err) < 0)
		fatalx(EX_DATAERR, "%s", err.buf);
	for (i = 0; i < nr; i++)
		printf("%s%s%u\t%" PRIu64 "\t%" PRId64 "\t%s\t%s\n",
		    prefix ? folder : "", prefix ? "\t" : "", m[i].uid,
		    m[i].size, m[i].time, m[i].hash, m[i].flags);
	arc_msgs_free(m, nr);
}

static int
cmd_ls(int argc, char **argv)
{
	int all = argc > 1 && !strcmp(argv[0], "-r");
	struct arcidx *ix;
	struct buf err = BUF_INIT;
	struct arc_folder *f;
	size_t i, nr;

	if (all) {
		argc--;
		argv++;
	}
	if (argc < 1 || argc > 2 || (all && argc != 1))
		usage();
	ix = open_index(argv[0]);
	if (argc == 2) {
		ls_msgs(ix, argv[1], 0);
	} else {
		if (arcidx_folders(ix, &f, &nr, &err) < 0)
			fatalx(EX_DATAERR, "%s", err.buf);
		for (i = 0; i < nr; i++) {
			if (all)
				ls_msgs(ix, f[i].name, 1);
			else
				printf("%s\t%u\t%u\t%s%s%s\n", f[i].name,
				    f[i].messages, f[i].uidvalidity,
				    f[i].special, f[i].special[0] &&
				    f[i].subscribed ? " " : "",
				    f[i].subscribed ? "subscribed" : "");
		}
		arc_folders_free(f, nr);
	}
	arcidx_close(&ix);
	return fflush(stdout) ? EX_IOERR : 0;
}

static int
cmd_segments(const char *dir)
{
	struct buf err = BUF_INIT, manifest = BUF_INIT, path = BUF_INIT;
	unsigned *seqs;
	size_t i, nr;
	json_t *end;
	int code = 0;

	if (seg_list(dir, &seqs, &nr, 0, &err) < 0)
		fatalx(EX_NOINPUT, "%s", err.buf);
	for (i = 0; i < nr; i++) {
		struct seg_reader *r;
		const char *name;
		uint64_t size;
		char data[4096];
		ssize_t n;
		int st;

		buf_reset(&path);
		buf_addf(&path, "%s/" SEG_DIR "/", dir);
		seg_name(seqs[i], &path);
		if (seg_reader_open(&r, path.buf, &err) < 0)
			fatalx(EX_DATAERR, "%s", err.buf);
		/* END is last and small: list it, skip the rest unread */
		buf_reset(&manifest);
		while ((st = seg_reader_next(r, &name, &size, &err)) == 1)
			if (!strcmp(name, SEG_END))
				while ((n = seg_reader_data(r, data,
				    sizeof(data), &err)) > 0)
					buf_add(&manifest, data, (size_t)n);
		seg_reader_free(&r);
		end = json_loadb(manifest.buf, manifest.len, 0, NULL);
		if (st < 0 || !end) {
			printf("%s\tincomplete\n", path.buf);
			code = EX_DATAERR;
		} else {
			printf("%s\t%" JSON_INTEGER_FORMAT " records\t%"
			    JSON_INTEGER_FORMAT " bodies\t%" JSON_INTEGER_FORMAT
			    " bytes\n", path.buf, json_integer_value(
			    json_object_get(end, "records")),
			    json_integer_value(json_object_get(end, "blobs")),
			    json_integer_value(json_object_get(end,
			    "blob_bytes")));
		}
		json_decref(end);
	}
	free(seqs);
	buf_release(&manifest);
	buf_release(&path);
	return code;
}

static int
copy_out(struct seg_reader *r, struct buf *err)
{
	char *data = xmalloc(1 << 16);
	ssize_t n;
	int ret = 0;

	while ((n = seg_reader_data(r, data, 1 << 16, err)) > 0)
		if (fwrite(data, 1, (size_t)n, stdout) != (size_t)n) {
			buf_addf(err, "cannot write: %s", strerror(errno));
			ret = -1;
			break;
		}
	if (n < 0)
		ret = -1;
	free(data);
	return ret;
}

static int
cmd_cat(int argc, char **argv)
{
	struct arcidx *ix = open_index(argv[0]);
	struct buf err = BUF_INIT, path = BUF_INIT, want = BUF_INIT;
	char hash[SEG_HASH_HEX + 1];
	struct seg_reader *r;
	const char *name;
	uint64_t size;
	long long seq;
	int st, found = 0;

	if (argc == 3) {
		char *end;
		unsigned long uid = strtoul(argv[2], &end, 10);

		if (*end || !uid || uid > UINT32_MAX)
			fatalx(EX_USAGE, "'%s' is not a UID", argv[2]);
		if (arcidx_msg_hash(ix, argv[1], (uint32_t)uid, hash) != 1)
			fatalx(EX_NOINPUT, "no message %lu in folder '%s'",
			    uid, argv[1]);
	} else {
		snprintf(hash, sizeof(hash), "%s", argv[1]);
	}
	if ((seq = arcidx_blob_seq(ix, hash)) <= 0)
		fatalx(EX_NOINPUT, "no body %s in '%s'", hash, argv[0]);
	buf_addf(&path, "%s/" SEG_DIR "/", argv[0]);
	seg_name((unsigned)seq, &path);
	buf_addf(&want, SEG_BLOB_PREFIX "%s.eml", hash);
	if (seg_reader_open(&r, path.buf, &err) < 0)
		fatalx(EX_DATAERR, "%s", err.buf);
	while ((st = seg_reader_next(r, &name, &size, &err)) == 1)
		if (!strcmp(name, want.buf)) {
			found = 1;
			if (copy_out(r, &err) < 0)
				fatalx(EX_IOERR, "%s", err.buf);
			break;
		}
	if (st < 0)
		fatalx(EX_DATAERR, "'%s': %s", path.buf, err.buf);
	if (!found)
		fatalx(EX_DATAERR, "'%s' does not hold %s", path.buf,
		    want.buf);
	seg_reader_free(&r);
	arcidx_close(&ix);
	buf_release(&path);
	buf_release(&want);
	return fflush(stdout) ? EX_IOERR : 0;
}

struct hashes {
	char **v;
	size_t nr, alloc;
	unsigned long missing;
};

static void
add_hash(void *arg, const char *hash)
{
	struct hashes *h = arg;

	ALLOC_GROW(h->v, h->nr + 1, h->alloc);
	h->v[h->nr++] = xstrdup(hash);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
check_stored(void *arg, const char *hash)
{
	struct hashes *h = arg;
	const char *key = hash;

	if (!h->nr || !bsearch(&key, h->v, h->nr, sizeof(*h->v), cmp_strp)) {
		log_warnx("body %s is referred to but stored nowhere", hash);
		h->missing++;
	}
	return 0;
}

static int
cmd_verify(const char *dir)
{
	struct buf err = BUF_INIT, path = BUF_INIT;
	struct hashes h = { NULL, 0, 0, 0 };
	struct arcidx *ix = open_index(dir);
	unsigned *seqs, seq, last;
	size_t i, nr;
	int bad = 0;

	if (seg_list(dir, &seqs, &nr, 0, &err) < 0)
		fatalx(EX_NOINPUT, "%s", err.buf);
	for (i = 0; i < nr; i++) {
		buf_reset(&path);
		buf_addf(&path, "%s/" SEG_DIR "/", dir);
		seg_name(seqs[i], &path);
		buf_reset(&err);
		if (seqs[i] != i + 1) {
			log_warnx("segment %zu is missing", i + 1);
			bad = 1;
		}
		if (seg_verify(path.buf, NULL, &seq, add_hash, &h, &err) < 0) {
			log_warnx("%s", err.buf);
			bad = 1;
		} else if (seq != seqs[i]) {
			log_warnx("'%s' says it is segment %u", path.buf, seq);
			bad = 1;
		}
	}
	last = arcidx_last_seq(ix);
	if (last != (nr ? seqs[nr - 1] : 0)) {
		log_warnx("the index has %u segments, the directory %zu; the"
		    " next run of a writer catches up", last, nr);
		bad = 1;
	}
	if (h.nr)
		qsort(h.v, h.nr, sizeof(*h.v), cmp_strp);
	if (arcidx_each_hash(ix, check_stored, &h) < 0) {
		log_warnx("cannot read the index");
		bad = 1;
	}
	if (h.missing)
		bad = 1;
	printf("%s: %zu segments, %zu bodies, %lu missing: %s\n", dir, nr,
	    h.nr, h.missing, bad ? "damaged" : "ok");
	for (i = 0; i < h.nr; i++)
		free(h.v[i]);
	free(h.v);
	free(seqs);
	arcidx_close(&ix);
	buf_release(&err);
	buf_release(&path);
	return bad ? EX_DATAERR : 0;
}

int
main(int argc, char **argv)
{
	log_init("migrate-archive", -1);
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "ls"))
		return cmd_ls(argc - 2, argv + 2);
	if (!strcmp(argv[1], "segments") && argc == 3)
		return cmd_segments(argv[2]);
	if (!strcmp(argv[1], "cat") && (argc == 4 || argc == 5))
		return cmd_cat(argc - 2, argv + 2);
	if (!strcmp(argv[1], "verify") && argc == 3)
		return cmd_verify(argv[2]);
	usage();
}
