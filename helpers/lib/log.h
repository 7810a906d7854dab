/*
 * log.h: diagnostics for people, on stderr.
 *
 * Lines read "PROG: message" (with the account when one is set:
 * "PROG[alice@example.org]: message").  The level comes from
 * MIGRATE_LOG_LEVEL (error, warn, info, debug; default info) unless
 * log_init() is given one.  A line longer than LOG_LINE_MAX bytes is cut
 * there.  Nothing here allocates, so a line still comes out when memory
 * has run out.  Never log AUTH or LOGIN data.
 */
#ifndef MIGRATE_LOG_H
#define MIGRATE_LOG_H

#define LOG_LINE_MAX	8192

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* `level` < 0: take it from MIGRATE_LOG_LEVEL.  `prog` is kept, not copied. */
void log_init(const char *prog, int level);
void log_set_account(const char *account);
int log_level_parse(const char *s);
enum log_level log_get_level(void);

/* log_warn() appends strerror(errno); log_warnx() does not. */
/* On a terminal: `text` as the line under the cursor, replaced by the
 * next status or log line; NULL takes it away. */
void log_status(const char *text);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log and exit(EX_SOFTWARE 70 for BUG, else `code`). */
void fatal(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void fatalx(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
#define BUG(...) fatalx(70, "BUG: " __VA_ARGS__)

#endif
