#include "compat.h"

#include <sys/time.h>

#include <jansson.h>

#include "buf.h"
#include "evline.h"
#include "log.h"
#include "xalloc.h"

/* evline.h promises callers that json_pack's "I" takes a long long */
_Static_assert(sizeof(json_int_t) == sizeof(long long),
    "json_int_t is not long long");

static const char *type_names[] = {
	[EV_HELLO] = "hello",
	[EV_PROGRESS] = "progress",
	[EV_FOLDER] = "folder",
	[EV_CHECKPOINT] = "checkpoint",
	[EV_ANOMALY] = "anomaly",
	[EV_DONE] = "done",
};

const char *
evline_type_name(enum evline_type type)
{
	return type < ARRAY_SIZE(type_names) ? type_names[type] : "unknown";
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void (*write_hook)(const char *event, const struct json_t *obj);

void
evline_on_write(void (*fn)(const char *event, const struct json_t *obj))
{
	write_hook = fn;
}

static int
evline_vwrite(int fd, const char *event, const char *fmt, va_list ap)
{
	json_t *obj, *extra = NULL;
	struct timeval tv;
	char *line;
	int ret = -1;

	gettimeofday(&tv, NULL);
	obj = json_pack("{s:i, s:f, s:s}", "v", EVLINE_VERSION, "ts",
	    (double)tv.tv_sec + tv.tv_usec / 1e6, "event", event);
	if (!obj) {
		errno = EINVAL;
		return -1;
	}
	if (fmt) {
		json_error_t jerr;

		extra = json_vpack_ex(&jerr, 0, fmt, ap);
		if (!extra || !json_is_object(extra) ||
		    json_object_update(obj, extra) < 0) {
			/* a bug of ours: say so rather than lose the event */
			log_warnx("the %s event could not be made: %s", event,
			    extra ? "not an object" : jerr.text);
			errno = EINVAL;
			goto out;
		}
	}
	/* compact output escapes control characters: always one line */
	line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		errno = ENOMEM;
		goto out;
	}
	{
		size_t n = strlen(line);
		char *l = realloc(line, n + 2);

		if (!l) {
			free(line);
			errno = ENOMEM;
			goto out;
		}
		l[n] = '\n';
		l[n + 1] = '\0';
		if (write_hook)
			write_hook(NULL, NULL);
		ret = write_all(fd, l, n + 1);
		free(l);
		if (write_hook)
			write_hook(event, obj);
	}
out:
	json_decref(extra);
	json_decref(obj);
	return ret;
}

int
evline_write(int fd, const char *event, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = evline_vwrite(fd, event, fmt, ap);
	va_end(ap);
	return ret;
}

int
evline_hello(int fd, const char *name, const char *version)
{
	return evline_write(fd, "hello", "{s:s, s:s, s:i}", "name", name,
	    "version", version, "protocol", EVLINE_VERSION);
}

static int
bad_line(struct buf *err, const char *line, size_t len, const char *why)
{
	buf_addf(err, "bad event line (%s): '", why);
	buf_add_sanitized(err, line, len, 200);
	buf_addch(err, '\'');
	return -1;
}

int
evline_parse(struct evline *ev, const char *line, size_t len,
    struct buf *err)
{
	json_error_t jerr;
	json_t *obj, *v;
	const char *name;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	if (len > EVLINE_MAX)
		return bad_line(err, line, len, "too long");
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		return bad_line(err, line, len, "not JSON");
	if (!json_is_object(obj)) {
		json_decref(obj);
		return bad_line(err, line, len, "not a JSON object");
	}
	v = json_object_get(obj, "v");
	if (!json_is_integer(v) || json_integer_value(v) != EVLINE_VERSION) {
		json_decref(obj);
		return bad_line(err, line, len, "no \"v\":1");
	}
	name = json_string_value(json_object_get(obj, "event"));
	if (!name) {
		json_decref(obj);
		return bad_line(err, line, len, "no \"event\"");
	}
	for (i = 0; i < ARRAY_SIZE(type_names); i++)
		if (!strcmp(name, type_names[i]))
			break;
	if (i == ARRAY_SIZE(type_names)) {
		json_decref(obj);
		return bad_line(err, line, len, "unknown event");
	}
	ev->type = (enum evline_type)i;
	ev->name = name;
	ev->obj = obj;

	switch (ev->type) {
	case EV_HELLO:
		v = json_object_get(obj, "protocol");
		if (!json_is_integer(v) ||
		    json_integer_value(v) != EVLINE_VERSION) {
			evline_release(ev);
			return bad_line(err, line, len,
			    "hello without protocol 1");
		}
		if (!evline_str(ev, "name")) {
			evline_release(ev);
			return bad_line(err, line, len, "hello without name");
		}
		break;
	case EV_CHECKPOINT:
		if (!evline_str(ev, "token")) {
			evline_release(ev);
			return bad_line(err, line, len,
			    "checkpoint without token");
		}
		break;
	default:
		break;
	}
	return 0;
}

void
evline_release(struct evline *ev)
{
	json_decref(ev->obj);
	memset(ev, 0, sizeof(*ev));
}

const char *
evline_str(const struct evline *ev, const char *key)
{
	return json_string_value(json_object_get(ev->obj, key));
}

int
evline_int(const struct evline *ev, const char *key, int64_t *val_r)
{
	json_t *v = json_object_get(ev->obj, key);

	if (!json_is_integer(v))
		return -1;
	*val_r = json_integer_value(v);
	return 0;
}

char *
evline_dump(const struct evline *ev)
{
	return json_dumps(ev->obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int
evline_anomaly(int fd, const char *kind, const char *folder, uint32_t uid,
    const char *text, json_t **extra)
{
	json_t *o;
	int ret;

	log_info("%s%s%s: %s", kind, folder ? " in " : "", folder ? folder :
	    "", text);
	o = json_pack("{s:s, s:s, s:s?}", "kind", kind, "text", text,
	    "folder", folder);
	if (uid)
		json_object_set_new(o, "uid", json_integer(uid));
	ret = evline_write(fd, "anomaly", "O", o);
	if (extra)
		*extra = json_incref(o);
	json_decref(o);
	return ret;
}

int
evline_report(const char *path, json_t *o, struct buf *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int ret = 0;

	if (!o || json_dump_file(o, tmp, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER) < 0 || rename(tmp, path) < 0) {
		buf_addf(err, "cannot write the report '%s': %s", path,
		    strerror(errno));
		unlink(tmp);
		ret = -1;
	}
	free(tmp);
	return ret;
}
