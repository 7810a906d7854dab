#include "test-lib.h"

#include "buf.h"
#include "repair.h"

#define H "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "UID:migrate-0123456789abcdef0123456789abcdef01234567@repaired"

static const struct {
	const char *what, *in, *out;	/* out NULL: left as it is */
} cases[] = {
	{ "an event without UID gets one after its BEGIN, in CRLF",
	  "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n"
	  "END:VEVENT\r\nEND:VCALENDAR\r\n",
	  "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n" UID "\r\n"
	  "SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" },
	{ "an event with a UID is left",
	  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc\r\nEND:VEVENT\r\n"
	  "END:VCALENDAR\r\n", NULL },
	{ "a UID with parameters counts",
	  "BEGIN:VCALENDAR\nBEGIN:VTODO\nuid;X-A=1:abc\nEND:VTODO\n"
	  "END:VCALENDAR\n", NULL },
	{ "a UID in a VALARM is not the event's; LF kept",
	  "BEGIN:VCALENDAR\nBEGIN:VEVENT\nBEGIN:VALARM\nUID:a\nEND:VALARM\n"
	  "END:VEVENT\nEND:VCALENDAR\n",
	  "BEGIN:VCALENDAR\nBEGIN:VEVENT\n" UID "\nBEGIN:VALARM\nUID:a\n"
	  "END:VALARM\nEND:VEVENT\nEND:VCALENDAR\n" },
	{ "the components of a recurring event get the same UID",
	  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRRULE:FREQ=DAILY\r\n"
	  "END:VEVENT\r\nBEGIN:VEVENT\r\nRECURRENCE-ID:20240101T000000Z\r\n"
	  "END:VEVENT\r\nEND:VCALENDAR\r\n",
	  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" UID "\r\nRRULE:FREQ=DAILY\r\n"
	  "END:VEVENT\r\nBEGIN:VEVENT\r\n" UID "\r\n"
	  "RECURRENCE-ID:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n" },
	{ "a vCard without UID",
	  "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n",
	  "BEGIN:VCARD\r\n" UID "\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n" },
	{ "a folded line that begins with UID is not a UID",
	  "BEGIN:VCARD\r\nNOTE:a\r\n UID:b\r\nEND:VCARD\r\n",
	  "BEGIN:VCARD\r\n" UID "\r\nNOTE:a\r\n UID:b\r\nEND:VCARD\r\n" },
	{ "a timezone alone needs none",
	  "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE\r\n"
	  "END:VCALENDAR\r\n", NULL },
	{ "no final line end", "BEGIN:VCARD\nFN:A\nEND:VCARD",
	  "BEGIN:VCARD\n" UID "\nFN:A\nEND:VCARD" },
	{ "not iCalendar at all", "hello\r\n", NULL },
	{ "empty", "", NULL },
};

int
main(void)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = dav_repair(cases[i].in, strlen(cases[i].in), H, &b);

		test_prefix = cases[i].what;
		check_int(r, ==, cases[i].out != NULL);
		check_str(b.buf ? b.buf : "", cases[i].out ? cases[i].out :
		    cases[i].in);
	}
	buf_release(&b);
	return test_done();
}
