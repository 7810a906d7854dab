/*
 * dnscheck.c: do the domains' DNS records send clients and senders to the
 * new deployment?  Asked of a real resolver (the system's, or the one the
 * plan names) through the C library's (res_nquery(3)).
 *
 * For each domain: its MX, the SRV records of RFC 6186 and RFC 8314
 * (_imap, _imaps, _submission, _submissions, _pop3, _pop3s) and RFC 8620
 * (_jmap), and the autoconfig and autodiscover host names.  A record that
 * exists must point at one of the plan's hosts: by name, or by an address
 * its name resolves to.  A record that does not exist is a failure only
 * when the plan requires it; an SRV target of "." says the service is not
 * offered.
 */
#include "compat.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include "buf.h"
#include "finalize.h"
#include "xalloc.h"
#include "yconf.h"

const char *const dns_records[] = {
	"mx", "imap", "imaps", "submission", "submissions", "pop3", "pop3s",
	"jmap", "autoconfig", "autodiscover", NULL
};

struct answer {
	char **v;		/* names (MX, SRV targets) or addresses */
	size_t nr;
	int none;		/* the name has no such record */
	char *fail;		/* the resolver could not say */
};

static void
answer_free(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		free(a->v[i]);
	free(a->v);
	free(a->fail);
	memset(a, 0, sizeof(*a));
}

static void
add(struct answer *a, char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
	a->v = xreallocarray(a->v, a->nr + 1, sizeof(*a->v));
	a->v[a->nr++] = s;
}

/* The records of `type` for `name`, A and AAAA as text, MX, SRV and
 * CNAME by the names they point at. */
static void
lookup(res_state rs, const char *name, int type, struct answer *a)
{
	unsigned char msg[8192];
	char text[NS_MAXDNAME];
	ns_msg h;
	ns_rr rr;
	int len, i, skip;

	memset(a, 0, sizeof(*a));
	len = res_nquery(rs, name, ns_c_in, type, msg, sizeof(msg));
	if (len < 0) {
		if (rs->res_h_errno == HOST_NOT_FOUND ||
		    rs->res_h_errno == NO_DATA)
			a->none = 1;
		else
			a->fail = xasprintf("%s: %s", name,
			    hstrerror(rs->res_h_errno));
		return;
	}
	if (ns_initparse(msg, len, &h) < 0) {
		a->fail = xasprintf("%s: an answer that does not parse", name);
		return;
	}
	for (i = 0; i < ns_msg_count(h, ns_s_an); i++) {
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0 ||
		    (int)ns_rr_type(rr) != type)
			continue;
		skip = type == ns_t_mx ? 2 : type == ns_t_srv ? 6 : 0;
		if (type == ns_t_a && ns_rr_rdlen(rr) == 4)
			inet_ntop(AF_INET, ns_rr_rdata(rr), text, sizeof(text));
		else if (type == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
			inet_ntop(AF_INET6, ns_rr_rdata(rr), text,
			    sizeof(text));
		else if ((type == ns_t_mx || type == ns_t_srv) &&
		    ns_rr_rdlen(rr) > skip && dn_expand(ns_msg_base(h),
		    ns_msg_end(h), ns_rr_rdata(rr) + skip, text,
		    sizeof(text)) >= 0)
			;
		else
			continue;
		add(a, xstrdup(*text ? text : "."));
	}
	if (!a->nr)
		a->none = 1;
}

static int
is_address(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/*
 * Whether `name` is one of the deployment's host names, or resolves to
 * one of its addresses (`addrs`); `why` gets what it is instead.
 */
static int
points_here(res_state rs, const struct strlist *hosts,
    const struct strlist *addrs, const char *name, struct buf *why)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	struct answer a;
	size_t i, k, t;
	int ok = 0, seen = 0;

	for (i = 0; i < hosts->nr; i++)
		if (!strcasecmp(hosts->v[i], name))
			return 1;
	for (t = 0; t < ARRAY_SIZE(types) && !ok; t++) {
		lookup(rs, name, types[t], &a);
		for (k = 0; k < a.nr && !ok; k++, seen++)
			for (i = 0; i < addrs->nr && !ok; i++)
				ok = !strcmp(addrs->v[i], a.v[k]);
		for (k = 0; k < a.nr && !ok; k++)
			buf_addf(why, "%s%s", why->len ? ", " : "", a.v[k]);
		answer_free(&a);
	}
	if (!ok && !seen)
		buf_adds(why, "no address");
	return ok;
}

