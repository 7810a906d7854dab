/*
 * proxy.h: migrate-proxy(8), the migration proxy.
 *
 * One libevent loop.  A session answers the client itself until it has
 * an identity and its credentials (the protocol's front, imap.c, pop3.c,
 * sieve.c, smtp.c), routes the identity through the mapping store
 * (route.c), logs in to the backend that holds the account with the same
 * credentials (the protocol's back), hands the backend's answer to the
 * client and from then on copies bytes both ways (session.c).
 */
#ifndef MIGRATE_PROXY_H
#define MIGRATE_PROXY_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "mapping.h"
#include "secret.h"
#include "yconf.h"

struct bufferevent;
struct evbuffer;
struct evconnlistener;

/* how much one side may have queued before the other stops being read */
#define SPLICE_HIGH	(64 * 1024)

enum proto_id {
	P_IMAP,
	P_POP3,
	P_SIEVE,
	P_SUBMISSION,
	P_SMTP,			/* port 25: bytes copied whole to one server */
	P_HTTP,			/* JMAP and DAV, routed request by request */
	P_SOCKETMAP,		/* the MX asks where each recipient lives */
	P_NR
};

enum tls_use {
	TLS_USE_NONE,
	TLS_USE_STARTTLS,
	TLS_USE_IMPLICIT,
};

enum client_addr {
	CA_NONE,
	CA_PROXY,		/* PROXY protocol v2 */
	CA_NATIVE,		/* IMAP ID x-originating-ip, XCLIENT */
};

/* A server the proxy logs in to. */
struct backend {
	char *address;		/* host:port as configured */
	char *host, *port;
	char *servername;	/* to verify; NULL: host */
	char *ca_file;
	char *tls_name;		/* "none", "starttls", "implicit" */
	char *client_address_name;
	int insecure;
	int allow_plaintext;
	enum tls_use tls;
	enum client_addr client_address;
	struct pos at;
	struct sockaddr_storage sa;
	socklen_t salen;
	SSL_CTX *ctx;
	char name[32];		/* "source imap" */
	/* the circuit breaker and counters, kept across reloads by name */
	struct backend_state *st;
};

struct backend_state {
	char name[48];
	int failures;		/* connect failures in a row */
	time_t open_until;	/* the breaker is open until then */
	int probing;		/* half open: one attempt under way */
	unsigned long long connections, connect_failures, sessions;
};

struct listener {
	char *protocol_name;
	char *listen;		/* address:port */
	char *tls_name;
	int require_tls;	/* no login before TLS */
	struct strlist capabilities;	/* overrides the protocol's list */
	/* socketmap: the transports for the destination's accounts and
	 * (NULL: the MX's own) the source's */
	char *destination, *source;
	enum proto_id proto;
	enum tls_use tls;
	struct pos at;
};

struct side {
	struct backend be[P_NR];	/* address NULL: none */
};

struct config {
	int refs;
	char *file;
	char *text;
	size_t text_len;
	char *hostname;
	char *default_domain;
	char *master_separators;
	char *mapping;		/* the store map-flip writes */
	char *routes_file;	/* `identifier destination` lines */
	char *control;
	char *user;		/* run as, once the ports and keys are open */
	struct strlist mechanisms;
	int hide_auth_errors;	/* refusals in one wording, at one time */
	struct {
		char *certificate, *key, *chain;
	} tls;
	struct {
		long long preauth, backend, idle, shutdown;
		long long auth_failure;	/* hide_auth_errors: a refusal's time */
	} timeouts;
	struct {
		long long line_length, sessions, connect_retries;
		long long cache_ttl;
		long long mapping_stale;	/* follow.c */
	} limits;
	struct {
		long long failures, cooldown;
	} breaker;
	struct listener *listeners;
	size_t nr_listeners;
	struct side source, destination;
	SSL_CTX *server_ctx;
	/* routes_file, read: sorted identifier, route */
	struct route_entry {
		char *id;
		enum route route;
	} *routes;
	size_t nr_routes;
};

struct session;

