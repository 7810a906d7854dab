/*
 * accounts.c: a plan's accounts from their sources (an inline list, a CSV
 * file, a Dovecot passwd-file, doveadm, Stalwart, a command's output).
 */
#include "compat.h"

#include <ctype.h>

#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "ident.h"
#include "plan.h"
#include "utf7.h"
#include "xalloc.h"

struct collect {
	struct account_spec *v;
	size_t nr, alloc;
	const char *domain;
	struct buf *err;
	int errors;
};

static int
spec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct account_spec *)a)->account,
	    ((const struct account_spec *)b)->account);
}

/* Add one account as a source names it; `where` says where, for errors. */
static void
add(struct collect *c, const char *name, const char *login,
    const char *where)
{
	const char *at = strchr(name, '@');
	struct account_spec *s;
	const char *p;

	for (p = name; *p; p++)
		if (isspace((unsigned char)*p) || *p == ':' || *p == '/' ||
		    (unsigned char)*p < 0x20)
			break;
	if (!*name || *p || !ident_ok(name) || (at && (at == name ||
	    !at[1] || strchr(at + 1, '@')))) {
		buf_addf(c->err, "%s: '%s' is not an account name (an address"
		    " or a bare login)\n", where, name);
		c->errors++;
		return;
	}
	if (!utf8_valid(name, strlen(name)) || (login &&
	    !utf8_valid(login, strlen(login)))) {
		buf_addf(c->err, "%s: the account or its login is not UTF-8"
		    " (the state and the audit hold text in UTF-8)\n", where);
		c->errors++;
		return;
	}
	if (!at && !c->domain) {
		buf_addf(c->err, "%s: '%s' is a bare name and the plan has no"
		    " accounts.default_domain\n", where, name);
		c->errors++;
		return;
	}
	if (c->nr == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 64;
		c->v = xreallocarray(c->v, c->alloc, sizeof(*c->v));
	}
	s = &c->v[c->nr++];
	s->account = at ? xstrdup(name) : xasprintf("%s@%s", name, c->domain);
	for (p = s->account; *p; p++)
		*(char *)p = tolower((unsigned char)*p);
	s->login = xstrdup(login && *login ? login : name);
}

/* Call `fn` on each line of `text`, numbered from 1. */
static void
each_line(struct collect *c, const char *text, size_t len, const char *what,
    void (*fn)(struct collect *, char *, const char *))
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, n), *where;

		p += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		where = xasprintf("%s:%u", what, lineno);
		if (*line && *line != '#')
			fn(c, line, where);
		free(where);
		free(line);
	}
}

size_t
csv_fields(char *line, char **f, size_t max)
{
	char *p = line;
	size_t i;

	for (i = 0; i < max && p; i++) {
		char *start, *q;

		while (*p == ' ')
			p++;
		if (*p == '"') {
			start = ++p;
			q = strchr(p, '"');
			if (q)
				*q++ = '\0';
			p = q ? strchr(q, ',') : NULL;
		} else {
			start = p;
			p = strchr(p, ',');
			if (p)
				*p = '\0';
			for (q = start + strlen(start); q > start &&
			    q[-1] == ' '; q--)
				q[-1] = '\0';
		}
		f[i] = start;
		if (p)
			p++;
	}
	return i;
}

/*
 * CSV: account[,login[,hash[,name[,quota[,aliases]]]]]; quotes around a
 * field; a header is skipped.  Only the first two matter here.
 */
static void
csv_line(struct collect *c, char *line, const char *where)
{
	char *f[2] = { NULL, NULL };

	csv_fields(line, f, 2);
	if (!strcasecmp(f[0], "account") || !strcasecmp(f[0], "email") ||
	    !strcasecmp(f[0], "address"))
		return;
	add(c, f[0], f[1], where);
}

/* Dovecot passwd-file: user:password:uid:gid:...; the user only. */
static void
passwd_line(struct collect *c, char *line, const char *where)
{
	char *colon = strchr(line, ':');

	if (colon)
		*colon = '\0';
	add(c, line, NULL, where);
}

