#include "test-lib.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "arcindex.h"
#include "buf.h"
#include "imap.h"
#include "segment.h"
#include "xalloc.h"

static char dir[] = "/tmp/t-archive.XXXXXX";

static void
hash_of(const char *data, size_t len, char *hex)
{
	unsigned char md[32];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, hex);
}

static void
add_blob(struct seg_writer *w, const char *body, char *hex)
{
	struct buf err = BUF_INIT, rec = BUF_INIT;

	hash_of(body, strlen(body), hex);
	check(seg_blob_begin(w, hex, strlen(body), &err) == 0);
	/* in two pieces, as a body streams in */
	check(seg_blob_data(w, body, 3, &err) == 0);
	check(seg_blob_data(w, body + 3, strlen(body) - 3, &err) == 0);
	buf_addf(&rec, "{\"t\":\"blob\",\"hash\":\"%s\",\"size\":%zu,"
	    "\"mid\":\"<%s@x>\",\"time\":1000}", hex, strlen(body), body);
	seg_record(w, rec.buf, rec.len);
	buf_release(&rec);
	buf_release(&err);
}

static void
record(struct seg_writer *w, const char *fmt, ...)
{
	struct buf rec = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&rec, fmt, ap);
	va_end(ap);
	seg_record(w, rec.buf, rec.len);
	buf_release(&rec);
}

static int blobs_seen;

static void
count_blob(void *arg, const char *hash)
{
	blobs_seen++;
}

static char h1[SEG_HASH_HEX + 1], h2[SEG_HASH_HEX + 1];

static void
write_segments(void)
{
	struct seg_writer *w;
	struct buf err = BUF_INIT, manifest = BUF_INIT, path = BUF_INIT;
	unsigned *seqs, seq = 0;
	size_t nr;
	int fd;

	check(seg_writer_open(&w, dir, 1, 3, 1, &err) == 0);
	record(w, "{\"t\":\"segment\",\"helper\":\"test\",\"mode\":\"full\"}");
	record(w, "{\"t\":\"folder\",\"name\":\"INBOX\",\"raw\":\"INBOX\","
	    "\"sep\":\"/\",\"special\":[],\"subscribed\":true,"
	    "\"uidvalidity\":7}");
	record(w, "{\"t\":\"folder\",\"name\":\"Caf\xc3\xa9\",\"raw\":"
	    "\"Caf&AOk-\",\"sep\":\"/\",\"special\":[\"\\\\Sent\"],"
	    "\"uidvalidity\":8}");
	add_blob(w, "hello", h1);
	add_blob(w, "world!", h2);
	record(w, "{\"t\":\"msg\",\"folder\":\"INBOX\",\"uidvalidity\":7,"
	    "\"uid\":1,\"hash\":\"%s\",\"size\":5,\"time\":1000,\"flags\":"
	    "[\"\\\\Seen\"],\"keywords\":[\"$Work\"]}", h1);
	record(w, "{\"t\":\"msg\",\"folder\":\"INBOX\",\"uidvalidity\":7,"
	    "\"uid\":2,\"hash\":\"%s\",\"size\":6,\"flags\":[]}", h2);
	record(w, "{\"t\":\"msg\",\"folder\":\"Caf\xc3\xa9\",\"uidvalidity\""
	    ":8,\"uid\":5,\"hash\":\"%s\",\"size\":5,\"flags\":[]}", h1);
	check_int(seg_nr_blobs(w), ==, 2);
	check_int(seg_blob_bytes(w), ==, 11);
	check(seg_writer_commit(&w, &err) == 0);
	check(w == NULL);

	/* the second segment: changes only */
	check(seg_writer_open(&w, dir, 2, 1, 0, &err) == 0);
	record(w, "{\"t\":\"segment\",\"helper\":\"test\",\"mode\":\"delta\"}");
	record(w, "{\"t\":\"flags\",\"folder\":\"INBOX\",\"uid\":1,\"flags\":"
	    "[\"\\\\Flagged\"],\"keywords\":[]}");
	record(w, "{\"t\":\"expunge\",\"folder\":\"INBOX\",\"uid\":2}");
	record(w, "{\"t\":\"folder-rename\",\"from\":\"Caf\xc3\xa9\","
	    "\"to\":\"Bar\",\"raw\":\"Bar\"}");
	record(w, "{\"t\":\"something-new\",\"x\":1}");
	record(w, "{\"t\":\"pass\",\"mode\":\"delta\",\"complete\":true}");
	check(seg_writer_commit(&w, &err) == 0);

	/* a run that died: its .part is no segment */
	buf_addf(&path, "%s/" SEG_DIR "/00000003.tar.zst.part", dir);
	fd = open(path.buf, O_WRONLY | O_CREAT, 0600);
	check(fd >= 0 && write(fd, "(\xb5/\xfd", 4) == 4);
	close(fd);
	buf_reset(&path);

	check(seg_list(dir, &seqs, &nr, 0, &err) == 0);
	check_int(nr, ==, 2);
	free(seqs);
	buf_addf(&path, "%s/" SEG_DIR "/00000001.tar.zst", dir);
	blobs_seen = 0;
	check(seg_verify(path.buf, &manifest, &seq, count_blob, NULL,
	    &err) == 0);
	check_int(seq, ==, 1);
	check_int(blobs_seen, ==, 2);
	check(strstr(manifest.buf, "\"t\":\"segment\"") == manifest.buf + 1);
	buf_release(&err);
	buf_release(&manifest);
	buf_release(&path);
}

