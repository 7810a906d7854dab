/*
 * finalize.c: once every account of the plan is on the destination, the
 * world is made to agree, or told what is wrong:
 *
 *	accounts		every account finalized (else nothing more
 *				is checked: the source still serves some)
 *	dns NAME		each record clients and senders use points at
 *				the new deployment (dnscheck.c)
 *	source read-only	the plan's command that makes the source
 *				read-only ran, once
 *	default route		the proxy's route for identifiers without an
 *				entry is the destination (map-flip --default)
 *	decommission		the date the source goes, in the audit
 *
 * What each found is kept in the state's finalize_items, for `migrate
 * status`; a change of any is a line in the audit repository ({what,
 * ok, detail, ts}), named in its commit's message.  The
 * table is finalize's own: this file is the only one that reads or
 * writes it.
 */
#include "compat.h"

#include <time.h>

#include "buf.h"
#include "exec_path.h"
#include "finalize.h"
#include "log.h"
#include "now.h"
#include "proc.h"
#include "runner_p.h"
#include "state.h"
#include "xalloc.h"

static void
item(json_t *items, const char *what, int ok, const char *fmt, ...)
    ATTR_PRINTF(4, 5);

static void
item(json_t *items, const char *what, int ok, const char *fmt, ...)
{
	struct buf d = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&d, fmt, ap);
	va_end(ap);
	json_array_append_new(items, json_pack("{s:s, s:b, s:s}", "what",
	    what, "ok", ok, "detail", d.buf));
	buf_release(&d);
}

/* Whether every account is finalized; the item says who is not. */
static int
accounts_item(struct run *r, json_t *items)
{
	struct account *v = NULL;
	struct buf who = BUF_INIT;
	size_t nr = 0, i, left = 0;

	if (state_accounts(r->s, NULL, &v, &nr) < 0) {
		item(items, "accounts", 0, "cannot read the state");
		return 0;
	}
	for (i = 0; i < nr; i++) {
		if (v[i].state == ST_FINALIZED)
			continue;
		if (left++ < 5)
			buf_addf(&who, "%s%s (%s)", who.len ? ", " : "",
			    v[i].account, state_name(v[i].state));
	}
	if (left)
		item(items, "accounts", 0, "%zu of %zu accounts are not on the"
		    " destination yet: %s%s", left, nr, who.buf,
		    left > 5 ? ", ..." : "");
	else
		item(items, "accounts", 1, "all %zu accounts are on the"
		    " destination", nr);
	for (i = 0; i < nr; i++)
		account_free(&v[i]);
	free(v);
	buf_release(&who);
	return left == 0;
}

/* The domains to check: the plan's, or those of its accounts. */
static void
dns_domains(struct run *r, struct strlist *out)
{
	const struct strlist *given = &r->p->phases.finalize.dns.domains;
	struct account *v = NULL;
	size_t nr = 0, i, k;
	const char *at;

	for (i = 0; i < given->nr; i++)
		strlist_add(out, given->v[i]);
	if (given->nr || state_accounts(r->s, NULL, &v, &nr) < 0)
		return;
	for (i = 0; i < nr; i++) {
		at = strchr(v[i].account, '@');
		for (k = 0; at && k < out->nr; k++)
			if (!strcasecmp(out->v[k], at + 1))
				break;
		if (at && k == out->nr)
			strlist_add(out, at + 1);
		account_free(&v[i]);
	}
	free(v);
}

static void
dns_items(struct run *r, json_t *items)
{
	struct strlist domains = { NULL, 0, 0 };
	struct buf err = BUF_INIT;
	json_t *found = json_array(), *f;
	size_t i;

	dns_domains(r, &domains);
	if (dns_check_world(&r->p->phases.finalize.dns, &domains, found,
	    &err) < 0)
		item(items, "dns", 0, "%s", err.buf);
	json_array_foreach(found, i, f) {
		char *what = xasprintf("dns %s", json_string_value(
		    json_object_get(f, "what")));

		item(items, what, json_is_true(json_object_get(f, "ok")), "%s",
		    json_string_value(json_object_get(f, "detail")));
		free(what);
	}
	json_decref(found);
	strlist_free(&domains);
	buf_release(&err);
}

static int
last_line(void *cb, enum proc_stream s, const char *line, size_t len)
{
	struct buf *b = cb;

	(void)s;
	if (len) {
		buf_reset(b);
		buf_add(b, line, len);
	}
	return 0;
}

