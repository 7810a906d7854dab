#include "test-lib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "tls.h"

/*
 * A scripted TLS server in a thread, with a CA and a certificate for
 * localhost and 127.0.0.1 made here, so the client's verification is
 * tested both ways without any outside file.
 */
static EVP_PKEY *ca_key, *srv_key, *rogue_key;
static X509 *ca_cert, *srv_cert, *rogue_cert;
static char ca_file[] = "/tmp/t-tls-ca-XXXXXX";
static char rogue_file[] = "/tmp/t-tls-rogue-XXXXXX";

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    int is_ca)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!is_ca) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		    "DNS:localhost,IP:127.0.0.1");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, ikey ? ikey : key, EVP_sha256());
	return x;
}

static void
write_pem(char *path, X509 *x)
{
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	PEM_write_X509(f, x);
	fclose(f);
}

static void
make_pki(void)
{
	ca_key = EVP_EC_gen("P-256");
	srv_key = EVP_EC_gen("P-256");
	rogue_key = EVP_EC_gen("P-256");
	ca_cert = make_cert(ca_key, "test CA", NULL, NULL, 1);
	srv_cert = make_cert(srv_key, "localhost", ca_cert, ca_key, 0);
	rogue_cert = make_cert(rogue_key, "rogue CA", NULL, NULL, 1);
	write_pem(ca_file, ca_cert);
	write_pem(rogue_file, rogue_cert);
}

enum srv_mode { SRV_IMPLICIT, SRV_STARTTLS, SRV_INJECT, SRV_CUT };

struct server {
	int lfd;
	int port;
	enum srv_mode mode;
	pthread_t thread;
};

static int
read_plain_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, line + n, 1) == 1)
		if (line[n++] == '\n')
			break;
	line[n] = '\0';
	return (int)n;
}

static void *
serve(void *arg)
{
	struct server *s = arg;
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	char line[256];
	int fd;

	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (s->mode != SRV_IMPLICIT) {
		if (write(fd, "* OK ready\r\n", 12) < 0 ||
		    read_plain_line(fd, line, sizeof(line)) <= 0)
			goto out;
		if (s->mode == SRV_INJECT) {
			if (write(fd, "a OK begin\r\n* injected\r\n", 24) < 0)
				goto out;
		} else if (write(fd, "a OK begin\r\n", 12) < 0)
			goto out;
		if (s->mode == SRV_CUT)
			goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, srv_cert);
	SSL_CTX_use_PrivateKey(ctx, srv_key);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		goto out;
	/* echo lines; "big" sends 100000 bytes; "cut" closes mid-line */
	for (;;) {
		int n = SSL_read(ssl, line, sizeof(line) - 1);

		if (n <= 0)
			break;
		line[n] = '\0';
		if (!strncmp(line, "big", 3)) {
			static char big[100000];

			memset(big, 'b', sizeof(big));
			SSL_write(ssl, big, sizeof(big));
		} else if (!strncmp(line, "cut", 3)) {
			SSL_write(ssl, "half a li", 9);
			break;
		} else {
			SSL_write(ssl, line, n);
		}
	}
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void
server_start(struct server *s, enum srv_mode mode)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(s->lfd, 4);
	getsockname(s->lfd, (struct sockaddr *)&sin, &sl);
	s->port = ntohs(sin.sin_port);
	s->mode = mode;
	pthread_create(&s->thread, NULL, serve, s);
}

static void
server_stop(struct server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* Connect to a fresh server in `mode` as `host` with `opts`. */
static int
try_open(enum srv_mode mode, const char *host, struct tls_opts *opts,
    struct buf *err, struct tls_conn **c_r)
{
	struct server s;
	char port[16];
	int ret;

	server_start(&s, mode);
	snprintf(port, sizeof(port), "%d", s.port);
	ret = tls_conn_open(c_r, host, port, opts, err);
	if (ret == 0)
		tls_conn_free(c_r);
	server_stop(&s);
	return ret;
}

static void
t_verify(void)
{
	struct tls_opts o = { TLS_IMPLICIT, ca_file, NULL, 0, 5000 };
	struct buf err = BUF_INIT;
	struct tls_conn *c = NULL;

	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, 0);
	check_int(try_open(SRV_IMPLICIT, "localhost", &o, &err, &c), ==, 0);

	o.servername = "mail.example.org";
	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, -1);
	check(strstr(err.buf, "not trusted") != NULL);
	check(strstr(err.buf, "mismatch") != NULL);

	o.servername = NULL;
	o.ca_file = rogue_file;
	buf_reset(&err);
	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, -1);
	check(strstr(err.buf, "not trusted") != NULL);

	/* the system's CAs do not know our test CA either */
	o.ca_file = NULL;
	buf_reset(&err);
	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, -1);

	o.insecure = 1;
	o.ca_file = rogue_file;
	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, 0);

	o.ca_file = "/nonexistent/ca.pem";
	o.insecure = 0;
	buf_reset(&err);
	check_int(try_open(SRV_IMPLICIT, "127.0.0.1", &o, &err, &c), ==, -1);
	check(strstr(err.buf, "cannot load CA") != NULL);
	buf_release(&err);
}

