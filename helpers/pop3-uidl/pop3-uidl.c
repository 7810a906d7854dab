/*
 * pop3-uidl: read the POP3 unique ids (UIDL) of one account's maildrop,
 * on the source or the destination, and record each against the body in
 * the account's archive that it names, matched by content: the size and
 * the Message-ID of TOP n 0, never by a server's own numbering, which
 * need not agree between its POP3 and its IMAP, or between two servers.
 * See pop3-uidl(8) and migrate-archive(5).
 */
#include "compat.h"

#include <getopt.h>
#include <time.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "pop3.h"
#include "secret.h"
#include "segment.h"
#include "store.h"
#include "xalloc.h"

#define POP3_UIDL_VERSION	"1"
#define HEADER_MAX	(1024 * 1024)
/* TOP commands ahead of the answers, where the server has PIPELINING */
#define TOP_WINDOW	64

static const char usage_text[] =
"usage: pop3-uidl --host HOST [--port PORT] [--tls implicit|starttls|none]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         --user USER [--auth-user ADMIN [--master-separator C]]\n"
"         [--timeout SECONDS] --archive DIR [--side source|destination]\n"
"         [--folder NAME] [--report FILE]\n"
"The password comes on standard input: password=... and an empty line.\n";

static struct {
	struct conn_opts conn;
	const char *side, *folder;
	struct arc_key *keys;	/* the folder's messages in the archive */
	size_t nr_keys;
	char *used;		/* which keys a POP3 message took */
	size_t *by_mid;		/* keys' indexes by Message-ID, size, order */
	json_t *uidls;		/* [[uidl, hash], ...] */
	size_t messages, matched;
} run = { .side = "source", .folder = "INBOX" };

static void
parse_options(int argc, char **argv)
{
	const struct opt own[] = {
		OPT_STRING("side", &run.side),
		OPT_STRING("folder", &run.folder),
		OPT_END
	};

	helper_options(argc, argv, CONN_SERVER | CONN_PLAIN | CONN_USER |
	    CONN_ADMIN | RUN_ARCHIVE | RUN_REPORT, &run.conn, own,
	    usage_text);
	if (!run.conn.user || !run.conn.srv.host || !run.conn.archive)
		helper_usage();
	if (strcmp(run.side, "source") && strcmp(run.side, "destination"))
		fatalx(EX_USAGE, "--side is source or destination, not '%s'",
		    run.side);
	conn_opts_server(&run.conn, "110", "995");
}

static int
key_cmp(const char *mid, uint64_t size, size_t i, size_t j)
{
	const struct arc_key *k = &run.keys[j];
	int c = strcmp(mid, k->mid);

	if (c)
		return c;
	if (size != k->size)
		return size < k->size ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int
by_mid_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	return key_cmp(run.keys[i].mid, run.keys[i].size, i, j);
}

/* Sort the keys by Message-ID, size and order, for find(). */
static void
index_keys(void)
{
	size_t i;

	run.by_mid = xreallocarray(NULL, run.nr_keys + 1, sizeof(size_t));
	for (i = 0; i < run.nr_keys; i++)
		run.by_mid[i] = i;
	qsort(run.by_mid, run.nr_keys, sizeof(size_t), by_mid_cmp);
}

/*
 * The first archive message not taken yet with Message-ID `mid` and, when
 * `size` is not 0, that size: its index, -1 when there is none, -2 when
 * two of them have different bodies and cannot be told apart.  A binary
 * search to the first key of `mid` (and `size`), then those alone.
 */
static ssize_t
find(const char *mid, uint64_t size)
{
	ssize_t found = -1;
	size_t lo = 0, hi = run.nr_keys, mid_i;

	while (lo < hi) {
		mid_i = (lo + hi) / 2;
		if (key_cmp(mid, size, 0, run.by_mid[mid_i]) > 0)
			lo = mid_i + 1;
		else
			hi = mid_i;
	}
	for (; lo < run.nr_keys; lo++) {
		size_t i = run.by_mid[lo];
		const struct arc_key *k = &run.keys[i];

		if (strcmp(k->mid, mid) || (size && k->size != size))
			break;
		if (run.used[i])
			continue;
		if (found < 0)
			found = (ssize_t)i;
		else if (strcmp(run.keys[found].hash, k->hash))
			return -2;
	}
	return found;
}

