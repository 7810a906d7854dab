/*
 * maillog.c: who reads mail over POP3, from the source's logs (the
 * plan's phases.assessment.logs), so that the operator knows before the
 * pilot whose POP3 clients the move concerns.
 *
 * Two servers' login lines are known:
 *   Dovecot  ... pop3-login: Login: user=<alice@example.org>, method=...
 *   Cyrus    ... pop3[1234]: login: host [192.0.2.1] alice plaintext ...
 * A log may be gzip-compressed, as logrotate leaves the older ones.
 */
#include "compat.h"

#include <ctype.h>

#include <zlib.h>

#include "buf.h"
#include "maillog.h"
#include "strhash.h"
#include "xalloc.h"

#define BUCKETS	1024

struct pop3_user {
	char *user;		/* lowercased */
	long long logins;
	struct pop3_user *next;
};

static unsigned
hash(const char *s)
{
	return strhash(s) % BUCKETS;
}

static void
count(struct pop3_users *u, const char *user, size_t len)
{
	char *l = xstrndup(user, len), *p;
	struct pop3_user *e;

	for (p = l; *p; p++)
		*p = tolower((unsigned char)*p);
	if (!u->b)
		u->b = xcalloc(BUCKETS, sizeof(*u->b));
	for (e = u->b[hash(l)]; e; e = e->next)
		if (!strcmp(e->user, l)) {
			e->logins++;
			u->logins++;
			free(l);
			return;
		}
	e = xcalloc(1, sizeof(*e));
	e->user = l;
	e->logins = 1;
	e->next = u->b[hash(l)];
	u->b[hash(l)] = e;
	u->nr++;
	u->logins++;
}

/* Whether the text from `start` to `end` ends with `word`. */
static int
ends_with(const char *start, const char *end, const char *word)
{
	size_t n = strlen(word);

	return end - start >= (ptrdiff_t)n && !memcmp(end - n, word, n);
}

/* The user of a POP3 login line, or NULL; its length in *len. */
static const char *
login_user(const char *line, size_t *len)
{
	static const char dovecot[] = "Login: user=<", cyrus[] = "]: login: ";
	const char *p, *e, *q;

	if ((p = strstr(line, "pop3-login: "))) {
		p += strlen("pop3-login: ");
		if (!strncmp(p, "Info: ", 6))	/* Dovecot's own log_path */
			p += 6;
		if (strncmp(p, dovecot, strlen(dovecot)))
			return NULL;
		p += strlen(dovecot);
		if (!(e = strchr(p, '>')))
			return NULL;
		*len = e - p;
		return *len ? p : NULL;
	}
	/* Cyrus: the service "pop3" or "pop3s", its PID, the client's
	 * "host [address]", the user */
	if (!(q = strstr(line, cyrus)))
		return NULL;
	for (p = q; p > line && p[-1] != '['; p--)
		;
	if (p == line || (!ends_with(line, p - 1, "pop3") &&
	    !ends_with(line, p - 1, "pop3s")))
		return NULL;
	if (!(p = strstr(q + strlen(cyrus), "] ")))
		return NULL;
	p += 2;
	*len = strcspn(p, " \r\n");
	return *len ? p : NULL;
}

int
maillog_read(const struct strlist *files, struct pop3_users *u,
    struct buf *err)
{
	char line[8192];
	const char *user;
	size_t i, len;
	gzFile f;

	for (i = 0; i < files->nr; i++) {
		if (!(f = gzopen(files->v[i], "rb"))) {
			buf_addf(err, "%s: %s", files->v[i], strerror(errno));
			return -1;
		}
		while (gzgets(f, line, sizeof(line)))
			if ((user = login_user(line, &len)))
				count(u, user, len);
		if (!gzeof(f)) {
			int e;
			const char *m = gzerror(f, &e);

			buf_addf(err, "%s: %s", files->v[i], e == Z_ERRNO ?
			    strerror(errno) : m);
			gzclose(f);
			return -1;
		}
		gzclose(f);
	}
	return 0;
}

long long
maillog_logins(const struct pop3_users *u, const char *id)
{
	char *l = xstrdup(id), *p;
	struct pop3_user *e;
	long long n = 0;

	for (p = l; *p; p++)
		*p = tolower((unsigned char)*p);
	if (u->b)
		for (e = u->b[hash(l)]; e; e = e->next)
			if (!strcmp(e->user, l))
				n = e->logins;
	free(l);
	return n;
}

void
maillog_free(struct pop3_users *u)
{
	struct pop3_user *e, *next;
	size_t i;

	for (i = 0; u->b && i < BUCKETS; i++)
		for (e = u->b[i]; e; e = next) {
			next = e->next;
			free(e->user);
			free(e);
		}
	free(u->b);
	memset(u, 0, sizeof(*u));
}
