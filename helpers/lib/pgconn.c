/*
 * pgconn.c: a PostgreSQL connection as migrate makes it (pgconn.h).
 */
#include "compat.h"

#include "log.h"
#include "pgconn.h"

void
pgconn_message(struct buf *err, const char *msg)
{
	size_t start = err->len;

	for (; *msg; msg++)
		if (*msg == '\n' || *msg == '\t') {
			if (err->len > start && err->buf[err->len - 1] != ' ')
				buf_addch(err, ' ');
		} else
			buf_addch(err, *msg);
	while (err->len > start && err->buf[err->len - 1] == ' ')
		buf_setlen(err, err->len - 1);
}

/* The server's notices (a shutdown's FATAL) go to the log, on a line. */
static void
notice(void *arg, const char *msg)
{
	struct buf b = BUF_INIT;

	pgconn_message(&b, msg);
	log_info("%s: %s", (const char *)arg, b.buf);
	buf_release(&b);
}

/* Is `url` one libpq takes, without a password in it? */
static int
check_url(const char *url, const char *what, struct buf *err)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &msg), *o;
	int ret = 0;

	if (!opts) {
		buf_addf(err, "the %s's URL: ", what);
		pgconn_message(err, msg ? msg : "out of memory");
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val) {
			buf_addf(err, "the %s's URL has a password in it, where"
			    " command lines and logs show it; put it in a"
			    " password file (PGPASSFILE)", what);
			ret = -1;
		}
	PQconninfoFree(opts);
	return ret;
}

/*
 * Short timeouts, so that a database out of reach fails fast rather than
 * stalling a proxy or an apply; the URL's own settings win (they come
 * after, in dbname).
 */
PGconn *
pgconn_open(const char *url, const char *what, struct buf *err)
{
	static const char *const keys[] = { "connect_timeout",
	    "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "application_name", "dbname", NULL };
	const char *values[] = { "5", "5000", "10", "5", "3", "migrate", url,
	    NULL };
	PGconn *c;

	if (check_url(url, what, err) < 0)
		return NULL;
	c = PQconnectdbParams(keys, values, 1);
	PQsetNoticeProcessor(c, notice, (void *)what);
	return c;
}
