/*
 * keywords.c: IMAP flags and JMAP keywords (RFC 8621, section 4.1.1),
 * one to the other, in the archive's list form (arc_flags_join(): sorted,
 * each once, one space).  Keywords are compared lower case; the ones a
 * server computes itself ($hasattachment and the like) are left out.
 */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "arcindex.h"
#include "keywords.h"
#include "xalloc.h"

static const struct {
	const char *flag, *keyword;
} sys_flags[] = {
	{ "\\Seen", "$seen" }, { "\\Flagged", "$flagged" },
	{ "\\Answered", "$answered" }, { "\\Draft", "$draft" },
};

/* Keywords gathered lower case, then joined in the list form. */
struct kwlist {
	char *v[256];
	size_t n;
};

static void
kw_add(struct kwlist *l, const char *word)
{
	char *p;

	if (l->n == ARRAY_SIZE(l->v))
		return;
	l->v[l->n] = xstrdup(word);
	for (p = l->v[l->n]; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	l->n++;
}

static char *
kw_join(struct kwlist *l)
{
	char *out = arc_flags_join((const char **)l->v, l->n);
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	return out;
}

/* The keys of a JSON set, lower case, sorted, one space (caller frees). */
char *
kw_of_set(json_t *set)
{
	struct kwlist l = { { NULL }, 0 };
	const char *k;
	json_t *x;

	json_object_foreach(set, k, x)
		/* keywords the destination computes itself ($hasattachment) */
		if (strncasecmp(k, "$has", 4))
			kw_add(&l, k);
	return kw_join(&l);
}

/* IMAP flags to the keywords they are at the destination. */
char *
kw_from_flags(const char *flags)
{
	struct kwlist l = { { NULL }, 0 };
	char *s = xstrdup(flags), *w, *save = NULL, *out;
	size_t i;

	for (w = strtok_r(s, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		const char *kw = NULL;

		if (*w == '\\') {
			for (i = 0; i < ARRAY_SIZE(sys_flags); i++)
				if (!strcasecmp(w, sys_flags[i].flag))
					kw = sys_flags[i].keyword;
			if (!kw)
				continue;
		} else if (!strncasecmp(w, "$has", 4))
			continue;
		kw_add(&l, kw ? kw : w);
	}
	out = kw_join(&l);
	free(s);
	return out;
}

/*
 * Keywords back to IMAP flags, a keyword in the case the source spells it
 * in `was` (its flags now) when it has it.
 */
char *
kw_to_flags(const char *keywords, const char *was)
{
	char *s = xstrdup(keywords), *w, *save = NULL, *out;
	char *mine[256];
	const char *v[256];
	size_t n = 0, i, len;

	for (w = strtok_r(s, " ", &save); w && n < ARRAY_SIZE(v);
	    w = strtok_r(NULL, " ", &save)) {
		const char *f = NULL, *p;

		for (i = 0; i < ARRAY_SIZE(sys_flags); i++)
			if (!strcmp(w, sys_flags[i].keyword))
				f = sys_flags[i].flag;
		if (!f && strpbrk(w, "(){%*\"\\]"))
			continue;	/* not an IMAP atom */
		len = strlen(w);
		for (p = was; !f && p && *p; p += strcspn(p, " "),
		    p += *p == ' ')
			if (strcspn(p, " ") == len && !strncasecmp(p, w, len))
				f = p;
		mine[n] = f ? xstrndup(f, f == w ? len : strcspn(f, " ")) :
		    xstrdup(w);
		v[n] = mine[n];
		n++;
	}
	out = arc_flags_join(v, n);
	for (i = 0; i < n; i++)
		free(mine[i]);
	free(s);
	return out;
}
