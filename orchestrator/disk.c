/*
 * disk.c: the archives' disk.  Before a pull writes an account's mail,
 * the archives' file system must have room for what the assessment
 * counted of the account and is not pulled yet, and a tenth more, beside
 * what the pulls running now may still write and the plan's
 * archives.reserve; otherwise the account waits, and why is in the state
 * (migrate status).  And `migrate prune`: the archives of accounts
 * finalized longer ago than archives.retention_days, removed, each
 * recorded in the audit.
 */
#include "compat.h"

#include <ftw.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "buf.h"
#include "now.h"
#include "runner_p.h"
#include "xalloc.h"

#define DISK_RECHECK	5	/* seconds between looks while waiting */

/* Free bytes for us where the archives are (the state directory until
 * the first archive is made); -1 when it cannot be told. */
static int64_t
free_bytes(const struct plan *p)
{
	char *dir = xasprintf("%s/archives", p->state_dir);
	struct statvfs sv;
	int rc = statvfs(dir, &sv);

	if (rc < 0 && errno == ENOENT)
		rc = statvfs(p->state_dir, &sv);
	free(dir);
	return rc < 0 ? -1 : (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

/* What the account's pull may still write: the assessment's count less
 * what was pulled, and a tenth for the archive's own records. */
static int64_t
need_of(struct run *r, const struct account *a)
{
	int64_t messages, bytes;

	state_assessed(r->s, a->id, &messages, &bytes);
	if (bytes <= a->bytes)
		return 0;
	return bytes - a->bytes + (bytes - a->bytes) / 10;
}

enum outcome
disk_wait(struct run *r, struct slot *sl, struct account *a,
    int64_t *held_r)
{
	int64_t need = need_of(r, a), avail;
	char h[4][32];
	char *why = NULL;
	struct timespec until;

	*held_r = 0;
	pthread_mutex_lock(&r->lock);
	while ((avail = free_bytes(r->p)) >= 0 && avail - r->disk_held -
	    r->p->archives.reserve < need && !stopping) {
		if (!why) {
			why = xasprintf("no room for its archive: %s to pull,"
			    " %s free, of which %s is kept (archives.reserve)"
			    " and %s is for the pulls running",
			    human_bytes((double)need, h[0], sizeof(h[0])),
			    human_bytes((double)avail, h[1], sizeof(h[1])),
			    human_bytes((double)r->p->archives.reserve, h[2],
			    sizeof(h[2])), human_bytes((double)r->disk_held,
			    h[3], sizeof(h[3])));
			snprintf(sl->what, sizeof(sl->what), "disk");
			pthread_mutex_unlock(&r->lock);
			state_set_waiting(r->s, a, why);
			say(r, "%s waits: %s", a->account, why);
			pthread_mutex_lock(&r->lock);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += DISK_RECHECK;
		pthread_cond_timedwait(&r->cond, &r->lock, &until);
	}
	if (!stopping)
		r->disk_held += need;
	pthread_mutex_unlock(&r->lock);
	/* also what a run killed while it waited left */
	state_set_waiting(r->s, a, NULL);
	free(why);
	if (stopping)
		return STOPPED;
	*held_r = need;
	return OK;
}

void
disk_done(struct run *r, int64_t held)
{
	pthread_mutex_lock(&r->lock);
	r->disk_held -= held;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int64_t tree_bytes;

static int
add_size(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)flag;
	(void)f;
	tree_bytes += (int64_t)st->st_blocks * 512;
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path) < 0 ? -1 : 0;
}

int
archive_remove(const char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/* Remove the archive `dir`; what it took on the disk in *bytes_r. */
static int
prune_one(const char *dir, int dry_run, int64_t *bytes_r, struct buf *err)
{
	tree_bytes = 0;
	if (nftw(dir, add_size, 16, FTW_PHYS) < 0 && errno != ENOENT) {
		buf_addf(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	*bytes_r = tree_bytes;
	if (!dry_run && archive_remove(dir) < 0) {
		buf_addf(err, "cannot remove %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void
print_day(const char *what, const char *account, double t)
{
	char day[16];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	printf("%s %s %s\n", what, account, day);
}

int
runner_prune(struct plan *p, struct state *s, struct audit *au, int dry_run,
    struct buf *err)
{
	json_t *rows, *row;
	double now = now_seconds(), fin, keep;
	int64_t bytes, total = 0;
	size_t i, n = 0, kept = 0;
	char *dir, *mapping_txt, *line, hb[32];
	int code = 0;

	if (p->archives.retention_days < 0) {
		buf_adds(err, "the plan keeps every archive: set"
		    " archives.retention_days to prune those of finalized"
		    " accounts");
		return EX_CONFIG;
	}
	keep = (double)p->archives.retention_days * 86400;
	rows = state_prunable(s);
	json_array_foreach(rows, i, row) {
		const char *acc = json_string_value(json_object_get(row,
		    "account"));

		fin = json_number_value(json_object_get(row, "finalized"));
		if (fin + keep > now) {
			if (!kept++)
				print_day("kept until its retention ends:",
				    acc, fin + keep);
			continue;
		}
		dir = xasprintf("%s/archives/%s", p->state_dir, acc);
		if (strchr(acc, '/') || prune_one(dir, dry_run, &bytes,
		    err) < 0) {
			fprintf(stderr, "migrate: prune: %s: %s\n", acc,
			    err->len ? err->buf : "not a name of a directory");
			buf_setlen(err, 0);
			code = EX_IOERR;
			free(dir);
			continue;
		}
		free(dir);
		printf("%s %s: %s\n", dry_run ? "would prune" : "pruned", acc,
		    human_bytes((double)bytes, hb, sizeof(hb)));
		total += bytes;
		n++;
		if (dry_run)
			continue;
		state_set_pruned(s, json_integer_value(json_object_get(row,
		    "id")), now);
		line = xasprintf("{\"ts\":%.6f,\"account\":\"%s\",\"pruned\":"
		    "\"archive\",\"bytes\":%" PRId64 ",\"finalized\":%.0f}",
		    now, acc, bytes, fin);
		state_queue_audit(s, "prune", line);
		free(line);
	}
	json_decref(rows);
	printf("%zu archive%s %s (%s)", n, n == 1 ? "" : "s", dry_run ?
	    "to prune" : "pruned", human_bytes((double)total, hb,
	    sizeof(hb)));
	if (kept)
		printf(", %zu kept: finalized less than %lld days ago", kept,
		    p->archives.retention_days);
	printf("\n");
	if (dry_run || !n)
		return code;
	state_flush(s);
	mapping_txt = xasprintf("%s/mapping.txt", p->state_dir);
	if (audit_flush(au, s, mapping_txt, err) < 0)
		code = EX_CANTCREAT;
	free(mapping_txt);
	return code;
}
