/*
 * provision: make an account on the destination before anything is
 * pushed to it, with the password it has at the source, and say what it
 * did or would do.  See provision(8).
 */
#include "compat.h"

#include <ctype.h>
#include <getopt.h>

#include <jansson.h>

#include "buf.h"
#include "evline.h"
#include "helper.h"
#include "log.h"
#include "opt.h"
#include "provision.h"
#include "secret.h"
#include "xalloc.h"

#define PROVISION_VERSION	"1"

static const char usage_text[] =
"usage: provision --driver stalwart --url URL [--api current|0.15]\n"
"         [--admin-user USER] [--ca-file FILE] [--insecure]\n"
"         [--allow-plaintext]\n"
"       provision --driver command --exists CMD --create CMD\n"
"         [--update-command CMD] [--schemes LIST]\n"
"     and [--mode check|apply] [--login LOGIN] [--name NAME]\n"
"         [--alias ADDRESS]... [--quota BYTES] [--update LIST]\n"
"         [--missing-password fail|create] [--report FILE] ACCOUNT\n"
"Secrets come on standard input: hash=... (the source's password entry),\n"
"and for stalwart admin_password=... or token=...; then an empty line.\n";

static struct {
	struct prov p;
	const struct driver *drv;
	const char *report;
	int create_without_password;
} g;

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

enum {
	OPT_DRIVER = 256, OPT_URL, OPT_API, OPT_ADMIN, OPT_CA, OPT_INSECURE,
	OPT_PLAIN, OPT_EXISTS, OPT_CREATE, OPT_UPDATE_CMD, OPT_SCHEMES,
	OPT_MODE, OPT_LOGIN, OPT_NAME, OPT_ALIAS, OPT_QUOTA, OPT_UPDATE,
	OPT_MISSING, OPT_REPORT,
};

static const struct option longopts[] = {
	{ "driver", required_argument, NULL, OPT_DRIVER },
	{ "url", required_argument, NULL, OPT_URL },
	{ "api", required_argument, NULL, OPT_API },
	{ "admin-user", required_argument, NULL, OPT_ADMIN },
	{ "ca-file", required_argument, NULL, OPT_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "allow-plaintext", no_argument, NULL, OPT_PLAIN },
	{ "exists", required_argument, NULL, OPT_EXISTS },
	{ "create", required_argument, NULL, OPT_CREATE },
	{ "update-command", required_argument, NULL, OPT_UPDATE_CMD },
	{ "schemes", required_argument, NULL, OPT_SCHEMES },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "login", required_argument, NULL, OPT_LOGIN },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "alias", required_argument, NULL, OPT_ALIAS },
	{ "quota", required_argument, NULL, OPT_QUOTA },
	{ "update", required_argument, NULL, OPT_UPDATE },
	{ "missing-password", required_argument, NULL, OPT_MISSING },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* --update password,name,aliases,quota */
static unsigned
parse_update(const char *s)
{
	static const struct { const char *w; unsigned bit; } words[] = {
		{ "password", UPD_PASSWORD }, { "name", UPD_NAME },
		{ "aliases", UPD_ALIASES }, { "quota", UPD_QUOTA },
	};
	unsigned bits = 0;
	char *copy = xstrdup(s), *w, *save = NULL;
	size_t i;

	for (w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ",
	    &save)) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strcmp(w, words[i].w))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			fatalx(EX_USAGE, "--update: '%s' is none of password,"
			    " name, aliases, quota", w);
		bits |= words[i].bit;
	}
	free(copy);
	return bits;
}

static void
driver_option(int c, const char *arg)
{
	switch (c) {
	case OPT_URL: stalwart_opts.url = arg; break;
	case OPT_API:
		if (!strcmp(arg, "0.15"))
			stalwart_opts.v015 = 1;
		else if (strcmp(arg, "current"))
			fatalx(EX_USAGE, "--api: current or 0.15");
		break;
	case OPT_ADMIN: stalwart_opts.admin_user = arg; break;
	case OPT_CA: stalwart_opts.ca_file = arg; break;
	case OPT_INSECURE: stalwart_opts.insecure = 1; break;
	case OPT_PLAIN: stalwart_opts.allow_plaintext = 1; break;
	case OPT_EXISTS: command_opts.exists = arg; break;
	case OPT_CREATE: command_opts.create = arg; break;
	case OPT_UPDATE_CMD: command_opts.update = arg; break;
	case OPT_SCHEMES: command_opts.schemes = arg; break;
	default: usage();
	}
}

