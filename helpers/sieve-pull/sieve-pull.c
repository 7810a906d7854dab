/*
 * sieve-pull: read one account's Sieve scripts, from a ManageSieve server
 * or from Dovecot's sieve directory on disk, into its archive.
 * See sieve-pull(8) and migrate-archive(5).
 */
#include "compat.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "arcindex.h"
#include "buf.h"
#include "evline.h"
#include "fileio.h"
#include "helper.h"
#include "log.h"
#include "managesieve.h"
#include "secret.h"
#include "segment.h"
#include "sievereq.h"
#include "strlist.h"
#include "utf7.h"
#include "xalloc.h"

#define SIEVE_PULL_VERSION	"1"

static const char usage_text[] =
"usage: sieve-pull --host HOST [--port PORT] [--tls starttls|implicit|none]\n"
"         [--ca-file FILE] [--insecure] [--allow-plaintext]\n"
"         --user USER [--auth-user ADMIN [--master-separator C]]\n"
"         [--timeout SECONDS] [--mode full|delta|auto|assess]\n"
"         [--archive DIR] [--report FILE] [--check-extensions LIST]\n"
"       sieve-pull --dir DIR [--active FILE] --user USER [--mode ...]\n"
"         [--archive DIR] [--report FILE] [--check-extensions LIST]\n"
"From a server, the password comes on standard input: password=... and an\n"
"empty line.\n";

struct script {
	char *name;
	struct buf text;
	int active;
	char hash[SEG_HASH_HEX + 1];
	struct strlist requires;	/* the extensions it names */
};

static struct {
	struct conn_opts conn;
	const char *dir, *active_file;
	struct script *v;
	size_t nr, alloc;
	const char *extensions;	/* the source's SIEVE capability */
	const char *offered;	/* --check-extensions: the destination's */
	uint64_t bytes;
} pull;

static void
parse_options(int argc, char **argv)
{
	const struct opt own[] = {
		OPT_STRING("dir", &pull.dir),
		OPT_STRING("active", &pull.active_file),
		OPT_STRING("check-extensions", &pull.offered),
		OPT_END
	};

	/* each pass reads every script: they are small */
	helper_options(argc, argv, CONN_SERVER | CONN_PLAIN | CONN_USER |
	    CONN_ADMIN | RUN_MODE | RUN_ARCHIVE | RUN_REPORT, &pull.conn,
	    own, usage_text);
	if (!pull.conn.user || !pull.conn.srv.host == !pull.dir)
		helper_usage();
	if (!pull.conn.assess && !pull.conn.archive)
		fatalx(EX_USAGE, "--archive is needed unless --mode assess");
	if (pull.active_file && !pull.dir)
		fatalx(EX_USAGE, "--active goes with --dir");
	conn_opts_server(&pull.conn, "4190", NULL);
}

