/*
 * secrets.c: the operator's commands and the values of secret references
 * (a file, an environment variable, a command), kept in memory only and
 * wiped by their callers.
 */
#include "compat.h"

#include <pthread.h>

#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "plan.h"
#include "proc.h"
#include "xalloc.h"

static int
grab_line(void *cb, enum proc_stream s, const char *line, size_t len)
{
	struct buf *out = cb;

	if (s == PROC_STDOUT) {
		buf_add(out, line, len);
		buf_addch(out, '\n');
	}
	return 0;
}

/*
 * Run `cmd` with /bin/sh, `account` and `login` (either may be NULL) in
 * MIGRATE_ACCOUNT and MIGRATE_LOGIN; its stdout into `out`.  Its stderr
 * goes to ours: it is the operator's command, and it must not print
 * secrets there.
 */
int
plan_command(const char *cmd, const char *account, const char *login,
    struct buf *out, struct buf *err)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	char *e_acc = account ? xasprintf("MIGRATE_ACCOUNT=%s", account) :
	    NULL;
	char *e_login = login ? xasprintf("MIGRATE_LOGIN=%s", login) : NULL;
	const char *env[3] = { NULL, NULL, NULL };
	struct child ch = CHILD_INIT;
	struct proc_io io = { 0 };
	struct buf why = BUF_INIT;
	unsigned flags = 0;
	int rc, n = 0;

	if (e_acc)
		env[n++] = e_acc;
	if (e_login)
		env[n++] = e_login;
	ch.argv = argv;
	ch.env = n ? env : NULL;
	io.on_line = grab_line;
	io.cb = out;
	io.timeout_ms = 300000;
	rc = proc_pipe(&ch, &io, &flags, &why);
	free(e_acc);
	free(e_login);
	if (rc != 0) {
		buf_addf(err, "command '%s' %s", cmd, rc < 0 ? why.buf :
		    flags & PROC_TIMED_OUT ? "took over 300 s" : "failed");
		if (rc > 0)
			buf_addf(err, " (exit %d)", rc);
		buf_release(&why);
		return -1;
	}
	buf_release(&why);
	return 0;
}

static char *
first_line(struct buf *b)
{
	size_t n = strcspn(b->buf, "\r\n");

	return xstrndup(b->buf, n);
}

/* The {env: NAME} secrets, out of the environment. */
static struct {
	pthread_mutex_t lock;
	struct kept {
		char *name, *value;	/* value NULL: it was not set */
	} *v;
	size_t nr;
} env_kept = { PTHREAD_MUTEX_INITIALIZER, NULL, 0 };

static struct kept *
env_find(const char *name)
{
	size_t i;

	for (i = 0; i < env_kept.nr; i++)
		if (!strcmp(env_kept.v[i].name, name))
			return &env_kept.v[i];
	return NULL;
}

void
secret_env_keep(const char *name)
{
	const char *v;

	pthread_mutex_lock(&env_kept.lock);
	if (!env_find(name)) {
		env_kept.v = xreallocarray(env_kept.v, env_kept.nr + 1,
		    sizeof(*env_kept.v));
		v = getenv(name);
		env_kept.v[env_kept.nr].name = xstrdup(name);
		env_kept.v[env_kept.nr++].value = v ? xstrdup(v) : NULL;
		if (v)
			explicit_bzero((char *)v, strlen(v));
		unsetenv(name);
	}
	pthread_mutex_unlock(&env_kept.lock);
}

static char *
env_value(const char *name, struct buf *err)
{
	struct kept *k;
	char *ret = NULL;

	secret_env_keep(name);
	pthread_mutex_lock(&env_kept.lock);
	if ((k = env_find(name)) && k->value)
		ret = xstrdup(k->value);
	else
		buf_addf(err, "environment variable %s is not set", name);
	pthread_mutex_unlock(&env_kept.lock);
	return ret;
}

char *
secret_resolve(const struct secret_ref *ref, const char *account,
    struct buf *err)
{
	struct buf text = BUF_INIT;
	char *ret = NULL;

	switch (ref->kind) {
	case SECRET_NONE:
		buf_adds(err, "no secret given");
		break;
	case SECRET_ENV:
		ret = env_value(ref->value, err);
		break;
	case SECRET_FILE:
		if (file_read(ref->value, &text, err) == 0)
			ret = first_line(&text);
		break;
	case SECRET_COMMAND:
		if (plan_command(ref->value, account, NULL, &text, err) == 0)
			ret = first_line(&text);
		break;
	}
	buf_release_wipe(&text);
	return ret;
}

