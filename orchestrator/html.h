/*
 * html.h: what the pages of `migrate report` and `migrate serve` are made
 * of (html.c): escaped text, numbers and sizes from JSON rows, tables,
 * cards, SVG bar charts, and a page's head with its style.
 */
#ifndef MIGRATE_HTML_H
#define MIGRATE_HTML_H

#include <jansson.h>

struct buf;

/* Whether names link to their pages: on for migrate serve, off for a
 * page that stands alone. */
void html_links(int on);
int html_linking(void);

/* `s` escaped for text and attribute values. */
void html_esc(struct buf *b, const char *s);
/* `s` percent-encoded for a path segment. */
void html_url(struct buf *b, const char *s);
/* `name` as a link to its account page when linking, else as text. */
void html_account(struct buf *b, const char *name);

/* A row's string ("" when missing) and integer (0 when missing). */
const char *jstr(const json_t *o, const char *k);
json_int_t jnum(const json_t *o, const char *k);

/* A size as people read it; a time in the local zone with strftime's
 * `fmt`. */
void html_bytes(struct buf *b, double n);
void html_when(struct buf *b, double t, const char *fmt);

/* A bar chart of `n` values with a label under each, `w` wide; `unit`
 * "bytes" or a word for the values. */
void html_bars(struct buf *b, const char *title, size_t n, const double *v,
    char (*label)[24], const char *unit, int w);

/* The same with `g` parts in each bar, stacked, part j in the style's
 * colour sJ and named names[j] in a legend. */
#define HTML_PARTS	5
void html_stacked(struct buf *b, const char *title, size_t n,
    const double (*v)[HTML_PARTS], size_t g, const char *const *names,
    char (*label)[24], int w);

/*
 * A column of a table: its heading, the row's member it shows, as what,
 * and a class for its cells (or NULL).  C_ACCOUNT is an account's name,
 * linked to its page; C_ACCOUNTS names separated by blanks, the first
 * ten of as many as the row's member `total` says.
 */
enum col_kind { C_TEXT, C_NUM, C_BYTES, C_ACCOUNT, C_ACCOUNTS };
struct col {
	const char *head, *key;
	enum col_kind kind;
	const char *cls;
	const char *total;	/* C_ACCOUNTS */
};

/* `rows` as a table with the columns `c`; `empty` said instead when
 * there is none. */
void html_table(struct buf *b, const char *id, const struct col *c,
    size_t nc, const json_t *rows, const char *empty);

/* A figure in a box: `value` big, `what` under it; `key` names it for
 * tests and scripts (data-k). */
void html_card(struct buf *b, const char *key, const char *what,
    const char *value);

/* The page up to its body's first heading, `title` (and the h1), with a
 * reload every `refresh` seconds unless 0; and its end. */
void html_head(struct buf *b, const char *title, int refresh);
void html_foot(struct buf *b);

#endif
