/*
 * plan.c: read a plan with libyaml's document API and check it against
 * tables of the keys each mapping may hold (migrate-plan(5)).
 */
#include "compat.h"

#include <fnmatch.h>
#include <libgen.h>
#include <sys/stat.h>

#include <yaml.h>

#include "buf.h"
#include "fileio.h"
#include "plan.h"
#include "xalloc.h"

enum kind {
	K_STR,
	K_PATH,		/* a string; relative to the plan's directory */
	K_URL,		/* a string with one of the schemes in `arg` */
	K_INT,
	K_BOOL,
	K_SIZE,		/* an integer, or with k, M or G */
	K_LIST,		/* one string or a sequence of them */
	K_SECRET,	/* {file: ...}, {env: ...} or {command: ...} */
	K_MAP,		/* a mapping with the keys of `sub` */
	K_PHASE,	/* like K_MAP, or empty, or true/false */
	K_WAVES,	/* a sequence of wave mappings */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	const struct key *sub;	/* K_MAP, K_PHASE: keys of the sub-struct */
	const char *arg;	/* K_URL: "imap imaps"; K_INT: minimum */
};

struct ctx {
	const char *file;
	const char *dir;
	yaml_document_t *doc;
	struct buf *err;
	int errors;
};

static void ATTR_PRINTF(3, 4)
perr(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	buf_addf(c->err, "%s:%lu:%lu: ", c->file,
	    n ? (unsigned long)n->start_mark.line + 1 : 1UL,
	    n ? (unsigned long)n->start_mark.column + 1 : 1UL);
	va_start(ap, fmt);
	buf_vaddf(c->err, fmt, ap);
	va_end(ap);
	buf_addch(c->err, '\n');
	c->errors++;
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null");
}

static struct pos
pos_of(const yaml_node_t *n)
{
	struct pos p = { (int)n->start_mark.line + 1,
	    (int)n->start_mark.column + 1 };

	return p;
}