static void
wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A passwords file, read once: "account password" lines, sorted. */
struct pwline {
	char *name, *password;
};

static struct {
	pthread_mutex_t lock;
	char *path;
	struct pwline *v;
	size_t nr;
} pwcache = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0 };

static int
pw_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pwline *)a)->name,
	    ((const struct pwline *)b)->name);
}

static int
pw_load(const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	char *p, *end;
	size_t alloc = 0;

	if (pwcache.path && !strcmp(pwcache.path, path))
		return 0;
	if (file_read(path, &text, err) < 0)
		return -1;
	for (p = text.buf, end = text.buf + text.len; p < end; ) {
		char *nl = memchr(p, '\n', end - p), *sp;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n && p[n - 1] == '\r')
			p[n - 1] = '\0';
		p[n] = '\0';
		sp = strpbrk(p, " \t");
		if (*p && *p != '#' && sp) {
			if (pwcache.nr == alloc) {
				alloc = alloc ? 2 * alloc : 64;
				pwcache.v = xreallocarray(pwcache.v, alloc,
				    sizeof(*pwcache.v));
			}
			*sp++ = '\0';
			sp += strspn(sp, " \t");
			pwcache.v[pwcache.nr].name = xstrdup(p);
			pwcache.v[pwcache.nr++].password = xstrdup(sp);
		}
		p += n + 1;
	}
	buf_release_wipe(&text);
	qsort(pwcache.v, pwcache.nr, sizeof(*pwcache.v), pw_cmp);
	pwcache.path = xstrdup(path);
	return 0;
}

char *
secret_password(const struct secret_ref *ref, const char *account,
    const char *login, struct buf *err)
{
	struct pwline key, *hit = NULL;
	char *ret = NULL;

	if (ref->kind != SECRET_FILE)
		return secret_resolve(ref, account, err);
	pthread_mutex_lock(&pwcache.lock);
	if (pw_load(ref->value, err) == 0) {
		key.name = (char *)account;
		hit = bsearch(&key, pwcache.v, pwcache.nr, sizeof(key),
		    pw_cmp);
		key.name = (char *)login;
		if (!hit && login)
			hit = bsearch(&key, pwcache.v, pwcache.nr,
			    sizeof(key), pw_cmp);
		if (hit && hit->password)
			ret = xstrdup(hit->password);
		else if (hit)
			buf_addf(err, "the password of %s was wiped after its"
			    " last use", account);
		else
			buf_addf(err, "'%s' has no line for %s", ref->value,
			    account);
	}
	pthread_mutex_unlock(&pwcache.lock);
	return ret;
}


void
secret_password_forget(const struct secret_ref *ref, const char *account,
    const char *login)
{
	const char *names[] = { account, login };
	struct pwline key, *hit;
	size_t i;

	if (ref->kind != SECRET_FILE)
		return;
	pthread_mutex_lock(&pwcache.lock);
	for (i = 0; pwcache.path && !strcmp(pwcache.path, ref->value) &&
	    i < ARRAY_SIZE(names); i++) {
		if (!(key.name = (char *)names[i]))
			continue;
		hit = bsearch(&key, pwcache.v, pwcache.nr, sizeof(key),
		    pw_cmp);
		if (hit) {
			wipe_free(hit->password);
			hit->password = NULL;
		}
	}
	pthread_mutex_unlock(&pwcache.lock);
}

void
secrets_forget(void)
{
	size_t i;

	/* at exit another thread may hold a lock: then the exit frees it */
	if (pthread_mutex_trylock(&env_kept.lock))
		return;
	for (i = 0; i < env_kept.nr; i++) {
		free(env_kept.v[i].name);
		wipe_free(env_kept.v[i].value);
	}
	free(env_kept.v);
	env_kept.v = NULL;
	env_kept.nr = 0;
	pthread_mutex_unlock(&env_kept.lock);
	if (pthread_mutex_trylock(&pwcache.lock))
		return;
	for (i = 0; i < pwcache.nr; i++) {
		free(pwcache.v[i].name);
		wipe_free(pwcache.v[i].password);
	}
	free(pwcache.v);
	free(pwcache.path);
	pwcache.v = NULL;
	pwcache.path = NULL;
	pwcache.nr = 0;
	pthread_mutex_unlock(&pwcache.lock);
}
