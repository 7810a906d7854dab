/*
 * yconf.c: read YAML configuration files against key tables (yconf.h).
 */
#include "compat.h"

#include <libgen.h>

#include "buf.h"
#include "fileio.h"
#include "xalloc.h"
#include "yconf.h"

static void
verr(struct yconf *c, struct pos at, const char *fmt, va_list ap)
{
	buf_addf(c->err, "%s:%d:%d: ", c->file, at.line, at.col);
	buf_vaddf(c->err, fmt, ap);
	buf_addch(c->err, '\n');
	c->errors++;
}

void
yconf_err(struct yconf *c, const yaml_node_t *n, const char *fmt, ...)
{
	struct pos top = { 1, 1 };
	va_list ap;

	va_start(ap, fmt);
	verr(c, n ? yconf_pos(n) : top, fmt, ap);
	va_end(ap);
}

void
yconf_err_at(struct yconf *c, struct pos at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, at, fmt, ap);
	va_end(ap);
}

const char *
yconf_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

const char *
yconf_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

int
yconf_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = yconf_scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null");
}

struct pos
yconf_pos(const yaml_node_t *n)
{
	struct pos p = { (int)n->start_mark.line + 1,
	    (int)n->start_mark.column + 1 };

	return p;
}

const yaml_node_t *
yconf_get(struct yconf *c, const yaml_node_t *map, const char *path)
{
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	yaml_node_pair_t *pr;
	yaml_node_t *k;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = map->data.mapping.pairs.start;
	    pr < map->data.mapping.pairs.top; pr++) {
		k = yaml_document_get_node(c->doc, pr->key);
		if (k->type != YAML_SCALAR_NODE ||
		    strlen(yconf_scalar(k)) != len ||
		    strncmp(yconf_scalar(k), path, len))
			continue;
		map = yaml_document_get_node(c->doc, pr->value);
		return dot ? yconf_get(c, map, dot + 1) : map;
	}
	return NULL;
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
unknown_key(struct yconf *c, const yaml_node_t *kn, const char *where,
    const struct ykey *keys)
{
	const struct ykey *k, *best = NULL;
	size_t d, bestd = (size_t)-1;
	struct buf names = BUF_INIT;

	for (k = keys; k->name; k++) {
		d = distance(yconf_scalar(kn), k->name);
		if (d < bestd)
			bestd = d, best = k;
		buf_addf(&names, "%s%s", names.len ? ", " : "", k->name);
	}
	if (best && bestd <= 2 + strlen(best->name) / 5)
		yconf_err(c, kn, "unknown key '%s' in %s (did you mean '%s'?)",
		    yconf_scalar(kn), where, best->name);
	else
		yconf_err(c, kn, "unknown key '%s' in %s; expected one of: %s",
		    yconf_scalar(kn), where, names.buf);
	buf_release(&names);
}

char *
yconf_string(struct yconf *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || yconf_is_null(n)) {
		yconf_err(c, n, "%s: expected a string, found %s", what,
		    yconf_is_null(n) ? "nothing" : yconf_kind(n));
		return NULL;
	}
	return xstrdup(yconf_scalar(n));
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

char *
yconf_absolute(struct yconf *c, const char *path)
{
	return path[0] == '/' ? xstrdup(path) :
	    xasprintf("%s/%s", c->dir, path);
}

static void
parse_list(struct yconf *c, const yaml_node_t *n, const char *what,
    struct strlist *l)
{
	yaml_node_item_t *it;

