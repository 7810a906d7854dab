/*
 * report.h: `migrate report` (report.c).
 */
#ifndef MIGRATE_REPORT_H
#define MIGRATE_REPORT_H

struct buf;
struct state;

/* The page of the state in `dir` (open as `s`) into `b`; with `refresh`,
 * one that reloads itself every `refresh` seconds (migrate serve). */
void report_page(struct state *s, const char *dir, int refresh,
    struct buf *b);

/* The state in `dir` (open as `s`) as one HTML page that stands alone,
 * written to `path` whole or not at all. */
int report_write(struct state *s, const char *dir, const char *path,
    struct buf *err);

#endif
