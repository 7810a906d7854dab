/*
 * directory.c: what the plan's sources say of one account beyond its
 * name: its password entry, display name, quota and aliases, for the
 * provision step.  The entry is a secret: it stays in memory, is wiped,
 * and goes to provision(8) on its stdin.
 *
 * Where the entry comes from, the first that has one:
 *   provision.hashes	"account entry" lines in a file, or a command
 *   accounts.csv		its third column (or one headed "hash")
 *   accounts.stalwart	the principal's first secret
 *   passwd_file		Dovecot's passwd-file, its second field
 *   dovecot		`doveadm auth lookup`, the field named by
 *			dovecot_hash_field: Dovecot hides the "password"
 *			field from that lookup, so the passdb must return
 *			the hash under another name too
 *   doveadm_url		the doveadm HTTP API: that field of the userdb
 * The middle two are provision's keys, or else the account source's.
 */
#include "compat.h"

#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "plan.h"
#include "xalloc.h"

enum { C_ACCOUNT, C_LOGIN, C_HASH, C_NAME, C_QUOTA, C_ALIASES, C_MAX };

static void
take(char **dst, const char *v)
{
	if (!*dst && v && *v)
		*dst = xstrdup(v);
}

/* The columns a header names, or the default order. */
static void
csv_columns(char **f, size_t nf, int *col)
{
	static const char *const names[C_MAX][3] = {
		{ "account", "email", "address" }, { "login" },
		{ "hash", "password" }, { "name", "display_name" },
		{ "quota" }, { "aliases" },
	};
	size_t i, k, j;

	for (k = 0; k < C_MAX; k++)
		col[k] = -1;
	for (i = 0; i < nf; i++)
		for (k = 0; k < C_MAX; k++)
			for (j = 0; j < 3 && names[k][j]; j++)
				if (!strcasecmp(f[i], names[k][j]))
					col[k] = i;
}

static int
csv_entry(const struct plan *p, const char *account, const char *login,
    struct account_entry *e, struct buf *err)
{
	struct buf text = BUF_INIT;
	int col[C_MAX] = { 0, 1, 2, 3, 4, 5 };
	char *line, *save = NULL, *f[C_MAX + 4];
	const char *at = strchr(account, '@');
	int first = 1;

	if (file_read(p->accounts.csv, &text, err) < 0)
		return -1;
	for (line = strtok_r(text.buf, "\r\n", &save); line;
	    line = strtok_r(NULL, "\r\n", &save)) {
		size_t nf = csv_fields(line, f, C_MAX + 4);
		const char *who;

		if (first && nf && (!strcasecmp(f[0], "account") ||
		    !strcasecmp(f[0], "email") || !strcasecmp(f[0],
		    "address"))) {
			csv_columns(f, nf, col);
			first = 0;
			continue;
		}
		first = 0;
		if (*line == '#' || col[C_ACCOUNT] < 0 || (size_t)
		    col[C_ACCOUNT] >= nf)
			continue;
		who = f[col[C_ACCOUNT]];
		if (strcasecmp(who, account) && strcasecmp(who, login) &&
		    !(!strchr(who, '@') && at && !strncasecmp(who, account,
		    at - account) && strlen(who) == (size_t)(at - account)))
			continue;
#define FIELD(k) (col[k] >= 0 && (size_t)col[k] < nf ? f[col[k]] : NULL)
		take(&e->hash, FIELD(C_HASH));
		take(&e->name, FIELD(C_NAME));
		take(&e->quota, FIELD(C_QUOTA));
		if (FIELD(C_ALIASES)) {
			char *a, *s2 = NULL;

			for (a = strtok_r(FIELD(C_ALIASES), " ;", &s2); a;
			    a = strtok_r(NULL, " ;", &s2))
				strlist_add(&e->aliases, a);
		}
#undef FIELD
		break;
	}
	buf_release_wipe(&text);
	return 0;
}