static void
index_folds_segments(void)
{
	struct arcidx *ix, *other;
	struct buf err = BUF_INIT;
	struct arc_folder *f;
	struct arc_msg *m;
	char hash[SEG_HASH_HEX + 1];
	size_t nr;
	char *v;

	check(arcidx_open(&ix, dir, 1, &err) == 0);
	check(arcidx_catch_up(ix, &err) == 0);
	check_int(arcidx_last_seq(ix), ==, 2);
	check(arcidx_open(&other, dir, 1, &err) == -2);
	check(strstr(err.buf, "in use") != NULL);
	buf_reset(&err);

	check(arcidx_folders(ix, &f, &nr, &err) == 0);
	check_int(nr, ==, 2);
	if (nr == 2) {
		check_str(f[0].name, "Bar");
		check_str(f[0].raw, "Bar");
		check_str(f[0].special, "\\Sent");
		check_str(f[1].name, "INBOX");
		check_int(f[1].uidvalidity, ==, 7);
		check_int(f[1].subscribed, ==, 1);
	}
	arc_folders_free(f, nr);

	check(arcidx_msgs(ix, "INBOX", &m, &nr, &err) == 0);
	check_int(nr, ==, 1);
	if (nr == 1) {
		check_int(m[0].uid, ==, 1);
		check_str(m[0].flags, "\\Flagged");
		check_str(m[0].hash, h1);
	}
	arc_msgs_free(m, nr);
	check(arcidx_msg_hash(ix, "Bar", 5, hash) == 1);
	check_str(hash, h1);
	check(arcidx_msg_hash(ix, "Caf\xc3\xa9", 5, hash) == 0);

	check(arcidx_has_blob(ix, h2) == 1);
	check_int(arcidx_blob_seq(ix, h2), ==, 1);
	check(arcidx_blob_match(ix, 6, "<world!@x>", 1000, hash) == 1);
	check_str(hash, h2);
	check(arcidx_blob_match(ix, 7, "<world!@x>", 1000, hash) == 0);
	v = arcidx_meta(ix, "pass.delta");
	check(v && strstr(v, "\"complete\":true"));
	free(v);
	arcidx_close(&ix);

	/* the leftover .part went at catch-up */
	{
		struct buf p = BUF_INIT;

		buf_addf(&p, "%s/" SEG_DIR "/00000003.tar.zst.part", dir);
		check(access(p.buf, F_OK) < 0);
		buf_release(&p);
	}

	/* the index is derived: lose it and it comes back the same */
	{
		struct buf p = BUF_INIT;

		buf_addf(&p, "%s/" ARCIDX_FILE, dir);
		unlink(p.buf);
		buf_release(&p);
	}
	check(arcidx_open(&ix, dir, 1, &err) == 0);
	check(arcidx_catch_up(ix, &err) == 0);
	check(arcidx_msg_hash(ix, "INBOX", 1, hash) == 1);
	check(arcidx_msg_hash(ix, "INBOX", 2, hash) == 0);
	arcidx_close(&ix);
	buf_release(&err);
}

static void
damage_is_found(void)
{
	struct buf err = BUF_INIT, path = BUF_INIT;
	struct stat st;
	int fd;

	buf_addf(&path, "%s/" SEG_DIR "/00000002.tar.zst", dir);
	check(stat(path.buf, &st) == 0);
	check(truncate(path.buf, st.st_size - 20) == 0);
	check(seg_verify(path.buf, NULL, NULL, NULL, NULL, &err) < 0);
	check(err.len > 0);
	buf_reset(&err);

	/* a flipped byte in the first segment */
	buf_reset(&path);
	buf_addf(&path, "%s/" SEG_DIR "/00000001.tar.zst", dir);
	fd = open(path.buf, O_RDWR);
	check(fd >= 0);
	check(pwrite(fd, "\xff\xff\xff\xff", 4, 100) == 4);
	close(fd);
	check(seg_verify(path.buf, NULL, NULL, NULL, NULL, &err) < 0);
	buf_release(&err);
	buf_release(&path);
}

static void
sequence_sets(void)
{
	static const uint32_t uids[] = { 1, 2, 3, 5, 7, 8, 4000000000u };
	struct buf out = BUF_INIT;
	uint32_t *back;
	size_t nr;

	check_int(imap_format_set(&out, uids, ARRAY_SIZE(uids), 100), ==, 7);
	check_str(out.buf, "1:3,5,7:8,4000000000");
	check(imap_parse_set(out.buf, &back, &nr) == 0);
	check_int(nr, ==, 7);
	check(nr == 7 && !memcmp(back, uids, sizeof(uids)));
	free(back);
	buf_reset(&out);
	check_int(imap_format_set(&out, uids, ARRAY_SIZE(uids), 2), ==, 2);
	check_str(out.buf, "1:2");
	check(imap_parse_set("9:7", &back, &nr) == 0 && nr == 3 &&
	    back[0] == 7);
	free(back);
	check(imap_parse_set("1,,2", &back, &nr) < 0);
	check(imap_parse_set("0", &back, &nr) < 0);
	check(imap_parse_set("1:*", &back, &nr) < 0);
	check(imap_parse_set("1:99999999999", &back, &nr) < 0);
	buf_release(&out);
}

int
main(void)
{
	char *cmd;

	if (!mkdtemp(dir))
		return 1;
	TEST("segments", write_segments());
	TEST("index", index_folds_segments());
	TEST("damage", damage_is_found());
	TEST("sets", sequence_sets());
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	free(cmd);
	return test_done();
}
