/*
 * repair.h: what dav-push does with a resource the destination refused.
 */
#ifndef MIGRATE_DAV_REPAIR_H
#define MIGRATE_DAV_REPAIR_H

#include <stddef.h>

struct buf;

/*
 * `text` (an iCalendar object or vCards, `len` bytes) made valid where
 * that is safe, into `out`: each component without a UID gets
 * "migrate-HASH@repaired" (HASH: the first 40 digits of `hash`), right
 * after its BEGIN line.  Returns 1 when it changed something, 0 when
 * there was nothing it knows how to repair (`out` then holds `text`).
 */
int dav_repair(const char *text, size_t len, const char *hash,
    struct buf *out);

#endif
