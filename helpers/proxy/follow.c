/*
 * follow.c: a mapping store in PostgreSQL, which several proxies share,
 * followed (migrate-mapping(5)).
 *
 * The proxy listens on the store's channel.  Each new version names the
 * identifiers whose rows changed since the version it knew: their cached
 * routes go and their sessions are kicked, as the control socket's
 * "kick" does; map-flip --hold and --release announce the control
 * socket's own "kick" and "delay" lines.  While it listens, the cache is
 * kept true by these, so its entries do not age (limits.cache_ttl).
 *
 * When the connection is lost, the proxy tries again every second
 * without blocking and, for limits.mapping_stale seconds, routes from
 * its cache; an identifier with no entry gets a temporary failure rather
 * than a guess, since a row may have come meanwhile.  Back in touch, it
 * reads what changed while it was away.  A hold announced meanwhile is
 * lost: the flip that ends it is not.
 */
#include "compat.h"

#include <time.h>

#include "log.h"
#include "now.h"
#include "proxy.h"
#include "xalloc.h"

#define RETRY_SECONDS	1

struct follow {
	struct proxy *px;
	struct event *ev;	/* the socket: announcements, or connecting */
	struct event *retry;
	int64_t version;	/* the store's, as last read */
	enum route dflt;
	int connecting;
};

static void
kick_changed(void *arg, const char *id, enum route r)
{
	struct follow *f = arg;
	int n = session_kick(f->px, id);

	log_info("mapping: %s now goes to the %s; %d session%s closed", id,
	    route_name(r), n, n == 1 ? "" : "s");
}

/* Read what changed after the version known, and the default route. */
static int
catch_up(struct follow *f, struct buf *err)
{
	struct proxy *px = f->px;
	int64_t v = mapping_changes(px->map, f->version, kick_changed, f,
	    err);
	enum route dflt;

	if (v < 0 || mapping_default(px->map, &dflt, err) < 0)
		return -1;
	if (v < f->version || dflt != f->dflt) {
		/* a store made anew, or finalize's default */
		route_invalidate(px, NULL);
		log_info("mapping: version %" PRId64 ", default %s; cache"
		    " dropped", v, route_name(dflt));
	}
	f->version = v;
	f->dflt = dflt;
	return 0;
}

static void
lost(struct follow *f, const char *why)
{
	struct timeval tv = { RETRY_SECONDS, 0 };

	/* the staleness counts from the first loss, however many tries */
	if (!f->px->follow_lost) {
		log_warnx("%s; routing from the cache for at most %llds", why,
		    f->px->cf->limits.mapping_stale);
		f->px->follow_lost = now_seconds();
	} else
		log_debug("mapping: %s", why);
	if (f->ev)
		event_free(f->ev);
	f->ev = NULL;
	f->connecting = 0;
	evtimer_add(f->retry, &tv);
}

static void
heard(void *arg, const char *line)
{
	struct follow *f = arg;
	struct buf err = BUF_INIT;
	char id[256];
	long secs;

	if (!strncmp(line, "version ", 8)) {
		if (catch_up(f, &err) < 0)
			log_warnx("%s", err.buf);
	} else if (sscanf(line, "kick %255s", id) == 1 &&
	    !strchr(line + 5, ' '))
		session_kick(f->px, id);
	else if (sscanf(line, "delay %255s %ld", id, &secs) == 2 &&
	    secs >= 0 && secs <= 3600) {
		session_hold(f->px, id, secs);
		if (secs)
			log_info("mapping: logins of %s held for %lds", id,
			    secs);
		else
			log_info("mapping: logins of %s released", id);
	} else
		log_warnx("mapping: an announcement not understood: %.80s",
		    line);
	buf_release(&err);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct follow *f = arg;
	struct buf err = BUF_INIT;

	(void)fd;
	(void)what;
	if (mapping_heard(f->px->map, heard, f, &err) < 0)
		lost(f, err.buf);
	buf_release(&err);
}

/* Connected: listen, then read what changed while away. */
static int
listening(struct follow *f, struct buf *err)
{
	struct proxy *px = f->px;
	int fd = mapping_listen(px->map, err);

	if (fd < 0)
		return -1;
	if (f->version < 0) {	/* the first time: nothing to catch up */
		f->version = mapping_version(px->map);
		if (f->version < 0 ||
		    mapping_default(px->map, &f->dflt, err) < 0)
			return -1;
	} else if (catch_up(f, err) < 0)
		return -1;
	if (f->ev)
		event_free(f->ev);
	f->ev = event_new(px->base, fd, EV_READ | EV_PERSIST, on_read, f);
	event_add(f->ev, NULL);
	if (f->px->follow_lost)
		log_info("mapping: back in touch with the database after"
		    " %.0fs", now_seconds() - f->px->follow_lost);
	f->px->follow_lost = 0;
	return 0;
}

static void
on_connecting(evutil_socket_t fd, short what, void *arg)
{
	struct follow *f = arg;
	struct buf err = BUF_INIT;
	int rc;

	(void)what;
	rc = mapping_reconnect(f->px->map, !f->connecting, &fd, &err);
	f->connecting = 1;
	if (f->ev)
		event_free(f->ev);
	f->ev = NULL;
	if (rc == 0) {
		f->connecting = 0;
		if (listening(f, &err) < 0)
			lost(f, err.buf);
	} else if (rc > 0) {
		f->ev = event_new(f->px->base, fd, rc == 1 ? EV_READ :
		    EV_WRITE, on_connecting, f);
		event_add(f->ev, NULL);
	} else {
		struct timeval tv = { RETRY_SECONDS, 0 };

		f->connecting = 0;
		log_debug("mapping: %s", err.buf);
		evtimer_add(f->retry, &tv);
	}
	buf_release(&err);
}

int
follow_start(struct proxy *px, struct buf *err)
{
	struct follow *f = xcalloc(1, sizeof(*f));
	struct buf why = BUF_INIT;

	f->px = px;
	f->version = -1;
	f->retry = evtimer_new(px->base, on_connecting, f);
	px->follow = f;
	if (mapping_open(&px->map, px->cf->mapping, MAPPING_FOLLOW, &why) <
	    0) {
		buf_add(err, why.buf, why.len);
		buf_release(&why);
		return -1;
	}
	if (why.len || listening(f, &why) < 0)
		lost(f, why.buf);
	buf_release(&why);
	return 0;
}

void
follow_stop(struct proxy *px)
{
	struct follow *f = px->follow;

	if (!f)
		return;
	if (f->ev)
		event_free(f->ev);
	event_free(f->retry);
	free(f);
	px->follow = NULL;
	px->follow_lost = 0;
}
