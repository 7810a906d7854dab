#include "compat.h"

#include <ctype.h>
#include <time.h>

#include <git2.h>
#include <jansson.h>

#include "audit.h"
#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "state.h"
#include "xalloc.h"

struct audit {
	git_repository *repo;
	char *path;
};

#define AUDIT_BATCH	50000	/* lines per commit at most */

static int
git_fail(struct buf *err, const char *what)
{
	const git_error *e = git_error_last();

	buf_addf(err, "audit repository: %s: %s", what,
	    e && e->message ? e->message : "unknown error");
	return -1;
}

int
audit_open(struct audit **ap, const char *state_dir, struct buf *err)
{
	struct audit *a = xcalloc(1, sizeof(*a));

	git_libgit2_init();
	a->path = xasprintf("%s/audit", state_dir);
	if (git_repository_open_bare(&a->repo, a->path) < 0 &&
	    git_repository_init(&a->repo, a->path, 1) < 0) {
		git_fail(err, a->path);
		audit_close(a);
		return -1;
	}
	*ap = a;
	return 0;
}

void
audit_close(struct audit *a)
{
	if (!a)
		return;
	git_repository_free(a->repo);
	free(a->path);
	free(a);
	git_libgit2_shutdown();
}

/*
 * `s` without what an identity may not hold (<, > and newlines), as git
 * leaves them out of one rather than refuse it; NULL when nothing is left.
 */
static char *
without_crud(const char *s)
{
	char *out, *o;

	if (!s)
		return NULL;
	out = o = xstrdup(s);
	for (; *s; s++)
		if (*s != '<' && *s != '>' && *s != '\n')
			*o++ = *s;
	*o = '\0';
	if (!*out) {
		free(out);
		return NULL;
	}
	return out;
}

/* The operator: GIT_AUTHOR_*, else git's configuration, else the user. */
static int
signature(struct audit *a, git_signature **sig)
{
	char *name = without_crud(getenv("GIT_AUTHOR_NAME"));
	char *email = without_crud(getenv("GIT_AUTHOR_EMAIL"));
	char host[256] = "localhost", *fallback;
	const char *user;
	int rc;

	if (name && email) {
		rc = git_signature_now(sig, name, email);
		goto out;
	}
	if ((rc = git_signature_default(sig, a->repo)) == 0)
		goto out;
	user = getenv("USER") ? getenv("USER") : "migrate";
	gethostname(host, sizeof(host) - 1);
	fallback = xasprintf("%s@%s", user, host);
	rc = git_signature_now(sig, name ? name : user, email ? email :
	    fallback);
	free(fallback);
out:
	free(name);
	free(email);
	return rc;
}

char *
audit_operator(struct audit *a)
{
	git_signature *sig;
	char *who;

	if (signature(a, &sig) < 0)
		return NULL;
	who = xasprintf("%s <%s>", sig->name, sig->email);
	git_signature_free(sig);
	return who;
}

/* Put `blob` at `path` (with '/') into a copy of `base` (may be NULL). */
static int
put_path(git_repository *r, const git_tree *base, const char *path,
    const git_oid *blob, git_oid *out)
{
	const char *slash = strchr(path, '/');
	git_treebuilder *tb = NULL;
	int rc;

	if (git_treebuilder_new(&tb, r, base) < 0)
		return -1;
	if (!slash) {
		rc = git_treebuilder_insert(NULL, tb, path, blob,
		    GIT_FILEMODE_BLOB);
	} else {
		char *dir = xstrndup(path, slash - path);
		const git_tree_entry *e = base ?
		    git_tree_entry_byname(base, dir) : NULL;
		git_tree *sub = NULL;
		git_oid subid;

		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE)
			git_tree_lookup(&sub, r, git_tree_entry_id(e));
		rc = put_path(r, sub, slash + 1, blob, &subid);
		git_tree_free(sub);
		if (rc == 0)
			rc = git_treebuilder_insert(NULL, tb, dir, &subid,
			    GIT_FILEMODE_TREE);
		free(dir);
	}
	if (rc == 0)
		rc = git_treebuilder_write(out, tb);
	git_treebuilder_free(tb);
	return rc;
}

struct change {
	const char *path;
	const char *data;
	size_t len;
};