/* Why a session cannot go on as its client asked (fail_name() says it). */
enum fail {
	FAIL_BACKEND,		/* the backend is down or cannot be reached */
	FAIL_NO_ROUTE,		/* the mapping cannot be read */
	FAIL_UNAVAILABLE,	/* the backend's breaker is open */
	FAIL_TIMEOUT,		/* nothing from the client in time */
	FAIL_LINE_TOO_LONG,
	FAIL_COMMAND_TOO_LONG,	/* a command with its literals */
	FAIL_KICKED,		/* the account moved */
	FAIL_SHUTDOWN,
};

/* A protocol: its pre-authentication front and its backend login. */
struct proto {
	const char *name;
	enum proto_id id;
	/* greet a new client */
	void (*greet)(struct session *s);
	/* one line (without CRLF) from the client before authentication:
	 * 0 go on, -1 close once the output is flushed, 1 stop reading */
	int (*client_line)(struct session *s, char *line, size_t len);
	/* one line from the backend while logging in (see session.c) */
	int (*backend_line)(struct session *s, char *line, size_t len);
	/* the session cannot go on as the client asked: say why */
	void (*temp_fail)(struct session *s, enum fail why);
	/* a SASL challenge (base64) for the client */
	void (*challenge)(struct session *s, const char *b64);
	/* the answers to a failed, a canceled and an unknown mechanism's
	 * login (after the tag, for IMAP) */
	const char *refusals[3];
	/* the client's goodbye ("LOGOUT", "QUIT"), after a tag for IMAP */
	const char *logout;
	/* said before closing on the third failed login */
	const char *too_many;
	/*
	 * A protocol that parses all along (HTTP) sets these; session.c
	 * then leaves every byte to it.  read: the client sent something;
	 * backend_read: the backend did; connected: the backend accepted
	 * the connection; backend_eof: the backend closed outside a login;
	 * written: the client's (0) or the backend's (1) side drained.
	 */
	void (*read)(struct session *s);
	void (*backend_read)(struct session *s);
	void (*connected)(struct session *s);
	void (*backend_eof)(struct session *s);
	void (*written)(struct session *s, int backend);
	/* let go of the protocol's own state (s->proto_state) */
	void (*free)(struct session *s);
	/* no login: bytes go whole to the destination (port 25) */
	int passthrough;
};

extern const struct proto proto_imap, proto_pop3, proto_sieve,
    proto_submission, proto_smtp, proto_http, proto_socketmap;

enum sstate {
	SS_PREAUTH,		/* the front answers the client */
	SS_HOLD,		/* a delay holds the login */
	SS_BACKEND,		/* logging in to the backend */
	SS_SPLICE,		/* bytes copied both ways */
	SS_REFUSING,		/* a refusal held to its time */
	SS_CLOSING,		/* flushing the last output */
};

struct session {
	struct proxy *px;
	struct config *cf;
	const struct listener *l;
	const struct proto *proto;
	struct bufferevent *c, *b;
	int cfd;		/* the client's socket, under c or fp */
	struct event *timer;
	enum sstate state;
	int step;		/* the protocol's own step */
	int client_tls, backend_tls;
	int client_tls_up;	/* the client's TLS handshake is done */
	char peer[64];		/* address:port */
	char peer_ip[48], local_ip[48];
	int peer_port, local_port;
	struct sockaddr_storage peer_sa, local_sa;
	socklen_t salen;
	/* the login */
	char *user;		/* as the client gave it */
	char *route_id;		/* what was routed */
	char *mech;		/* the SASL mechanism replayed */
	struct buf sasl;	/* its initial response, raw; wiped */
	char *tag;		/* IMAP: the client's tag */
	char *ehlo;		/* SMTP: the client's EHLO name */
	struct buf acc;		/* a command with IMAP literals */
	size_t literal;		/* literal bytes still to come */
	int sasl_step;		/* AUTHENTICATE LOGIN and the like */
	char *login_user;	/* LOGIN / USER, waiting for the password */
	enum route route;
	const struct backend *be;
	int tries;
	int caps;		/* the backend's, seen while logging in */
	int connected;		/* the backend accepted the connection */
	int relay;		/* a client line goes to the backend (SASL) */
	int native_done;	/* ID or XCLIENT sent */
	int bad;		/* bad commands before login */
	time_t last_io;		/* SPLICE: for the idle timeout */
	struct fastpath *fp;	/* SPLICE in clear: session.c */
	void *proto_state;	/* the protocol's own (HTTP's: http.c) */
	/* SPLICE through the protocol (POP3's ids): what one side sent
	 * (from_backend 0: the client), from `in` to `out`; what it leaves
	 * in `in` waits for more.  NULL: bytes copied as they come */
	void (*filter)(struct session *s, int from_backend,
	    struct evbuffer *in, struct evbuffer *out);
	int fails;		/* failed logins in this session */
	struct timespec login_at;	/* when the last login began */
	char *refusal;		/* SS_REFUSING: what the client is told */
	char tail[48];		/* SPLICE: the end of what the client sent */
	size_t tail_len;
	struct buf user_log;	/* session_user_log()'s */
	unsigned long long in, out;
	struct timespec start;
	const char *result;
	LIST_ENTRY(session) link;
};

