/*
 * audit.h: the audit repository, a bare git repository in the state
 * directory (STATE/audit) written with libgit2.
 *
 * Its tree holds plan.yaml (the plan as last applied), mapping.txt (the
 * mapping export, migrate-mapping(5)) and log/DATE/NNNNNNNNNNNN.jsonl
 * (state transitions and helper results, one JSON object a line).  Lines
 * wait in the state's audit queue and are committed in batches; every
 * commit names the last queue line it holds in an "Audit-Queue: N"
 * trailer, so that a crash between the commit and the queue's cleanup
 * commits nothing twice.
 */
#ifndef MIGRATE_AUDIT_H
#define MIGRATE_AUDIT_H

#include <stddef.h>

struct buf;
struct state;
struct audit;

int audit_open(struct audit **a, const char *state_dir, struct buf *err);
void audit_close(struct audit *a);

/* Who its commits name as their author, "Name <email>": GIT_AUTHOR_NAME
 * and GIT_AUTHOR_EMAIL, else git's configuration, else the user at this
 * host; NULL if none can be made.  The caller frees it. */
char *audit_operator(struct audit *a);

/*
 * Under the apply lock: remove the lock files of a writer that died
 * mid-commit, and drop queue lines that the repository already holds.
 */
int audit_recover(struct audit *a, struct state *s, struct buf *err);

/*
 * Commit `text` as plan.yaml unless the repository holds it already;
 * `changed_r` tells which.
 */
int audit_commit_plan(struct audit *a, const char *file, const char *text,
    size_t len, int *changed_r, struct buf *err);

/*
 * Commit the queued lines (the state's pending group is committed first)
 * with the current mapping export, read from `mapping_txt`.  Flips get a
 * commit message of their own: "flip ACCOUNT -> ROUTE (WAVE)".
 * Returns the number of lines committed, or -1.
 */
long audit_flush(struct audit *a, struct state *s, const char *mapping_txt,
    struct buf *err);

/* The contents of `path` at `rev` (caller frees), or NULL. */
char *audit_show(struct audit *a, const char *rev, const char *path,
    size_t *len_r, struct buf *err);

/*
 * The history, newest first: each commit's short id, time and message;
 * with `account`, only commits whose message names it.
 */
int audit_log(struct audit *a, const char *account, FILE *out,
    struct buf *err);

#endif