/* A command's output: the first word of each line. */
static void
word_line(struct collect *c, char *line, const char *where)
{
	char *w = line + strspn(line, " \t");

	w[strcspn(w, " \t")] = '\0';
	if (*w)
		add(c, w, NULL, where);
}

/* One entry per address; the first source to name it wins. */
static void
keep_first(struct collect *c)
{
	size_t i, j;

	if (c->nr)
		qsort(c->v, c->nr, sizeof(*c->v), spec_cmp);
	for (i = j = 0; i < c->nr; i++) {
		if (j && !strcmp(c->v[j - 1].account, c->v[i].account)) {
			free(c->v[i].account);
			free(c->v[i].login);
			continue;
		}
		c->v[j++] = c->v[i];
	}
	c->nr = j;
}

int
plan_accounts(const struct plan *p, struct account_spec **v_r,
    size_t *nr_r, struct buf *err)
{
	struct collect c = { NULL, 0, 0, p->accounts.default_domain, err, 0 };
	struct buf text = BUF_INIT;
	size_t i;

	for (i = 0; i < p->accounts.list.nr; i++) {
		char *where = xasprintf("%s:%d:%d: accounts.list", p->file,
		    p->accounts.list.pos[i].line, p->accounts.list.pos[i].col);

		add(&c, p->accounts.list.v[i], NULL, where);
		free(where);
	}
	if (p->accounts.public_folders.account) {
		char *where = xasprintf("%s: accounts.public_folders",
		    p->file);

		add(&c, p->accounts.public_folders.account,
		    p->accounts.public_folders.login, where);
		free(where);
	}
	if (p->accounts.csv) {
		if (file_read(p->accounts.csv, &text, err) < 0) {
			buf_addch(err, '\n');
			c.errors++;
		} else
			each_line(&c, text.buf, text.len, p->accounts.csv,
			    csv_line);
		buf_setlen(&text, 0);
	}
	if (p->accounts.passwd_file) {
		if (file_read(p->accounts.passwd_file, &text, err) < 0) {
			buf_addch(err, '\n');
			c.errors++;
		} else
			each_line(&c, text.buf, text.len,
			    p->accounts.passwd_file, passwd_line);
		buf_setlen(&text, 0);
	}
	if (p->accounts.dovecot) {
		char *cmd = xasprintf("%s user '*'", p->accounts.dovecot);

		if (plan_command(cmd, NULL, NULL, &text, err) < 0) {
			buf_addf(err, " (accounts.dovecot)\n");
			c.errors++;
		} else
			each_line(&c, text.buf, text.len, "doveadm user",
			    word_line);
		free(cmd);
		buf_setlen(&text, 0);
	}
	if (p->accounts.doveadm_url) {
		if (doveadm_users(p, &text, err) < 0) {
			buf_addf(err, " (accounts.doveadm_url)\n");
			c.errors++;
		} else
			each_line(&c, text.buf, text.len, "doveadm user",
			    word_line);
		buf_setlen(&text, 0);
	}
	if (p->accounts.stalwart.url) {
		if (stalwart_accounts(p, &text, err) < 0) {
			buf_addf(err, " (accounts.stalwart)\n");
			c.errors++;
		} else
			each_line(&c, text.buf, text.len, "accounts.stalwart",
			    csv_line);
		buf_setlen(&text, 0);
	}
	if (p->accounts.command) {
		if (plan_command(p->accounts.command, NULL, NULL, &text,
		    err) < 0) {
			buf_addf(err, " (accounts.command)\n");
			c.errors++;
		} else
			each_line(&c, text.buf, text.len, "accounts.command",
			    word_line);
	}
	buf_release(&text);
	keep_first(&c);
	if (!c.errors && !c.nr) {
		buf_addf(err, "%s: the plan's account sources name no"
		    " account\n", p->file);
		c.errors++;
	}
	if (c.errors) {
		account_specs_free(c.v, c.nr);
		return -1;
	}
	*v_r = c.v;
	*nr_r = c.nr;
	return 0;
}

void
account_specs_free(struct account_spec *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].account);
		free(v[i].login);
	}
	free(v);
}