/* backend capabilities */
#define CAP_SASL_IR	0x01
#define CAP_STARTTLS	0x02
#define CAP_XCLIENT	0x04

struct proto_stats {
	unsigned long long connections, active, logins, login_failures,
	    temp_failures, kicked;
};

struct proxy {
	struct event_base *base;
	struct config *cf;
	const char *config_path;
	struct evconnlistener **listeners;
	size_t nr_listeners;
	struct evconnlistener *control;
	struct mapping *map;
	struct follow *follow;	/* a database store (follow.c) */
	double follow_lost;	/* since when it is out of reach, or 0 */
	LIST_HEAD(, session) sessions;
	size_t nr_sessions;
	struct proto_stats st[P_NR];
	struct backend_state *bstates;
	size_t nr_bstates;
	/* the route cache, a hash table of chains */
#define CACHE_BUCKETS	4096
	struct cache_entry {
		char *id;
		enum route route;
		time_t at;
		struct cache_entry *next;
	} *cache[CACHE_BUCKETS];
	size_t nr_cache;
	/* logins held back: identifier, until when */
	struct delay {
		char *id;
		time_t until;
	} *delays;
	size_t nr_delays;
	int stopping;
	size_t nr_linger;	/* client sockets closing (linger.c) */
};

/* config.c */
struct config *config_load(const char *path, struct buf *err);
void config_unref(struct config *cf);
const char *proto_name(enum proto_id p);
/* the backend of protocol `p` on side `r`; NULL when there is none */
const struct backend *config_backend(const struct config *cf,
    enum proto_id p, enum route r);

/* follow.c: a store in a database, followed */
int follow_start(struct proxy *px, struct buf *err);
void follow_stop(struct proxy *px);

/* linger.c */
void linger_close(struct proxy *px, int fd);

/* route.c */
int route_lookup(struct proxy *px, const char *id, enum route *r,
    struct buf *err);
void route_invalidate(struct proxy *px, const char *id);
time_t route_delayed(struct proxy *px, const char *id);
void route_delay(struct proxy *px, const char *id, time_t until);

/* session.c: the session itself */
double session_elapsed(const struct timespec *t0);
void session_written(struct bufferevent *bev, void *arg);
void session_client_read(struct bufferevent *bev, void *arg);
void session_client_event(struct bufferevent *bev, short what, void *arg);
void session_backend_event(struct bufferevent *bev, short what, void *arg);
void session_drained(struct bufferevent *bev, void *arg);
/* the client's lines before login, and after a failed one */
void session_preauth_read(struct session *s);
void session_front_read(struct session *s);
/* login.c: its login */
void session_accept(struct proxy *px, const struct listener *l,
    const struct proto *proto, int fd, struct sockaddr *sa, int salen);
