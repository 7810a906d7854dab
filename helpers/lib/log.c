#include "compat.h"

#include "log.h"

static const char *log_prog = "migrate";
static char log_account[256];
static int log_lvl = LOG_LEVEL_INFO;
static int status_shown;	/* a status line is on the terminal */

int
log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

void
log_init(const char *prog, int level)
{
	const char *env = getenv("MIGRATE_LOG_LEVEL");

	if (prog) {
		const char *slash = strrchr(prog, '/');

		log_prog = slash ? slash + 1 : prog;
	}
	if (level < 0 && env)
		level = log_level_parse(env);
	if (level >= 0)
		log_lvl = level;
	env = getenv("MIGRATE_ACCOUNT");
	if (env)
		log_set_account(env);
}

void
log_set_account(const char *account)
{
	snprintf(log_account, sizeof(log_account), "%s",
	    account ? account : "");
}

enum log_level
log_get_level(void)
{
	return (enum log_level)log_lvl;
}

/*
 * Append to `line` what fits; a line too long is cut, never lost whole.
 * No allocation here: a log line must still come out when memory runs
 * out, and this file leans on nothing else of the library.
 */
static void
line_vaddf(char *line, size_t size, size_t *len, const char *fmt, va_list ap)
{
	int n;

	if (*len >= size - 1)
		return;
	n = vsnprintf(line + *len, size - *len, fmt, ap);
	if (n < 0)
		return;
	*len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

static void
line_addf(char *line, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vaddf(line, size, len, fmt, ap);
	va_end(ap);
}

static void
vlog(int level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 1];
	size_t len = 0;

	if (level > log_lvl)
		return;
	line_addf(line, sizeof(line) - 1, &len, "%s", log_prog);
	if (log_account[0])
		line_addf(line, sizeof(line) - 1, &len, "[%s]", log_account);
	line_addf(line, sizeof(line) - 1, &len, ": ");
	line_vaddf(line, sizeof(line) - 1, &len, fmt, ap);
	if (errnum)
		line_addf(line, sizeof(line) - 1, &len, ": %s",
		    strerror(errnum));
	line[len++] = '\n';
	if (status_shown) {	/* the line goes where the status was */
		fputs("\r\033[K", stderr);
		status_shown = 0;
	}
	/* one write, so lines of parallel processes do not interleave */
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void
log_status(const char *text)
{
	if (text)
		fprintf(stderr, "\r\033[K%s", text);
	else if (status_shown)
		fputs("\r\033[K", stderr);
	status_shown = text != NULL;
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}
