/*
 * plan.c: read a plan with libyaml's document API and check it against
 * tables of the keys each mapping may hold (migrate-plan(5)).
 */
#include "compat.h"

#include <libgen.h>
#include <sys/stat.h>

#include <yaml.h>

#include "buf.h"
#include "fileio.h"
#include "mapping.h"
#include "plan.h"
#include "xalloc.h"
#include "yconf.h"

static void
parse_secret(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	struct secret_ref *ref = field;
	static const char *const kinds[] = { "file", "env", "command" };
	yaml_node_pair_t *pr;
	size_t i;

	ref->pos = yconf_pos(n);
	if (n->type == YAML_SCALAR_NODE) {
		yconf_err(c, n, "%s: an inline secret is refused, since the plan is"
		    " committed to the audit repository; give {file: PATH},"
		    " {env: NAME} or {command: CMD}", what);
		return;
	}
	if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start != 1) {
		yconf_err(c, n, "%s: expected one of {file: PATH}, {env: NAME},"
		    " {command: CMD}", what);
		return;
	}
	pr = n->data.mapping.pairs.start;
	{
		yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
		char *v;

		for (i = 0; i < ARRAY_SIZE(kinds); i++)
			if (kn->type == YAML_SCALAR_NODE &&
			    !strcmp(yconf_scalar(kn), kinds[i]))
				break;
		if (i == ARRAY_SIZE(kinds)) {
			yconf_err(c, kn, "%s: expected file, env or command, found"
			    " '%s'", what, kn->type == YAML_SCALAR_NODE ?
			    yconf_scalar(kn) : yconf_kind(kn));
			return;
		}
		if (!(v = yconf_string(c, vn, what)))
			return;
		ref->kind = SECRET_FILE + i;
		ref->value = i == 0 ? yconf_absolute(c, v) : xstrdup(v);
		free(v);
		if (ref->kind == SECRET_FILE && access(ref->value, R_OK) < 0)
			yconf_err(c, vn, "%s: cannot read '%s': %s", what,
			    ref->value, strerror(errno));
		if (ref->kind == SECRET_ENV)
			secret_env_keep(ref->value);
		if (ref->kind == SECRET_COMMAND &&
		    (plan_echo_command(ref->value) ||
		    plan_inline_credential(ref->value)))
			yconf_err(c, vn, "%s: the command holds the secret"
			    " itself, and the plan is committed to the audit"
			    " repository; let it read the secret from elsewhere"
			    " (a file, a vault)", what);
	}
}

