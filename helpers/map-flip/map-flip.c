/*
 * map-flip: set which server holds an account, in the mapping store that
 * the proxy reads.  See map-flip(8).
 */
#include "compat.h"

#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "arcindex.h"
#include "buf.h"
#include "evline.h"
#include "fileio.h"
#include "ident.h"
#include "log.h"
#include "mapping.h"
#include "opt.h"
#include "secret.h"
#include "xalloc.h"

#define FLIP_VERSION	"0.1"

static const char usage_text[] =
"usage: map-flip --store STORE [--domain DOMAIN] [--export FILE]\n"
"         [--control SOCKET] [--pop3-uidls ARCHIVE]\n"
"         ACCOUNT source|destination\n"
"   or: map-flip [--store STORE] [--domain DOMAIN] [--control SOCKET]\n"
"         --hold SECONDS ACCOUNT\n"
"   or: map-flip [--store STORE] [--domain DOMAIN] [--control SOCKET]\n"
"         --release ACCOUNT\n"
"   or: map-flip --store STORE [--export FILE] [--control SOCKET]\n"
"         --restore EXPORT\n"
"   or: map-flip --store STORE [--export FILE] [--control SOCKET]\n"
"         --default source|destination\n"
"   or: map-flip --store STORE [--export FILE] --list\n"
"STORE is a file, or a postgresql:// URL that proxies follow.\n";

static void ATTR_NORETURN
usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

/* A file beside the store, unless given (a database: none). */
static char *
beside(const char *store, const char *given, const char *name)
{
	char *copy, *path;

	if (given)
		return xstrdup(given);
	if (mapping_is_url(store))
		return NULL;
	copy = xstrdup(store);
	path = xasprintf("%s/%s", dirname(copy), name);
	free(copy);
	return path;
}

/*
 * Tell the proxy the lines `cmds` on its control socket and read its
 * answer, a line each.  Returns the number of lines it answered "ok", or
 * -1 (with `why`) when it could not be asked.
 */
static int
tell(const char *sock_path, const struct buf *cmds, struct buf *why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct buf in = BUF_INIT;
	int fd, acked = 0;
	char *p;

	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		buf_addf(why, "control socket path too long: %s", sock_path);
		return -1;
	}
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		buf_addf(why, "no proxy listens on %s: %s", sock_path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write(fd, cmds->buf, cmds->len) != (ssize_t)cmds->len) {
		buf_addf(why, "cannot write to the proxy: %s", strerror(errno));
		acked = -1;
	}
	shutdown(fd, SHUT_WR);
	while (acked >= 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char chunk[512];
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0) {
			buf_adds(why, "the proxy did not answer in 5 s");
			acked = -1;
			break;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf_add(&in, chunk, n);
	}
	for (p = in.buf; acked >= 0 && p && *p; p = strchr(p, '\n'),
	    p = p ? p + 1 : NULL)
		if (!strncmp(p, "ok", 2))
			acked++;
	close(fd);
	buf_release(&in);
	return acked;
}

/*
 * Tell the proxy about `ids`.  A flip (`hold` < 0) closes their sessions
 * ("kick ID", which also ends a hold).  A hold (`hold` > 0) closes them
 * too, then holds their new logins for that many seconds ("delay ID
 * SECONDS" after every kick: the proxy reads the lines in order, with no
 * login between them).  A release (`hold` 0) ends the hold ("delay ID
 * 0"): the logins held go on to where the mapping says.  With `shared`,
 * a store in a database, every proxy that follows it is told there
 * instead.
 */
static int
kick(const char *sock_path, struct mapping *shared, char **ids, size_t nr,
    long hold, struct buf *why)
{
	struct buf out = BUF_INIT;
	size_t i, want = (hold ? nr : 0) + (hold >= 0 ? nr : 0);
	int acked;

	for (i = 0; hold && i < nr; i++)
		buf_addf(&out, "kick %s\n", ids[i]);
	for (i = 0; hold >= 0 && i < nr; i++)
		buf_addf(&out, "delay %s %ld\n", ids[i], hold);
	if (shared)
		acked = mapping_tell(shared, out.buf, why) < 0 ? -1 :
		    (int)want;
	else
		acked = tell(sock_path, &out, why);
	if (acked >= 0 && hold >= 0 && (size_t)acked < want) {
		buf_addf(why, "the proxy on %s refused %zu of %zu commands",
		    sock_path, want - acked, want);
		acked = -1;
	}
	buf_release(&out);
	return acked;
}

