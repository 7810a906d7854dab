/*
 * evline.h: the event lines of the helper protocol (migrate-helper(7)).
 *
 * A helper's stdout carries only events, one flat JSON object a line:
 *
 *	{"v":1,"ts":1795499537.123,"event":"checkpoint","token":"..."}
 *
 * Writers call evline_write() (or evline_hello()); the orchestrator parses
 * each line with evline_parse().  Readers ignore fields they do not know;
 * an event type they do not know is a protocol error.
 */
#ifndef MIGRATE_EVLINE_H
#define MIGRATE_EVLINE_H

#include <stdint.h>

struct buf;
struct json_t;

#define EVLINE_VERSION		1
#define EVLINE_MAX		(1024 * 1024)	/* longest line read */

enum evline_type {
	EV_HELLO,		/* name, version, protocol */
	EV_PROGRESS,		/* any counters */
	EV_FOLDER,		/* name: a folder, what will be done there */
	EV_CHECKPOINT,		/* token: the resume token */
	EV_ANOMALY,		/* kind, text, and where it happened */
	EV_DONE,		/* counters of the whole run */
};

/*
 * Write one event to `fd` as a single line.  `fmt` is a jansson
 * json_pack() format for an object of further fields ("{s:s, s:I}" with
 * key and value arguments; I takes a long long), or NULL.
 * Returns 0, or -1 with errno set (EPIPE when the reader is gone).
 */
int evline_write(int fd, const char *event, const char *fmt, ...);

/* `fn` is told before each event this process writes (NULL, NULL), and
 * sees it once written: a helper on a terminal shows its progress so. */
void evline_on_write(void (*fn)(const char *event,
    const struct json_t *obj));

/*
 * An anomaly event: `kind`, `text`, and where (`folder` may be NULL,
 * `uid` 0); `extra` (may be NULL) gets a reference to the event, for a
 * report.  It is also logged for people.
 */
struct json_t;
int evline_anomaly(int fd, const char *kind, const char *folder,
    uint32_t uid, const char *text, struct json_t **extra);

/*
 * A helper's --report: `o` written to `path` as indented JSON, through a
 * temporary file renamed into place, so a reader never sees half of one.
 */
int evline_report(const char *path, struct json_t *o, struct buf *err);

/* The first event of every helper. */
int evline_hello(int fd, const char *name, const char *version);

/* One parsed event; its strings live as long as the event. */
struct evline {
	enum evline_type type;
	const char *name;	/* the "event" field */
	void *obj;		/* the whole object (json_t *) */
};

/*
 * Parse one line (without its newline).  On error returns -1 with a
 * message in `err` that quotes the line, sanitized and cut short.
 */
int evline_parse(struct evline *ev, const char *line, size_t len,
    struct buf *err);
void evline_release(struct evline *ev);

/* A field as a string or integer; NULL or -1 when absent or of another type. */
const char *evline_str(const struct evline *ev, const char *key);
int evline_int(const struct evline *ev, const char *key, int64_t *val_r);

/* The event as one compact JSON line, for storing it (caller frees). */
char *evline_dump(const struct evline *ev);

const char *evline_type_name(enum evline_type type);

#endif