#define A(f) offsetof(struct auth, f)
static const struct ykey auth_keys[] = {
	{ "passwords", K_FUNC, A(passwords), NULL, NULL, parse_secret },
	{ "master_user", K_STR, A(master_user), NULL, NULL },
	{ "master_separator", K_STR, A(master_separator), NULL, NULL },
	{ "master_password", K_FUNC, A(master_password), NULL, NULL,
	    parse_secret },
	{ "token", K_FUNC, A(token), NULL, NULL, parse_secret },
	{ "login", K_STR, A(login), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define S(f) offsetof(struct server, f)
static const struct ykey source_keys[] = {
	{ "imap", K_URL, S(imap), NULL, "imap imaps" },
	{ "jmap", K_URL, S(jmap), NULL, "http https" },
	{ "dav", K_URL, S(dav), NULL, "http https" },
	{ "dav_login", K_STR, S(dav_login), NULL, NULL },
	{ "files", K_URL, S(files), NULL, "http https" },
	{ "sieve", K_URL, S(sieve), NULL, "sieve" },
	{ "pop3", K_URL, S(pop3), NULL, "pop3 pop3s" },
	{ "sieve_dir", K_STR, S(sieve_dir), NULL, NULL },
	{ "sieve_active", K_STR, S(sieve_active), NULL, NULL },
	{ "ca_file", K_PATH, S(ca_file), NULL, NULL },
	{ "insecure", K_BOOL, S(insecure), NULL, NULL },
	{ "allow_plaintext", K_BOOL, S(allow_plaintext), NULL, NULL },
	{ "compress", K_BOOL, S(compress), NULL, NULL },
	{ "auth", K_MAP, S(auth), auth_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct ykey destination_keys[] = {
	{ "jmap", K_URL, S(jmap), NULL, "http https" },
	{ "dav", K_URL, S(dav), NULL, "http https" },
	{ "files", K_URL, S(files), NULL, "http https" },
	{ "sieve", K_URL, S(sieve), NULL, "sieve" },
	{ "pop3", K_URL, S(pop3), NULL, "pop3 pop3s" },
	{ "allow_plaintext", K_BOOL, S(allow_plaintext), NULL, NULL },
	{ "ca_file", K_PATH, S(ca_file), NULL, NULL },
	{ "insecure", K_BOOL, S(insecure), NULL, NULL },
	{ "auth", K_MAP, S(auth), auth_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

/* limits.max_failures: a count, or a share such as "10%" */
static void
parse_max_failures(struct yconf *c, const struct ykey *k,
    const yaml_node_t *n, const char *what, void *field)
{
	struct limits *l = (struct limits *)((char *)field -
	    offsetof(struct limits, max_failures));
	const char *v = n->type == YAML_SCALAR_NODE ? yconf_scalar(n) : NULL;
	char *end;
	long long x;

	errno = 0;
	x = v ? strtoll(v, &end, 10) : -1;
	if (!v || end == v || errno || x < 0 || (*end && strcmp(end, "%")) ||
	    (*end && x > 100)) {
		yconf_err(c, n, "%s: expected a count of accounts (0 or more)"
		    " or a share of a phase's accounts such as 10%%", what);
		return;
	}
	l->max_failures = x;
	l->max_failures_share = *end == '%';
}

#define L(f) offsetof(struct limits, f)
static const struct ykey limits_keys[] = {
	{ "parallel_accounts", K_INT, L(parallel_accounts), NULL, "1" },
	{ "connections_per_source", K_INT, L(connections_per_source), NULL,
	    "1" },
	{ "connections_per_account", K_INT, L(connections_per_account), NULL,
	    "1" },
	{ "bytes_per_second", K_SIZE, L(bytes_per_second), NULL, "0" },
	{ "retries", K_INT, L(retries), NULL, "0" },
	{ "backoff_seconds", K_INT, L(backoff_seconds), NULL, "0" },
	{ "helper_timeout", K_INT, L(helper_timeout), NULL, "0" },
	{ "lease_seconds", K_INT, L(lease_seconds), NULL, "2" },
	{ "max_failures", K_FUNC, L(max_failures), NULL, NULL,
	    parse_max_failures },
	{ NULL, 0, 0, NULL, NULL }
};

#define AR(f) offsetof(struct archives, f)
static const struct ykey archives_keys[] = {
	{ "reserve", K_SIZE, AR(reserve), NULL, "0" },
	{ "retention_days", K_INT, AR(retention_days), NULL, "0" },
	{ NULL, 0, 0, NULL, NULL }
};

#define FO(f) offsetof(struct folders, f)
static const struct ykey folders_keys[] = {
	{ "include", K_LIST, FO(include), NULL, NULL },
	{ "exclude", K_LIST, FO(exclude), NULL, NULL },
	{ "skip_special_use", K_LIST, FO(skip_special_use), NULL, NULL },
	{ "subscribed_only", K_BOOL, FO(subscribed_only), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define PU(f) offsetof(struct pushopts, f)
static const struct ykey push_keys[] = {
	{ "verify_content", K_BOOL, PU(verify_content), NULL, NULL },
	{ "delete_removed", K_BOOL, PU(delete_removed), NULL, NULL },
	{ "deleted", K_STR, PU(deleted), NULL, NULL },
	{ "refused", K_STR, PU(refused), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define PX(f) offsetof(struct proxyopts, f)
static const struct ykey proxy_keys[] = {
	{ "control", K_PATH, PX(control), NULL, NULL },
	{ "hold_seconds", K_INT, PX(hold_seconds), NULL, "1" },
	{ NULL, 0, 0, NULL, NULL }
};

#define H(f) offsetof(struct hooks, f)
static const struct ykey hooks_keys[] = {
	{ "before_push", K_FUNC, H(before_push), NULL, NULL,
	    parse_command },
	{ "after_cutover", K_FUNC, H(after_cutover), NULL, NULL,
	    parse_command },
	{ "after_rollback", K_FUNC, H(after_rollback), NULL, NULL,
	    parse_command },
	{ "after_finalize", K_FUNC, H(after_finalize), NULL, NULL,
	    parse_command },
	{ NULL, 0, 0, NULL, NULL }
};

#define SS(f) offsetof(struct stalwart_src, f)
static const struct ykey stalwart_src_keys[] = {
	{ "url", K_URL, SS(url), NULL, "http https" },
	{ "admin_user", K_STR, SS(admin_user), NULL, NULL },
	{ "admin_password", K_FUNC, SS(admin_password), NULL, NULL,
	    parse_secret },
	{ "token", K_FUNC, SS(token), NULL, NULL, parse_secret },
	{ NULL, 0, 0, NULL, NULL }
};

#define PF(f) offsetof(struct public_src, f)
static const struct ykey public_src_keys[] = {
	{ "account", K_STR, PF(account), NULL, NULL },
	{ "login", K_STR, PF(login), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define AC(f) offsetof(struct accounts_src, f)
static const struct ykey accounts_keys[] = {
	{ "default_domain", K_STR, AC(default_domain), NULL, NULL },
	{ "list", K_LIST, AC(list), NULL, NULL },
	{ "csv", K_PATH, AC(csv), NULL, NULL },
	{ "passwd_file", K_PATH, AC(passwd_file), NULL, NULL },
	{ "command", K_FUNC, AC(command), NULL, NULL, parse_command },
	{ "dovecot", K_FUNC, AC(dovecot), NULL, NULL, parse_command },
	{ "dovecot_hash_field", K_STR, AC(dovecot_hash_field), NULL, NULL },
	{ "doveadm_url", K_URL, AC(doveadm_url), NULL, "http https" },
	{ "doveadm_api_key", K_FUNC, AC(doveadm_api_key), NULL, NULL,
	    parse_secret },
	{ "stalwart", K_MAP, AC(stalwart), stalwart_src_keys, NULL },
	{ "public_folders", K_MAP, AC(public_folders), public_src_keys,
	    NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define PV(f) offsetof(struct provisionopts, f)
static const struct ykey provision_keys[] = {
	{ "driver", K_STR, PV(driver), NULL, NULL },
	{ "url", K_URL, PV(url), NULL, "http https" },
	{ "api", K_STR, PV(api), NULL, NULL },
	{ "admin_user", K_STR, PV(admin_user), NULL, NULL },
	{ "admin_password", K_FUNC, PV(admin_password), NULL, NULL,
	    parse_secret },
	{ "token", K_FUNC, PV(token), NULL, NULL, parse_secret },
	{ "ca_file", K_PATH, PV(ca_file), NULL, NULL },
	{ "insecure", K_BOOL, PV(insecure), NULL, NULL },
	{ "allow_plaintext", K_BOOL, PV(allow_plaintext), NULL, NULL },
	{ "exists", K_FUNC, PV(exists), NULL, NULL, parse_command },
	{ "create", K_FUNC, PV(create), NULL, NULL, parse_command },
	{ "update_command", K_FUNC, PV(update_command), NULL, NULL,
	    parse_command },
	{ "schemes", K_LIST, PV(schemes), NULL, NULL },
	{ "update", K_LIST, PV(update), NULL, NULL },
	{ "hashes", K_FUNC, PV(hashes), NULL, NULL, parse_secret },
	{ "passwd_file", K_PATH, PV(passwd_file), NULL, NULL },
	{ "dovecot", K_FUNC, PV(dovecot), NULL, NULL, parse_command },
	{ "dovecot_hash_field", K_STR, PV(dovecot_hash_field), NULL, NULL },
	{ "missing_password", K_STR, PV(missing_password), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define P(f) offsetof(struct plan, f)
static const struct ykey plan_keys[] = {
	{ "name", K_STR, P(name), NULL, NULL },
	{ "state", K_PATH, P(state_dir), NULL, NULL },
	{ "mapping", K_PATH, P(mapping), NULL, "postgresql postgres" },
	{ "database", K_PATH, P(database), NULL, "postgresql postgres" },
	{ "source", K_MAP, P(source), source_keys, NULL },
	{ "destination", K_MAP, P(destination), destination_keys, NULL },
	{ "limits", K_MAP, P(limits), limits_keys, NULL },
	{ "archives", K_MAP, P(archives), archives_keys, NULL },
	{ "folders", K_MAP, P(folders), folders_keys, NULL },
	{ "push", K_MAP, P(push), push_keys, NULL },
	{ "proxy", K_FUNC, P(proxy), proxy_keys, NULL, parse_phase },
	{ "hooks", K_MAP, P(hooks), hooks_keys, NULL },
	{ "accounts", K_MAP, P(accounts), accounts_keys, NULL },
	{ "provision", K_FUNC, P(provision), provision_keys, NULL,
	    parse_phase },
	{ "phases", K_MAP, P(phases), phases_keys, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

/* The source's mail: over IMAP, or over JMAP (jmap-pull(8)) */
static void
check_source(struct yconf *c, const struct plan *p, const yaml_node_t *root)
{
	const struct server *s = &p->source;
	const struct folders *f = &p->folders;

	if (!s->imap == !s->jmap)
		yconf_err(c, root, s->imap ? "source: 'imap' or 'jmap', not"
		    " both: the mail is read over one of them" : "the plan"
		    " needs 'source.imap', the source's IMAP URL, or"
		    " 'source.jmap', its JMAP URL");
	if (!s->jmap)
		return;
	if (s->auth.master_user)
		yconf_err(c, root, "source.auth.master_user: a JMAP source is"
		    " read as each account, with source.auth.passwords");
	if (s->compress)
		yconf_err(c, root, "source.compress: IMAP's COMPRESS; a JMAP"
		    " source has none");
	if (f->include.nr || f->exclude.nr || f->skip_special_use.nr ||
	    f->subscribed_only)
		yconf_err(c, root, "folders: the filters choose IMAP folders;"
		    " jmap-pull reads every mailbox of a JMAP source");
}

/* accounts: at least one source, each with its credential */
static void
check_accounts(struct yconf *c, const struct accounts_src *a,
    const yaml_node_t *root)
{
	if (!a->list.nr && !a->csv && !a->passwd_file && !a->command &&
	    !a->dovecot && !a->doveadm_url && !a->stalwart.url)
		yconf_err(c, root, "the plan needs accounts: 'accounts.list',"
		    " 'accounts.csv', 'accounts.passwd_file',"
		    " 'accounts.dovecot', 'accounts.doveadm_url',"
		    " 'accounts.stalwart' or 'accounts.command'");
	if (a->stalwart.url && a->stalwart.token.kind == SECRET_NONE &&
	    (!a->stalwart.admin_user ||
	    a->stalwart.admin_password.kind == SECRET_NONE))
		yconf_err(c, root, "accounts.stalwart needs 'token', or"
		    " 'admin_user' and 'admin_password'");
	if (a->doveadm_url && a->doveadm_api_key.kind == SECRET_NONE)
		yconf_err(c, root, "accounts.doveadm_url needs"
		    " accounts.doveadm_api_key (Dovecot's doveadm_api_key)");
}

/* provision: each driver's keys */
static void
check_provision(struct yconf *c, const struct provisionopts *pv,
    const yaml_node_t *root)
{
	const char *d = pv->driver;

	if (!pv->present)
		return;
	if (!d || (strcmp(d, "stalwart") && strcmp(d, "command")))
		yconf_err(c, root, "provision.driver: stalwart or command, not"
		    " '%s'", d ? d : "(none)");
	else if (!strcmp(d, "stalwart") && (!pv->url ||
	    (pv->token.kind == SECRET_NONE && (!pv->admin_user ||
	    pv->admin_password.kind == SECRET_NONE))))
		yconf_err(c, root, "provision (stalwart) needs 'url', and"
		    " 'token' or 'admin_user' with 'admin_password'");
	else if (!strcmp(d, "command") && (!pv->exists || !pv->create))
		yconf_err(c, root, "provision (command) needs 'exists' and"
		    " 'create'");
	if (pv->api && strcmp(pv->api, "current") && strcmp(pv->api, "0.15"))
		yconf_err(c, root, "provision.api: current or 0.15, not '%s'",
		    pv->api);
	if (pv->missing_password && strcmp(pv->missing_password, "fail") &&
	    strcmp(pv->missing_password, "create"))
		yconf_err(c, root, "provision.missing_password: fail or create,"
		    " not '%s'", pv->missing_password);
}

/* What no single key can tell. */
/* The state directory, and the database of its tables when not there */
static void
check_state(struct yconf *c, const struct plan *p, const yaml_node_t *root)
{
	if (!p->state_dir)
		yconf_err(c, root, "the plan needs 'state', the directory of the"
		    " migration's state");
	if (p->database && !strstr(p->database, "://"))
		yconf_err(c, yconf_get(c, root, "database"), "database: expected"
		    " a PostgreSQL URL (postgresql://HOST/DB), found a path;"
		    " the SQLite state is 'state'/state.db already");
}

static void
check_plan(struct yconf *c, struct plan *p, const yaml_node_t *root)
{
	const struct auth *sa = &p->source.auth, *da = &p->destination.auth;

	plan_check_plaintext(c, p, root);
	check_state(c, p, root);
	check_source(c, p, root);
	check_phases(c, &p->phases, root);
	if (!p->destination.jmap)
		yconf_err(c, root, "the plan needs 'destination.jmap', the"
		    " destination's JMAP URL");
	check_accounts(c, &p->accounts, root);
	check_provision(c, &p->provision, root);
	if (!p->phases.pilot.present && !p->phases.nr_waves &&
	    !p->phases.assessment.present && !p->phases.delta.present &&
	    !p->phases.finalize.present)
		yconf_err(c, root, "the plan needs 'phases': at least one of"
		    " assessment, pilot, waves, delta, finalize");
	if (!!sa->master_user != (sa->master_password.kind != SECRET_NONE))
		yconf_err(c, root, "source.auth: master_user and master_password"
		    " go together");
	if (!sa->master_user && sa->passwords.kind == SECRET_NONE)
		yconf_err(c, root, "source.auth: give 'passwords' (per account)"
		    " or 'master_user' with 'master_password'");
	if (sa->token.kind != SECRET_NONE)
		yconf_err(c, root, "source.auth.token: the source logs in over"
		    " IMAP, with passwords");
	if (da->master_user || da->master_password.kind != SECRET_NONE)
		yconf_err(c, root, "destination.auth: JMAP logs in as each account"
		    " ('passwords') or with a 'token'");
	if (da->token.kind == SECRET_NONE &&
	    da->passwords.kind == SECRET_NONE &&
	    sa->passwords.kind == SECRET_NONE)
		yconf_err(c, root, "destination.auth: give 'passwords' or 'token'"
		    " (or source.auth.passwords, which it then uses)");
	if ((p->destination.sieve || p->destination.pop3) &&
	    da->token.kind != SECRET_NONE &&
	    da->passwords.kind == SECRET_NONE &&
	    sa->passwords.kind == SECRET_NONE)
		yconf_err(c, root, "destination.%s: %s logs in with passwords,"
		    " not a token: give destination.auth.passwords",
		    p->destination.sieve ? "sieve" : "pop3",
		    p->destination.sieve ? "ManageSieve" : "POP3");
	if (!!p->source.dav != !!p->destination.dav)
		yconf_err(c, root, "source.dav and destination.dav go together:"
		    " calendars and contacts are read from one and written to"
		    " the other");
	if (!!p->source.files != !!p->destination.files)
		yconf_err(c, root, "source.files and destination.files go"
		    " together: a file tree is read from one and written to the"
		    " other");
	if ((p->source.dav || p->source.files) &&
	    sa->passwords.kind == SECRET_NONE &&
	    da->passwords.kind == SECRET_NONE)
		yconf_err(c, root, "source.dav logs in as each account: give"
		    " source.auth.passwords or destination.auth.passwords (a"
		    " master user cannot log in to DAV)");
	if (p->source.dav_login && !p->source.dav)
		yconf_err(c, root, "source.dav_login without source.dav");
	if (p->source.sieve && p->source.sieve_dir)
		yconf_err(c, root, "source: sieve or sieve_dir, not both");
	if (p->accounts.public_folders.login &&
	    !p->accounts.public_folders.account)
		yconf_err(c, root, "accounts.public_folders: its account"
		    " (on the destination) is missing");
	if (p->accounts.public_folders.account && !p->source.imap)
		yconf_err(c, root, "accounts.public_folders are read over"
		    " IMAP: the source has no imap");
	if (p->source.sieve_active && !p->source.sieve_dir)
		yconf_err(c, root, "source.sieve_active goes with sieve_dir");
	if (!!(p->source.sieve || p->source.sieve_dir) !=
	    !!p->destination.sieve)
		yconf_err(c, root, "source.sieve and destination.sieve go"
		    " together: Sieve scripts are read from one and written to"
		    " the other");
	if (!!p->source.pop3 != !!p->destination.pop3)
		yconf_err(c, root, "source.pop3 and destination.pop3 go"
		    " together: POP3 ids are read on both to be joined");
	if (p->source.pop3 && p->source.jmap)
		yconf_err(c, root, "source.pop3 goes with source.imap: POP3"
		    " ids are matched to the INBOX an IMAP pull made");
	if (p->push.deleted && strcmp(p->push.deleted, "skip") &&
	    strcmp(p->push.deleted, "trash"))
		yconf_err(c, root, "push.deleted: skip (the default: a message"
		    " flagged \\Deleted at the source is not carried) or trash"
		    " (carried into the destination's Trash), not '%s'",
		    p->push.deleted);
	if (p->push.refused && strcmp(p->push.refused, "rescue") &&
	    strcmp(p->push.refused, "report"))
		yconf_err(c, root, "push.refused: rescue (the default: a"
		    " message the destination refuses is carried repaired or"
		    " wrapped) or report, not '%s'", p->push.refused);
	if (p->proxy.hold_seconds > 3600)
		yconf_err(c, root, "proxy.hold_seconds: at most 3600 (the"
		    " proxy holds a login no longer)");
}

static void
defaults(struct plan *p)
{
	p->limits.parallel_accounts = 4;
	p->limits.connections_per_source = 16;
	p->limits.connections_per_account = 1;
	p->limits.retries = 3;
	p->limits.backoff_seconds = 30;
	p->limits.helper_timeout = 0;
	p->limits.lease_seconds = 60;
	p->phases.delta.passes = 1;
	p->limits.max_failures = 10;
	p->limits.max_failures_share = 1;
	p->proxy.hold_seconds = 60;
	p->archives.reserve = 1LL << 30;	/* 1G */
	p->archives.retention_days = -1;
}

int
plan_load(struct plan *p, const char *path, struct buf *err)
{
	yaml_document_t doc;
	yaml_node_t *root;
	struct yconf c = { path, NULL, &doc, err, 0 };
	char *copy, *real;

	memset(p, 0, sizeof(*p));
	defaults(p);
	p->file = xstrdup(path);
	copy = xstrdup(path);
	real = realpath(dirname(copy), NULL);
	p->dir = real ? real : xstrdup(".");
	free(copy);
	c.dir = p->dir;
	if (yconf_load(path, &doc, &p->text, &p->text_len, err) < 0)
		return -1;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		yconf_err(&c, root, "a plan is a mapping of keys (name, state,"
		    " source, destination, accounts, phases, ...), found %s",
		    root ? yconf_kind(root) : "an empty file");
	else {
		yconf_walk(&c, root, "the plan", plan_keys, p);
		check_plan(&c, p, root);
	}
	yaml_document_delete(&doc);
	if (p->proxy.present && !p->proxy.control)
		p->proxy.control = xstrdup(PROXY_CONTROL_DEFAULT);
	if (!p->mapping && p->state_dir)
		p->mapping = xasprintf("%s/mapping.db", p->state_dir);
	if (!p->name) {
		char *b = xstrdup(path), *dot;

		p->name = xstrdup(basename(b));
		if ((dot = strrchr(p->name, '.')))
			*dot = '\0';
		free(b);
	}
	return c.errors ? -1 : 0;
}

static void
server_free(struct server *s)
{
	free(s->imap);
	free(s->jmap);
	free(s->dav);
	free(s->dav_login);
	free(s->files);
	free(s->sieve_dir);
	free(s->sieve_active);
	free(s->sieve);
	free(s->pop3);
	free(s->ca_file);
	free(s->auth.passwords.value);
	free(s->auth.master_user);
	free(s->auth.master_separator);
	free(s->auth.master_password.value);
	free(s->auth.token.value);
	free(s->auth.login);
}

static void
provision_free(struct provisionopts *pv)
{
	free(pv->driver);
	free(pv->url);
	free(pv->api);
	free(pv->admin_user);
	free(pv->ca_file);
	free(pv->admin_password.value);
	free(pv->token.value);
	free(pv->exists);
	free(pv->create);
	free(pv->update_command);
	strlist_free(&pv->schemes);
	strlist_free(&pv->update);
	free(pv->hashes.value);
	free(pv->passwd_file);
	free(pv->dovecot);
	free(pv->dovecot_hash_field);
	free(pv->missing_password);
}

void
plan_free(struct plan *p)
{
	free(p->file);
	free(p->dir);
	free(p->text);
	free(p->name);
	free(p->state_dir);
	free(p->mapping);
	free(p->database);
	server_free(&p->source);
	server_free(&p->destination);
	strlist_free(&p->folders.include);
	strlist_free(&p->folders.exclude);
	strlist_free(&p->folders.skip_special_use);
	free(p->push.deleted);
	free(p->push.refused);
	free(p->proxy.control);
	free(p->hooks.before_push);
	free(p->hooks.after_cutover);
	free(p->hooks.after_rollback);
	free(p->hooks.after_finalize);
	free(p->accounts.default_domain);
	free(p->accounts.public_folders.account);
	free(p->accounts.public_folders.login);
	strlist_free(&p->accounts.list);
	free(p->accounts.csv);
	free(p->accounts.passwd_file);
	free(p->accounts.command);
	free(p->accounts.dovecot);
	free(p->accounts.dovecot_hash_field);
	free(p->accounts.doveadm_url);
	free(p->accounts.doveadm_api_key.value);
	free(p->accounts.stalwart.url);
	free(p->accounts.stalwart.admin_user);
	free(p->accounts.stalwart.admin_password.value);
	free(p->accounts.stalwart.token.value);
	provision_free(&p->provision);
	phases_free(&p->phases);
	memset(p, 0, sizeof(*p));
}
