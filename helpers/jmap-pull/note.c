/*
 * note.c: what goes wrong in a jmap-pull run, told and counted: its
 * anomalies and the exit code of its first failure.
 */
#include "compat.h"

#include "evline.h"
#include "jpull.h"

void
jpull_anomaly(struct jpull *p, const char *kind, const char *folder,
    const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	buf_vaddf(&text, fmt, ap);
	va_end(ap);
	p->anomalies++;
	evline_anomaly(1, kind, folder, 0, text.buf, &o);
	if (p->report_anomalies)
		json_array_append(p->report_anomalies, o);
	json_decref(o);
	buf_release(&text);
}

int
jpull_fail(struct jpull *p, int code)
{
	if (!p->fail)
		p->fail = code ? code : EX_SOFTWARE;
	return -1;
}
