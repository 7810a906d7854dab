/*
 * fastpath.c: SPLICE in clear.  When neither side speaks TLS, SPLICE
 * drops the bufferevents and moves bytes itself with read(2) into one
 * buffer shared by all sessions and write(2) straight out; only what a
 * peer does not take at once is queued (and its other side then not
 * read).  Half the system calls of bufferevents, and no memory held per
 * session while the sessions idle.  A session with a filter (POP3's ids)
 * has it move each read, through a buffer of the side's own.
 */
#include "compat.h"

#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy.h"
#include "xalloc.h"

struct fastpath {
	int fd[2];			/* 0 the client, 1 the backend */
	struct event *rd[2], *wr[2];
	struct evbuffer *pend[2];	/* queued for fd[i] */
	struct evbuffer *stage[2];	/* read from fd[i], for the filter */
	const struct fast_ops *ops;
};

static char fast_buf[SPLICE_HIGH];

void
fast_touch(struct session *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last_io = now.tv_sec;
}

/* What side `i` read goes through the session's filter to the other. */
static void
fast_filter(struct session *s, int i, const char *p, size_t n)
{
	struct fastpath *fp = s->fp;
	int o = !i;
	size_t queued = evbuffer_get_length(fp->pend[o]);

	evbuffer_add(fp->stage[i], p, n);
	s->filter(s, i, fp->stage[i], fp->pend[o]);
	if (!queued && evbuffer_get_length(fp->pend[o]) &&
	    evbuffer_write(fp->pend[o], fp->fd[o]) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		fp->ops->closed(s, o);
		return;
	}
	if (evbuffer_get_length(fp->pend[o])) {
		event_add(fp->wr[o], NULL);
		if (evbuffer_get_length(fp->pend[o]) >= SPLICE_HIGH)
			event_del(fp->rd[i]);
	}
}

static void
fast_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct fastpath *fp = s->fp;
	int i = fd == fp->fd[0] ? 0 : 1, o = !i;
	ssize_t n, w = 0;

	n = read(fd, fast_buf, sizeof(fast_buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fp->ops->closed(s, i);
		return;
	}
	if (i == 0) {
		s->in += n;
		fp->ops->client_bytes(s, fast_buf, n);
	} else
		s->out += n;
	fast_touch(s);
	if (s->filter) {
		fast_filter(s, i, fast_buf, n);
		return;
	}
	if (!evbuffer_get_length(fp->pend[o])) {
		w = write(fp->fd[o], fast_buf, n);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fp->ops->closed(s, o);
			return;
		}
		if (w < 0)
			w = 0;
	}
	if (w < n) {
		evbuffer_add(fp->pend[o], fast_buf + w, n - w);
		event_add(fp->wr[o], NULL);
		if (evbuffer_get_length(fp->pend[o]) >= SPLICE_HIGH)
			event_del(fp->rd[i]);
	}
}

static void
fast_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct fastpath *fp = s->fp;
	int o = fd == fp->fd[0] ? 0 : 1;

	if (evbuffer_write(fp->pend[o], fd) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		evbuffer_drain(fp->pend[o], evbuffer_get_length(fp->pend[o]));
		fp->ops->closed(s, o);
		return;
	}
	if (evbuffer_get_length(fp->pend[o]))
		return;
	event_del(fp->wr[o]);
	if (s->state == SS_CLOSING)
		fp->ops->drained(s);
	else
		event_add(fp->rd[!o], NULL);
}

/* Take over the sockets from the bufferevents, with what they hold. */
void
fast_start(struct session *s, const struct fast_ops *ops)
{
	struct fastpath *fp = xcalloc(1, sizeof(*fp));
	struct bufferevent *bev[2] = { s->c, s->b };
	int i;

	s->fp = fp;
	fp->ops = ops;
	fast_touch(s);
	for (i = 0; i < 2; i++) {
		/* a bufferevent keeps ends of its buffers frozen */
		evbuffer_unfreeze(bufferevent_get_input(bev[i]), 0);
		evbuffer_unfreeze(bufferevent_get_input(bev[i]), 1);
		evbuffer_unfreeze(bufferevent_get_output(bev[i]), 0);
		evbuffer_unfreeze(bufferevent_get_output(bev[i]), 1);
		fp->fd[i] = bufferevent_getfd(bev[i]);
		fp->pend[i] = evbuffer_new();
		fp->stage[i] = evbuffer_new();
		evbuffer_add_buffer(fp->pend[i],
		    bufferevent_get_output(bev[i]));
	}
	/* read but not yet moved: for the other side */
	s->in += evbuffer_get_length(bufferevent_get_input(s->c));
	s->out += evbuffer_get_length(bufferevent_get_input(s->b));
	if (s->filter) {
		evbuffer_add_buffer(fp->stage[0], bufferevent_get_input(s->c));
		s->filter(s, 0, fp->stage[0], fp->pend[1]);
		evbuffer_add_buffer(fp->stage[1], bufferevent_get_input(s->b));
		s->filter(s, 1, fp->stage[1], fp->pend[0]);
	} else {
		evbuffer_add_buffer(fp->pend[1], bufferevent_get_input(s->c));
		evbuffer_add_buffer(fp->pend[0], bufferevent_get_input(s->b));
	}
	for (i = 0; i < 2; i++) {
		bufferevent_setfd(bev[i], -1);
		bufferevent_free(bev[i]);
		fp->rd[i] = event_new(s->px->base, fp->fd[i],
		    EV_READ | EV_PERSIST, fast_read, s);
		fp->wr[i] = event_new(s->px->base, fp->fd[i],
		    EV_WRITE | EV_PERSIST, fast_write, s);
	}
	s->c = s->b = NULL;
	for (i = 0; i < 2; i++) {
		if (evbuffer_get_length(fp->pend[i]))
			event_add(fp->wr[i], NULL);
		else
			event_add(fp->rd[!i], NULL);
	}
}

void
fast_free(struct session *s)
{
	struct fastpath *fp = s->fp;
	int i;

	for (i = 0; i < 2; i++) {
		event_free(fp->rd[i]);
		event_free(fp->wr[i]);
		evbuffer_free(fp->pend[i]);
		evbuffer_free(fp->stage[i]);
		close(fp->fd[i]);
	}
	free(fp);
	s->fp = NULL;
}

size_t
fast_pending(const struct session *s)
{
	return evbuffer_get_length(s->fp->pend[0]) +
	    evbuffer_get_length(s->fp->pend[1]);
}

void
fast_stop_reading(struct session *s)
{
	event_del(s->fp->rd[0]);
	event_del(s->fp->rd[1]);
}
