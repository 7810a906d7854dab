/*
 * linger.c: a client's socket closes the way nginx's lingering_close
 * closes one.  close(2) on a socket with unread bytes sends a reset, and
 * a reset can overtake what was sent last (a BYE, the end of a FETCH):
 * the client then sees "connection reset" where it should have read the
 * end.  So the proxy only shuts its side (a FIN after what is queued),
 * reads and drops what the client still sends, and closes when the
 * client closes too, or after LINGER_SECONDS, whichever comes first.
 */
#include "compat.h"

#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "proxy.h"
#include "xalloc.h"

#define LINGER_SECONDS	2
#define LINGER_MAX	1024	/* sockets at once; then they just close */

struct closing {
	struct proxy *px;
	struct event *ev;
	time_t until;		/* a client that sends on is cut off */
};

static void
linger_end(struct closing *lg)
{
	close(event_get_fd(lg->ev));
	event_free(lg->ev);
	lg->px->nr_linger--;
	free(lg);
}

static void
linger_read(evutil_socket_t fd, short what, void *arg)
{
	static char drop[16384];
	struct closing *lg = arg;
	struct timespec now;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((what & EV_TIMEOUT) || now.tv_sec >= lg->until) {
		linger_end(lg);
		return;
	}
	while ((n = read(fd, drop, sizeof(drop))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		linger_end(lg);
}

/*
 * Close fd, the client's side of a session, once what was written to it
 * is on its way.  fd is the proxy's to close from now on.
 */
void
linger_close(struct proxy *px, int fd)
{
	struct timeval tv = { LINGER_SECONDS, 0 };
	struct timespec now;
	struct closing *lg;

	if (px->nr_linger >= LINGER_MAX || px->stopping ||
	    shutdown(fd, SHUT_WR) < 0) {
		close(fd);
		return;
	}
	lg = xcalloc(1, sizeof(*lg));
	lg->px = px;
	clock_gettime(CLOCK_MONOTONIC, &now);
	lg->until = now.tv_sec + LINGER_SECONDS;
	lg->ev = event_new(px->base, fd, EV_READ | EV_PERSIST, linger_read,
	    lg);
	px->nr_linger++;
	event_add(lg->ev, &tv);
}
