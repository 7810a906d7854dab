/*
 * keywords.h: IMAP flags and JMAP keywords, one to the other.
 */
#ifndef MIGRATE_KEYWORDS_H
#define MIGRATE_KEYWORDS_H

#include <jansson.h>

/* The keys of a JSON set (keywords, mailboxIds), lower case, sorted, one
 * space, without the computed $has... ones (caller frees). */
char *kw_of_set(json_t *set);
/* IMAP flags (a list) as the keywords they are at the destination:
 * \Seen as $seen and so on; other system flags left out. */
char *kw_from_flags(const char *flags);
/* Keywords (a list) back to IMAP flags; a keyword that `was` (the flags
 * a message has now, may be NULL) holds in another case keeps that case;
 * one that is not an IMAP atom is left out. */
char *kw_to_flags(const char *keywords, const char *was);

#endif
