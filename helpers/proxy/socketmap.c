/*
 * socketmap.c: split delivery.  The source's MX asks, recipient by
 * recipient, where an account's mail goes: Postfix's socketmap protocol
 * (socketmap_table(5)), netstrings of "map key" in, "OK transport",
 * "NOTFOUND " or "TEMP reason" out, over one connection it keeps.
 *
 * The map "transport" (transport_maps): an account the mapping sends to
 * the destination gets the listener's `destination` transport, any other
 * NOTFOUND (or `source`), and the MX delivers it as before.  The map
 * "access" (check_recipient_access, at RCPT): NOTFOUND, or TEMP while the
 * account's logins are held for its cutover, so that the sender retries
 * after the flip.  A lookup that fails is TEMP in both: mail waits, it is
 * never misrouted.  (The transport map never says TEMP for a hold:
 * Postfix's SMTP server keeps a failed resolve for as long as the
 * process lives, so the account would be refused after the hold too.)
 */
#include "compat.h"

#include <ctype.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"
#include "proxy.h"
#include "xalloc.h"

#define NETSTRING_MAX	10000	/* an address is far shorter */

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	char text[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = snprintf(text, sizeof(text), "TEMP reply too long");
	session_write(s, "%d:%s,", n, text);
}

/* The answer for one recipient address in map `map`. */
static void
lookup(struct session *s, const char *map, const char *key)
{
	struct buf err = BUF_INIT;
	enum route r;
	const char *at = strchr(key, '@');
	char *id;
	size_t i;

	/* a domain, "@domain" or a user with an extension: Postfix asks
	 * again with the address itself */
	if (!at || at == key || !at[1] || strchr(key, ' ')) {
		reply(s, "NOTFOUND ");
		return;
	}
	id = sasl_route_id(s->cf, key);
	if (!strcmp(map, "access") && route_delayed(s->px, id) > time(NULL)) {
		reply(s, "TEMP %s is being moved; its mail waits", id);
		log_info("socketmap: %s: held (TEMP)", id);
	} else if (route_lookup(s->px, id, &r, &err) < 0) {
		for (i = 0; i < err.len; i++)
			if (!isprint((unsigned char)err.buf[i]) || err.buf[i] ==
			    ',')
				err.buf[i] = ' ';
		reply(s, "TEMP mapping: %.900s", err.buf);
		log_warnx("socketmap: %s: %s", id, err.buf);
	} else if (!strcmp(map, "access")) {
		reply(s, "NOTFOUND ");
	} else if (r == ROUTE_DESTINATION) {
		reply(s, "OK %s", s->l->destination);
	} else if (s->l->source) {
		reply(s, "OK %s", s->l->source);
	} else {
		reply(s, "NOTFOUND ");
	}
	free(id);
	buf_release(&err);
}

/* Every whole netstring the MX sent. */
static void
sm_read(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->c);
	char head[16], *data;
	size_t avail, len, hlen;
	const char *sp;

	for (;;) {
		avail = evbuffer_get_length(in);
		hlen = avail < sizeof(head) - 1 ? avail : sizeof(head) - 1;
		evbuffer_copyout(in, head, hlen);
		head[hlen] = '\0';
		if (!memchr(head, ':', hlen)) {
			if (hlen == sizeof(head) - 1 || (hlen &&
			    !isdigit((unsigned char)head[0])))
				goto bad;
			return;		/* more to come */
		}
		len = strtoul(head, NULL, 10);
		hlen = strchr(head, ':') - head;
		if (!hlen || strspn(head, "0123456789") != hlen ||
		    len > NETSTRING_MAX)
			goto bad;
		if (avail < hlen + 1 + len + 1)
			return;
		evbuffer_drain(in, hlen + 1);
		data = xmalloc(len + 2);
		evbuffer_remove(in, data, len + 1);
		if (data[len] != ',') {
			free(data);
			goto bad;
		}
		data[len] = '\0';
		/* "map key" */
		sp = strchr(data, ' ');
		if (sp)
			*(char *)sp++ = '\0';
		lookup(s, data, sp ? sp : "");
		free(data);
		session_arm(s, s->cf->timeouts.idle);
	}
bad:
	log_warnx("socketmap: %s: not a netstring: closed", s->peer);
	session_close(s, "not a netstring");
}

static void
sm_greet(struct session *s)
{
	(void)s;
}

/* Shut down or timed out: the MX opens a new connection when it needs one */
static void
sm_temp_fail(struct session *s, enum fail why)
{
	(void)s;
	(void)why;
}

static void
sm_written(struct session *s, int backend)
{
	(void)s;
	(void)backend;
}

const struct proto proto_socketmap = {
	.name = "socketmap",
	.id = P_SOCKETMAP,
	.greet = sm_greet,
	.read = sm_read,
	.temp_fail = sm_temp_fail,
	.written = sm_written,
};
