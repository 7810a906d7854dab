/*
 * yconf.h: read a YAML configuration file against tables of the keys each
 * mapping may hold, with libyaml's document API.
 *
 * Every unknown key is an error with a "did you mean", every value of the
 * wrong type says what was expected, a key given twice is an error, and
 * all errors come at once, each as "file:line:column: message".
 */
#ifndef MIGRATE_YCONF_H
#define MIGRATE_YCONF_H

#include <stddef.h>

#include <yaml.h>

#include "strlist.h"

struct buf;


struct yconf {
	const char *file;
	const char *dir;	/* relative paths are relative to it */
	yaml_document_t *doc;
	struct buf *err;
	int errors;
};

struct ykey;

/* A value the caller parses itself (K_FUNC). */
typedef void ykey_fn(struct yconf *c, const struct ykey *k,
    const yaml_node_t *n, const char *what, void *field);

enum ykind {
	K_STR,		/* char * */
	K_PATH,		/* char *, made absolute against the file's directory;
			 * or a URL with one of the schemes in `arg`, kept */
	K_URL,		/* char *, with one of the schemes in `arg` */
	K_INT,		/* long long, at least `arg` when given */
	K_BOOL,		/* int */
	K_SIZE,		/* long long: an integer, or with k, M or G */
	K_LIST,		/* struct strlist: one string or a sequence */
	K_MAP,		/* a mapping with the keys of `sub` */
	K_FUNC,		/* `fn` parses it */
};

struct ykey {
	const char *name;
	enum ykind kind;
	size_t off;		/* of the field in the struct walked */
	const struct ykey *sub;	/* K_MAP (and K_FUNC's own use) */
	const char *arg;	/* K_URL: "imap imaps"; K_INT: minimum */
				/* K_PATH: schemes of URLs taken too */
	ykey_fn *fn;		/* K_FUNC */
};

/* How deep mappings and sequences may nest. */
#define YCONF_DEPTH	64

/*
 * Read and parse `path` into `doc` (its text into `text`, which the caller
 * frees).  On a syntax error, or nesting deeper than YCONF_DEPTH, returns
 * -1 with the error in `err`.
 */
int yconf_load(const char *path, yaml_document_t *doc, char **text,
    size_t *len, struct buf *err);

/* Walk the mapping `map` (named `where` in errors) into `base`. */
void yconf_walk(struct yconf *c, const yaml_node_t *map, const char *where,
    const struct ykey *keys, void *base);

/* One error at node `n` (NULL: the top of the file). */
void yconf_err(struct yconf *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One error at a position kept from reading (line 0: the top). */
void yconf_err_at(struct yconf *c, struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *yconf_kind(const yaml_node_t *n);
const char *yconf_scalar(const yaml_node_t *n);
int yconf_is_null(const yaml_node_t *n);
struct pos yconf_pos(const yaml_node_t *n);

/* The value at the dotted `path` ("destination.jmap") below mapping
 * `map`, or NULL. */
const yaml_node_t *yconf_get(struct yconf *c, const yaml_node_t *map,
    const char *path);

/* A non-empty scalar, copied; NULL (and an error) otherwise. */
char *yconf_string(struct yconf *c, const yaml_node_t *n, const char *what);

/* `path` made absolute against the file's directory. */
char *yconf_absolute(struct yconf *c, const char *path);

/* Append a copy of `s`, with no position. */

#endif