/* Levenshtein distance, for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, *row, prev, ret;

	row = xcalloc(lb + 1, sizeof(*row));
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j], best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	ret = row[lb];
	free(row);
	return ret;
}

static void
unknown_key(struct ctx *c, const yaml_node_t *kn, const char *where,
    const struct key *keys)
{
	const struct key *k, *best = NULL;
	size_t d, bestd = (size_t)-1;
	struct buf names = BUF_INIT;

	for (k = keys; k->name; k++) {
		d = distance(scalar(kn), k->name);
		if (d < bestd)
			bestd = d, best = k;
		buf_addf(&names, "%s%s", names.len ? ", " : "", k->name);
	}
	if (best && bestd <= 2 + strlen(best->name) / 5)
		perr(c, kn, "unknown key '%s' in %s (did you mean '%s'?)",
		    scalar(kn), where, best->name);
	else
		perr(c, kn, "unknown key '%s' in %s; expected one of: %s",
		    scalar(kn), where, names.buf);
	buf_release(&names);
}

static char *
expect_string(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		perr(c, n, "%s: expected a string, found %s", what,
		    is_null(n) ? "nothing" : node_kind(n));
		return NULL;
	}
	return xstrdup(scalar(n));
}

static int
parse_int(const char *s, long long *v, int sizes)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (end == s || errno)
		return -1;
	if (sizes && *end) {
		long long mul = *end == 'k' || *end == 'K' ? 1LL << 10 :
		    *end == 'M' ? 1LL << 20 : *end == 'G' ? 1LL << 30 : 0;

		if (!mul || end[1] || *v > LLONG_MAX / mul)
			return -1;
		*v *= mul;
		end++;
	}
	return *end ? -1 : 0;
}

static char *
absolute(struct ctx *c, const char *path)
{
	return path[0] == '/' ? xstrdup(path) :
	    xasprintf("%s/%s", c->dir, path);
}

static void walk_map(struct ctx *c, const yaml_node_t *map, const char *where,
    const struct key *keys, void *base);

static void
parse_list(struct ctx *c, const yaml_node_t *n, const char *what,
    struct strlist *l)
{
	yaml_node_item_t *it;

	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		l->v = xreallocarray(l->v, l->nr + 1, sizeof(*l->v));
		l->pos = xreallocarray(l->pos, l->nr + 1, sizeof(*l->pos));
		l->pos[l->nr] = pos_of(n);
		l->v[l->nr++] = xstrdup(scalar(n));
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		perr(c, n, "%s: expected a string or a list of strings, found %s",
		    what, is_null(n) ? "nothing" : node_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		if (e->type != YAML_SCALAR_NODE || is_null(e))
			perr(c, e, "%s: expected a string, found %s", what,
			    is_null(e) ? "nothing" : node_kind(e));
		else
			parse_list(c, e, what, l);
	}
}

static void
parse_secret(struct ctx *c, const yaml_node_t *n, const char *what,
    struct secret_ref *ref)
{
	static const char *const kinds[] = { "file", "env", "command" };
	yaml_node_pair_t *pr;
	size_t i;

	ref->pos = pos_of(n);
	if (n->type == YAML_SCALAR_NODE) {
		perr(c, n, "%s: an inline secret is refused, since the plan is"
		    " committed to the audit repository; give {file: PATH},"
		    " {env: NAME} or {command: CMD}", what);
		return;
	}
	if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start != 1) {
		perr(c, n, "%s: expected one of {file: PATH}, {env: NAME},"
		    " {command: CMD}", what);
		return;
	}
	pr = n->data.mapping.pairs.start;
	{
		yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		char *v;

		for (i = 0; i < ARRAY_SIZE(kinds); i++)
			if (kn->type == YAML_SCALAR_NODE &&
			    !strcmp(scalar(kn), kinds[i]))
				break;
		if (i == ARRAY_SIZE(kinds)) {
			perr(c, kn, "%s: expected file, env or command, found"
			    " '%s'", what, kn->type == YAML_SCALAR_NODE ?
			    scalar(kn) : node_kind(kn));
			return;
		}
		if (!(v = expect_string(c, vn, what)))
			return;
		ref->kind = SECRET_FILE + i;
		ref->value = i == 0 ? absolute(c, v) : xstrdup(v);
		free(v);
		if (ref->kind == SECRET_FILE && access(ref->value, R_OK) < 0)
			perr(c, vn, "%s: cannot read '%s': %s", what,
			    ref->value, strerror(errno));
	}
}

static int
url_ok(const char *url, const char *schemes)
{
	const char *colon = strstr(url, "://");
	char *list, *s, *save = NULL;
	int ok = 0;

	if (!colon || colon == url || !colon[3])
		return 0;
	list = xstrdup(schemes);
	for (s = strtok_r(list, " ", &save); s && !ok;
	    s = strtok_r(NULL, " ", &save))
		ok = strlen(s) == (size_t)(colon - url) &&
		    !strncmp(url, s, colon - url);
	free(list);
	return ok;
}

static void parse_waves(struct ctx *c, const yaml_node_t *n, void *field);

static void
parse_value(struct ctx *c, const struct key *k, const yaml_node_t *n,
    const char *what, void *base)
{
	void *field = (char *)base + k->off;
	long long v;
	char *s;

	switch (k->kind) {
	case K_STR:
	case K_PATH:
	case K_URL:
		if (!(s = expect_string(c, n, what)))
			break;
		if (k->kind == K_URL && !url_ok(s, k->arg)) {
			perr(c, n, "%s: expected a URL (%s), found '%s'", what,
			    k->arg, s);
			free(s);
			break;
		}
		free(*(char **)field);
		*(char **)field = k->kind == K_PATH ? absolute(c, s) : s;
		if (k->kind == K_PATH)
			free(s);
		break;
	case K_INT:
	case K_SIZE:
		if (n->type != YAML_SCALAR_NODE || parse_int(scalar(n), &v,
		    k->kind == K_SIZE) < 0) {
			perr(c, n, "%s: expected %s, found %s%s%s", what,
			    k->kind == K_SIZE ? "a size (like 100M)" :
			    "an integer", n->type == YAML_SCALAR_NODE ? "'" : "",
			    n->type == YAML_SCALAR_NODE ? scalar(n) :
			    node_kind(n), n->type == YAML_SCALAR_NODE ? "'" :
			    "");
			break;
		}
		if (k->arg && v < atoll(k->arg)) {
			perr(c, n, "%s: expected at least %s, found %lld", what,
			    k->arg, v);
			break;
		}
		*(long long *)field = v;
		break;
	case K_BOOL:
		if (n->type == YAML_SCALAR_NODE && (!strcmp(scalar(n), "true") ||
		    !strcmp(scalar(n), "yes")))
			*(int *)field = 1;
		else if (n->type == YAML_SCALAR_NODE &&
		    (!strcmp(scalar(n), "false") || !strcmp(scalar(n), "no")))
			*(int *)field = 0;
		else
			perr(c, n, "%s: expected true or false, found %s%s%s",
			    what, n->type == YAML_SCALAR_NODE ? "'" : "",
			    n->type == YAML_SCALAR_NODE ? scalar(n) :
			    node_kind(n), n->type == YAML_SCALAR_NODE ? "'" :
			    "");
		break;
	case K_LIST:
		parse_list(c, n, what, field);
		break;
	case K_SECRET:
		parse_secret(c, n, what, field);
		break;
	case K_PHASE:
		if (is_null(n) || (n->type == YAML_SCALAR_NODE &&
		    !strcmp(scalar(n), "true"))) {
			*(int *)field = 1;
			break;
		}
		if (n->type == YAML_SCALAR_NODE &&
		    !strcmp(scalar(n), "false"))
			break;
		*(int *)field = 1;
		/* FALLTHROUGH */
	case K_MAP:
		if (n->type != YAML_MAPPING_NODE) {
			perr(c, n, "%s: expected a mapping, found %s", what,
			    node_kind(n));
			break;
		}
		walk_map(c, n, what, k->sub, field);
		break;
	case K_WAVES:
		parse_waves(c, n, field);
		break;
	}
}