/* "NAME SEP VALUE" lines: the value of the first whose name is `key`. */
static char *
value_of(const char *text, const char *key, const char *sep)
{
	const char *p = text;
	size_t klen = strlen(key);

	while (p && *p) {
		const char *nl = strchr(p, '\n'), *q = p + strspn(p, " \t");
		size_t n = nl ? (size_t)(nl - q) : strlen(q);

		if (n > klen && !strncmp(q, key, klen) && strchr(" \t:",
		    q[klen])) {
			const char *v = q + klen + strspn(q + klen, sep);

			n -= v - q;
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\r'))
				n--;
			return n ? xstrndup(v, n) : NULL;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* A file of "account entry" lines, or a command that prints the entry. */
static int
hashes_entry(const struct plan *p, const char *account, const char *login,
    struct account_entry *e, struct buf *err)
{
	const struct secret_ref *ref = &p->provision.hashes;
	struct buf text = BUF_INIT;
	int ret = 0;

	if (ref->kind == SECRET_FILE) {
		if ((ret = file_read(ref->value, &text, err)) == 0) {
			e->hash = value_of(text.buf, account, " \t");
			if (!e->hash && login)
				e->hash = value_of(text.buf, login, " \t");
		}
	} else if (ref->kind == SECRET_COMMAND) {
		if ((ret = plan_command(ref->value, account, login, &text,
		    err)) == 0 && text.len)
			e->hash = xstrndup(text.buf, strcspn(text.buf,
			    "\r\n"));
	} else {
		e->hash = secret_resolve(ref, account, err);
		ret = e->hash ? 0 : -1;
	}
	buf_release_wipe(&text);
	return ret;
}

static int
passwd_entry(const char *path, const char *account, const char *login,
    struct account_entry *e, struct buf *err)
{
	struct buf text = BUF_INIT;
	char *line, *save = NULL;

	if (file_read(path, &text, err) < 0)
		return -1;
	for (line = strtok_r(text.buf, "\n", &save); line && !e->hash;
	    line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2;

		if (!c1)
			continue;
		*c1++ = '\0';
		if (strcmp(line, account) && (!login || strcmp(line, login)))
			continue;
		c2 = c1 + strcspn(c1, ":\r");
		*c2 = '\0';
		take(&e->hash, c1);
	}
	buf_release_wipe(&text);
	return 0;
}

static int
doveadm_entry(const char *doveadm, const char *field, const char *account,
    const char *login, struct account_entry *e, struct buf *err)
{
	char *cmd = xasprintf("%s auth lookup \"$MIGRATE_LOGIN\"", doveadm);
	struct buf text = BUF_INIT;
	int ret;

	ret = plan_command(cmd, account, login ? login : account, &text, err);
	if (ret < 0)
		buf_adds(err, " (accounts.dovecot: doveadm auth lookup)");
	else
		e->hash = value_of(text.buf, field, " :");
	buf_release_wipe(&text);
	free(cmd);
	return ret;
}

int
account_entry(const struct plan *p, const char *account, const char *login,
    struct account_entry *e, struct buf *err)
{
	const struct provisionopts *pv = &p->provision;
	const char *passwd = pv->passwd_file ? pv->passwd_file :
	    p->accounts.passwd_file;
	const char *doveadm = pv->dovecot ? pv->dovecot : p->accounts.dovecot;
	const char *field = pv->dovecot_hash_field ? pv->dovecot_hash_field :
	    p->accounts.dovecot_hash_field ? p->accounts.dovecot_hash_field :
	    "migrate_hash";

	memset(e, 0, sizeof(*e));
	if (p->accounts.csv && csv_entry(p, account, login, e, err) < 0)
		return -1;
	if (p->accounts.stalwart.url && stalwart_entry(p, login ? login :
	    account, e, err) < 0)
		return -1;
	if (pv->hashes.kind != SECRET_NONE) {
		free(e->hash);
		e->hash = NULL;
		return hashes_entry(p, account, login, e, err);
	}
	if (!e->hash && passwd &&
	    passwd_entry(passwd, account, login, e, err) < 0)
		return -1;
	if (!e->hash && doveadm &&
	    doveadm_entry(doveadm, field, account, login, e, err) < 0)
		return -1;
	if (!e->hash && !doveadm && p->accounts.doveadm_url) {
		e->hash = doveadm_field(p, login ? login : account, field, err);
		if (!e->hash && err->len)
			return -1;
	}
	return 0;
}

void
account_entry_free(struct account_entry *e)
{
	if (e->hash) {
		explicit_bzero(e->hash, strlen(e->hash));
		free(e->hash);
	}
	free(e->name);
	free(e->quota);
	strlist_free(&e->aliases);
	memset(e, 0, sizeof(*e));
}