/* Run a command of the plan's through the shell; `why` on failure. */
static int
run_command(struct run *r, const char *what, const char *cmd,
    struct buf *why)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	char *e0 = xasprintf("MIGRATE_HOOK=%s", what);
	char *e1 = xasprintf("MIGRATE_PLAN=%s", r->p->name ? r->p->name : "");
	const char *env[] = { e0, e1, NULL };
	struct child c = CHILD_INIT;
	struct proc_io io = { 0 };
	struct buf out = BUF_INIT;
	int code;

	c.argv = argv;
	c.env = env;
	io.in = "";
	io.on_line = last_line;
	io.cb = &out;
	io.timeout_ms = 600000;
	code = proc_pipe(&c, &io, NULL, why);
	if (code > 0)
		buf_addf(why, "exit %d%s%s", code, out.len ? ": " : "",
		    out.len ? out.buf : "");
	free(e0);
	free(e1);
	buf_release(&out);
	return code == 0 ? 0 : -1;
}

static void
readonly_item(struct run *r, json_t *items)
{
	struct buf why = BUF_INIT;

	if (state_finalize_was_ok(r->s, "source read-only") == 1)
		item(items, "source read-only", 1, "done before");
	else if (run_command(r, "source_readonly",
	    r->p->phases.finalize.source_readonly, &why) == 0)
		item(items, "source read-only", 1, "the command succeeded");
	else
		item(items, "source read-only", 0, "the command failed: %s",
		    why.buf);
	buf_release(&why);
}

static void
default_route_item(struct run *r, json_t *items)
{
	char *path = exec_path_of("map-flip");
	struct args v = { NULL, NULL, 0, 0 };
	struct child c = CHILD_INIT;
	struct buf why = BUF_INIT;
	struct proc_io io = { 0 };
	int code;

	arg(&v, path);
	mapping_args(r, &v);
	arg(&v, "--default");
	arg(&v, "destination");
	c.argv = v.v;
	io.in = "\n";		/* no secrets */
	io.on_line = last_line;
	io.cb = &why;
	code = proc_pipe(&c, &io, NULL, &why);
	if (code == 0)
		item(items, "default route", 1, "identifiers the mapping does"
		    " not name go to the destination");
	else
		item(items, "default route", 0, "map-flip --default failed"
		    " (%d): %s", code, why.buf);
	args_free(&v);
	free(path);
	buf_release(&why);
}

/* Keep the findings; an audit line for each that changed. */
static void
record(struct run *r, json_t *items)
{
	json_t *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *what = json_string_value(json_object_get(it,
		    "what"));
		int ok = json_is_true(json_object_get(it, "ok"));
		char *line;

		if (state_finalize_was_ok(r->s, what) == ok)
			continue;
		json_object_set_new(it, "ts", json_real(now_seconds()));
		line = json_dumps(it, JSON_COMPACT | JSON_SORT_KEYS);
		json_object_del(it, "ts");
		state_queue_audit(r->s, "finalize", line);
		free(line);
	}
	state_flush(r->s);	/* the state's group, then this one */
	state_finalize_set(r->s, items);
}

int
finalize_world(struct run *r)
{
	const struct phase_finalize *f = &r->p->phases.finalize;
	json_t *items = json_array(), *it;
	size_t i;
	int waiting = 0, all_there;

	if ((all_there = accounts_item(r, items))) {
		if (f->dns.present)
			dns_items(r, items);
		if (f->source_readonly)
			readonly_item(r, items);
		if (!f->keep_default_route)
			default_route_item(r, items);
		if (f->decommission)
			item(items, "decommission", 1, "the source is to be"
			    " decommissioned on %s", f->decommission);
	}
	record(r, items);
	json_array_foreach(items, i, it)
		if (!json_is_true(json_object_get(it, "ok"))) {
			waiting++;
			say(r, "finalize: %s: %s", json_string_value(
			    json_object_get(it, "what")), json_string_value(
			    json_object_get(it, "detail")));
		}
	if (!waiting)
		say(r, "finalize: the world agrees: %zu checks passed",
		    json_array_size(items));
	json_decref(items);
	/* accounts still on the source: nothing to check yet, no error */
	return waiting && all_there ? 1 : 0;
}