static int
count_sink(void *arg, const char *data, size_t len)
{
	size_t *n = arg, i;

	for (i = 0; i < len; i++)
		if (data[i] != 'b')
			return -1;
	*n += len;
	return 0;
}

static void
t_starttls_and_reads(void)
{
	struct tls_opts o = { TLS_NONE, ca_file, NULL, 0, 5000 };
	struct buf err = BUF_INIT, line;
	struct tls_conn *c = NULL;
	struct server s;
	char port[16];
	size_t got = 0;

	buf_init(&line, 1000);
	server_start(&s, SRV_STARTTLS);
	snprintf(port, sizeof(port), "%d", s.port);
	check_int(tls_conn_open(&c, "localhost", port, &o, &err), ==, 0);
	check(!tls_conn_is_tls(c));
	check_int(tls_conn_read_line(c, &line, &err), ==, 1);
	check_str(line.buf, "* OK ready\r\n");
	check_int(tls_conn_write(c, "a STARTTLS\r\n", 12, &err), ==, 0);
	buf_reset(&line);
	check_int(tls_conn_read_line(c, &line, &err), ==, 1);
	check_int(tls_conn_starttls(c, &err), ==, 0);
	check(tls_conn_is_tls(c));
	check(strstr(tls_conn_describe(c), "TLS") != NULL);

	check_int(tls_conn_write(c, "echo me\n", 8, &err), ==, 0);
	buf_reset(&line);
	check_int(tls_conn_read_line(c, &line, &err), ==, 1);
	check_str(line.buf, "echo me\n");

	check_int(tls_conn_write(c, "big\n", 4, &err), ==, 0);
	check_int(tls_conn_read_exact(c, 100000, count_sink, &got, &err), ==, 0);
	check_int(got, ==, 100000);

	/* a line longer than the buffer's cap */
	check_int(tls_conn_write(c, "big\n", 4, &err), ==, 0);
	buf_reset(&line);
	check_int(tls_conn_read_line(c, &line, &err), ==, -1);
	check(strstr(err.buf, "longer than 1000") != NULL);
	tls_conn_free(&c);
	check(c == NULL);
	server_stop(&s);
	buf_release(&line);
	buf_release(&err);
}

static void
t_failures(void)
{
	struct tls_opts o = { TLS_NONE, ca_file, NULL, 0, 5000 };
	struct buf err = BUF_INIT, line;
	struct tls_conn *c = NULL;
	struct server s;
	char port[16];

	buf_init(&line, 1000);
	/* plain text after the go-ahead is refused (STARTTLS injection) */
	server_start(&s, SRV_INJECT);
	snprintf(port, sizeof(port), "%d", s.port);
	check_int(tls_conn_open(&c, "localhost", port, &o, &err), ==, 0);
	tls_conn_read_line(c, &line, &err);
	tls_conn_write(c, "a STARTTLS\r\n", 12, &err);
	buf_reset(&line);
	tls_conn_read_line(c, &line, &err);
	check_int(tls_conn_starttls(c, &err), ==, -1);
	check(strstr(err.buf, "before the TLS handshake") != NULL);
	tls_conn_free(&c);
	server_stop(&s);

	/* the server hangs up instead of the handshake */
	server_start(&s, SRV_CUT);
	snprintf(port, sizeof(port), "%d", s.port);
	check_int(tls_conn_open(&c, "localhost", port, &o, &err), ==, 0);
	buf_reset(&line);
	tls_conn_read_line(c, &line, &err);
	tls_conn_write(c, "a STARTTLS\r\n", 12, &err);
	buf_reset(&line);
	tls_conn_read_line(c, &line, &err);
	buf_reset(&err);
	check_int(tls_conn_starttls(c, &err), ==, -1);
	check(err.len > 0);
	tls_conn_free(&c);
	server_stop(&s);

	/* the server closes in the middle of a line */
	o.mode = TLS_IMPLICIT;
	server_start(&s, SRV_IMPLICIT);
	snprintf(port, sizeof(port), "%d", s.port);
	check_int(tls_conn_open(&c, "localhost", port, &o, &err), ==, 0);
	tls_conn_write(c, "cut\n", 4, &err);
	buf_reset(&line);
	buf_reset(&err);
	check_int(tls_conn_read_line(c, &line, &err), ==, -1);
	check(strstr(err.buf, "middle of a line") != NULL);
	tls_conn_free(&c);
	server_stop(&s);

	/* nobody listens */
	buf_reset(&err);
	check_int(tls_conn_open(&c, "127.0.0.1", "1", &o, &err), ==, -1);
	check(strstr(err.buf, "cannot connect to 127.0.0.1 port 1") != NULL);
	check(c == NULL);
	buf_release(&line);
	buf_release(&err);
}

int
main(void)
{
	make_pki();
	TEST("verify", t_verify());
	TEST("starttls", t_starttls_and_reads());
	TEST("failures", t_failures());
	unlink(ca_file);
	unlink(rogue_file);
	X509_free(ca_cert);
	X509_free(srv_cert);
	X509_free(rogue_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(rogue_key);
	return test_done();
}
