/*
 * config.c: the proxy's configuration file (migrate-proxy(8)), read with
 * yconf, checked whole, its TLS contexts made and its addresses resolved,
 * so that a reload either takes all of it or none.
 */
#include "compat.h"

#include <ctype.h>
#include <libgen.h>
#include <netdb.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "proxy.h"
#include "xalloc.h"

static const char *const proto_names[P_NR] = {
	"imap", "pop3", "sieve", "submission", "smtp", "http", "socketmap"
};

const char *
proto_name(enum proto_id p)
{
	return proto_names[p];
}

#define B(f) offsetof(struct backend, f)
static const struct ykey backend_keys[] = {
	{ "address", K_STR, B(address), NULL, NULL, NULL },
	{ "tls", K_STR, B(tls_name), NULL, NULL, NULL },
	{ "servername", K_STR, B(servername), NULL, NULL, NULL },
	{ "ca_file", K_PATH, B(ca_file), NULL, NULL, NULL },
	{ "insecure", K_BOOL, B(insecure), NULL, NULL, NULL },
	{ "allow_plaintext", K_BOOL, B(allow_plaintext), NULL, NULL, NULL },
	{ "client_address", K_STR, B(client_address_name), NULL, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

/* a backend's mapping, its position kept for the checks after reading */
static void
parse_backend(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	struct backend *be = field;

	if (n->type != YAML_MAPPING_NODE) {
		yconf_err(c, n, "%s: expected a mapping (address, tls, ...),"
		    " found %s", what, yconf_kind(n));
		return;
	}
	be->at = yconf_pos(n);
	yconf_walk(c, n, what, k->sub, be);
}

#define BE(name, p) { name, K_FUNC, offsetof(struct side, be[p]), \
	backend_keys, NULL, parse_backend }
static const struct ykey side_keys[] = {
	BE("imap", P_IMAP), BE("pop3", P_POP3), BE("sieve", P_SIEVE),
	BE("submission", P_SUBMISSION), BE("smtp", P_SMTP),
	BE("http", P_HTTP),
	{ NULL, 0, 0, NULL, NULL, NULL }
};

#define BK(f) offsetof(struct config, f)
static const struct ykey backends_keys[] = {
	{ "source", K_MAP, BK(source) - BK(source), side_keys, NULL, NULL },
	{ "destination", K_MAP, BK(destination) - BK(source), side_keys, NULL,
	    NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

#define LI(f) offsetof(struct listener, f)
static const struct ykey listener_keys[] = {
	{ "protocol", K_STR, LI(protocol_name), NULL, NULL, NULL },
	{ "listen", K_STR, LI(listen), NULL, NULL, NULL },
	{ "tls", K_STR, LI(tls_name), NULL, NULL, NULL },
	{ "require_tls", K_BOOL, LI(require_tls), NULL, NULL, NULL },
	{ "capabilities", K_LIST, LI(capabilities), NULL, NULL, NULL },
	{ "destination", K_STR, LI(destination), NULL, NULL, NULL },
	{ "source", K_STR, LI(source), NULL, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static void
parse_listeners(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	struct config *cf = (struct config *)((char *)field -
	    offsetof(struct config, listeners));
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE) {
		yconf_err(c, n, "%s: expected a list of listeners, found %s",
		    what, yconf_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		struct listener *l;
		char *where = xasprintf("listeners[%zu]", cf->nr_listeners + 1);

		if (e->type != YAML_MAPPING_NODE) {
			yconf_err(c, e, "%s: expected a mapping (protocol,"
			    " listen, tls), found %s", where, yconf_kind(e));
			free(where);
			continue;
		}
		cf->listeners = xreallocarray(cf->listeners,
		    cf->nr_listeners + 1, sizeof(*cf->listeners));
		l = &cf->listeners[cf->nr_listeners++];
		memset(l, 0, sizeof(*l));
		l->at = yconf_pos(e);
		yconf_walk(c, e, where, listener_keys, l);
		free(where);
	}
}

#define T(f) offsetof(struct config, f)
static const struct ykey tls_keys[] = {
	{ "certificate", K_PATH, T(tls.certificate) - T(tls), NULL, NULL,
	    NULL },
	{ "key", K_PATH, T(tls.key) - T(tls), NULL, NULL, NULL },
	{ "chain", K_PATH, T(tls.chain) - T(tls), NULL, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static const struct ykey timeouts_keys[] = {
	{ "preauth", K_INT, T(timeouts.preauth) - T(timeouts), NULL, "1",
	    NULL },
	{ "backend", K_INT, T(timeouts.backend) - T(timeouts), NULL, "1",
	    NULL },
	{ "idle", K_INT, T(timeouts.idle) - T(timeouts), NULL, "0", NULL },
	{ "shutdown", K_INT, T(timeouts.shutdown) - T(timeouts), NULL, "0",
	    NULL },
	{ "auth_failure", K_INT, T(timeouts.auth_failure) - T(timeouts), NULL,
	    "0", NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static const struct ykey limits_keys[] = {
	{ "line_length", K_SIZE, T(limits.line_length) - T(limits), NULL,
	    "512", NULL },
	{ "sessions", K_INT, T(limits.sessions) - T(limits), NULL, "1",
	    NULL },
	{ "connect_retries", K_INT, T(limits.connect_retries) - T(limits),
	    NULL, "0", NULL },
	{ "cache_ttl", K_INT, T(limits.cache_ttl) - T(limits), NULL, "0",
	    NULL },
	{ "mapping_stale", K_INT, T(limits.mapping_stale) - T(limits), NULL,
	    "0", NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static const struct ykey breaker_keys[] = {
	{ "failures", K_INT, T(breaker.failures) - T(breaker), NULL, "1",
	    NULL },
	{ "cooldown", K_INT, T(breaker.cooldown) - T(breaker), NULL, "0",
	    NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static const struct ykey config_keys[] = {
	{ "hostname", K_STR, T(hostname), NULL, NULL, NULL },
	{ "default_domain", K_STR, T(default_domain), NULL, NULL, NULL },
	{ "master_separators", K_STR, T(master_separators), NULL, NULL, NULL },
	{ "mapping", K_PATH, T(mapping), NULL, "postgresql postgres",
	    NULL },
	{ "routes_file", K_PATH, T(routes_file), NULL, NULL, NULL },
	{ "control", K_PATH, T(control), NULL, NULL, NULL },
	{ "user", K_STR, T(user), NULL, NULL, NULL },
	{ "mechanisms", K_LIST, T(mechanisms), NULL, NULL, NULL },
	{ "hide_auth_errors", K_BOOL, T(hide_auth_errors), NULL, NULL, NULL },
	{ "tls", K_MAP, T(tls), tls_keys, NULL, NULL },
	{ "timeouts", K_MAP, T(timeouts), timeouts_keys, NULL, NULL },
	{ "limits", K_MAP, T(limits), limits_keys, NULL, NULL },
	{ "breaker", K_MAP, T(breaker), breaker_keys, NULL, NULL },
	{ "listeners", K_FUNC, T(listeners), NULL, NULL, parse_listeners },
	{ "backends", K_MAP, T(source), backends_keys, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static int
tls_use_parse(const char *s, enum tls_use *t)
{
	if (!s || !strcmp(s, "none"))
		*t = TLS_USE_NONE;
	else if (!strcmp(s, "starttls"))
		*t = TLS_USE_STARTTLS;
	else if (!strcmp(s, "implicit"))
		*t = TLS_USE_IMPLICIT;
	else
		return -1;
	return 0;
}

static void
ssl_errors(struct buf *err)
{
	unsigned long e;
	char msg[256];

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, msg, sizeof(msg));
		buf_addf(err, ": %s", msg);
	}
}

/* host:port, [v6]:port */
static int
split_address(const char *a, char **host, char **port)
{
	const char *colon;

	if (a[0] == '[') {
		const char *end = strchr(a, ']');

		if (!end || end[1] != ':' || !end[2])
			return -1;
		*host = xstrndup(a + 1, end - a - 1);
		*port = xstrdup(end + 2);
		return 0;
	}
	if (!(colon = strrchr(a, ':')) || colon == a || !colon[1])
		return -1;
	*host = xstrndup(a, colon - a);
	*port = xstrdup(colon + 1);
	return 0;
}

static int
resolve(const char *host, const char *port, struct sockaddr_storage *ss,
    socklen_t *len, int passive, const char **why)
{
	struct addrinfo hints = { 0 }, *res;
	int e;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if ((e = getaddrinfo(strcmp(host, "*") ? host : NULL, port, &hints,
	    &res))) {
		*why = gai_strerror(e);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static SSL_CTX *
server_ctx(struct config *cf, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		buf_adds(err, "cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* no resumption at all: no cache, no tickets (TLS 1.2's nor 1.3's),
	 * so no ticket key to keep secret and rotate */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cf->tls.certificate) != 1) {
		buf_addf(err, "%s: tls.certificate '%s'", cf->file,
		    cf->tls.certificate);
		goto fail;
	}
	if (cf->tls.chain) {
		BIO *bio = BIO_new_file(cf->tls.chain, "r");
		X509 *x;
		int n = 0;

		while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
			SSL_CTX_add1_chain_cert(ctx, x);
			X509_free(x);
			n++;
		}
		BIO_free(bio);
		ERR_clear_error();
		if (!n) {
			buf_addf(err, "%s: tls.chain '%s': no certificate in it",
			    cf->file, cf->tls.chain);
			goto fail;
		}
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cf->tls.key ? cf->tls.key :
	    cf->tls.certificate, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		buf_addf(err, "%s: tls.key '%s'", cf->file, cf->tls.key ?
		    cf->tls.key : cf->tls.certificate);
		goto fail;
	}
	return ctx;
fail:
	ssl_errors(err);
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *
client_ctx(struct backend *be, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		buf_adds(err, "cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (be->insecure)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if ((be->ca_file ? SSL_CTX_load_verify_locations(ctx,
		    be->ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx))
		    != 1) {
			buf_addf(err, "backend %s: ca_file '%s'", be->name,
			    be->ca_file ? be->ca_file : "(the system's)");
			ssl_errors(err);
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

/* A socketmap answers on loopback or a private network, in clear. */
static void
check_socketmap(struct yconf *c, const struct listener *l, size_t i)
{
	if (!l->listen)
		yconf_err_at(c, l->at, "listeners[%zu]: give 'listen'"
		    " (address:port)", i + 1);
	if (l->tls_name && strcmp(l->tls_name, "none"))
		yconf_err_at(c, l->at, "listeners[%zu]: a socketmap has no"
		    " TLS (tls: none)", i + 1);
	if (!l->destination || !*l->destination)
		yconf_err_at(c, l->at, "listeners[%zu]: a socketmap needs"
		    " 'destination', the MX's transport to the destination"
		    " (smtp:[mx.example.net]:25)", i + 1);
}

static void
check_backend(struct yconf *c, struct config *cf, struct backend *be,
    const char *side, enum proto_id p)
{
	const char *why;

	if (!be->address)
		return;
	snprintf(be->name, sizeof(be->name), "%s %s", side, proto_name(p));
	if (split_address(be->address, &be->host, &be->port) < 0) {
		yconf_err_at(c, be->at, "backends.%s.%s.address: expected host:port,"
		    " found '%s'", side, proto_name(p), be->address);
		return;
	}
	if (tls_use_parse(be->tls_name, &be->tls) < 0)
		yconf_err_at(c, be->at, "backends.%s.%s.tls: expected none,"
		    " starttls or implicit, found '%s'", side, proto_name(p),
		    be->tls_name);
	if (!be->client_address_name ||
	    !strcmp(be->client_address_name, "none"))
		be->client_address = CA_NONE;
	else if (!strcmp(be->client_address_name, "proxy"))
		be->client_address = CA_PROXY;
	else if (!strcmp(be->client_address_name, "native") && p != P_SMTP)
		be->client_address = CA_NATIVE;
	else
		yconf_err_at(c, be->at, "backends.%s.%s.client_address: expected"
		    " none, proxy%s, found '%s'", side, proto_name(p),
		    p == P_SMTP ? "" : " or native (IMAP ID, XCLIENT,"
		    " Forwarded)",
		    be->client_address_name);
	if (be->tls == TLS_USE_NONE && !be->allow_plaintext && p != P_SMTP)
		yconf_err_at(c, be->at, "backends.%s.%s: passwords would cross"
		    " to %s in clear; use tls: starttls or implicit, or say"
		    " allow_plaintext: true", side, proto_name(p),
		    be->address);
	if (resolve(be->host, be->port, &be->sa, &be->salen, 0, &why) < 0) {
		yconf_err_at(c, be->at, "backends.%s.%s.address '%s': %s", side,
		    proto_name(p), be->address, why);
		return;
	}
	if (be->tls != TLS_USE_NONE && !(be->ctx = client_ctx(be, c->err)))
		c->errors++;
}

const struct backend *
config_backend(const struct config *cf, enum proto_id p, enum route r)
{
	const struct backend *be = r == ROUTE_SOURCE ? &cf->source.be[p] :
	    &cf->destination.be[p];

	return be->address ? be : NULL;
}

static int
route_cmp(const void *a, const void *b)
{
	return strcmp(((const struct route_entry *)a)->id,
	    ((const struct route_entry *)b)->id);
}

static void
read_routes(struct yconf *c, struct config *cf)
{
	struct buf text = BUF_INIT;
	char *line, *save = NULL;
	int lineno = 0;

	if (file_read(cf->routes_file, &text, c->err) < 0) {
		c->errors++;
		return;
	}
	for (line = text.buf; line; line = save) {
		char *nl = strchr(line, '\n'), *id, *r, *extra, *p;
		enum route route;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		id = strtok_r(line, " \t\r", &p);
		if (!id || *id == '#')
			continue;
		r = strtok_r(NULL, " \t\r", &p);
		extra = strtok_r(NULL, " \t\r", &p);
		if (!r || extra || route_parse(r, &route) < 0) {
			buf_addf(c->err, "%s:%d: expected 'identifier source'"
			    " or 'identifier destination'\n", cf->routes_file,
			    lineno);
			c->errors++;
			continue;
		}
		for (p = id; *p; p++)
			*p = tolower((unsigned char)*p);
		cf->routes = xreallocarray(cf->routes, cf->nr_routes + 1,
		    sizeof(*cf->routes));
		cf->routes[cf->nr_routes].id = xstrdup(id);
		cf->routes[cf->nr_routes++].route = route;
	}
	qsort(cf->routes, cf->nr_routes, sizeof(*cf->routes), route_cmp);
	buf_release(&text);
}

static void
check_config(struct yconf *c, struct config *cf, const yaml_node_t *root)
{
	size_t i, j;
	int need_tls = 0;

	if (!cf->nr_listeners)
		yconf_err(c, root, "the configuration needs 'listeners'");
	if (!cf->mapping && !cf->routes_file)
		yconf_err(c, root, "the configuration needs 'mapping' (the"
		    " store map-flip writes) or 'routes_file'");
	for (i = 0; i < cf->mechanisms.nr; i++)
		if (!sasl_mech_ok(NULL, cf->mechanisms.v[i]))
			yconf_err(c, NULL, "mechanisms: '%s' cannot be"
			    " proxied (PLAIN, LOGIN, OAUTHBEARER, XOAUTH2)",
			    cf->mechanisms.v[i]);
	for (i = 0; i < P_NR; i++) {
		check_backend(c, cf, &cf->source.be[i], "source", i);
		check_backend(c, cf, &cf->destination.be[i], "destination", i);
	}
	for (i = 0; i < cf->nr_listeners; i++) {
		struct listener *l = &cf->listeners[i];
		for (j = 0; j < P_NR; j++)
			if (l->protocol_name &&
			    !strcmp(l->protocol_name, proto_name(j)))
				break;
		if (j == P_NR) {
			yconf_err_at(c, l->at, "listeners[%zu].protocol:"
			    " expected imap, pop3, sieve, submission, smtp,"
			    " http or socketmap, found '%s'", i + 1,
			    l->protocol_name ? l->protocol_name : "");
			continue;
		}
		l->proto = j;
		if (!l->listen)
			yconf_err_at(c, l->at, "listeners[%zu]: give 'listen'"
			    " (address:port)", i + 1);
		if (tls_use_parse(l->tls_name, &l->tls) < 0)
			yconf_err_at(c, l->at, "listeners[%zu].tls: expected"
			    " none, starttls or implicit, found '%s'", i + 1,
			    l->tls_name);
		if (l->tls != TLS_USE_NONE)
			need_tls = 1;
		if ((l->proto == P_SMTP || l->proto == P_HTTP) &&
		    l->tls == TLS_USE_STARTTLS)
			yconf_err_at(c, l->at, "listeners[%zu]: %s has no"
			    " STARTTLS (tls: none%s)", i + 1,
			    proto_name(l->proto),
			    l->proto == P_HTTP ? " or implicit" : "");
		if (l->proto == P_SMTP && l->tls == TLS_USE_IMPLICIT)
			yconf_err_at(c, l->at, "listeners[%zu]: SMTP on port"
			    " 25 is passed through whole; its TLS is the"
			    " server's (tls: none)", i + 1);
		if (l->proto == P_SOCKETMAP) {
			check_socketmap(c, l, i);
			continue;
		}
		if ((l->destination || l->source) && l->proto != P_SOCKETMAP)
			yconf_err_at(c, l->at, "listeners[%zu]: destination and"
			    " source are a socketmap's", i + 1);
		if (!config_backend(cf, l->proto, ROUTE_DESTINATION) ||
		    (l->proto != P_SMTP &&
		    !config_backend(cf, l->proto, ROUTE_SOURCE)))
			yconf_err_at(c, l->at, "listeners[%zu]: %s needs"
			    " backends.%sdestination.%s", i + 1,
			    proto_name(l->proto),
			    l->proto == P_SMTP ? "" : "source and ",
			    proto_name(l->proto));
	}
	if (need_tls && !cf->tls.certificate)
		yconf_err(c, root, "a listener uses TLS: give tls.certificate"
		    " (and tls.key)");
	else if (need_tls && !c->errors &&
	    !(cf->server_ctx = server_ctx(cf, c->err)))
		c->errors++;
	if (cf->routes_file)
		read_routes(c, cf);
}

static void
defaults(struct config *cf)
{
	cf->master_separators = xstrdup("*");
	cf->timeouts.preauth = 60;
	cf->timeouts.backend = 45;
	cf->timeouts.auth_failure = 2;
	cf->timeouts.idle = 2 * 3600;
	cf->timeouts.shutdown = 30;
	cf->limits.line_length = 8192;
	cf->limits.sessions = 50000;
	cf->limits.connect_retries = 1;
	cf->limits.cache_ttl = 5;
	cf->limits.mapping_stale = 300;
	cf->breaker.failures = 5;
	cf->breaker.cooldown = 10;
}

struct config *
config_load(const char *path, struct buf *err)
{
	struct config *cf = xcalloc(1, sizeof(*cf));
	yaml_document_t doc;
	yaml_node_t *root;
	struct yconf c = { path, NULL, &doc, err, 0 };
	char *copy = xstrdup(path), *real, hostname[256];

	cf->refs = 1;
	cf->file = xstrdup(path);
	defaults(cf);
	real = realpath(dirname(copy), NULL);
	free(copy);
	c.dir = real ? real : ".";
	if (yconf_load(path, &doc, &cf->text, &cf->text_len, err) < 0) {
		free(real);
		config_unref(cf);
		return NULL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		yconf_err(&c, root, "the configuration is a mapping (listeners,"
		    " backends, mapping, ...), found %s",
		    root ? yconf_kind(root) : "an empty file");
	else {
		yconf_walk(&c, root, "the configuration", config_keys, cf);
		if (!c.errors)
			check_config(&c, cf, root);
	}
	yaml_document_delete(&doc);
	free(real);
	if (c.errors) {
		config_unref(cf);
		return NULL;
	}
	if (!cf->hostname) {
		if (gethostname(hostname, sizeof(hostname)) < 0)
			hostname[0] = '\0';
		hostname[sizeof(hostname) - 1] = '\0';
		cf->hostname = xstrdup(*hostname ? hostname : "localhost");
	}
	if (!cf->mechanisms.nr) {
		cf->mechanisms.v = xcalloc(2, sizeof(char *));
		cf->mechanisms.v[0] = xstrdup("PLAIN");
		cf->mechanisms.v[1] = xstrdup("LOGIN");
		cf->mechanisms.nr = 2;
	}
	return cf;
}

static void
backend_free(struct backend *be)
{
	free(be->address);
	free(be->host);
	free(be->port);
	free(be->servername);
	free(be->ca_file);
	free(be->tls_name);
	free(be->client_address_name);
	SSL_CTX_free(be->ctx);
}

static void
side_free(struct side *sd)
{
	int p;

	for (p = 0; p < P_NR; p++)
		backend_free(&sd->be[p]);
}

void
config_unref(struct config *cf)
{
	size_t i;

	if (!cf || --cf->refs > 0)
		return;
	free(cf->file);
	free(cf->text);
	free(cf->hostname);
	free(cf->default_domain);
	free(cf->master_separators);
	free(cf->mapping);
	free(cf->routes_file);
	free(cf->control);
	free(cf->user);
	strlist_free(&cf->mechanisms);
	free(cf->tls.certificate);
	free(cf->tls.key);
	free(cf->tls.chain);
	for (i = 0; i < cf->nr_listeners; i++) {
		free(cf->listeners[i].protocol_name);
		free(cf->listeners[i].listen);
		free(cf->listeners[i].tls_name);
		strlist_free(&cf->listeners[i].capabilities);
		free(cf->listeners[i].destination);
		free(cf->listeners[i].source);
	}
	free(cf->listeners);
	side_free(&cf->source);
	side_free(&cf->destination);
	SSL_CTX_free(cf->server_ctx);
	for (i = 0; i < cf->nr_routes; i++)
		free(cf->routes[i].id);
	free(cf->routes);
	free(cf);
}