/*
 * The archive's message that POP3 message `m` (with Message-ID `mid`,
 * or "") is: the one of its size and Message-ID; failing that, the one
 * of its Message-ID alone (a message the destination took only repaired
 * has another size).
 */
static const struct arc_key *
match(const struct pop3_msg *m, const char *mid)
{
	ssize_t i = find(mid, m->size);

	if (i == -1 && *mid)
		i = find(mid, 0);
	if (i == -2)
		helper_anomaly("pop3-ambiguous", run.folder, 0, "POP3 message"
		    " %s: two messages with Message-ID '%s' and different"
		    " bodies; its clients will fetch it again", m->uidl, mid);
	if (i < 0)
		return NULL;
	run.used[i] = 1;
	return &run.keys[i];
}

/*
 * Each message's header, then its match.  With PIPELINING, TOP_WINDOW
 * commands go ahead of the answers: one round trip per window, not per
 * message, while the logins wait at the cutover.
 */
static int
read_maildrop(struct pop3 *p, struct buf *err)
{
	struct pop3_msg *v = NULL;
	struct buf head;
	size_t nr = 0, i, sent = 0, window = p->pipelining ? TOP_WINDOW : 1;
	int ret = -1;

	if (pop3_listing(p, &v, &nr, err) < 0)
		return -1;
	run.messages = nr;
	buf_init(&head, HEADER_MAX);
	for (i = 0; i < nr; i++) {
		const struct arc_key *k;
		char *mid;

		for (; sent < nr && sent < i + window; sent++)
			if (pop3_top_send(p, v[sent].n, err) < 0)
				goto out;
		buf_reset(&head);
		if (pop3_top_read(p, v[i].n, &head, err) < 0) {
			if (p->lc.fail)
				goto out;
			buf_reset(err);	/* gone since the listing */
			continue;
		}
		mid = store_header_mid(head.buf, head.len);
		if ((k = match(&v[i], mid ? mid : ""))) {
			json_array_append_new(run.uidls, json_pack("[s, s]",
			    v[i].uidl, k->hash));
			run.matched++;
		} else
			helper_anomaly("pop3-unmatched", run.folder, 0,
			    "POP3 message %s (%" PRIu64 " bytes): not in the"
			    " archive's %s; its clients will fetch it again",
			    v[i].uidl, v[i].size, run.folder);
		free(mid);
		if (helper_progress_due(0))
			evline_write(1, "progress", "{s:I, s:I}", "messages",
			    (json_int_t)(i + 1), "of", (json_int_t)nr);
	}
	ret = 0;
out:
	buf_release(&head);
	pop3_msgs_free(v, nr);
	return ret;
}

static int
from_server(const char *password, int *code, struct buf *err)
{
	struct pop3 *p = NULL;
	int ret = -1;

	if (pop3_connect(&p, &run.conn.srv, err) < 0 ||
	    pop3_login(p, run.conn.user, run.conn.auth_user,
	    run.conn.master_sep, password, err) < 0)
		goto out;
	log_info("logged in to %s:%s (%s) as %s", run.conn.srv.host,
	    run.conn.srv.port, p->implementation ? p->implementation :
	    "POP3", run.conn.user);
	if (!p->top) {
		buf_adds(err, "the server does not offer TOP: a message's"
		    " header cannot be read without its body");
		p->lc.fail = EX_UNAVAILABLE;
		goto out;
	}
	ret = read_maildrop(p, err);
out:
	if (ret < 0)
		*code = p && p->lc.fail ? p->lc.fail : EX_SOFTWARE;
	pop3_free(&p);
	return ret;
}

