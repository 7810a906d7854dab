/*
 * reportcharts.h: the report's charts over time (reportcharts.c).
 */
#ifndef MIGRATE_REPORTCHARTS_H
#define MIGRATE_REPORTCHARTS_H

#include <jansson.h>

struct buf;

/* `rows` summed over spans of time (statereport.c's OVER_TIME): a bar
 * each, in `unit`, or `unit` a minute with `per_minute`. */
void over_time(struct buf *b, const char *title, const json_t *rows,
    const char *unit, int per_minute);

/* Each state's accounts at the end of each span (statereport.c's
 * "states"), of `total` accounts, in five groups. */
void states_over_time(struct buf *b, const json_t *rows, json_int_t total);

/* The connections the pulls could hold together (statereport.c's
 * "connections", a row at each change) over time, the most in each
 * span, until `now`. */
void connections_over_time(struct buf *b, const json_t *rows, double now);

#endif