/*
 * Commit `changes` on top of HEAD.  With `only_if_changed`, nothing is
 * committed when the tree stays the same (`*made_r` says 0).
 */
static int
commit(struct audit *a, const struct change *ch, size_t nr,
    const char *message, int only_if_changed, int *made_r, struct buf *err)
{
	git_commit *parent = NULL;
	git_tree *tree = NULL, *base = NULL;
	git_signature *sig = NULL;
	git_oid oid, tree_id, blob;
	const git_commit *parents[1];
	size_t i;
	int ret = -1;

	*made_r = 0;
	if (git_revparse_single((git_object **)&parent, a->repo,
	    "HEAD^{commit}") == 0 && git_commit_tree(&base, parent) < 0) {
		git_fail(err, "cannot read HEAD");
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (git_blob_create_from_buffer(&blob, a->repo, ch[i].data,
		    ch[i].len) < 0 || put_path(a->repo, base, ch[i].path, &blob,
		    &tree_id) < 0) {
			git_fail(err, ch[i].path);
			goto out;
		}
		git_tree_free(base);
		base = NULL;
		if (git_tree_lookup(&base, a->repo, &tree_id) < 0) {
			git_fail(err, "cannot read a tree");
			goto out;
		}
	}
	tree = base;
	base = NULL;
	if (only_if_changed && parent && tree &&
	    git_oid_equal(git_tree_id(tree), git_commit_tree_id(parent))) {
		ret = 0;
		goto out;
	}
	if (!tree) {
		git_fail(err, "nothing to commit");
		goto out;
	}
	if (signature(a, &sig) < 0) {
		git_fail(err, "no author");
		goto out;
	}
	parents[0] = parent;
	if (git_commit_create(&oid, a->repo, "HEAD", sig, sig, NULL, message,
	    tree, parent ? 1 : 0, parents) < 0) {
		git_fail(err, "cannot commit");
		goto out;
	}
	*made_r = 1;
	ret = 0;
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	return ret;
}

/*
 * The queued lines the newest commit that names them holds, as ranges of
 * their ids ("Audit-Lines: 1-500 502"; an older "Audit-Queue: N" held
 * every line up to N); NULL if none.  Lines are queued by several
 * connections at once, so that their ids are not committed in order: a
 * commit names exactly those it holds.
 */
static char *
last_committed(struct audit *a)
{
	git_revwalk *w = NULL;
	git_oid oid;
	char *n = NULL;
	int seen = 0;

	if (git_revwalk_new(&w, a->repo) < 0 || git_revwalk_push_head(w) < 0) {
		git_revwalk_free(w);
		return NULL;
	}
	while (!n && seen++ < 1000 && git_revwalk_next(&oid, w) == 0) {
		git_commit *c;
		const char *m, *t;

		if (git_commit_lookup(&c, a->repo, &oid) < 0)
			break;
		m = git_commit_message(c);
		if ((t = strstr(m, "\nAudit-Lines: ")))
			n = xstrndup(t + 14, strcspn(t + 14, "\n"));
		else if ((t = strstr(m, "\nAudit-Queue: ")))
			n = xasprintf("0-%lld", strtoll(t + 14, NULL, 10));
		git_commit_free(c);
	}
	git_revwalk_free(w);
	return n;
}

/* The ids of v[0..nr), in ascending order, as ranges: "1-500 502". */
static void
id_ranges(struct buf *b, const struct audit_line *v, size_t nr)
{
	size_t i, j;

	for (i = 0; i < nr; i = j) {
		for (j = i + 1; j < nr && v[j].id == v[j - 1].id + 1; j++)
			;
		buf_addf(b, "%s%" PRId64, i ? " " : "", v[i].id);
		if (j - 1 > i)
			buf_addf(b, "-%" PRId64, v[j - 1].id);
	}
}

/* The lines of the ranges `t` dropped from the queue: 0, or -1. */
static int
drop_ranges(struct state *s, const char *t)
{
	int64_t first, last;
	char *end;

	for (;;) {
		t += strspn(t, " ");
		if (!isdigit((unsigned char)*t))
			return 0;
		first = last = strtoll(t, &end, 10);
		if (*end == '-')
			last = strtoll(end + 1, &end, 10);
		if (state_audit_done(s, first, last) < 0)
			return -1;
		t = end;
	}
}

