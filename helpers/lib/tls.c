#include "compat.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "buf.h"
#include "log.h"
#include "tls.h"
#include "xalloc.h"

#define RBUF_SIZE	16384

struct tls_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char *host;
	struct tls_opts opts;
	char desc[128];
	char rbuf[RBUF_SIZE];
	size_t rpos, rlen;
	/* COMPRESS=DEFLATE: raw deflate both ways once it is on */
	z_stream *zin, *zout;
	char *zraw;		/* compressed bytes read, not yet inflated */
	int zeof;
};

static int
wait_fd(struct tls_conn *c, short events, struct buf *err, const char *what)
{
	struct pollfd p = { c->fd, events, 0 };
	int r;

	do {
		r = poll(&p, 1, c->opts.timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		buf_addf(err, "poll: %s", strerror(errno));
		return -1;
	}
	if (r == 0) {
		buf_addf(err, "%s %s timed out after %d ms", what, c->host,
		    c->opts.timeout_ms);
		return -1;
	}
	return 0;
}

static int
tcp_connect(struct tls_conn *c, const char *host, const char *port,
    struct buf *err)
{
	struct addrinfo hints, *res, *ai;
	int r, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		buf_addf(err, "cannot resolve '%s': %s", host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t sl = sizeof(saved);
		int one = 1;

		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (c->fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			saved = 0;
		else if (errno != EINPROGRESS)
			saved = errno;
		else if (wait_fd(c, POLLOUT, err, "connecting to") < 0) {
			freeaddrinfo(res);
			close(c->fd);
			c->fd = -1;
			return -1;
		} else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &saved,
		    &sl) < 0)
			saved = errno;
		if (!saved) {
			/* line protocols: no Nagle delay on small writes */
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			break;
		}
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		buf_addf(err, "cannot connect to %s port %s: %s", host, port,
		    strerror(saved ? saved : ECONNREFUSED));
		return -1;
	}
	return 0;
}

/* After a failed send(2) or recv(2): 1 to try again, -1 on error. */
static int
io_again(struct tls_conn *c, short events, const char *what, struct buf *err)
{
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN)
		return wait_fd(c, events, err, what) < 0 ? -1 : 1;
	buf_addf(err, "%s %s: %s", what, c->host, strerror(errno));
	return -1;
}

static void
add_ssl_errors(struct buf *err)
{
	unsigned long e;
	char s[256];

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, s, sizeof(s));
		buf_addf(err, ": %s", s);
	}
}

/* Drive one SSL call that may need to wait for the socket. */
static int
ssl_wait(struct tls_conn *c, int r, struct buf *err, const char *what)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c, POLLIN, err, what) < 0 ? -1 : 1;
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c, POLLOUT, err, what) < 0 ? -1 : 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno && errno != EAGAIN)
				buf_addf(err, "%s %s: %s", what, c->host,
				    strerror(errno));
			else
				buf_addf(err, "%s %s: connection closed",
				    what, c->host);
			return -1;
		}
		/* fall through */
	default:
		buf_addf(err, "%s %s: TLS error", what, c->host);
		add_ssl_errors(err);
		return -1;
	}
}

static int
is_ip(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

int
tls_conn_starttls(struct tls_conn *c, struct buf *err)
{
	const char *name = c->opts.servername ? c->opts.servername : c->host;
	long vr;
	int r;

	if (c->ssl) {
		buf_adds(err, "TLS is already on");
		return -1;
	}
	if (c->rpos < c->rlen) {
		/* bytes sent in clear after the go-ahead: an injection */
		buf_addf(err, "%s sent data before the TLS handshake", c->host);
		return -1;
	}
	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		buf_adds(err, "cannot make a TLS context");
		add_ssl_errors(err);
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (c->opts.insecure) {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		r = c->opts.ca_file ?
		    SSL_CTX_load_verify_locations(c->ctx, c->opts.ca_file,
		    NULL) : SSL_CTX_set_default_verify_paths(c->ctx);
		if (r != 1) {
			buf_addf(err, "cannot load CA certificates from '%s'",
			    c->opts.ca_file ? c->opts.ca_file : "the system");
			add_ssl_errors(err);
			return -1;
		}
	}
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		buf_adds(err, "cannot make a TLS session");
		add_ssl_errors(err);
		return -1;
	}
	if (!is_ip(name))
		SSL_set_tlsext_host_name(c->ssl, name);
	if (!c->opts.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		if (is_ip(name))
			r = X509_VERIFY_PARAM_set1_ip_asc(vp, name);
		else
			r = SSL_set1_host(c->ssl, name);
		if (r != 1) {
			buf_addf(err, "cannot verify the name '%s'", name);
			return -1;
		}
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			buf_addf(err, "TLS certificate of %s not trusted: %s",
			    name, X509_verify_cert_error_string(vr));
			return -1;
		}
		r = ssl_wait(c, r, err, "TLS handshake with");
		if (r < 0)
			return -1;
		if (r == 0) {
			buf_addf(err, "TLS handshake with %s: connection "
			    "closed", c->host);
			return -1;
		}
	}
	snprintf(c->desc, sizeof(c->desc), "%s %s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	return 0;
}

