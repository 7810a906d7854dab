/*
 * now.h: the time, for durations and rates.
 */
#ifndef MIGRATE_NOW_H
#define MIGRATE_NOW_H

#include <time.h>

/* Seconds since the epoch, with a fraction. */
static inline double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
