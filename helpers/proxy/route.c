/*
 * route.c: which server holds an identifier.
 *
 * The routes file (when configured) is read with the configuration and
 * wins; then the mapping store, whose answers are cached for
 * limits.cache_ttl seconds.  A kick or an invalidate drops an entry at
 * once, so a flipped account never waits for its entry to age.  No
 * entry anywhere means the store's default route: the source until
 * finalize makes it the destination (no store: the source).  A store in
 * a database is followed instead (follow.c): its entries do not age.
 */
#include "compat.h"

#include <time.h>

#include "now.h"
#include "proxy.h"
#include "strhash.h"
#include "xalloc.h"

/* followed, entries go only when their rows change: this many at most */
#define CACHE_FOLLOWED_MAX	(1 << 20)

/*
 * A store followed (follow.c): 1 while it listens, 0 out of reach but
 * within limits.mapping_stale, -1 past it (err says so).
 */
static int
fresh(const struct proxy *px, struct buf *err)
{
	double out = now_seconds() - px->follow_lost;

	if (!px->follow_lost)
		return 1;
	/* to the fraction: whole seconds would allow one more */
	if (out <= (double)px->cf->limits.mapping_stale)
		return 0;
	buf_addf(err, "the mapping database has been out of reach for %.0fs,"
	    " longer than limits.mapping_stale", out);
	return -1;
}

static unsigned
hash(const char *s)
{
	return strhash(s) % CACHE_BUCKETS;
}

/* The entry of `id`, dropping the aged ones of its bucket on the way. */
static struct cache_entry **
cache_find(struct proxy *px, const char *id, time_t now)
{
	struct cache_entry **pp = &px->cache[hash(id)], *e;

	while ((e = *pp)) {
		/* followed, the cache is kept true: see follow.c */
		if (!px->follow && now - e->at >= px->cf->limits.cache_ttl) {
			*pp = e->next;
			free(e->id);
			free(e);
			px->nr_cache--;
			continue;
		}
		if (!strcmp(e->id, id))
			return pp;
		pp = &e->next;
	}
	return pp;
}

void
route_invalidate(struct proxy *px, const char *id)
{
	struct cache_entry **pp, *e;
	size_t i;

	for (i = 0; i < CACHE_BUCKETS; i++)
		for (pp = &px->cache[i]; (e = *pp); )
			if (!id || !strcasecmp(e->id, id)) {
				*pp = e->next;
				free(e->id);
				free(e);
				px->nr_cache--;
			} else
				pp = &e->next;
}

static int
file_route(const struct config *cf, const char *id, enum route *r)
{
	size_t lo = 0, hi = cf->nr_routes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(id, cf->routes[mid].id);

		if (!c) {
			*r = cf->routes[mid].route;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int
route_lookup(struct proxy *px, const char *id, enum route *r,
    struct buf *err)
{
	struct cache_entry **pp, *ce;
	time_t now = time(NULL);
	int found, up = 1;

	if (file_route(px->cf, id, r))
		return 0;
	if (px->follow && (up = fresh(px, err)) < 0)
		return -1;
	if (!px->map && (!px->cf->mapping || access(px->cf->mapping, F_OK) ||
	    mapping_open(&px->map, px->cf->mapping, 0, err) < 0)) {
		/* no store yet (nothing flipped) is no error */
		*r = ROUTE_SOURCE;
		return err->len ? -1 : 0;
	}
	pp = cache_find(px, id, now);
	if (*pp) {
		*r = (*pp)->route;
		return 0;
	}
	if (!up) {
		buf_adds(err, "the mapping database is out of reach, and its"
		    " route is not in the cache");
		return -1;
	}
	found = mapping_lookup(px->map, id, r, err);
	if (found == 1)		/* no row: the store's default route */
		found = mapping_default(px->map, r, err);
	if (found < 0)
		return -1;
	if ((px->follow && px->nr_cache < CACHE_FOLLOWED_MAX) ||
	    (!px->follow && px->cf->limits.cache_ttl > 0)) {
		ce = xcalloc(1, sizeof(*ce));
		ce->id = xstrdup(id);
		ce->route = *r;
		ce->at = now;
		*pp = ce;
		px->nr_cache++;
	}
	return 0;
}

time_t
route_delayed(struct proxy *px, const char *id)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < px->nr_delays; )
		if (px->delays[i].until <= now) {
			free(px->delays[i].id);
			px->delays[i] = px->delays[--px->nr_delays];
		} else if (!strcasecmp(px->delays[i].id, id))
			return px->delays[i].until;
		else
			i++;
	return 0;
}

void
route_delay(struct proxy *px, const char *id, time_t until)
{
	size_t i;

	for (i = 0; i < px->nr_delays; i++)
		if (!strcasecmp(px->delays[i].id, id)) {
			px->delays[i].until = until;
			if (!until) {	/* released: gone from the stats too */
				free(px->delays[i].id);
				px->delays[i] = px->delays[--px->nr_delays];
			}
			return;
		}
	if (!until)
		return;
	px->delays = xreallocarray(px->delays, px->nr_delays + 1,
	    sizeof(*px->delays));
	px->delays[px->nr_delays].id = xstrdup(id);
	px->delays[px->nr_delays++].until = until;
}