/* The deployment's addresses: those the plan gives, those of its names. */
static void
host_addresses(res_state rs, const struct strlist *hosts,
    struct strlist *addrs)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	struct answer a;
	size_t i, k, t;

	for (i = 0; i < hosts->nr; i++) {
		if (is_address(hosts->v[i])) {
			strlist_add(addrs, hosts->v[i]);
			continue;
		}
		for (t = 0; t < ARRAY_SIZE(types); t++) {
			lookup(rs, hosts->v[i], types[t], &a);
			for (k = 0; k < a.nr; k++)
				strlist_add(addrs, a.v[k]);
			answer_free(&a);
		}
	}
}

/* One record of one domain: its finding into `out`; 1 when it is wrong. */
static int
check_one(res_state rs, const struct dns_check *dc,
    const struct strlist *addrs, const char *rec, const char *domain,
    json_t *out)
{
	struct buf name = BUF_INIT, detail = BUF_INIT, why = BUF_INIT;
	struct answer a;
	size_t i, k;
	int required = 0, bad = 0, type;

	for (i = 0; i < dc->require.nr; i++)
		required |= !strcmp(dc->require.v[i], rec);
	if (!strcmp(rec, "mx")) {
		buf_adds(&name, domain);
		type = ns_t_mx;
	} else if (!strcmp(rec, "autoconfig") || !strcmp(rec, "autodiscover")) {
		buf_addf(&name, "%s.%s", rec, domain);
		type = ns_t_a;
	} else {
		buf_addf(&name, "_%s._tcp.%s", rec, domain);
		type = ns_t_srv;
	}
	if (type == ns_t_a) {
		/* a host name: its addresses (through any CNAME) */
		lookup(rs, name.buf, ns_t_a, &a);
		if (a.none) {
			answer_free(&a);
			lookup(rs, name.buf, ns_t_aaaa, &a);
		}
		if (!a.none && !a.fail) {
			answer_free(&a);
			add(&a, xstrdup(name.buf));
		}
	} else {
		lookup(rs, name.buf, type, &a);
	}
	if (a.fail) {
		bad = 1;
		buf_addf(&detail, "cannot resolve %s", a.fail);
	} else if (a.none) {
		bad = required;
		buf_addf(&detail, "no %s record%s", type == ns_t_a ? "address" :
		    type == ns_t_mx ? "MX" : "SRV", required ? ", and the plan"
		    " requires one" : " (not required)");
	} else if (a.nr == 1 && !strcmp(a.v[0], ".")) {
		bad = required;
		buf_adds(&detail, "says the service is not offered (target"
		    " \".\")");
	} else {
		for (k = 0; k < a.nr; k++) {
			buf_reset(&why);
			if (points_here(rs, &dc->hosts, addrs, a.v[k], &why))
				continue;
			bad = 1;
			buf_addf(&detail, "%s%s (%s) is not the new deployment",
			    detail.len ? "; " : "", a.v[k], why.buf);
		}
		if (!bad)
			buf_addf(&detail, "%s", a.v[0]);
		for (k = 1; !bad && k < a.nr; k++)
			buf_addf(&detail, ", %s", a.v[k]);
	}
	json_array_append_new(out, json_pack("{s:s, s:b, s:s}", "what",
	    name.buf, "ok", !bad, "detail", detail.buf));
	answer_free(&a);
	buf_release(&name);
	buf_release(&detail);
	buf_release(&why);
	return bad;
}

/* The resolver the plan names: host[:port], an address. */
static int
set_server(res_state rs, const char *server, struct buf *err)
{
	char *host = xstrdup(server), *colon = strrchr(host, ':');
	struct sockaddr_in sin;
	int ret = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	if (colon && strchr(host, ':') == colon) {
		*colon = '\0';
		sin.sin_port = htons((unsigned short)atoi(colon + 1));
	}
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || !sin.sin_port) {
		buf_addf(err, "finalize.dns.server: '%s' is not an IPv4"
		    " address with an optional port", server);
		ret = -1;
	} else {
		rs->nscount = 1;
		rs->nsaddr_list[0] = sin;
	}
	free(host);
	return ret;
}

int
dns_check_world(const struct dns_check *dc, const struct strlist *domains,
    json_t *out, struct buf *err)
{
	struct __res_state rs;
	struct strlist addrs = { NULL, 0, 0 };
	size_t d, k;
	int bad = 0;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) < 0) {
		buf_adds(err, "cannot set up the resolver");
		return -1;
	}
	rs.options &= ~(RES_DNSRCH | RES_DEFNAMES);
	rs.retry = 2;
	rs.retrans = 2;
	if (dc->server && set_server(&rs, dc->server, err) < 0) {
		res_nclose(&rs);
		return -1;
	}
	host_addresses(&rs, &dc->hosts, &addrs);
	for (d = 0; d < domains->nr; d++)
		for (k = 0; dns_records[k]; k++)
			bad += check_one(&rs, dc, &addrs, dns_records[k],
			    domains->v[d], out);
	strlist_free(&addrs);
	res_nclose(&rs);
	return bad;
}
