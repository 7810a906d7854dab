/*
 * serve.h: `migrate serve` (serve.c).
 */
#ifndef MIGRATE_SERVE_H
#define MIGRATE_SERVE_H

struct state;

struct serve_opts {
	const char *listen;		/* ADDRESS:PORT, 127.0.0.1:8470 */
	int refresh;			/* the page reloads every so often */
	const char *tls_cert, *tls_key;	/* PEM files */
	const char *password_file;	/* its first line */
};

/* Serve the state in `dir` (open as `s`) until SIGINT or SIGTERM: the
 * report's page at /, status's JSON at /status.json; the exit status. */
int serve_run(struct state *s, const char *dir, const struct serve_opts *o);

#endif