/*
 * --hold and --release: only the proxy is told (every proxy, through a
 * store in a database), the routes are left as they are.  A proxy that
 * cannot be told is an error here (exit 69): the caller is about to rely
 * on the hold.
 */
static int
hold_or_release(const char *control, const char *store, const char *account,
    const char *domain, long hold)
{
	struct buf why = BUF_INIT;
	struct mapping *shared = NULL;
	char **ids = NULL;
	size_t nr, i;
	int acked = -1, code;

	log_set_account(account);
	nr = mapping_forms(account, domain, &ids);
	evline_hello(1, "map-flip", FLIP_VERSION);
	if (!store || !mapping_is_url(store) ||
	    mapping_open(&shared, store, MAPPING_WRITE, &why) == 0)
		acked = kick(control, shared, ids, nr, hold, &why);
	mapping_close(shared);
	if (acked < 0) {
		log_warnx("%s", why.buf);
		code = EX_UNAVAILABLE;
	} else {
		json_t *forms = json_array();

		for (i = 0; i < nr; i++)
			json_array_append_new(forms, json_string(ids[i]));
		evline_write(1, "done", "{s:s, s:s, s:I, s:o, s:b}", "account",
		    account, "route", hold > 0 ? "hold" : "release", "hold",
		    (json_int_t)hold, "identifiers", forms, "proxy_told", 1);
		if (hold > 0)
			log_info("%s: logins held for %ld s, sessions closed",
			    account, hold);
		else
			log_info("%s: hold released", account);
		code = 0;
	}
	for (i = 0; i < nr; i++)
		free(ids[i]);
	free(ids);
	buf_release(&why);
	return code;
}

static int
export(struct mapping *m, const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	int ret;

	if (!path)
		return 0;
	buf_addf(&text, "# migrate mapping, version %" PRId64
	    ": identifier route\n", mapping_version(m));
	ret = mapping_export(m, &text, err);
	if (ret == 0)
		ret = file_write_atomic(path, text.buf, text.len, 0644, err);
	buf_release(&text);
	return ret;
}

/*
 * Replace every route with those of the export `path`; `ids_r` gets the
 * identifiers that changed.  0, or the exit status.
 */