static struct script *
add_script(const char *name, int active)
{
	struct script *s;

	ALLOC_GROW(pull.v, pull.nr + 1, pull.alloc);
	s = &pull.v[pull.nr++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->active = active;
	return s;
}

/* From the server: LISTSCRIPTS, then GETSCRIPT of each. */
static int
from_server(const char *password, int *code, struct buf *err)
{
	struct msv *ms = NULL;
	struct msv_script *list = NULL;
	size_t nr = 0, i;
	int rc, ret = -1;

	if (msv_connect(&ms, &pull.conn.srv, err) < 0 ||
	    msv_login(ms, pull.conn.user, pull.conn.auth_user,
	    pull.conn.master_sep, password, err) < 0)
		goto out;
	log_info("logged in to %s:%s (%s) as %s", pull.conn.srv.host,
	    pull.conn.srv.port, ms->implementation.buf, pull.conn.user);
	pull.extensions = xstrdup(ms->sieve.buf);
	if ((rc = msv_list(ms, &list, &nr, err)) != 1) {
		if (rc == 0)
			ms->lc.fail = EX_UNAVAILABLE;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		struct script *s = add_script(list[i].name, list[i].active);

		buf_init(&s->text, MSV_MAX_SCRIPT);
		if ((rc = msv_get(ms, s->name, &s->text, err)) < 0)
			goto out;
		if (rc == 0) {
			/* gone between LISTSCRIPTS and GETSCRIPT */
			helper_anomaly("sieve-unreadable",
			    s->name, 0, "%s", err->buf);
			buf_reset(err);
			free(s->name);
			pull.nr--;
		}
	}
	ret = 0;
out:
	if (ret < 0)
		*code = ms && ms->lc.fail ? ms->lc.fail : EX_SOFTWARE;
	msv_scripts_free(list, nr);
	msv_free(&ms);
	return ret;
}

static int
cmp_dirent(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * From Dovecot's sieve directory (sieve = file:~/sieve): NAME.sieve files;
 * the active one is what --active (~/.dovecot.sieve, a symbolic link)
 * points at.
 */
static int
from_dir(int *code, struct buf *err)
{
	char active[PATH_MAX] = "", *slash, **names = NULL;
	size_t nr = 0, alloc = 0, i, len;
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int ret = -1;

	*code = EX_NOINPUT;
	if (pull.active_file &&
	    (n = readlink(pull.active_file, active, sizeof(active) - 1)) > 0) {
		active[n] = '\0';
		if ((slash = strrchr(active, '/')))
			memmove(active, slash + 1, strlen(slash));
	} else if (pull.active_file && errno != ENOENT) {
		buf_addf(err, "%s: %s", pull.active_file, strerror(errno));
		return -1;
	}
	if (!(d = opendir(pull.dir))) {
		buf_addf(err, "%s: %s", pull.dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (len > 6 && !strcmp(de->d_name + len - 6, ".sieve")) {
			ALLOC_GROW(names, nr + 1, alloc);
			names[nr++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (nr > 1)
		qsort(names, nr, sizeof(*names), cmp_dirent);
	for (i = 0; i < nr; i++) {
		struct buf path = BUF_INIT;
		struct script *s;

		names[i][strlen(names[i]) - 6] = '\0';
		s = add_script(names[i], 0);
		s->active = active[0] && !strncmp(active, names[i],
		    strlen(names[i])) && !strcmp(active + strlen(names[i]),
		    ".sieve");
		buf_addf(&path, "%s/%s.sieve", pull.dir, names[i]);
		buf_init(&s->text, MSV_MAX_SCRIPT);
		if (file_read(path.buf, &s->text, err) < 0) {
			buf_release(&path);
			*code = EX_IOERR;
			goto out;
		}
		buf_release(&path);
	}
	ret = 0;
out:
	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	return ret;
}

static void
hash_of(struct script *s)
{
	unsigned char md[32];

	EVP_Digest(s->text.buf, s->text.len, md, NULL, EVP_sha256(), NULL);
	seg_hash_hex(md, s->hash);
}

/*
 * The extensions the script's require commands name, each checked
 * against --check-extensions: a destination refuses a script that needs
 * one it lacks.
 */
static void
check_requires(struct script *s)
{
	struct buf err = BUF_INIT, lacks = BUF_INIT;
	size_t i;

	if (sieve_requires(s->text.buf, s->text.len, &s->requires, &err) < 0)
		helper_anomaly("sieve-syntax", s->name, 0, "%s: the script"
		    " cannot be read; a destination is likely to refuse it",
		    err.buf);
	for (i = 0; pull.offered && i < s->requires.nr; i++)
		if (!sieve_offers(pull.offered, s->requires.v[i]))
			buf_addf(&lacks, "%s%s", lacks.len ? ", " : "",
			    *s->requires.v[i] ? s->requires.v[i] : "\"\"");
	if (lacks.len)
		helper_anomaly("sieve-extension", s->name, 0, "the script"
		    " needs %s, which the destination does not offer: it will"
		    " refuse the script", lacks.buf);
	buf_release(&err);
	buf_release(&lacks);
}

/* What a destination may refuse, before it gets the chance. */
static void
check_script(struct script *s)
{
	const char *p;

	if (!utf8_valid(s->name, strlen(s->name)))
		helper_anomaly("sieve-name", s->name, 0,
		    "the name is not UTF-8");
	for (p = s->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			helper_anomaly("sieve-name", s->name, 0,
			    "the name holds a"
			    " control character: a destination may refuse it");
			break;
		}
	if (!utf8_valid(s->text.buf, s->text.len))
		helper_anomaly("sieve-text", s->name, 0,
		    "the script is not UTF-8"
		    " (%zu bytes)", s->text.len);
	else if (memchr(s->text.buf, '\0', s->text.len))
		helper_anomaly("sieve-text", s->name, 0,
		    "the script holds a NUL byte");
	check_requires(s);
}

/*
 * Into the archive: a segment with what changed since the last pass (new
 * or changed scripts with their bytes, the active one, the deleted), and
 * none when nothing did.
 */
static int
store(int *changed_r, int *deleted_r, unsigned *seq_r, struct buf *err)
{
	struct arcidx *ix = NULL;
	struct arc_sieve *old = NULL;
	struct seg_writer *w = NULL;
	size_t nr_old = 0, i, k;
	unsigned seq = 0;
	int rc, changed = 0, deleted = 0, ret = -1;

	if ((rc = arcidx_open(&ix, pull.conn.archive, 1, err)) < 0)
		return rc;
	if (arcidx_catch_up(ix, err) < 0 ||
	    arcidx_sieve(ix, &old, &nr_old, err) < 0)
		goto out;
	seq = arcidx_last_seq(ix) + 1;
	if (seg_writer_open(&w, pull.conn.archive, seq, 3, 0, err) < 0)
		goto out;
	if (seg_record_json(w, json_pack("{s:s, s:s, s:s, s:s, s:I}", "t",
	    "segment", "helper", "sieve-pull", "version", SIEVE_PULL_VERSION,
	    "mode", "full", "time", (json_int_t)time(NULL)), err) < 0)
		goto out;
	for (i = 0; i < pull.nr; i++) {
		struct script *s = &pull.v[i];

		for (k = 0; k < nr_old; k++)
			if (!strcmp(old[k].name, s->name))
				break;
		if (k < nr_old && !strcmp(old[k].hash, s->hash) &&
		    old[k].active == s->active)
			continue;
		if (arcidx_has_blob(ix, s->hash) != 1) {
			if (seg_blob_begin(w, s->hash, s->text.len, err) < 0 ||
			    seg_blob_data(w, s->text.buf, s->text.len,
			    err) < 0 ||
			    seg_record_json(w, json_pack("{s:s, s:s, s:I,"
			    " s:I}", "t", "blob", "hash", s->hash, "size",
			    (json_int_t)s->text.len, "time",
			    (json_int_t)time(NULL)), err) < 0)
				goto out;
		}
		if (seg_record_json(w, json_pack("{s:s, s:s, s:s, s:I,"
		    " s:b}", "t", "sieve", "name", s->name, "hash", s->hash,
		    "size", (json_int_t)s->text.len, "active", s->active),
		    err) < 0)
			goto out;
		changed++;
	}
	for (k = 0; k < nr_old; k++) {
		if (!old[k].hash[0])
			continue;	/* gone already */
		for (i = 0; i < pull.nr; i++)
			if (!strcmp(old[k].name, pull.v[i].name))
				break;
		if (i < pull.nr)
			continue;
		if (seg_record_json(w, json_pack("{s:s, s:s}", "t",
		    "sieve-delete", "name", old[k].name), err) < 0)
			goto out;
		deleted++;
	}
	if (!changed && !deleted) {
		seg_writer_abort(&w);
		seq = 0;
		ret = 0;
		goto out;
	}
	if (seg_record_json(w, json_pack("{s:s, s:I, s:I, s:s?}", "t",
	    "sieve-pass", "time", (json_int_t)time(NULL), "scripts",
	    (json_int_t)pull.nr, "extensions", pull.extensions), err) < 0)
		goto out;
	{
		struct buf manifest = BUF_INIT;
		const char *m;
		size_t len;

		m = seg_manifest(w, &len);
		buf_add(&manifest, m, len);
		rc = seg_writer_commit(&w, err);
		if (rc == 0)
			rc = arcidx_apply(ix, seq, manifest.buf, manifest.len,
			    err);
		buf_release(&manifest);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	seg_writer_abort(&w);
	arc_sieve_free(old, nr_old);
	arcidx_close(&ix);
	*changed_r = changed;
	*deleted_r = deleted;
	*seq_r = seq;
	return ret;
}

static int
write_report(struct buf *err)
{
	json_t *scripts = json_array(), *o, *req;
	size_t i, k;

	for (i = 0; i < pull.nr; i++) {
		req = json_array();
		for (k = 0; k < pull.v[i].requires.nr; k++)
			json_array_append_new(req, json_string(
			    pull.v[i].requires.v[k]));
		json_array_append_new(scripts, json_pack("{s:s, s:I, s:b,"
		    " s:o}", "name", pull.v[i].name, "bytes",
		    (json_int_t)pull.v[i].text.len, "active",
		    pull.v[i].active, "requires", req));
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:o, s:o}",
	    "account", pull.conn.user, "source", pull.dir ? pull.dir :
	    pull.conn.srv.host, "helper", "sieve-pull", "time",
	    (json_int_t)time(NULL), "totals", "scripts", (json_int_t)pull.nr,
	    "bytes", (json_int_t)pull.bytes, "anomalies",
	    (json_int_t)helper_anomaly_count(), "scripts", scripts,
	    "anomalies", helper_anomaly_list());
	return helper_report(pull.conn.report, o, err);
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	const char *password = NULL, *active = NULL;
	int code = EX_SOFTWARE, changed = 0, deleted = 0, rc;
	unsigned seq = 0;
	size_t i;

	helper_init("sieve-pull", SIEVE_PULL_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, pull.conn.user, pull.dir ? NULL : "password",
	    (char *)NULL);
	password = secrets_get(&sec, "password");
	if ((pull.conn.srv.host ? from_server(password, &code, &err) :
	    from_dir(&code, &err)) < 0) {
		log_warnx("%s", err.buf);
		goto out;
	}
	for (i = 0; i < pull.nr; i++) {
		hash_of(&pull.v[i]);
		check_script(&pull.v[i]);
		pull.bytes += pull.v[i].text.len;
		if (pull.v[i].active)
			active = pull.v[i].name;
	}
	if (pull.conn.report && write_report(&err) < 0) {
		code = EX_CANTCREAT;
		log_warnx("%s", err.buf);
		goto out;
	}
	if (!pull.conn.assess) {
		rc = store(&changed, &deleted, &seq, &err);
		if (rc < 0) {
			/* busy: try later; anything else: the archive */
			code = rc == -2 ? EX_TEMPFAIL : EX_IOERR;
			log_warnx("%s", err.buf);
			goto out;
		}
		if (seq) {
			char token[32];

			snprintf(token, sizeof(token), "seg:%u", seq);
			evline_write(1, "checkpoint", "{s:s, s:i}", "token",
			    token, "segment", (int)seq);
		}
	}
	evline_write(1, "done", "{s:I, s:I, s:s?, s:I, s:I, s:I, s:f}",
	    "scripts", (json_int_t)pull.nr, "bytes", (json_int_t)pull.bytes,
	    "active", active, "changed", (json_int_t)changed, "deleted",
	    (json_int_t)deleted, "anomalies",
	    (json_int_t)helper_anomaly_count(), "seconds",
	    helper_seconds());
	log_info("%s %zu scripts (%s active), %d changed, %d deleted",
	    pull.conn.assess ? "assessed" : "pulled", pull.nr,
	    active ? active : "none", changed, deleted);
	code = 0;
out:
	secrets_clear(&sec);
	for (i = 0; i < pull.nr; i++) {
		free(pull.v[i].name);
		buf_release(&pull.v[i].text);
		strlist_free(&pull.v[i].requires);
	}
	free(pull.v);
	free((char *)pull.extensions);
	buf_release(&err);
	return code;
}