void session_write(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void session_backend_write(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void session_close(struct session *s, const char *result);
void session_enter_state(struct session *s, enum sstate st);
const char *fail_name(enum fail why);
/* The user name, escaped for a log line (valid until the next call). */
const char *session_user_log(struct session *s);

/* the session's timer fires in `seconds` (0: never) */
void session_arm(struct session *s, long long seconds);
int session_starttls(struct session *s);
int session_backend_starttls(struct session *s);
/* The login is known (s->user, s->mech, s->sasl): route and connect. */
int session_login(struct session *s);
/* The backend accepted: copy bytes from now on. */
void session_splice(struct session *s);
/*
 * The backend refused: its answer `text` (after the tag, for IMAP) goes
 * to the client, or with hide_auth_errors the protocol's own refusal at
 * its fixed time; then back to the front.
 */
void session_login_failed(struct session *s, const char *text);
/* A command refused before login: 0, or -1 to close after the eleventh. */
static inline int
session_bad_command(struct session *s)
{
	if (++s->bad <= 10)
		return 0;
	s->result = "too many errors";
	return -1;
}
/* During the backend login: relay a client line to the backend (SASL
 * continuations), and back. */
void session_relay_to_client(struct session *s, const char *line,
    size_t len);
int session_kick(struct proxy *px, const char *id);
void session_release(struct proxy *px, const char *id);
/* hold the logins of `id` for `secs` seconds (0: release them) */
void session_hold(struct proxy *px, const char *id, long secs);
void session_backend_down(struct session *s, const char *why);

/* fastpath.c: SPLICE in clear, with read(2) and write(2) */
struct fast_ops {
	/* side 0 (the client) or 1 (the backend) closed or failed */
	void (*closed)(struct session *s, int side);
	/* SS_CLOSING, and everything queued is written */
	void (*drained)(struct session *s);
	/* what the client sent, as it passes */
	void (*client_bytes)(struct session *s, const char *p, size_t n);
};
/* Take over both sockets (and what their bufferevents hold). */
void fast_start(struct session *s, const struct fast_ops *ops);
void fast_touch(struct session *s);
size_t fast_pending(const struct session *s);
void fast_stop_reading(struct session *s);
void fast_free(struct session *s);

/* pop3ids.c: a migrated account's POP3 ids, the source's */
/* 1 when the session's account has ids to rewrite: s->filter is set */
int pop3ids_start(struct session *s);
void pop3ids_free(struct session *s);

/* cmd.c */
/* The next argument at *pp (after one space): an atom, a quoted string or
 * a literal ("{N}" CRLF N bytes); NULL when none or malformed. */
char *cmd_arg(const char **pp, const char *end, size_t *len_r);
/* the same without the space */
char *cmd_word(const char **pp, const char *end, size_t *len_r);
/* 1 when the line ends with "{N}" or "{N+}": its size, and whether the
 * client waits for a continuation */
int cmd_literal(const char *line, size_t n, size_t *size, int *sync);

/* identity.c */
/* The identifier a login is routed by, and the user each backend is
 * given; the mechanisms taken (all the proxy knows when `cf` is NULL). */
char *sasl_route_id(const struct config *cf, const char *user);
char *sasl_backend_user(const struct config *cf, const char *user,
    enum route r);
int sasl_mech_ok(const struct config *cf, const char *mech);

/* sasl.c */
/* parse a SASL initial response of `mech` (decoded); the identity into
 * *user_r; -1 when malformed or the mechanism is unknown */
int sasl_parse(const char *mech, const struct buf *msg, char **user_r);
/* rewrite the message for the backend of route r */
void sasl_for_backend(const struct config *cf, struct session *s,
    struct buf *out);
/* the same in base64, as every protocol writes it; the caller wipes it */
void sasl_backend_b64(struct session *s, struct buf *b64);
/* Send the backend `fmt` with the mechanism and that base64 (`empty`
 * when there is none) for its two %s. */
void sasl_backend_auth(struct session *s, const char *fmt,
    const char *empty);

/* The identity in an HTTP Authorization value: Basic (its password into
 * *pass) or a Bearer JWT's user claim; NULL when there is none. */
char *sasl_http_user(const char *value, struct buf *pass);


/* what sasl_begin() and sasl_step() found */
enum {
	SASL_MECH = -3,		/* a mechanism not offered */
	SASL_CANCEL = -2,	/* the client said "*" */
	SASL_BAD = -1,		/* malformed */
	SASL_NEED = 0,		/* a challenge was sent: wait for a line */
	SASL_DONE = 1,		/* s->user, s->mech, s->sasl are set */
};
/* AUTHENTICATE `mech` with the initial response `ir` (NULL: none) */
int sasl_begin(struct session *s, const char *mech, const char *ir);
/* the client's answer to a challenge */
int sasl_step(struct session *s, const char *line, size_t len);
/* What came of sasl_begin() or sasl_step(), for the client: 0 go on, 1
 * logging in, -1 close (the third failure) */
int sasl_result(struct session *s, int r);
/* the message of PLAIN for user and password */
void sasl_plain(struct buf *out, const char *user, const char *pass);

#endif