static int
restore_routes(struct mapping *m, const char *path, char ***ids_r,
    size_t *nr_r, int64_t *version_r)
{
	struct buf text = BUF_INIT, err = BUF_INIT;
	int code = 0;

	if (file_read(path, &text, &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_NOINPUT;
	} else if (mapping_restore(m, text.buf, text.len, ids_r, nr_r,
	    version_r, &err) < 0) {
		log_warnx("%s: %s", path, err.buf);
		code = strstr(err.buf, "line ") ? EX_DATAERR : EX_TEMPFAIL;
	}
	buf_release(&text);
	buf_release(&err);
	return code;
}

/*
 * The POP3 ids that pop3-uidl(8) recorded in `archive` on both sides,
 * joined, into the store for `account`.  0, or the exit status.
 */
static int
store_uidls(struct mapping *m, const char *account, const char *archive)
{
	struct buf err = BUF_INIT;
	struct arcidx *ix = NULL;
	struct arc_uidl_pair *v = NULL;
	const char **dest = NULL, **src = NULL;
	size_t nr = 0, i;
	int code = 0;

	buf_addf(&err, "%s/" ARCIDX_FILE, archive);
	if (access(err.buf, F_OK) < 0) {
		log_warnx("%s: no archive there", archive);
		buf_release(&err);
		return EX_NOINPUT;
	}
	buf_reset(&err);
	if (arcidx_open(&ix, archive, 0, &err) < 0 ||
	    arcidx_pop3_pairs(ix, &v, &nr, &err) < 0)
		code = EX_IOERR;
	if (!code) {
		dest = xcalloc(nr + 1, sizeof(*dest));
		src = xcalloc(nr + 1, sizeof(*src));
		for (i = 0; i < nr; i++) {
			dest[i] = v[i].dest;
			src[i] = v[i].src;
		}
		if (mapping_set_uidls(m, account, dest, src, nr, &err) < 0)
			code = EX_TEMPFAIL;
		else
			log_info("%s: %zu POP3 ids of the source kept", account,
			    nr);
	}
	if (code)
		log_warnx("%s", err.buf);
	free(dest);
	free(src);
	arc_uidl_pairs_free(v, nr);
	arcidx_close(&ix);
	buf_release(&err);
	return code;
}

/* Route every login form of `account` to `r`.  0, or the exit status. */
static int
set_route(struct mapping *m, const char *account, const char *domain,
    enum route r, char ***ids_r, size_t *nr_r, int64_t *version_r,
    int *changed_r)
{
	struct buf err = BUF_INIT;
	int code = 0;

	log_set_account(account);
	*nr_r = mapping_forms(account, domain, ids_r);
	if (mapping_set(m, account, (const char *const *)*ids_r, *nr_r, r,
	    changed_r, version_r, &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_TEMPFAIL;
	}
	buf_release(&err);
	return code;
}

/* The helper protocol's standard input: no secret is needed, none kept.
 * Returns 0 (it exits on a bad input). */
static int
drain_secrets(void)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;

	if (secrets_read(&sec, 0, &err) < 0)
		fatalx(EX_USAGE, "standard input: %s", err.buf);
	secrets_clear(&sec);
	buf_release(&err);
	return 0;
}

/* --list: the export's lines on standard output, or with `path` the
 * export written there.  The exit status. */
static int
print_routes(struct mapping *m, const char *path)
{
	struct buf text = BUF_INIT, err = BUF_INIT;
	int code = 0;

	/* with --export: the export written, as a flip writes it */
	if (path ? export(m, path, &err) < 0 : mapping_export(m, &text,
	    &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_TEMPFAIL;
	} else if (!path) {
		fwrite(text.buf, 1, text.len, stdout);
	}
	buf_release(&text);
	buf_release(&err);
	return code;
}

/*
 * After a flip of `account` (NULL: a restore of `restore`): the proxy
 * told to close the sessions of what changed, the done event, the log.
 */
static void
tell_and_say(const char *control, int shared, char **ids, size_t nr_ids,
    size_t changed, int64_t version, const char *account, enum route r,
    const char *restore)
{
	struct buf why = BUF_INIT;
	json_t *forms = json_array();
	int kicked = 0;
	size_t i;

	/* shared: the new version told every proxy at the commit */
	if (changed > 0 && !shared) {
		kicked = kick(control, NULL, ids, nr_ids, -1, &why);
		if (kicked < 0)
			evline_anomaly(1, "proxy-unreachable", NULL, 0,
			    why.buf, NULL);
	}
	for (i = 0; i < nr_ids; i++)
		json_array_append_new(forms, json_string(ids[i]));
	evline_write(1, "done", "{s:s, s:s, s:I, s:I, s:o, s:b}", "account",
	    account ? account : "*", "route", account ? route_name(r) :
	    "restore", "changed", (json_int_t)changed, "version",
	    (json_int_t)version, "identifiers", forms, "proxy_told",
	    kicked >= 0);
	if (account)
		log_info("%s -> %s (%s, version %" PRId64 ")", account,
		    route_name(r), changed ? "changed" : "already so", version);
	else
		log_info("restored %s: %zu routes changed (version %" PRId64
		    ")", restore, changed, version);
	buf_release(&why);
}

/*
 * The route of identifiers the mapping does not name (finalize makes it
 * the destination); the proxy is told to forget what it cached.
 */
static int
set_default(const char *store, const char *export_opt, const char *control,
    const char *route)
{
	struct buf err = BUF_INIT, why = BUF_INIT, cmd = BUF_INIT;
	char *export_path = beside(store, export_opt, "mapping.txt");
	struct mapping *m = NULL;
	int64_t version = 0;
	int changed = 0, told = 0, code = EX_TEMPFAIL;
	enum route r;

	if (route_parse(route, &r) < 0)
		fatalx(EX_USAGE, "--default: source or destination");
	evline_hello(1, "map-flip", FLIP_VERSION);
	if (mapping_open(&m, store, 1, &err) < 0)
		code = EX_UNAVAILABLE;
	else if (mapping_set_default(m, r, &changed, &version, &err) == 0 &&
	    export(m, export_path, &err) == 0)
		code = 0;
	if (code) {
		log_warnx("%s", err.buf);
		goto out;
	}
	if (changed && !mapping_is_url(store)) {
		buf_adds(&cmd, "invalidate\n");
		told = tell(control ? control : PROXY_CONTROL_DEFAULT, &cmd,
		    &why);
		if (told < 0)
			evline_anomaly(1, "proxy-unreachable", NULL, 0,
			    why.buf, NULL);
	}
	evline_write(1, "done", "{s:s, s:s, s:b, s:I, s:b}", "account", "*",
	    "route", route_name(r), "changed", changed, "version",
	    (json_int_t)version, "proxy_told", told >= 0);
	log_info("default -> %s (%s, version %" PRId64 ")", route_name(r),
	    changed ? "changed" : "already so", version);
out:
	mapping_close(m);
	free(export_path);
	buf_release(&err);
	buf_release(&why);
	buf_release(&cmd);
	return code;
}

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "domain", required_argument, NULL, 'd' },
	{ "export", required_argument, NULL, 'e' },
	{ "control", required_argument, NULL, 'c' },
	{ "restore", required_argument, NULL, 'r' },
	{ "list", no_argument, NULL, 'l' },
	{ "hold", required_argument, NULL, 'H' },
	{ "release", no_argument, NULL, 'R' },
	{ "default", required_argument, NULL, 'D' },
	{ "pop3-uidls", required_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	const char *store = NULL, *domain = NULL, *restore = NULL, *dflt = NULL;
	const char *uidls = NULL;
	char *export_path, *control, **ids = NULL;
	struct buf err = BUF_INIT;
	struct mapping *m = NULL;
	const char *export_opt = NULL, *control_opt = NULL;
	size_t nr_ids = 0, i, changed = 0;
	int list = 0, c, code = EX_SOFTWARE, one_changed = 0;
	long hold = -1;
	int64_t version = 0;
	enum route r = ROUTE_SOURCE;

	log_init("map-flip", -1);
	secrets_no_core();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'd': domain = optarg; break;
		case 'e': export_opt = optarg; break;
		case 'c': control_opt = optarg; break;
		case 'r': restore = optarg; break;
		case 'l': list = 1; break;
		case 'H':
			hold = (long)opt_size("--hold", optarg, 1);
			if (hold > 3600)
				fatalx(EX_USAGE, "--hold: at most 3600 seconds");
			break;
		case 'R': hold = 0; break;
		case 'D': dflt = optarg; break;
		case 'P': uidls = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: usage();
		}
	}
	if (optind < argc && !ident_ok(argv[optind]))
		fatalx(EX_USAGE, "'%s': not an account the proxy can route (a"
		    " blank, a quote, a backslash or a control character in"
		    " it, or empty)", argv[optind]);
	if (hold >= 0 && !list && !restore && !dflt && !uidls &&
	    optind + 1 == argc && *argv[optind] && !drain_secrets())
		return hold_or_release(control_opt ? control_opt :
		    PROXY_CONTROL_DEFAULT, store, argv[optind], domain, hold);
	if (dflt && store && hold < 0 && !list && !restore && optind == argc &&
	    !drain_secrets())
		return set_default(store, export_opt, control_opt, dflt);
	if (hold >= 0 || dflt || (uidls && (list || restore)))
		usage();
	if (!store || (list && (restore || optind != argc)) ||
	    (!list && !restore && optind + 2 != argc) ||
	    (restore && optind != argc))
		usage();
	if (!list && !restore && route_parse(argv[optind + 1], &r) < 0)
		fatalx(EX_USAGE, "'%s': the route is source or destination",
		    argv[optind + 1]);
	drain_secrets();
	export_path = beside(store, export_opt, "mapping.txt");
	control = xstrdup(control_opt ? control_opt : PROXY_CONTROL_DEFAULT);

	if (mapping_open(&m, store, !list, &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_UNAVAILABLE;
		goto out;
	}
	if (list) {
		code = print_routes(m, export_opt ? export_path : NULL);
		goto out;
	}
	evline_hello(1, "map-flip", FLIP_VERSION);
	if (restore)
		code = restore_routes(m, restore, &ids, &nr_ids, &version);
	else if (!uidls || !(code = store_uidls(m, argv[optind], uidls)))
		code = set_route(m, argv[optind], domain, r, &ids, &nr_ids,
		    &version, &one_changed);
	if (code)
		goto out;
	/* a restore's changed routes: their sessions are on the wrong
	 * server */
	changed = restore ? nr_ids : (size_t)one_changed;
	if (export(m, export_path, &err) < 0) {
		log_warnx("%s", err.buf);
		code = EX_TEMPFAIL;
		goto out;
	}
	tell_and_say(control, mapping_is_url(store), ids, nr_ids, changed,
	    version,
	    restore ? NULL : argv[optind], r, restore);
	code = 0;
out:
	for (i = 0; i < nr_ids; i++)
		free(ids[i]);
	free(ids);
	mapping_close(m);
	free(export_path);
	free(control);
	buf_release(&err);
	return code;
}