static void
parse_options(int argc, char **argv)
{
	const char *driver = NULL, *mode = "apply";
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRIVER: driver = optarg; break;
		case OPT_MODE: mode = optarg; break;
		case OPT_LOGIN: g.p.login = optarg; break;
		case OPT_NAME: g.p.name = optarg; break;
		case OPT_ALIAS:
			g.p.aliases = xreallocarray(g.p.aliases,
			    g.p.nr_aliases + 1, sizeof(*g.p.aliases));
			g.p.aliases[g.p.nr_aliases++] = optarg;
			break;
		case OPT_QUOTA: g.p.quota = opt_size("--quota", optarg, 1);
			break;
		case OPT_UPDATE: g.p.update = parse_update(optarg); break;
		case OPT_MISSING:
			if (!strcmp(optarg, "create"))
				g.create_without_password = 1;
			else if (strcmp(optarg, "fail"))
				fatalx(EX_USAGE, "--missing-password: fail or"
				    " create");
			break;
		case OPT_REPORT: g.report = optarg; break;
		default: driver_option(c, optarg);
		}
	}
	if (optind + 1 != argc || !driver)
		usage();
	g.p.account = argv[optind];
	if (!strchr(g.p.account, '@'))
		fatalx(EX_USAGE, "'%s' is not an address", g.p.account);
	if (!strcmp(mode, "apply"))
		g.p.apply = 1;
	else if (strcmp(mode, "check"))
		fatalx(EX_USAGE, "--mode: check or apply");
	if (!strcmp(driver, "stalwart"))
		g.drv = &stalwart_driver;
	else if (!strcmp(driver, "command"))
		g.drv = &command_driver;
	else
		fatalx(EX_USAGE, "--driver: stalwart or command");
	if (g.drv == &stalwart_driver && !stalwart_opts.url)
		fatalx(EX_USAGE, "--driver stalwart needs --url");
	if (g.drv == &command_driver && (!command_opts.exists ||
	    !command_opts.create))
		fatalx(EX_USAGE, "--driver command needs --exists and"
		    " --create");
}

/* Whether `scheme` is in the comma-separated `list`, any case. */
static int
in_list(const char *list, const char *scheme)
{
	size_t n = strlen(scheme);
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ", ");

		if (len == n && !strncasecmp(p, scheme, n))
			return 1;
		p += len;
		p += strspn(p, ", ");
	}
	return 0;
}

/* The password in the driver's form, or why it cannot be carried. */
static void
judge_password(void)
{
	struct prov *p = &g.p;
	char scheme[64];

	if (!p->entry) {
		p->form = PW_NONE;
		p->why = "the source gave no password entry";
	} else if (g.drv == &stalwart_driver) {
		p->form = pw_stalwart(p->entry, &p->secret, &p->why);
	} else {
		pw_scheme(p->entry, scheme, sizeof(scheme));
		if (*scheme && in_list(command_opts.schemes ?
		    command_opts.schemes : "PLAIN", scheme)) {
			p->form = PW_HASH;
			p->secret = xstrdup(p->entry);
		} else {
			p->form = PW_NONE;
			p->why = "its scheme is not among those the command"
			    " takes (provision.schemes)";
		}
	}
	if (p->form == PW_NONE) {
		pw_scheme(p->entry ? p->entry : "", scheme, sizeof(scheme));
		helper_anomaly("password-not-carried", *scheme ? scheme : NULL,
		    0, "the password of %s cannot be carried: %s",
		    p->account, p->why);
	}
}

static const char *
form_name(enum pw_form f)
{
	return f == PW_HASH ? "hash" : f == PW_PLAIN ? "plain" : "none";
}

/* What was done, for the log. */
static const char *
said(const char *action, int exists)
{
	if (!strcmp(action, "create"))
		return g.p.apply ? "created" : "would be created";
	if (!strcmp(action, "update"))
		return g.p.apply ? "exists, updated" : "exists, would be updated";
	return exists ? "exists, left as it is" : "nothing done";
}

