/*
 * planphases.c: a plan's phases (migrate-plan(5)): the keys of each and
 * what is checked of them once read.
 */
#include "compat.h"

#include <time.h>

#include <yaml.h>

#include "plan.h"
#include "xalloc.h"
#include "yconf.h"

/* A phase: empty, true or false, or a mapping of its keys. */
void
parse_phase(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	if (yconf_is_null(n) || (n->type == YAML_SCALAR_NODE &&
	    !strcmp(yconf_scalar(n), "true"))) {
		*(int *)field = 1;
		return;
	}
	if (n->type == YAML_SCALAR_NODE && !strcmp(yconf_scalar(n), "false"))
		return;
	*(int *)field = 1;
	if (n->type != YAML_MAPPING_NODE) {
		yconf_err(c, n, "%s: expected a mapping, found %s", what,
		    yconf_kind(n));
		return;
	}
	yconf_walk(c, n, what, k->sub, field);
}

#define W(f) offsetof(struct wave, f)
static const struct ykey wave_keys[] = {
	{ "name", K_STR, W(name), NULL, NULL },
	{ "accounts", K_LIST, W(accounts), NULL, NULL },
	{ "pattern", K_STR, W(pattern), NULL, NULL },
	{ "domain", K_STR, W(domain), NULL, NULL },
	{ "batch", K_INT, W(batch), NULL, "1" },
	{ NULL, 0, 0, NULL, NULL }
};