/* The lock files a killed writer can leave behind. */
static const char *const stale_locks[] = {
	"HEAD.lock", "refs/heads/master.lock", "refs/heads/main.lock",
	"packed-refs.lock", "config.lock", "index.lock",
};

int
audit_recover(struct audit *a, struct state *s, struct buf *err)
{
	char *n;
	size_t i;

	/*
	 * The caller holds the apply lock, so no one else writes here: a
	 * lock file is what a writer killed mid-commit left, and would stop
	 * every commit from now on.
	 */
	for (i = 0; i < ARRAY_SIZE(stale_locks); i++) {
		char *path = xasprintf("%s/%s", a->path, stale_locks[i]);

		if (unlink(path) == 0)
			log_info("removed %s, left by a writer that died", path);
		free(path);
	}
	n = last_committed(a);
	if (n && (drop_ranges(s, n) < 0 || state_flush(s) < 0)) {
		free(n);
		buf_adds(err, "state: cannot drop the audit lines already"
		    " committed");
		return -1;
	}
	free(n);
	return 0;
}

int
audit_commit_plan(struct audit *a, const char *file, const char *text,
    size_t len, int *changed_r, struct buf *err)
{
	struct change ch = { "plan.yaml", text, len };
	char *held = last_committed(a);
	char *msg = xasprintf("plan apply %s\n%s%s%s", file, held ?
	    "\nAudit-Lines: " : "", held ? held : "", held ? "\n" : "");
	int ret;

	ret = commit(a, &ch, 1, msg, 1, changed_r, err);
	free(msg);
	free(held);
	return ret;
}

/* "flip alice@example.org -> destination (wave-1)" */
static void
flip_line(struct buf *b, json_t *j)
{
	const char *why = json_string_value(json_object_get(j, "why"));
	const char *wave = json_string_value(json_object_get(j, "wave"));

	buf_addf(b, "flip %s -> %s",
	    json_string_value(json_object_get(j, "account")),
	    json_string_value(json_object_get(j, "route")));
	if (why || wave)
		buf_addf(b, " (%s)", why ? why : wave);
}

/* What finalize found, for the commit message: "finalize: WHAT: ok|
 * waiting: DETAIL". */
static void
finalize_line(struct buf *b, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);

	if (j)
		buf_addf(b, "finalize: %s: %s: %s\n", json_string_value(
		    json_object_get(j, "what")), json_is_true(json_object_get(
		    j, "ok")) ? "ok" : "waiting", json_string_value(
		    json_object_get(j, "detail")));
	json_decref(j);
}

/* An archive removed by migrate prune: "prune: ACCOUNT's archive (N
 * bytes)". */
static void
prune_line(struct buf *b, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);

	if (j)
		buf_addf(b, "prune: %s's archive (%" JSON_INTEGER_FORMAT
		    " bytes)\n", json_string_value(json_object_get(j,
		    "account")), json_integer_value(json_object_get(j,
		    "bytes")));
	json_decref(j);
}

long
audit_flush(struct audit *a, struct state *s, const char *mapping_txt,
    struct buf *err)
{
	struct audit_line *v = NULL;
	struct buf log = BUF_INIT, msg = BUF_INIT, flips = BUF_INIT;
	struct buf mapping = BUF_INIT, ignore = BUF_INIT, fin = BUF_INIT;
	struct buf held = BUF_INIT;
	struct change ch[2];
	size_t nr = 0, i, nr_flips = 0, nch = 0;
	char path[64], day[16];
	time_t now = time(NULL);
	struct tm tm;
	int made;
	long ret = -1;

