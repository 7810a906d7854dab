/*
 * report.h: `migrate report` (report.c).
 */
#ifndef MIGRATE_REPORT_H
#define MIGRATE_REPORT_H

#include <stdint.h>

struct buf;
struct state;

/* The page of the state in `dir` (open as `s`) into `b`; with `refresh`,
 * one that reloads itself every `refresh` seconds (migrate serve). */
void report_page(struct state *s, const char *dir, int refresh,
    struct buf *b);

/* The accounts a page of report_wave() lists. */
#define REPORT_PER_PAGE	500

/*
 * The page of one account: its reconciliation folder by folder (from its
 * last verify report), its anomalies and its history.  -1 when there is
 * no such account.
 */
int report_account(struct state *s, const char *dir, const char *account,
    int refresh, struct buf *b);

/*
 * Page `page` (from 0) of the accounts of `wave` (NULL: all of them).  -1
 * when the wave has no account, -2 when there is no such page.
 */
int report_wave(struct state *s, const char *wave, int64_t page,
    int refresh, struct buf *b);

/* Which page: the summary, an account's, or a page of accounts (of a
 * wave, or all of them). */
struct report_opts {
	const char *account;
	int accounts;
	const char *wave;
	int64_t page;		/* from 0 */
};

/* Where `migrate report` writes it unless told: STATE/report.html,
 * STATE/reports/ACCOUNT.html, STATE/reports/accounts[-WAVE][-N].html. */
char *report_default_path(const char *dir, const struct report_opts *o);

/*
 * The page `o` says of the state in `dir` (open as `s`), one that stands
 * alone, written to `path` whole or not at all: 0, or an exit status
 * with the error in `err` (EX_NOUSER: no such account or wave; EX_USAGE:
 * no such page; EX_CANTCREAT).
 */
int report_write(struct state *s, const char *dir,
    const struct report_opts *o, const char *path, struct buf *err);

#endif