static void
parse_waves(struct yconf *c, const struct ykey *k, const yaml_node_t *n,
    const char *what, void *field)
{
	struct phases *ph = (struct phases *)((char *)field -
	    offsetof(struct phases, waves));
	yaml_node_item_t *it;
	size_t i;

	if (n->type != YAML_SEQUENCE_NODE) {
		yconf_err(c, n, "phases.waves: expected a list of waves, found %s",
		    yconf_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		struct wave *w;
		char *where = xasprintf("phases.waves[%zu]", ph->nr_waves + 1);

		if (e->type != YAML_MAPPING_NODE) {
			yconf_err(c, e, "%s: expected a mapping with a name, found"
			    " %s", where, yconf_kind(e));
			free(where);
			continue;
		}
		ph->waves = xreallocarray(ph->waves, ph->nr_waves + 1,
		    sizeof(*ph->waves));
		w = &ph->waves[ph->nr_waves++];
		memset(w, 0, sizeof(*w));
		w->pos = yconf_pos(e);
		yconf_walk(c, e, where, wave_keys, w);
		if (!w->name)
			yconf_err(c, e, "%s: a wave needs a name", where);
		for (i = 0; w->name && i + 1 < ph->nr_waves; i++)
			if (ph->waves[i].name &&
			    !strcmp(ph->waves[i].name, w->name))
				yconf_err(c, e, "%s: a second wave named '%s'",
				    where, w->name);
		if (w->name && (!strcmp(w->name, "pilot") ||
		    strpbrk(w->name, " \t\n/")))
			yconf_err(c, e, "%s: '%s' cannot name a wave (not 'pilot',"
			    " no blanks or '/')", where, w->name);
		free(where);
	}
}

static const struct ykey pilot_keys[] = {
	{ "accounts", K_LIST, offsetof(struct phase_pilot, accounts), NULL,
	    NULL },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct ykey delta_keys[] = {
	{ "passes", K_INT, offsetof(struct phase_delta, passes), NULL, "0" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct ykey assessment_keys[] = {
	{ "logs", K_LIST, offsetof(struct phase_assessment, logs), NULL,
	    NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define DC(f) offsetof(struct dns_check, f)
static const struct ykey dns_keys[] = {
	{ "server", K_STR, DC(server), NULL, NULL },
	{ "domains", K_LIST, DC(domains), NULL, NULL },
	{ "hosts", K_LIST, DC(hosts), NULL, NULL },
	{ "require", K_LIST, DC(require), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define FZ(f) offsetof(struct phase_finalize, f)
static const struct ykey finalize_keys[] = {
	{ "dns", K_FUNC, FZ(dns), dns_keys, NULL, parse_phase },
	{ "source_readonly", K_STR, FZ(source_readonly), NULL, NULL },
	{ "decommission", K_STR, FZ(decommission), NULL, NULL },
	{ "keep_default_route", K_BOOL, FZ(keep_default_route), NULL, NULL },
	{ NULL, 0, 0, NULL, NULL }
};

#define PH(f) offsetof(struct phases, f)
const struct ykey phases_keys[] = {
	{ "assessment", K_FUNC, PH(assessment), assessment_keys, NULL,
	    parse_phase },
	{ "pilot", K_FUNC, PH(pilot), pilot_keys, NULL, parse_phase },
	{ "waves", K_FUNC, PH(waves), NULL, NULL, parse_waves },
	{ "delta", K_FUNC, PH(delta), delta_keys, NULL, parse_phase },
	{ "finalize", K_FUNC, PH(finalize), finalize_keys, NULL,
	    parse_phase },
	{ NULL, 0, 0, NULL, NULL }
};

/* The source's logs: relative to the plan, and readable now. */
static void
check_logs(struct yconf *c, struct strlist *logs)
{
	size_t i;
	char *abs;

	for (i = 0; i < logs->nr; i++) {
		abs = yconf_absolute(c, logs->v[i]);
		free(logs->v[i]);
		logs->v[i] = abs;
		if (access(abs, R_OK) < 0)
			yconf_err_at(c, logs->pos[i], "phases.assessment.logs:"
			    " cannot read '%s': %s", abs, strerror(errno));
	}
}

static void
check_finalize(struct yconf *c, const struct phase_finalize *f,
    const yaml_node_t *root)
{
	struct tm tm;
	const char *end;
	size_t i, k;

	if (f->dns.present && !f->dns.hosts.nr)
		yconf_err(c, root, "phases.finalize.dns.hosts: the new"
		    " deployment's host names or addresses, that the records"
		    " must point at");
	for (i = 0; i < f->dns.require.nr; i++) {
		for (k = 0; dns_records[k]; k++)
			if (!strcmp(f->dns.require.v[i], dns_records[k]))
				break;
		if (!dns_records[k])
			yconf_err(c, root, "phases.finalize.dns.require: '%s'"
			    " is none of mx, imap, imaps, submission,"
			    " submissions, pop3, pop3s, jmap, autoconfig,"
			    " autodiscover", f->dns.require.v[i]);
	}
	memset(&tm, 0, sizeof(tm));
	if (f->decommission && (!(end = strptime(f->decommission, "%Y-%m-%d",
	    &tm)) || *end))
		yconf_err(c, root, "phases.finalize.decommission: a date,"
		    " YYYY-MM-DD, found '%s'", f->decommission);
}

void
check_phases(struct yconf *c, struct phases *ph, const yaml_node_t *root)
{
	check_finalize(c, &ph->finalize, root);
	if (ph->pilot.present && !ph->pilot.accounts.nr)
		yconf_err(c, root, "phases.pilot: name the pilot's accounts");
	check_logs(c, &ph->assessment.logs);
}

void
phases_free(struct phases *ph)
{
	size_t i;

	free(ph->finalize.dns.server);
	strlist_free(&ph->assessment.logs);
	strlist_free(&ph->finalize.dns.domains);
	strlist_free(&ph->finalize.dns.hosts);
	strlist_free(&ph->finalize.dns.require);
	free(ph->finalize.source_readonly);
	free(ph->finalize.decommission);
	strlist_free(&ph->pilot.accounts);
	for (i = 0; i < ph->nr_waves; i++) {
		free(ph->waves[i].name);
		strlist_free(&ph->waves[i].accounts);
		free(ph->waves[i].pattern);
		free(ph->waves[i].domain);
	}
	free(ph->waves);
}