static void
walk_map(struct ctx *c, const yaml_node_t *map, const char *where,
    const struct key *keys, void *base)
{
	yaml_node_pair_t *pr;
	const struct key *k;

	for (pr = map->data.mapping.pairs.start;
	    pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		yaml_node_pair_t *dup;
		char *what;

		if (kn->type != YAML_SCALAR_NODE) {
			perr(c, kn, "%s: a key must be a string", where);
			continue;
		}
		for (dup = map->data.mapping.pairs.start; dup < pr; dup++) {
			yaml_node_t *dk = yaml_document_get_node(c->doc,
			    dup->key);

			if (dk->type == YAML_SCALAR_NODE &&
			    !strcmp(scalar(dk), scalar(kn)))
				break;
		}
		if (dup < pr) {
			perr(c, kn, "key '%s' given twice in %s", scalar(kn),
			    where);
			continue;
		}
		for (k = keys; k->name; k++)
			if (!strcmp(k->name, scalar(kn)))
				break;
		if (!k->name) {
			unknown_key(c, kn, where, keys);
			continue;
		}
		what = !strcmp(where, "the plan") ? xstrdup(k->name) :
		    xasprintf("%s.%s", where, k->name);
		parse_value(c, k, vn, what, base);
		free(what);
	}
}

#define W(f) offsetof(struct wave, f)
static const struct key wave_keys[] = {
	{ "name", K_STR, W(name), NULL, NULL },
	{ "accounts", K_LIST, W(accounts), NULL, NULL },
	{ "pattern", K_STR, W(pattern), NULL, NULL },
	{ "domain", K_STR, W(domain), NULL, NULL },
	{ "batch", K_INT, W(batch), NULL, "1" },
	{ NULL, 0, 0, NULL, NULL }
};