int
tls_conn_open(struct tls_conn **conn_r, const char *host, const char *port,
    const struct tls_opts *opts, struct buf *err)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));
	struct sigaction sa;

	/* OpenSSL writes with write(2): a peer gone must be EPIPE, not death */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	*conn_r = NULL;
	c->fd = -1;
	c->opts = *opts;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = 60000;
	c->host = xstrdup(host);
	snprintf(c->desc, sizeof(c->desc), "clear text");
	if (tcp_connect(c, host, port, err) < 0 ||
	    (opts->mode == TLS_IMPLICIT && tls_conn_starttls(c, err) < 0)) {
		tls_conn_free(&c);
		return -1;
	}
	*conn_r = c;
	return 0;
}

int
tls_conn_is_tls(const struct tls_conn *c)
{
	return c->ssl != NULL;
}

const char *
tls_conn_describe(const struct tls_conn *c)
{
	return c->desc;
}

static int
transport_write(struct tls_conn *c, const void *data, size_t len,
    struct buf *err)
{
	const char *p = data;

	while (len) {
		ssize_t n;

		if (c->ssl) {
			size_t w = 0;
			int r;

			ERR_clear_error();
			r = SSL_write_ex(c->ssl, p, len, &w);
			if (r != 1) {
				r = ssl_wait(c, r, err, "writing to");
				if (r <= 0) {
					if (r == 0)
						buf_addf(err, "%s closed the "
						    "connection", c->host);
					return -1;
				}
				continue;
			}
			n = (ssize_t)w;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (io_again(c, POLLOUT, "writing to", err) < 0)
					return -1;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tls_conn_write(struct tls_conn *c, const void *data, size_t len,
    struct buf *err)
{
	char out[RBUF_SIZE];
	z_stream *z = c->zout;

	if (!z)
		return transport_write(c, data, len, err);
	/* each write goes out whole: the server must see the command now */
	z->next_in = (Bytef *)data;
	z->avail_in = (uInt)len;
	do {
		z->next_out = (Bytef *)out;
		z->avail_out = sizeof(out);
		if (deflate(z, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			BUG("deflate failed");
		if (transport_write(c, out, sizeof(out) - z->avail_out,
		    err) < 0)
			return -1;
	} while (z->avail_out == 0);
	return 0;
}

int
tls_conn_compress(struct tls_conn *c, struct buf *err)
{
	if (c->zin)
		BUG("COMPRESS twice");
	c->zin = xcalloc(1, sizeof(*c->zin));
	c->zout = xcalloc(1, sizeof(*c->zout));
	c->zraw = xmalloc(RBUF_SIZE);
	if (inflateInit2(c->zin, -15) != Z_OK ||
	    deflateInit2(c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		buf_adds(err, "cannot start zlib");
		return -1;
	}
	/* what the server sent after its OK is compressed already */
	memcpy(c->zraw, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->zin->next_in = (Bytef *)c->zraw;
	c->zin->avail_in = (uInt)(c->rlen - c->rpos);
	c->rpos = c->rlen = 0;
	snprintf(c->desc + strlen(c->desc), sizeof(c->desc) - strlen(c->desc),
	    ", DEFLATE");
	return 0;
}

/* Read what the transport has into `data`: >0 bytes, 0 at EOF, -1. */
static ssize_t
transport_read(struct tls_conn *c, char *data, size_t size, struct buf *err)
{
	for (;;) {
		ssize_t n;

		if (c->ssl) {
			size_t got = 0;
			int r;

			ERR_clear_error();
			r = SSL_read_ex(c->ssl, data, size, &got);
			if (r == 1)
				return (ssize_t)got;
			r = ssl_wait(c, r, err, "reading from");
			if (r <= 0)
				return r;
			continue;
		}
		n = recv(c->fd, data, size, 0);
		if (n >= 0)
			return n;
		if (io_again(c, POLLIN, "reading from", err) < 0)
			return -1;
	}
}

/* Inflate into the read buffer, reading more when needed. */
static ssize_t
inflate_fill(struct tls_conn *c, struct buf *err)
{
	z_stream *z = c->zin;
	ssize_t n;
	int r;

	for (;;) {
		if (!z->avail_in && !c->zeof) {
			n = transport_read(c, c->zraw, RBUF_SIZE, err);
			if (n < 0)
				return -1;
			if (n == 0)
				c->zeof = 1;
			z->next_in = (Bytef *)c->zraw;
			z->avail_in = (uInt)n;
		}
		z->next_out = (Bytef *)c->rbuf;
		z->avail_out = RBUF_SIZE;
		r = inflate(z, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END) {
			buf_addf(err, "%s sent bad compressed data: %s",
			    c->host, z->msg ? z->msg : "inflate failed");
			return -1;
		}
		if (z->avail_out < RBUF_SIZE)
			return (ssize_t)(RBUF_SIZE - z->avail_out);
		if (c->zeof)
			return 0;
	}
}

/* Fill the read buffer: >0 bytes, 0 at EOF, -1 on error. */
static ssize_t
fill(struct tls_conn *c, struct buf *err)
{
	ssize_t n = c->zin ? inflate_fill(c, err) :
	    transport_read(c, c->rbuf, sizeof(c->rbuf), err);

	if (n > 0) {
		c->rpos = 0;
		c->rlen = (size_t)n;
	}
	return n;
}

/* Bytes in the read buffer, filling it if empty: 1, 0 at EOF, -1. */
static int
buffered(struct tls_conn *c, struct buf *err)
{
	ssize_t r;

	if (c->rpos < c->rlen)
		return 1;
	r = fill(c, err);
	return r < 0 ? -1 : r > 0;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *data, size_t size,
    struct buf *err)
{
	int r = buffered(c, err);
	size_t n;

	if (r <= 0)
		return r;
	n = c->rlen - c->rpos < size ? c->rlen - c->rpos : size;
	memcpy(data, c->rbuf + c->rpos, n);
	c->rpos += n;
	return (ssize_t)n;
}

int
tls_conn_read_line(struct tls_conn *c, struct buf *line, struct buf *err)
{
	size_t start = line->len;

	for (;;) {
		char *nl;
		size_t n;

		switch (buffered(c, err)) {
		case -1:
			return -1;
		case 0:
			if (line->len == start)
				return 0;
			buf_addf(err, "%s closed the connection in the "
			    "middle of a line", c->host);
			return -1;
		}
		nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
		n = nl ? (size_t)(nl - (c->rbuf + c->rpos)) + 1 :
		    c->rlen - c->rpos;
		if (buf_add(line, c->rbuf + c->rpos, n) < 0) {
			buf_addf(err, "a line from %s is longer than %zu "
			    "bytes", c->host, line->cap);
			return -1;
		}
		c->rpos += n;
		if (nl)
			return 1;
	}
}

int
tls_conn_read_exact(struct tls_conn *c, size_t len,
    int (*sink)(void *arg, const char *data, size_t len), void *arg,
    struct buf *err)
{
	while (len) {
		size_t n;

		switch (buffered(c, err)) {
		case -1:
			return -1;
		case 0:
			buf_addf(err, "%s closed the connection with %zu "
			    "bytes still to come", c->host, len);
			return -1;
		}
		n = c->rlen - c->rpos < len ? c->rlen - c->rpos : len;
		if (sink(arg, c->rbuf + c->rpos, n) < 0)
			return -1;
		c->rpos += n;
		len -= n;
	}
	return 0;
}

void
tls_conn_free(struct tls_conn **cp)
{
	struct tls_conn *c = *cp;

	if (!c)
		return;
	if (c->zin) {
		inflateEnd(c->zin);
		deflateEnd(c->zout);
		free(c->zin);
		free(c->zout);
		free(c->zraw);
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c->host);
	free(c);
	*cp = NULL;
}
