#include "compat.h"

#include "buf.h"
#include "log.h"

static const char *log_prog = "migrate";
static char log_account[256];
static int log_lvl = LOG_LEVEL_INFO;

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

static void
vlog(int level, int errnum, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (level > log_lvl)
		return;
	buf_adds(&b, log_prog);
	if (log_account[0])
		buf_addf(&b, "[%s]", log_account);
	buf_adds(&b, ": ");
	buf_vaddf(&b, fmt, ap);
	if (errnum)
		buf_addf(&b, ": %s", strerror(errnum));
	buf_addch(&b, '\n');
	/* one write, so lines of parallel processes do not interleave */
	fwrite(b.buf, 1, b.len, stderr);
	fflush(stderr);
	buf_release(&b);
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
