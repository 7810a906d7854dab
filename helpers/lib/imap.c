#include "compat.h"

#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "log.h"
#include "now.h"
#include "secret.h"
#include "xalloc.h"

static const struct {
	const char *name;
	enum imap_cap cap;
} cap_names[] = {
	{ "IMAP4rev1", IMAP_CAP_IMAP4REV1 },
	{ "STARTTLS", IMAP_CAP_STARTTLS },
	{ "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
	{ "SASL-IR", IMAP_CAP_SASL_IR },
	{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN },
	{ "ID", IMAP_CAP_ID },
	{ "NAMESPACE", IMAP_CAP_NAMESPACE },
	{ "LIST-EXTENDED", IMAP_CAP_LIST_EXTENDED },
	{ "LIST-STATUS", IMAP_CAP_LIST_STATUS },
	{ "SPECIAL-USE", IMAP_CAP_SPECIAL_USE },
	{ "CONDSTORE", IMAP_CAP_CONDSTORE },
	{ "QRESYNC", IMAP_CAP_QRESYNC },
	{ "ENABLE", IMAP_CAP_ENABLE },
	{ "UTF8=ACCEPT", IMAP_CAP_UTF8_ACCEPT },
	{ "LITERAL+", IMAP_CAP_LITERAL_PLUS },
	{ "ESEARCH", IMAP_CAP_ESEARCH },
	{ "COMPRESS=DEFLATE", IMAP_CAP_COMPRESS },
	{ "UIDPLUS", IMAP_CAP_UIDPLUS },
	{ "ACL", IMAP_CAP_ACL },
};

long long
imap_number(const struct imap_val *v)
{
	long long n = 0;
	const char *s;

	if (!v || v->type != IMAP_ATOM || !v->str[0])
		return -1;
	for (s = v->str; *s; s++) {
		if (*s < '0' || *s > '9' || n > (LLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/* Take capabilities from a list of atoms, from index `from` on. */
static void
take_caps(struct imap *im, const struct imap_val *list, size_t from)
{
	size_t i, k;

	im->caps = 0;
	for (i = from; i < list->nr; i++)
		for (k = 0; k < ARRAY_SIZE(cap_names); k++)
			if (imap_atom_is(&list->items[i], cap_names[k].name))
				im->caps |= cap_names[k].cap;
}

static int
read_resp(struct imap *im, struct imap_resp *r, struct buf *err)
{
	int rc = imap_resp_read(&im->src, r, err);

	switch (rc) {
	case IMAP_READ_OK:
		break;
	case IMAP_READ_EOF:
		buf_adds(err, "the server closed the connection");
		return lc_fail(&im->lc, EX_TEMPFAIL);
	case IMAP_READ_IO:
		return lc_fail(&im->lc, EX_TEMPFAIL);
	default:
		return lc_fail(&im->lc, EX_PROTOCOL);
	}
	if (imap_atom_is(&r->code.items[0], "CAPABILITY"))
		take_caps(im, &r->code, 1);
	if (im->asked_at && im->nr_latency < IMAP_LATENCY_SAMPLES) {
		if (!im->latency)
			im->latency = xcalloc(IMAP_LATENCY_SAMPLES,
			    sizeof(*im->latency));
		im->latency[im->nr_latency++] = (float)(now_seconds() -
		    im->asked_at);
	}
	im->asked_at = 0;
	return 0;
}

static int
float_cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

double
imap_latency_ms(const struct imap *im)
{
	float *v;
	double ms;

	if (!im || !im->nr_latency)
		return -1;
	v = xcalloc(im->nr_latency, sizeof(*v));
	memcpy(v, im->latency, im->nr_latency * sizeof(*v));
	qsort(v, im->nr_latency, sizeof(*v), float_cmp);
	ms = 1000.0 * v[im->nr_latency / 2];
	free(v);
	return ms;
}

static void
server_text(struct buf *err, const char *what, const struct imap_resp *r)
{
	buf_addf(err, "%s: '", what);
	if (r->text)
		buf_add_sanitized(err, r->text, strlen(r->text), 200);
	buf_addch(err, '\'');
}

/* A NO that says to try later (RFC 5530), not that it is refused. */
static int
try_later(const struct imap_resp *r)
{
	static const char *const codes[] = { "UNAVAILABLE", "INUSE", "LIMIT" };
	size_t i;

	for (i = 0; r->code.nr && i < ARRAY_SIZE(codes); i++)
		if (imap_atom_is(&r->code.items[0], codes[i]))
			return 1;
	return 0;
}

int
imap_wait(struct imap *im, unsigned tag, imap_untagged_fn untagged,
    void *arg, struct buf *err)
{
	struct imap_resp r = { 0 };
	struct imap_done *d;
	unsigned got;
	char *end;
	int ret = -1;
	size_t i;

	im->no_later = 0;
	for (i = 0; i < ARRAY_SIZE(im->done); i++) {
		d = &im->done[i];
		if (d->tag != tag)
			continue;
		d->tag = 0;
		ret = d->ok;
		if (ret <= 0)
			buf_addf(err, "%s", d->text);
		if (ret < 0)
			lc_fail(&im->lc, EX_PROTOCOL);
		free(d->text);
		d->text = NULL;
		return ret;
	}
	for (;;) {
		if (read_resp(im, &r, err) < 0)
			goto out;
		if (!strcmp(r.tag, "+")) {
			if (!im->cmd.len) {
				buf_adds(err, "unexpected continuation from"
				    " the server");
				lc_fail(&im->lc, EX_PROTOCOL);
				goto out;
			}
			if (tls_conn_write(im->lc.conn, im->cmd.buf,
			    im->cmd.len, err) < 0) {
				lc_fail(&im->lc, EX_TEMPFAIL);
				goto out;
			}
			buf_release_wipe(&im->cmd);
			continue;
		}
		if (!strcmp(r.tag, "*")) {
			if (imap_atom_is(&r.vals.items[0], "CAPABILITY"))
				take_caps(im, &r.vals, 1);
			else if (imap_atom_is(&r.vals.items[0], "BYE")) {
				server_text(err, "the server said BYE", &r);
				lc_fail(&im->lc, EX_TEMPFAIL);
				goto out;
			} else if (untagged && untagged(arg, &r, err) < 0)
				goto out;
			continue;
		}
		got = (unsigned)strtoul(r.tag + 1, &end, 10);
		if (r.tag[0] != 'A' || *end || !got || got >= im->next_tag) {
			buf_adds(err, "response with a tag never sent: '");
			buf_add_sanitized(err, r.tag, strlen(r.tag), 40);
			buf_addch(err, '\'');
			lc_fail(&im->lc, EX_PROTOCOL);
			goto out;
		}
		if (imap_atom_is(&r.vals.items[0], "OK"))
			ret = 1;
		else if (imap_atom_is(&r.vals.items[0], "NO"))
			ret = 0;
		else
			ret = -1;
		if (got == tag) {
			im->no_later = ret == 0 && try_later(&r);
			if (ret == 0)
				server_text(err, "the server said NO", &r);
			else if (ret < 0) {
				server_text(err, "the server said BAD", &r);
				lc_fail(&im->lc, EX_PROTOCOL);
			}
			goto out;
		}
		/* another command in flight finished first */
		for (i = 0; i < ARRAY_SIZE(im->done); i++)
			if (!im->done[i].tag)
				break;
		if (i == ARRAY_SIZE(im->done))
			BUG("more than %zu commands in flight",
			    ARRAY_SIZE(im->done));
		im->done[i].tag = got;
		im->done[i].ok = ret;
		im->done[i].text = NULL;
		if (ret <= 0) {
			struct buf t = BUF_INIT;

			server_text(&t, ret ? "the server said BAD" :
			    "the server said NO", &r);
			im->done[i].text = buf_detach(&t, NULL);
		}
		ret = -1;
	}
out:
	imap_resp_release(&r);
	return ret;
}

static unsigned
vsend(struct imap *im, struct buf *err, const char *fmt, va_list ap)
{
	struct buf line = BUF_INIT;
	unsigned tag = im->next_tag++;
	int ret;

	buf_addf(&line, "A%u ", tag);
	buf_vaddf(&line, fmt, ap);
	ret = lc_send(&im->lc, &line, NULL, err);
	buf_release(&line);
	return ret < 0 ? 0 : tag;
}

unsigned
imap_send(struct imap *im, struct buf *err, const char *fmt, ...)
{
	va_list ap;
	unsigned tag;

	va_start(ap, fmt);
	tag = vsend(im, err, fmt, ap);
	va_end(ap);
	return tag;
}

int
imap_simple(struct imap *im, imap_untagged_fn untagged, void *arg,
    struct buf *err, const char *fmt, ...)
{
	va_list ap;
	unsigned tag;

	va_start(ap, fmt);
	im->asked_at = now_seconds();
	tag = vsend(im, err, fmt, ap);
	va_end(ap);
	if (!tag)
		return -1;
	return imap_wait(im, tag, untagged, arg, err);
}

void
imap_quote(struct buf *out, const char *s)
{
	lc_add_string(out, s, strlen(s), 0);
}

static int
need_caps(struct imap *im, struct buf *err)
{
	int rc = imap_simple(im, NULL, NULL, err, "CAPABILITY");

	if (rc == 0)
		lc_fail(&im->lc, EX_PROTOCOL);
	return rc == 1 ? 0 : -1;
}

static int
starttls_command(void *arg, struct buf *err)
{
	return imap_simple(arg, NULL, NULL, err, "STARTTLS");
}

static int
starttls_caps(void *arg, struct buf *err)
{
	return need_caps(arg, err);
}

static const struct lc_starttls_ops starttls_ops = {
	starttls_command, starttls_caps,
};

int
imap_connect(struct imap **im_r, const struct server_opts *o, struct buf *err)
{
	struct imap *im = xcalloc(1, sizeof(*im));
	struct imap_resp r = { 0 };
	int rc, ret = -1;

	*im_r = im;
	im->next_tag = 1;
	buf_init(&im->cmd, 0);
	if (lc_open(&im->lc, o, err) < 0)
		return -1;
	imap_src_from_tls(&im->src, im->lc.conn);
	im->src.max_line = 4 << 20;
	if ((rc = imap_resp_read(&im->src, &r, err)) != IMAP_READ_OK) {
		if (rc == IMAP_READ_EOF)
			buf_adds(err, "the server closed the connection"
			    " before its greeting");
		lc_fail(&im->lc, rc == IMAP_READ_BAD ? EX_PROTOCOL :
		    EX_UNAVAILABLE);
		goto out;
	}
	if (strcmp(r.tag, "*") || !(imap_atom_is(&r.vals.items[0], "OK") ||
	    imap_atom_is(&r.vals.items[0], "PREAUTH"))) {
		server_text(err, "the server refused service", &r);
		lc_fail(&im->lc, EX_UNAVAILABLE);
		goto out;
	}
	if (imap_atom_is(&r.code.items[0], "CAPABILITY"))
		take_caps(im, &r.code, 1);
	else if (need_caps(im, err) < 0)
		goto out;
	if (lc_starttls(&im->lc, o, !!(im->caps & IMAP_CAP_STARTTLS),
	    &starttls_ops, im, err) < 0)
		goto out;
	ret = 0;
out:
	imap_resp_release(&r);
	return ret;
}

int
imap_login(struct imap *im, enum imap_auth how, const char *authz,
    const char *authc, const char *password, struct buf *err)
{
	struct buf b64 = BUF_INIT, line = BUF_INIT;
	unsigned tag, caps_before;
	int rc, ret = -1;

	if (lc_may_send_password(&im->lc, err) < 0)
		return -1;
	if (how == IMAP_AUTH_AUTO)
		how = im->caps & IMAP_CAP_AUTH_PLAIN ? IMAP_AUTH_PLAIN :
		    IMAP_AUTH_LOGIN;
	if (how == IMAP_AUTH_LOGIN && authz) {
		buf_adds(err, "acting as another user needs AUTHENTICATE"
		    " PLAIN, which the server does not offer");
		return lc_fail(&im->lc, EX_CONFIG);
	}
	if (how == IMAP_AUTH_LOGIN && (im->caps & IMAP_CAP_LOGINDISABLED)) {
		buf_adds(err, "the server disabled LOGIN and does not offer"
		    " AUTHENTICATE PLAIN");
		return lc_fail(&im->lc, EX_UNAVAILABLE);
	}
	/* the password goes in one piece: no continuation between */
	if (strpbrk(password, "\r\n") || strpbrk(authc, "\r\n") ||
	    (authz && strpbrk(authz, "\r\n"))) {
		buf_adds(err, "a user name or password holds a line break");
		return lc_fail(&im->lc, EX_CONFIG);
	}
	caps_before = im->caps;
	im->caps = 0;
	if (how == IMAP_AUTH_PLAIN) {
		sasl_plain_b64(&b64, authz, authc, password);
		if (caps_before & IMAP_CAP_SASL_IR) {
			buf_addf(&line, "AUTHENTICATE PLAIN %s", b64.buf);
		} else {
			buf_adds(&line, "AUTHENTICATE PLAIN");
			buf_release_wipe(&im->cmd);
			buf_add(&im->cmd, b64.buf, b64.len);
			buf_adds(&im->cmd, "\r\n");
		}
	} else {
		buf_adds(&line, "LOGIN ");
		imap_quote(&line, authc);
		buf_addch(&line, ' ');
		imap_quote(&line, password);
	}
	tag = im->next_tag++;
	{
		/* not imap_send(): the password must not be logged */
		struct buf full = BUF_INIT;
		char shown[64];

		snprintf(shown, sizeof(shown), "A%u %s", tag,
		    how == IMAP_AUTH_PLAIN ? "AUTHENTICATE PLAIN ..." :
		    "LOGIN ...");
		buf_addf(&full, "A%u %s", tag, line.buf);
		if (lc_send(&im->lc, &full, shown, err) < 0)
			goto out;
	}
	rc = imap_wait(im, tag, NULL, NULL, err);
	buf_release_wipe(&im->cmd);
	if (rc == 0) {
		/* "try later" is not a wrong password */
		lc_fail(&im->lc, im->no_later ? EX_UNAVAILABLE : EX_NOPERM);
		goto out;
	}
	if (rc < 0) {
		/* a BAD here is a refusal of what we sent */
		if (im->lc.fail == EX_PROTOCOL)
			lc_fail(&im->lc, EX_NOPERM);
		goto out;
	}
	if (!im->caps && need_caps(im, err) < 0)
		goto out;
	ret = 0;
out:
	buf_release_wipe(&b64);
	buf_release_wipe(&line);
	return ret;
}

int
imap_login_as(struct imap *im, enum imap_auth how, const char *user,
    const char *admin, const char *master_sep, const char *password,
    struct buf *err)
{
	struct buf as = BUF_INIT;
	const char *authz, *authc;
	int ret;

	sasl_identity(&as, user, admin, master_sep, &authz, &authc);
	ret = imap_login(im, how, authz, authc, password, err);
	buf_release(&as);
	return ret;
}

static int
on_enabled(void *arg, struct imap_resp *r, struct buf *err)
{
	int *utf8 = arg;
	size_t i;

	if (imap_atom_is(&r->vals.items[0], "ENABLED"))
		for (i = 1; i < r->vals.nr; i++)
			if (imap_atom_is(&r->vals.items[i], "UTF8=ACCEPT"))
				*utf8 = 1;
	(void)err;
	return 0;
}

int
imap_enable_utf8(struct imap *im, struct buf *err)
{
	int utf8 = 0;

	if (!(im->caps & IMAP_CAP_ENABLE) || !(im->caps & IMAP_CAP_UTF8_ACCEPT))
		return 0;
	if (imap_simple(im, on_enabled, &utf8, err, "ENABLE UTF8=ACCEPT") < 0)
		return -1;
	buf_reset(err);
	return utf8;
}

void
imap_free(struct imap **imp)
{
	struct imap *im = *imp;
	struct buf err = BUF_INIT;
	size_t i;

	if (!im)
		return;
	if (im->lc.conn && !im->lc.fail) {
		unsigned tag = imap_send(im, &err, "LOGOUT");

		if (tag)
			imap_wait(im, tag, NULL, NULL, &err);
	}
	buf_release(&err);
	lc_close(&im->lc);
	for (i = 0; i < ARRAY_SIZE(im->done); i++)
		free(im->done[i].text);
	free(im->latency);
	buf_release_wipe(&im->cmd);
	free(im);
	*imp = NULL;
}

int
imap_parse_set(const char *s, uint32_t **uids_r, size_t *nr_r)
{
	uint32_t *uids = NULL, a, b, t;
	size_t nr = 0, alloc = 0;
	unsigned long x, y;
	char *end;

	*uids_r = NULL;
	*nr_r = 0;
	while (*s) {
		if (*s < '0' || *s > '9')
			goto bad;
		x = strtoul(s, &end, 10);
		y = x;
		if (*end == ':') {
			if (end[1] < '0' || end[1] > '9')
				goto bad;
			y = strtoul(end + 1, &end, 10);
		}
		if (!x || !y || x > UINT32_MAX || y > UINT32_MAX)
			goto bad;
		a = (uint32_t)x;
		b = (uint32_t)y;
		if (a > b)
			t = a, a = b, b = t;
		if (b - a > 50000000)
			goto bad;
		ALLOC_GROW(uids, nr + (b - a) + 1, alloc);
		for (;; a++) {
			uids[nr++] = a;
			if (a == b)
				break;
		}
		if (*end == ',')
			end++;
		else if (*end)
			goto bad;
		s = end;
	}
	*uids_r = uids;
	*nr_r = nr;
	return 0;
bad:
	free(uids);
	return -1;
}

size_t
imap_format_set(struct buf *out, const uint32_t *uids, size_t nr,
    size_t max)
{
	size_t i = 0, j;

	if (nr > max)
		nr = max;
	while (i < nr) {
		j = i;
		while (j + 1 < nr && uids[j + 1] == uids[j] + 1)
			j++;
		if (i)
			buf_addch(out, ',');
		if (j > i)
			buf_addf(out, "%" PRIu32 ":%" PRIu32, uids[i], uids[j]);
		else
			buf_addf(out, "%" PRIu32, uids[i]);
		i = j + 1;
	}
	return nr;
}