static int
write_report(int exists, const char *action, struct buf *err)
{
	char scheme[64];
	json_t *o, *al = json_array();
	size_t i;

	pw_scheme(g.p.entry ? g.p.entry : "", scheme, sizeof(scheme));
	for (i = 0; i < g.p.nr_aliases; i++)
		json_array_append_new(al, json_string(g.p.aliases[i]));
	o = json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:s, s:s?}, s:s?, s:o,"
	    " s:I, s:o}", "account", g.p.account, "driver", g.drv->name,
	    "exists", exists, "action", action, "password", "scheme", scheme,
	    "form", form_name(g.p.form), "why", g.p.why, "name", g.p.name,
	    "aliases", al, "quota", (json_int_t)g.p.quota, "anomalies",
	    helper_anomaly_list());
	return helper_report(g.report, o, err);
}

/*
 * What to do: nothing to an account that exists unless --update says;
 * create one that does not, unless its password cannot be carried and
 * --missing-password is not "create".
 */
static int
provision(int *code, const char **action_r, int *exists_r, struct buf *err)
{
	struct prov *p = &g.p;
	int exists;

	if (g.drv->init && g.drv->init(p, code, err) < 0)
		return -1;
	if ((exists = g.drv->exists(p, code, err)) < 0)
		return -1;
	*exists_r = exists;
	if (exists) {
		if (!p->update || (p->update == UPD_PASSWORD && p->form ==
		    PW_NONE)) {
			*action_r = "none";
			return 0;
		}
		*action_r = "update";
		return p->apply ? g.drv->update(p, code, err) : 0;
	}
	*action_r = "create";
	if (p->form == PW_NONE && !g.create_without_password) {
		buf_addf(err, "%s: not created: its password cannot be carried"
		    " (%s); --missing-password create makes it without one",
		    p->account, p->why);
		*code = EX_DATAERR;
		return p->apply ? -1 : 0;
	}
	if (!p->apply)
		return 0;
	if (g.drv->create(p, code, err) < 0)
		return -1;
	/* read back what was written: a create that did not take is a
	 * failure now, not a failed login after the flip */
	if ((exists = g.drv->exists(p, code, err)) < 0)
		return -1;
	if (!exists) {
		buf_addf(err, "%s: created, but the destination does not list"
		    " it", p->account);
		*code = EX_PROTOCOL;
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct secrets sec = SECRETS_INIT;
	struct buf err = BUF_INIT;
	const char *action = "none";
	int code = 0, exists = 0, ret;

	helper_init("provision", PROVISION_VERSION);
	parse_options(argc, argv);
	helper_start(&sec, g.p.account, (char *)NULL);
	g.p.entry = secrets_get(&sec, "hash");
	stalwart_opts.password = secrets_get(&sec, "admin_password");
	stalwart_opts.token = secrets_get(&sec, "token");
	judge_password();
	ret = provision(&code, &action, &exists, &err);
	if (g.drv->finish)
		g.drv->finish();
	if (ret == 0 && code == EX_DATAERR && !g.p.apply)
		code = 0;	/* a check reports it */
	if (g.report && write_report(exists, action, &err) < 0 && !ret) {
		ret = -1;
		code = EX_CANTCREAT;
	}
	if (ret < 0) {
		log_warnx("%s", err.buf);
	} else {
		evline_write(1, "done", "{s:s, s:b, s:b, s:s, s:I, s:f}",
		    "action", action, "exists", exists, "applied", g.p.apply,
		    "password", form_name(g.p.form), "anomalies",
		    (json_int_t)helper_anomaly_count(), "seconds",
		    helper_seconds());
		log_info("%s: %s (password: %s)", g.p.account, said(action,
		    exists), form_name(g.p.form));
	}
	if (g.p.secret) {
		explicit_bzero(g.p.secret, strlen(g.p.secret));
		free(g.p.secret);
	}
	secrets_clear(&sec);
	free(g.p.aliases);
	buf_release(&err);
	return ret < 0 ? (code ? code : EX_SOFTWARE) : 0;
}