/* One segment: the side's ids, then the pass. */
static int
store_uidls(struct arcidx *ix, unsigned *seq_r, struct buf *err)
{
	struct seg_writer *w = NULL;
	struct buf manifest = BUF_INIT;
	unsigned seq = arcidx_last_seq(ix) + 1;
	const char *m;
	size_t len;
	int ret = -1;

	if (seg_writer_open(&w, run.conn.archive, seq, 3, 0, err) < 0 ||
	    seg_record_json(w, json_pack("{s:s, s:s, s:s, s:s, s:I}", "t",
	    "segment", "helper", "pop3-uidl", "version", POP3_UIDL_VERSION,
	    "mode", "full", "time", (json_int_t)time(NULL)), err) < 0 ||
	    seg_record_json(w, json_pack("{s:s, s:s, s:s, s:O}", "t",
	    "pop3-uidls", "side", run.side, "folder", run.folder, "uidls",
	    run.uidls), err) < 0 ||
	    seg_record_json(w, json_pack("{s:s, s:s, s:I, s:I, s:I}", "t",
	    "pop3-pass", "side", run.side, "time", (json_int_t)time(NULL),
	    "messages", (json_int_t)run.messages, "matched",
	    (json_int_t)run.matched), err) < 0)
		goto out;
	m = seg_manifest(w, &len);
	buf_add(&manifest, m, len);
	if (seg_writer_commit(&w, err) < 0 ||
	    arcidx_apply(ix, seq, manifest.buf, manifest.len, err) < 0)
		goto out;
	*seq_r = seq;
	ret = 0;
out:
	seg_writer_abort(&w);
	buf_release(&manifest);
	return ret;
}

static int
write_report(struct buf *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I},"
	    " s:o}", "account", run.conn.user, "source", run.conn.srv.host,
	    "side", run.side, "helper", "pop3-uidl", "time",
	    (json_int_t)time(NULL), "totals", "messages",
	    (json_int_t)run.messages, "matched", (json_int_t)run.matched,
	    "anomalies", (json_int_t)helper_anomaly_count(), "anomalies",
	    helper_anomaly_list());

	return helper_report(run.conn.report, o, err);
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	struct arcidx *ix = NULL;
	int code = EX_SOFTWARE, rc;
	unsigned seq = 0;
	char token[32];

	helper_init("pop3-uidl", POP3_UIDL_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, run.conn.user, "password", (char *)NULL);
	run.uidls = json_array();
	buf_addf(&err, "%s/" ARCIDX_FILE, run.conn.archive);
	if (access(err.buf, F_OK) < 0) {
		code = EX_NOINPUT;
		log_warnx("%s: no archive there (pull the account first)",
		    run.conn.archive);
		goto out;
	}
	buf_reset(&err);
	if ((rc = arcidx_open(&ix, run.conn.archive, 1, &err)) < 0) {
		code = rc == -2 ? EX_TEMPFAIL : EX_NOINPUT;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (arcidx_catch_up(ix, &err) < 0 || arcidx_msg_keys(ix, run.folder,
	    &run.keys, &run.nr_keys, &err) < 0) {
		code = EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	run.used = xcalloc(run.nr_keys + 1, 1);
	index_keys();
	if (from_server(secrets_get(&sec, "password"), &code, &err) < 0) {
		log_warnx("%s", err.buf);
		goto out;
	}
	if (store_uidls(ix, &seq, &err) < 0) {
		code = EX_IOERR;
		log_warnx("%s", err.buf);
		goto out;
	}
	snprintf(token, sizeof(token), "seg:%u", seq);
	evline_write(1, "checkpoint", "{s:s, s:i}", "token", token,
	    "segment", (int)seq);
	if (run.conn.report && write_report(&err) < 0) {
		code = EX_CANTCREAT;
		log_warnx("%s", err.buf);
		goto out;
	}
	evline_write(1, "done", "{s:s, s:I, s:I, s:I, s:f}", "side", run.side,
	    "messages", (json_int_t)run.messages, "matched",
	    (json_int_t)run.matched, "anomalies",
	    (json_int_t)helper_anomaly_count(), "seconds", helper_seconds());
	log_info("%s: %zu POP3 messages, %zu matched to the archive's %s in"
	    " %.1f s", run.side, run.messages, run.matched, run.folder,
	    helper_seconds());
	code = 0;
out:
	secrets_clear(&sec);
	arcidx_close(&ix);
	arc_keys_free(run.keys, run.nr_keys);
	free(run.used);
	free(run.by_mid);
	json_decref(run.uidls);
	buf_release(&err);
	return code;
}