	if (state_flush(s) < 0 || state_audit_pending(s, AUDIT_BATCH, &v,
	    &nr) < 0) {
		buf_adds(err, "state: cannot read the audit queue");
		goto out;
	}
	if (!nr) {
		ret = 0;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		buf_addf(&log, "%s\n", v[i].line);
		if (!strcmp(v[i].kind, "finalize"))
			finalize_line(&fin, v[i].line);
		if (!strcmp(v[i].kind, "prune"))
			prune_line(&fin, v[i].line);
		if (!strcmp(v[i].kind, "flip")) {
			json_t *j = json_loads(v[i].line, 0, NULL);

			if (j) {
				buf_addf(&flips, "%s", flips.len ? "\n" : "");
				flip_line(&flips, j);
				json_decref(j);
			}
			nr_flips++;
		}
	}
	if (nr_flips == 1)
		buf_addf(&msg, "%s\n\n%zu event%s logged\n", flips.buf, nr,
		    nr == 1 ? "" : "s");
	else if (nr_flips > 1)
		buf_addf(&msg, "flip %zu accounts\n\n%s\n\n%zu events logged\n",
		    nr_flips, flips.buf, nr);
	else
		buf_addf(&msg, "log: %zu event%s\n", nr, nr == 1 ? "" : "s");
	if (fin.len)
		buf_addf(&msg, "\n%s", fin.buf);
	buf_adds(&held, "\nAudit-Lines: ");
	id_ranges(&held, v, nr);
	buf_addf(&msg, "%s\n", held.buf);

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(path, sizeof(path), "log/%s/%012" PRId64 ".jsonl", day,
	    v[0].id);
	ch[nch++] = (struct change){ path, log.buf, log.len };
	if (file_read(mapping_txt, &mapping, &ignore) == 0)
		ch[nch++] = (struct change){ "mapping.txt", mapping.buf,
		    mapping.len };
	if (commit(a, ch, nch, msg.buf, 0, &made, err) < 0)
		goto out;
	if (drop_ranges(s, held.buf + strlen("\nAudit-Lines: ")) < 0) {
		buf_adds(err, "state: cannot drop the committed audit lines");
		goto out;
	}
	ret = (long)nr;
out:
	audit_lines_free(v, nr);
	buf_release(&log);
	buf_release(&msg);
	buf_release(&flips);
	buf_release(&fin);
	buf_release(&held);
	buf_release(&mapping);
	buf_release(&ignore);
	return ret;
}

char *
audit_show(struct audit *a, const char *rev, const char *path, size_t *len_r,
    struct buf *err)
{
	git_object *obj = NULL;
	char *spec = xasprintf("%s:%s", rev, path), *ret = NULL;

	if (git_revparse_single(&obj, a->repo, spec) < 0) {
		git_fail(err, spec);
	} else if (git_object_type(obj) != GIT_OBJECT_BLOB) {
		buf_addf(err, "audit repository: %s is not a file", spec);
	} else {
		const git_blob *b = (const git_blob *)obj;

		*len_r = git_blob_rawsize(b);
		ret = xmalloc(*len_r + 1);
		memcpy(ret, git_blob_rawcontent(b), *len_r);
		ret[*len_r] = '\0';
	}
	git_object_free(obj);
	free(spec);
	return ret;
}

/* Whether `msg` names `account` as a word. */
static int
names(const char *msg, const char *account)
{
	size_t n = strlen(account);
	const char *p;

	for (p = msg; (p = strstr(p, account)); p += n)
		if ((p == msg || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

int
audit_log(struct audit *a, const char *account, FILE *out, struct buf *err)
{
	git_revwalk *w = NULL;
	git_oid oid;

	if (git_revwalk_new(&w, a->repo) < 0) {
		git_revwalk_free(w);
		return git_fail(err, "cannot walk the history");
	}
	if (git_revwalk_push_head(w) < 0) {
		git_revwalk_free(w);
		return 0;	/* no commit yet */
	}
	while (git_revwalk_next(&oid, w) == 0) {
		git_commit *c;
		const char *m;
		char id[GIT_OID_HEXSZ + 1], when[32];
		time_t t;
		struct tm tm;

		if (git_commit_lookup(&c, a->repo, &oid) < 0)
			break;
		m = git_commit_message(c);
		if (!account || names(m, account)) {
			git_oid_tostr(id, sizeof(id), &oid);
			t = git_commit_time(c);
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			fprintf(out, "%.10s %s %s  %s\n", id, when,
			    git_commit_author(c)->name, git_commit_summary(c));
			/* the lines of a grouped flip that name the account */
			if (account && !names(git_commit_summary(c), account)) {
				const char *l = m;

				while ((l = strchr(l, '\n'))) {
					size_t n = strcspn(++l, "\n");
					char *line = xstrndup(l, n);

					if (!strncmp(line, "flip ", 5) &&
					    names(line, account))
						fprintf(out, "%21s %s\n", "",
						    line);
					free(line);
				}
			}
		}
		git_commit_free(c);
	}
	git_revwalk_free(w);
	return 0;
}