	if (n->type == YAML_SCALAR_NODE && !yconf_is_null(n)) {
		l->v = xreallocarray(l->v, l->nr + 1, sizeof(*l->v));
		l->pos = xreallocarray(l->pos, l->nr + 1, sizeof(*l->pos));
		l->pos[l->nr] = yconf_pos(n);
		l->v[l->nr++] = xstrdup(yconf_scalar(n));
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		yconf_err(c, n, "%s: expected a string or a list of strings, found %s",
		    what, yconf_is_null(n) ? "nothing" : yconf_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		if (e->type != YAML_SCALAR_NODE || yconf_is_null(e))
			yconf_err(c, e, "%s: expected a string, found %s", what,
			    yconf_is_null(e) ? "nothing" : yconf_kind(e));
		else
			parse_list(c, e, what, l);
	}
}

/* "scheme://user[:password]@host...": a credential in the URL. */
static int
url_has_userinfo(const char *url)
{
	const char *a = strstr(url, "://");

	return a && memchr(a + 3, '@', strcspn(a + 3, "/?#")) != NULL;
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

/* A password in a URL: in its user part, or as a parameter (libpq's). */
static int
url_has_password(const char *url)
{
	const char *a = strstr(url, "://"), *q;
	size_t n;

	if (!a)
		return 0;
	a += 3;
	n = strcspn(a, "/?#");
	if (memchr(a, '@', n) && memchr(a, ':', (const char *)memchr(a, '@',
	    n) - a))
		return 1;
	q = strchr(a, '?');
	return q && (strstr(q, "?password=") || strstr(q, "&password="));
}

/* A path, or a URL of one of k->arg's schemes (see K_PATH). */
static char *
path_or_url(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, char *s)
{
	if (!k->arg || !strstr(s, "://") || !url_ok(s, k->arg)) {
		char *abs = yconf_absolute(c, s);

		free(s);
		return abs;
	}
	if (url_has_password(s)) {
		yconf_err(c, n, "%s: a URL with a password in it is refused,"
		    " since the file is kept and shown; the password goes in"
		    " a password file (PGPASSFILE)", what);
		free(s);
		return NULL;
	}
	return s;
}

static void
parse_value(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *base)
{
	void *field = (char *)base + k->off;
	long long v;
	char *s;

	switch (k->kind) {
	case K_STR:
	case K_PATH:
	case K_URL:
		if (!(s = yconf_string(c, n, what)))
			break;
		if (k->kind == K_URL && url_has_userinfo(s)) {
			yconf_err(c, n, "%s: a URL with a user or password in"
			    " it is refused, since the file is kept and shown;"
			    " give the credential where the file says secrets go",
			    what);
			free(s);
			break;
		}
		if (k->kind == K_URL && !url_ok(s, k->arg)) {
			yconf_err(c, n, "%s: expected a URL (%s), found '%s'", what,
			    k->arg, s);
			free(s);
			break;
		}
		if (k->kind == K_PATH && !(s = path_or_url(c, k, n, what, s)))
			break;
		free(*(char **)field);
		*(char **)field = s;
		break;
	case K_INT:
	case K_SIZE:
		if (n->type != YAML_SCALAR_NODE || parse_int(yconf_scalar(n), &v,
		    k->kind == K_SIZE) < 0) {
			yconf_err(c, n, "%s: expected %s, found %s%s%s", what,
			    k->kind == K_SIZE ? "a size (like 100M)" :
			    "an integer", n->type == YAML_SCALAR_NODE ? "'" : "",
			    n->type == YAML_SCALAR_NODE ? yconf_scalar(n) :
			    yconf_kind(n), n->type == YAML_SCALAR_NODE ? "'" :
			    "");
			break;
		}
		if (k->arg && v < atoll(k->arg)) {
			yconf_err(c, n, "%s: expected at least %s, found %lld", what,
			    k->arg, v);
			break;
		}
		*(long long *)field = v;
		break;
	case K_BOOL:
		if (n->type == YAML_SCALAR_NODE && (!strcmp(yconf_scalar(n), "true") ||
		    !strcmp(yconf_scalar(n), "yes")))
			*(int *)field = 1;
		else if (n->type == YAML_SCALAR_NODE &&
		    (!strcmp(yconf_scalar(n), "false") || !strcmp(yconf_scalar(n), "no")))
			*(int *)field = 0;
		else
			yconf_err(c, n, "%s: expected true or false, found %s%s%s",
			    what, n->type == YAML_SCALAR_NODE ? "'" : "",
			    n->type == YAML_SCALAR_NODE ? yconf_scalar(n) :
			    yconf_kind(n), n->type == YAML_SCALAR_NODE ? "'" :
			    "");
		break;
	case K_LIST:
		parse_list(c, n, what, field);
		break;
	case K_MAP:
		if (n->type != YAML_MAPPING_NODE) {
			yconf_err(c, n, "%s: expected a mapping, found %s", what,
			    yconf_kind(n));
			break;
		}
		yconf_walk(c, n, what, k->sub, field);
		break;
	case K_FUNC:
		k->fn(c, k, n, what, field);
		break;
	}
}

void
yconf_walk(struct yconf *c, const yaml_node_t *map, const char *where,
    const struct ykey *keys, void *base)
{
	yaml_node_pair_t *pr;
	const struct ykey *k;

	for (pr = map->data.mapping.pairs.start;
	    pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		yaml_node_pair_t *dup;
		char *what;

		if (kn->type != YAML_SCALAR_NODE) {
			yconf_err(c, kn, "%s: a key must be a string", where);
			continue;
		}
		for (dup = map->data.mapping.pairs.start; dup < pr; dup++) {
			yaml_node_t *dk = yaml_document_get_node(c->doc,
			    dup->key);

			if (dk->type == YAML_SCALAR_NODE &&
			    !strcmp(yconf_scalar(dk), yconf_scalar(kn)))
				break;
		}
		if (dup < pr) {
			yconf_err(c, kn, "key '%s' given twice in %s", yconf_scalar(kn),
			    where);
			continue;
		}
		for (k = keys; k->name; k++)
			if (!strcmp(k->name, yconf_scalar(kn)))
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


/*
 * Whether the text nests mappings and sequences deeper than YCONF_DEPTH
 * (said in `err`): libyaml's document loader takes quadratic time on
 * deep nesting, and no configuration needs it.  One pass over the
 * events, which costs little; a syntax error is left to the loader.
 */
static int
too_deep(const char *path, const char *text, size_t len, struct buf *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, deep = 0, done = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	while (!done && !deep && yaml_parser_parse(&parser, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > YCONF_DEPTH) {
				deep = 1;
				buf_addf(err, "%s:%lu:%lu: nested deeper than %d"
				    " levels\n", path,
				    (unsigned long)ev.start_mark.line + 1,
				    (unsigned long)ev.start_mark.column + 1,
				    YCONF_DEPTH);
			}
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return deep;
}

int
yconf_load(const char *path, yaml_document_t *doc, char **text, size_t *len,
    struct buf *err)
{
	yaml_parser_t parser;
	struct buf b = BUF_INIT;
	int ret = 0;

	*text = NULL;
	*len = 0;
	if (file_read(path, &b, err) < 0)
		return -1;
	*len = b.len;
	*text = buf_detach(&b, NULL);
	if (too_deep(path, *text, *len, err))
		return -1;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)*text,
	    *len);
	if (!yaml_parser_load(&parser, doc)) {
		buf_addf(err, "%s:%lu:%lu: %s%s%s\n", path,
		    (unsigned long)parser.problem_mark.line + 1,
		    (unsigned long)parser.problem_mark.column + 1,
		    parser.context ? parser.context : "",
		    parser.context ? ": " : "", parser.problem);
		ret = -1;
	}
	yaml_parser_delete(&parser);
	return ret;
}