static void
parse_waves(struct ctx *c, const yaml_node_t *n, void *field)
{
	struct phases *ph = (struct phases *)((char *)field -
	    offsetof(struct phases, waves));
	yaml_node_item_t *it;
	size_t i;

	if (n->type != YAML_SEQUENCE_NODE) {
		perr(c, n, "phases.waves: expected a list of waves, found %s",
		    node_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		struct wave *w;
		char *where = xasprintf("phases.waves[%zu]", ph->nr_waves + 1);

		if (e->type != YAML_MAPPING_NODE) {
			perr(c, e, "%s: expected a mapping with a name, found"
			    " %s", where, node_kind(e));
			free(where);
			continue;
		}
		ph->waves = xreallocarray(ph->waves, ph->nr_waves + 1,
		    sizeof(*ph->waves));
		w = &ph->waves[ph->nr_waves++];
		memset(w, 0, sizeof(*w));
		w->pos = pos_of(e);
		walk_map(c, e, where, wave_keys, w);
		if (!w->name)
			perr(c, e, "%s: a wave needs a name", where);
		for (i = 0; w->name && i + 1 < ph->nr_waves; i++)
			if (ph->waves[i].name &&
			    !strcmp(ph->waves[i].name, w->name))
				perr(c, e, "%s: a second wave named '%s'",
				    where, w->name);
		if (w->name && (!strcmp(w->name, "pilot") ||
		    strpbrk(w->name, " \t\n/")))
			perr(c, e, "%s: '%s' cannot name a wave (not 'pilot',"
			    " no blanks or '/')", where, w->name);
		free(where);
	}
}

#define A(f) offsetof(struct auth, f)
static const struct key auth_keys[] = {
	{ "passwords", K_SECRET, A(passwords), NULL, NULL },
	{ "master_user", K_STR, A(master_user), NULL, NULL },
	{ "master_separator", K_STR, A(master_separator), NULL, NULL },
	{ "master_password", K_SECRET, A(master_password), NULL, NULL },
	{ "token", K_SECRET, A(token), NULL, NULL },
	{ "login", K_STR, A(login), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define S(f) offsetof(struct server, f)
static const struct key source_keys[] = {
	{ "imap", K_URL, S(imap), NULL, "imap imaps" },
	{ "dav", K_URL, S(dav), NULL, "http https" },
	{ "sieve", K_URL, S(sieve), NULL, "sieve" },
	{ "ca_file", K_PATH, S(ca_file), NULL, NULL },
	{ "insecure", K_BOOL, S(insecure), NULL, NULL },
	{ "allow_plaintext", K_BOOL, S(allow_plaintext), NULL, NULL },
	{ "compress", K_BOOL, S(compress), NULL, NULL },
	{ "auth", K_MAP, S(auth), auth_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct key destination_keys[] = {
	{ "jmap", K_URL, S(jmap), NULL, "http https" },
	{ "ca_file", K_PATH, S(ca_file), NULL, NULL },
	{ "insecure", K_BOOL, S(insecure), NULL, NULL },
	{ "auth", K_MAP, S(auth), auth_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define L(f) offsetof(struct limits, f)
static const struct key limits_keys[] = {
	{ "parallel_accounts", K_INT, L(parallel_accounts), NULL, "1" },
	{ "connections_per_source", K_INT, L(connections_per_source), NULL,
	    "1" },
	{ "connections_per_account", K_INT, L(connections_per_account), NULL,
	    "1" },
	{ "bytes_per_second", K_SIZE, L(bytes_per_second), NULL, "0" },
	{ "retries", K_INT, L(retries), NULL, "0" },
	{ "backoff_seconds", K_INT, L(backoff_seconds), NULL, "0" },
	{ "helper_timeout", K_INT, L(helper_timeout), NULL, "0" },
	{ NULL, 0, 0, NULL, NULL }
};

#define FO(f) offsetof(struct folders, f)
static const struct key folders_keys[] = {
	{ "include", K_LIST, FO(include), NULL, NULL },
	{ "exclude", K_LIST, FO(exclude), NULL, NULL },
	{ "skip_special_use", K_LIST, FO(skip_special_use), NULL, NULL },
	{ "subscribed_only", K_BOOL, FO(subscribed_only), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define PU(f) offsetof(struct pushopts, f)
static const struct key push_keys[] = {
	{ "verify_content", K_BOOL, PU(verify_content), NULL, NULL },
	{ "delete_removed", K_BOOL, PU(delete_removed), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define H(f) offsetof(struct hooks, f)
static const struct key hooks_keys[] = {
	{ "before_push", K_STR, H(before_push), NULL, NULL },
	{ "after_cutover", K_STR, H(after_cutover), NULL, NULL },
	{ "after_rollback", K_STR, H(after_rollback), NULL, NULL },
	{ "after_finalize", K_STR, H(after_finalize), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define AC(f) offsetof(struct accounts_src, f)
static const struct key accounts_keys[] = {
	{ "default_domain", K_STR, AC(default_domain), NULL, NULL },
	{ "list", K_LIST, AC(list), NULL, NULL },
	{ "csv", K_PATH, AC(csv), NULL, NULL },
	{ "passwd_file", K_PATH, AC(passwd_file), NULL, NULL },
	{ "command", K_STR, AC(command), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct key pilot_keys[] = {
	{ "accounts", K_LIST, offsetof(struct phase_pilot, accounts), NULL,
	    NULL },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct key delta_keys[] = {
	{ "passes", K_INT, offsetof(struct phase_delta, passes), NULL, "0" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct key no_keys[] = {
	{ NULL, 0, 0, NULL, NULL }
};

#define PH(f) offsetof(struct phases, f)
static const struct key phases_keys[] = {
	{ "assessment", K_PHASE, PH(assessment), no_keys, NULL },
	{ "pilot", K_PHASE, PH(pilot), pilot_keys, NULL },
	{ "waves", K_WAVES, PH(waves), NULL, NULL },
	{ "delta", K_PHASE, PH(delta), delta_keys, NULL },
	{ "finalize", K_PHASE, PH(finalize), no_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define P(f) offsetof(struct plan, f)
static const struct key plan_keys[] = {
	{ "name", K_STR, P(name), NULL, NULL },
	{ "state", K_PATH, P(state_dir), NULL, NULL },
	{ "mapping", K_PATH, P(mapping), NULL, NULL },
	{ "source", K_MAP, P(source), source_keys, NULL },
	{ "destination", K_MAP, P(destination), destination_keys, NULL },
	{ "limits", K_MAP, P(limits), limits_keys, NULL },
	{ "folders", K_MAP, P(folders), folders_keys, NULL },
	{ "push", K_MAP, P(push), push_keys, NULL },
	{ "hooks", K_MAP, P(hooks), hooks_keys, NULL },
	{ "accounts", K_MAP, P(accounts), accounts_keys, NULL },
	{ "phases", K_MAP, P(phases), phases_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

/* What no single key can tell. */
static void
check_plan(struct ctx *c, struct plan *p, const yaml_node_t *root)
{
	const struct auth *sa = &p->source.auth, *da = &p->destination.auth;

	if (!p->state_dir)
		perr(c, root, "the plan needs 'state', the directory of the"
		    " migration's state");
	if (!p->source.imap)
		perr(c, root, "the plan needs 'source.imap', the source's"
		    " IMAP URL");
	if (!p->destination.jmap)
		perr(c, root, "the plan needs 'destination.jmap', the"
		    " destination's JMAP URL");
	if (!p->accounts.list.nr && !p->accounts.csv &&
	    !p->accounts.passwd_file && !p->accounts.command)
		perr(c, root, "the plan needs accounts: 'accounts.list',"
		    " 'accounts.csv', 'accounts.passwd_file' or"
		    " 'accounts.command'");
	if (!p->phases.pilot.present && !p->phases.nr_waves &&
	    !p->phases.assessment.present && !p->phases.delta.present &&
	    !p->phases.finalize.present)
		perr(c, root, "the plan needs 'phases': at least one of"
		    " assessment, pilot, waves, delta, finalize");
	if (!!sa->master_user != (sa->master_password.kind != SECRET_NONE))
		perr(c, root, "source.auth: master_user and master_password"
		    " go together");
	if (!sa->master_user && sa->passwords.kind == SECRET_NONE)
		perr(c, root, "source.auth: give 'passwords' (per account)"
		    " or 'master_user' with 'master_password'");
	if (sa->token.kind != SECRET_NONE)
		perr(c, root, "source.auth.token: the source logs in over"
		    " IMAP, with passwords");
	if (da->master_user || da->master_password.kind != SECRET_NONE)
		perr(c, root, "destination.auth: JMAP logs in as each account"
		    " ('passwords') or with a 'token'");
	if (da->token.kind == SECRET_NONE &&
	    da->passwords.kind == SECRET_NONE &&
	    sa->passwords.kind == SECRET_NONE)
		perr(c, root, "destination.auth: give 'passwords' or 'token'"
		    " (or source.auth.passwords, which it then uses)");
	if (p->phases.pilot.present && !p->phases.pilot.accounts.nr)
		perr(c, root, "phases.pilot: name the pilot's accounts");
}

static void
defaults(struct plan *p)
{
	p->limits.parallel_accounts = 4;
	p->limits.connections_per_source = 16;
	p->limits.connections_per_account = 1;
	p->limits.retries = 3;
	p->limits.backoff_seconds = 30;
	p->limits.helper_timeout = 0;
	p->phases.delta.passes = 1;
}

int
plan_load(struct plan *p, const char *path, struct buf *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct buf text = BUF_INIT;
	struct ctx c = { path, NULL, &doc, err, 0 };
	char *copy, *real;

	memset(p, 0, sizeof(*p));
	defaults(p);
	p->file = xstrdup(path);
	if (file_read(path, &text, err) < 0)
		return -1;
	copy = xstrdup(path);
	real = realpath(dirname(copy), NULL);
	p->dir = real ? real : xstrdup(".");
	free(copy);
	c.dir = p->dir;
	p->text_len = text.len;
	p->text = buf_detach(&text, NULL);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)p->text,
	    p->text_len);
	if (!yaml_parser_load(&parser, &doc)) {
		buf_addf(err, "%s:%lu:%lu: %s%s%s\n", path,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.context ? parser.context : "",
		    parser.context ? ": " : "", parser.problem);
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		perr(&c, root, "a plan is a mapping of keys (name, state,"
		    " source, destination, accounts, phases, ...), found %s",
		    root ? node_kind(root) : "an empty file");
	else {
		walk_map(&c, root, "the plan", plan_keys, p);
		check_plan(&c, p, root);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!p->mapping && p->state_dir)
		p->mapping = xasprintf("%s/mapping.db", p->state_dir);
	if (!p->name) {
		char *b = xstrdup(path), *dot;

		p->name = xstrdup(basename(b));
		if ((dot = strrchr(p->name, '.')))
			*dot = '\0';
		free(b);
	}
	return c.errors ? -1 : 0;
}

static void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		free(l->v[i]);
	free(l->v);
	free(l->pos);
}

static void
server_free(struct server *s)
{
	free(s->imap);
	free(s->jmap);
	free(s->dav);
	free(s->sieve);
	free(s->ca_file);
	free(s->auth.passwords.value);
	free(s->auth.master_user);
	free(s->auth.master_separator);
	free(s->auth.master_password.value);
	free(s->auth.token.value);
	free(s->auth.login);
}

void
plan_free(struct plan *p)
{
	size_t i;

	free(p->file);
	free(p->dir);
	free(p->text);
	free(p->name);
	free(p->state_dir);
	free(p->mapping);
	server_free(&p->source);
	server_free(&p->destination);
	strlist_free(&p->folders.include);
	strlist_free(&p->folders.exclude);
	strlist_free(&p->folders.skip_special_use);
	free(p->hooks.before_push);
	free(p->hooks.after_cutover);
	free(p->hooks.after_rollback);
	free(p->hooks.after_finalize);
	free(p->accounts.default_domain);
	strlist_free(&p->accounts.list);
	free(p->accounts.csv);
	free(p->accounts.passwd_file);
	free(p->accounts.command);
	strlist_free(&p->phases.pilot.accounts);
	for (i = 0; i < p->phases.nr_waves; i++) {
		free(p->phases.waves[i].name);
		strlist_free(&p->phases.waves[i].accounts);
		free(p->phases.waves[i].pattern);
		free(p->phases.waves[i].domain);
	}
	free(p->phases.waves);
	memset(p, 0, sizeof(*p));
}
