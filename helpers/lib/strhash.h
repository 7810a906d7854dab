/*
 * strhash.h: a string's FNV-1a hash, for the small hash tables of
 * chains (the proxy's route cache, the assessment's POP3 users).
 */
#ifndef MIGRATE_STRHASH_H
#define MIGRATE_STRHASH_H

static inline unsigned
strhash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
