/*
 * mkcorpus: write a deterministic mail, calendar, contact and Sieve corpus
 * for one test-world user, from a seed number.
 *
 *	mkcorpus [-s seed] [-n messages] [-B big-MB] [-p profile] [-S sep] -o DIR
 *
 * The mail goes to DIR/maildir as a Maildir tree in Dovecot's LAYOUT=fs with
 * UTF-8 names (INBOX is DIR/maildir/INBOX), ready for `doveadm import`:
 * flags and keywords in the file names (with dovecot-keywords files) and the
 * internal date as the file's mtime.  DIR/manifest.tsv lists every message:
 *
 *	folder TAB flags TAB keywords TAB internaldate TAB size TAB sha256
 *
 * so tests can check what a reader got against what was written.  The
 * profile "standard" is the functional corpus (odd folders, odd messages);
 * "bench" is the benchmark account (about 20,000 messages, about 1 GB).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

static uint64_t rng;
static char sep = '/';	/* the server's hierarchy separator */

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rndn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mkcorpus: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* A growable byte buffer for one message. */
struct mbuf {
	char *p;
	size_t len, alloc;
};

static void
mb_add(struct mbuf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->alloc) {
		b->alloc = (b->len + n + 1) * 2;
		if (!(b->p = realloc(b->p, b->alloc)))
			die("out of memory");
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* append a string literal */
#define mb_adds(b, lit) mb_add((b), (lit), sizeof(lit) - 1)

static void
mb_addf(struct mbuf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		die("line too long");
	mb_add(b, tmp, (size_t)n);
}

static const char *words[] = {
	"migration", "mailbox", "server", "quarterly", "report", "meeting",
	"budget", "invoice", "draft", "review", "deadline", "holiday",
	"the", "a", "and", "of", "to", "in", "for", "with", "on", "please",
	"thanks", "regards", "attached", "schedule", "project", "alpha",
	"customer", "support", "ticket", "update", "release", "notes",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *names[] = {
	"Alice Martin", "Bob Dupont", "Carol Weiß", "Dmitri Ivanov",
	"Emma Jönsson", "François Lefèvre", "Grace Hopper", "Hiro Tanaka",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void
add_text(struct mbuf *b, size_t bytes)
{
	size_t col = 0, start = b->len;

	while (b->len - start < bytes) {
		const char *w = words[rndn(NWORDS)];
		size_t n = strlen(w);

		if (col + n + 1 > 72) {
			mb_adds(b, "\n");
			col = 0;
		} else if (col) {
			mb_adds(b, " ");
			col++;
		}
		mb_add(b, w, n);
		col += n;
	}
	mb_adds(b, "\n");
}

static void
add_base64(struct mbuf *b, size_t bytes)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[78];
	size_t out = 0, total = (bytes + 2) / 3 * 4;

	while (out < total) {
		size_t n = total - out < 76 ? total - out : 76, i;
		uint64_t r = 0;

		for (i = 0; i < n; i++) {
			if (i % 10 == 0)
				r = rnd();
			line[i] = tab[r & 63];
			r >>= 6;
		}
		line[n] = '\n';
		mb_add(b, line, n + 1);
		out += n;
	}
}

struct folder {
	const char *name;	/* UTF-8, '/' separates levels */
	unsigned weight;	/* share of the messages */
};

static const struct folder standard_folders[] = {
	{ "INBOX", 30 }, { "Sent", 12 }, { "Drafts", 3 }, { "Trash", 4 },
	{ "Junk", 4 }, { "Archive", 6 }, { "Archive/2019", 6 },
	{ "Archive/2020", 6 }, { "Projects", 3 }, { "Projects/Alpha", 5 },
	{ "Projects/Alpha/Specs", 4 }, { "Reports.2024", 5 },
	{ "Back\\slash & Co", 3 }, { "Café Ünïcödé ☕", 4 }, { "Пример", 3 },
	{ "日本語", 3 }, { "Old Stuff", 4 }, { "Empty", 0 },
};

static const struct folder bench_folders[] = {
	{ "INBOX", 30 }, { "Sent", 15 }, { "Drafts", 1 }, { "Trash", 4 },
	{ "Junk", 4 }, { "Archive", 20 }, { "Archive/2023", 10 },
	{ "Lists", 8 }, { "Lists/dev", 6 }, { "Customers", 2 },
};

static const char *keywords[] = {
	"$Forwarded", "$MDNSent", "Project-X", "$label1", "NonJunk",
	"to-do",
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

/*
 * The folder's name as the server will show it, with '/' between levels: a
 * server whose separator is '.' cannot hold a '.' inside a name, so there
 * it becomes '_'.
 */
static const char *
fname(const struct folder *f)
{
	static char buf[256];
	char *p;

	snprintf(buf, sizeof(buf), "%s", f->name);
	if (sep == '.')
		for (p = buf; *p; p++)
			if (*p == '.')
				*p = '_';
	return buf;
}

static void
mkdirs(const char *path)
{
	char tmp[4096], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		die("path too long");
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			die("cannot create '%s'", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		die("cannot create '%s'", tmp);
	errno = 0;
}

static void
write_file(const char *path, const void *d, size_t n, time_t mtime)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
		die("cannot write '%s'", path);
	if (mtime) {
		struct timeval tv[2] = { { mtime, 0 }, { mtime, 0 } };

		if (utimes(path, tv) < 0)
			die("cannot set time of '%s'", path);
	}
	errno = 0;
}

static void
sha256_hex(const void *d, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0, i;

	if (!EVP_Digest(d, n, md, &len, EVP_sha256(), NULL) || len != 32)
		die("sha256 failed");
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *outdir;
static FILE *manifest;
static unsigned serial;

/*
 * Build one message.  `kind` selects the odd ones of the standard corpus;
 * 0 is an ordinary message of about `size` bytes.
 */
enum odd {
	ODD_NONE, ODD_EMPTY_BODY, ODD_8BIT, ODD_MALFORMED, ODD_NO_MSGID,
	ODD_DUP_MSGID, ODD_CRLF, ODD_BIG,
};

static void
build_message(struct mbuf *b, const char *user, enum odd odd, size_t size,
    time_t date, unsigned seed)
{
	const char *from = names[rndn(NNAMES)];
	char datestr[64], boundary[40];
	struct tm tm;
	size_t att = 0;

	gmtime_r(&date, &tm);
	strftime(datestr, sizeof(datestr), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	if (odd != ODD_MALFORMED)
		mb_addf(b, "Return-Path: <sender%u@example.net>\n", rndn(50));
	mb_addf(b, "From: %s <sender%u@example.net>\n", from, rndn(50));
	mb_addf(b, "To: %s\n", user);
	switch (odd) {
	case ODD_8BIT:
		/* raw UTF-8 and Latin-1 bytes, no encoded-words */
		mb_addf(b, "Subject: Réunion à 8 bits, Grüße %u\n", seed);
		mb_adds(b, "X-Latin1: caf\xe9 cr\xe8me\n");
		break;
	case ODD_MALFORMED:
		mb_addf(b, "Subject: malformed headers %u\n", seed);
		mb_adds(b, "This line has no colon\n");
		mb_adds(b, "Date: not a date at all\n");
		mb_adds(b, "X-Folded: first\n\tsecond\n  third\n");
		mb_adds(b, "Content-Type: multipart/mixed\n");
		break;
	default:
		mb_addf(b, "Subject: %s %s %u\n", words[rndn(NWORDS)],
		    words[rndn(NWORDS)], seed);
		break;
	}
	if (odd != ODD_MALFORMED)
		mb_addf(b, "Date: %s\n", datestr);
	if (odd == ODD_DUP_MSGID)
		mb_adds(b, "Message-ID: <duplicate@corpus.example.org>\n");
	else if (odd != ODD_NO_MSGID)
		mb_addf(b, "Message-ID: <%u.%u.%llx@corpus.example.org>\n",
		    seed, serial, (unsigned long long)(rnd() & 0xffffffff));
	mb_adds(b, "MIME-Version: 1.0\n");

	if (odd == ODD_EMPTY_BODY) {
		mb_adds(b, "Content-Type: text/plain\n\n");
		return;
	}
	if (odd == ODD_BIG)
		att = size;
	else if (size > 20000 && rndn(3) == 0)
		att = size * 3 / 4;
	if (odd == ODD_8BIT) {
		mb_adds(b, "Content-Type: text/plain; charset=utf-8\n");
		mb_adds(b, "Content-Transfer-Encoding: 8bit\n\n");
		mb_adds(b, "Grüße aus Köln — ça va? Привет, 日本語.\n");
		add_text(b, size);
		return;
	}
	if (!att) {
		if (odd != ODD_MALFORMED)
			mb_adds(b,
			    "Content-Type: text/plain; charset=us-ascii\n");
		mb_adds(b, "\n");
		add_text(b, size);
		return;
	}
	snprintf(boundary, sizeof(boundary), "=_corpus_%08x",
	    (unsigned)(rnd() & 0xffffffff));
	mb_addf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n",
	    boundary);
	mb_addf(b, "--%s\nContent-Type: text/plain; charset=us-ascii\n\n",
	    boundary);
	add_text(b, size > att + 200 ? size - att : 200);
	mb_addf(b, "--%s\nContent-Type: application/octet-stream; "
	    "name=\"data%u.bin\"\nContent-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"data%u.bin\"\n\n",
	    boundary, seed, seed);
	add_base64(b, att * 3 / 4);
	mb_addf(b, "--%s--\n", boundary);
}

static void
to_crlf(struct mbuf *b)
{
	struct mbuf o = { 0 };
	size_t i;

	for (i = 0; i < b->len; i++) {
		if (b->p[i] == '\n')
			mb_adds(&o, "\r");
		mb_add(&o, b->p + i, 1);
	}
	free(b->p);
	*b = o;
}

static void
store_message(const struct folder *f, struct mbuf *b, time_t date,
    unsigned flags, unsigned kwmask)
{
	char dir[4096], path[4200], fl[40], kw[256], hex[65], dated[32];
	char fls[80];
	size_t n = 0, k = 0;
	unsigned i;
	struct tm tm;

	snprintf(dir, sizeof(dir), "%s/maildir/%s", outdir, fname(f));
	/* Maildir flag letters must be in ASCII order: D F R S T */
	if (flags & 1)
		fl[n++] = 'D';
	if (flags & 2)
		fl[n++] = 'F';
	if (flags & 4)
		fl[n++] = 'R';
	if (flags & 8)
		fl[n++] = 'S';
	if (flags & 16)
		fl[n++] = 'T';
	kw[0] = '\0';
	for (i = 0; i < NKEYWORDS; i++) {
		if (!(kwmask & (1u << i)))
			continue;
		fl[n++] = (char)('a' + i);
		k += (size_t)snprintf(kw + k, sizeof(kw) - k, "%s%s",
		    k ? " " : "", keywords[i]);
	}
	fl[n] = '\0';
	snprintf(path, sizeof(path), "%s/cur/%lld.M%uP1.corpus,S=%zu:2,%s",
	    dir, (long long)date, serial, b->len, fl);
	write_file(path, b->p, b->len, date);

	sha256_hex(b->p, b->len, hex);
	gmtime_r(&date, &tm);
	strftime(dated, sizeof(dated), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fls[0] = '\0';
	for (i = 0, k = 0; i < 5; i++) {
		static const unsigned bit[] = { 8, 2, 4, 1, 16 };
		static const char *name[] = { "\\Seen", "\\Flagged",
		    "\\Answered", "\\Draft", "\\Deleted" };

		if (flags & bit[i])
			k += (size_t)snprintf(fls + k, sizeof(fls) - k, "%s%s",
			    k ? " " : "", name[i]);
	}
	fprintf(manifest, "%s\t%s\t%s\t%s\t%zu\t%s\n", fname(f), fls, kw,
	    dated, b->len, hex);
	serial++;
}

static void
make_folders(const struct folder *fs, size_t nf)
{
	char path[4200];
	size_t i;
	unsigned k;

	for (i = 0; i < nf; i++) {
		static const char *sub[] = { "cur", "new", "tmp" };
		FILE *f;
		int j;

		for (j = 0; j < 3; j++) {
			snprintf(path, sizeof(path), "%s/maildir/%s/%s",
			    outdir, fname(&fs[i]), sub[j]);
			mkdirs(path);
		}
		snprintf(path, sizeof(path), "%s/maildir/%s/dovecot-keywords",
		    outdir, fname(&fs[i]));
		if (!(f = fopen(path, "w")))
			die("cannot write '%s'", path);
		for (k = 0; k < NKEYWORDS; k++)
			fprintf(f, "%u %s\n", k, keywords[k]);
		if (fclose(f) != 0)
			die("cannot write '%s'", path);
	}
}

static const struct folder *
pick_folder(const struct folder *fs, size_t nf)
{
	unsigned total = 0, r;
	size_t i;

	for (i = 0; i < nf; i++)
		total += fs[i].weight;
	r = rndn(total);
	for (i = 0; i < nf; i++) {
		if (r < fs[i].weight)
			return &fs[i];
		r -= fs[i].weight;
	}
	return &fs[0];
}

static unsigned
pick_flags(const struct folder *f)
{
	unsigned fl = 0;

	if (rndn(10) < 7)
		fl |= 8;
	if (rndn(10) == 0)
		fl |= 2;
	if (rndn(8) == 0)
		fl |= 4;
	if (!strcmp(f->name, "Drafts"))
		fl |= 1;
	if (rndn(40) == 0)
		fl |= 16;
	return fl;
}

static void
gen_mail(const char *user, const char *profile, unsigned count,
    unsigned big_mb, unsigned seed)
{
	const struct folder *fs;
	struct mbuf b = { 0 };
	size_t nf;
	unsigned i;
	int bench = !strcmp(profile, "bench");

	if (bench) {
		fs = bench_folders;
		nf = sizeof(bench_folders) / sizeof(bench_folders[0]);
	} else {
		fs = standard_folders;
		nf = sizeof(standard_folders) / sizeof(standard_folders[0]);
	}
	make_folders(fs, nf);

	for (i = 0; i < count; i++) {
		const struct folder *f = pick_folder(fs, nf);
		enum odd odd = ODD_NONE;
		size_t size;
		time_t date;
		unsigned kw = 0;

		/* 1995-01-01 .. 2026-01-01, one message from 1980 */
		date = 788918400 + (time_t)(rnd() % 978307200ULL);
		if (bench) {
			unsigned r = rndn(1000);

			/* mostly 5-100 KB, skewed small; 0.4% of 1-10 MB:
			 * about 50 KB a message, 1 GB in 20,000 */
			if (r < 4)
				size = 1000000 + rndn(9000000);
			else
				size = 5000 + (size_t)rndn(95000) *
				    rndn(1000) / 1000;
		} else {
			unsigned r = rndn(100);

			if (r < 60)
				size = 200 + rndn(4000);
			else if (r < 90)
				size = 4000 + rndn(40000);
			else
				size = 40000 + rndn(400000);
			switch (i % 37) {
			case 3: odd = ODD_EMPTY_BODY; break;
			case 7: odd = ODD_8BIT; break;
			case 11: odd = ODD_MALFORMED; break;
			case 13: odd = ODD_NO_MSGID; break;
			case 17: case 19: odd = ODD_DUP_MSGID; break;
			case 23: odd = ODD_CRLF; break;
			}
			if (i == 5)
				date = 315532800; /* 1980-01-01 */
		}
		if (rndn(6) == 0)
			kw = 1u << rndn(NKEYWORDS);
		if (rndn(30) == 0)
			kw |= 1u << rndn(NKEYWORDS);

		b.len = 0;
		build_message(&b, user, odd, size, date, seed);
		if (odd == ODD_CRLF)
			to_crlf(&b);
		store_message(f, &b, date, pick_flags(f), kw);

		/* the same bytes in a second folder: stored once by hash */
		if (!bench && i % 53 == 29)
			store_message(&fs[5], &b, date, 8, 0);
	}
	if (big_mb) {
		b.len = 0;
		build_message(&b, user, ODD_BIG, (size_t)big_mb << 20,
		    1700000000, seed);
		store_message(&fs[0], &b, 1700000000, 0, 0);
	}
	free(b.p);
}

static const char png1x1[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg==";

static void
gen_dav(const char *user, unsigned seed)
{
	char path[4200];
	struct mbuf b = { 0 };
	unsigned i;

	snprintf(path, sizeof(path), "%s/dav/calendars/calendar", outdir);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/dav/addressbooks/contacts", outdir);
	mkdirs(path);

	for (i = 0; i < 12; i++) {
		unsigned day = 1 + rndn(27), hour = 8 + rndn(9);

		b.len = 0;
		mb_adds(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
		    "PRODID:-//migrate//mkcorpus//EN\r\n");
		mb_addf(&b, "BEGIN:VEVENT\r\nUID:ev-%u-%u@corpus.example.org\r\n"
		    "DTSTAMP:20240101T000000Z\r\n"
		    "DTSTART:202403%02uT%02u0000Z\r\n"
		    "DTEND:202403%02uT%02u3000Z\r\n"
		    "SUMMARY:%s %s\r\n", seed, i, day, hour, day, hour,
		    words[rndn(NWORDS)], words[rndn(NWORDS)]);
		if (i % 3 == 0)
			mb_adds(&b, "RRULE:FREQ=WEEKLY;COUNT=10\r\n");
		mb_adds(&b, "END:VEVENT\r\n");
		if (i % 3 == 0) {
			/* an exception: the third occurrence moved an hour */
			mb_addf(&b, "BEGIN:VEVENT\r\n"
			    "UID:ev-%u-%u@corpus.example.org\r\n"
			    "DTSTAMP:20240101T000000Z\r\n"
			    "RECURRENCE-ID:202403%02uT%02u0000Z\r\n"
			    "DTSTART:202403%02uT%02u0000Z\r\n"
			    "DTEND:202403%02uT%02u3000Z\r\n"
			    "SUMMARY:moved occurrence\r\nEND:VEVENT\r\n",
			    seed, i, day + 14 > 28 ? day : day + 14, hour,
			    day + 14 > 28 ? day : day + 14, hour + 1,
			    day + 14 > 28 ? day : day + 14, hour + 1);
		}
		mb_adds(&b, "END:VCALENDAR\r\n");
		snprintf(path, sizeof(path),
		    "%s/dav/calendars/calendar/ev-%u.ics", outdir, i);
		write_file(path, b.p, b.len, 0);
	}

	for (i = 0; i < 10; i++) {
		const char *n = names[i % NNAMES];

		b.len = 0;
		mb_addf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\n"
		    "UID:card-%u-%u@corpus.example.org\r\nFN:%s\r\n"
		    "N:%s;;;;\r\nEMAIL;TYPE=INTERNET:contact%u@example.net\r\n",
		    seed, i, n, n, i);
		if (i % 2 == 0) {
			/* a 1x1 PNG, inline as vCard 3.0 carries photos */
			mb_adds(&b, "PHOTO;ENCODING=b;TYPE=PNG:");
			mb_add(&b, png1x1, sizeof(png1x1) - 1);
			mb_adds(&b, "\r\n");
		}
		mb_adds(&b, "END:VCARD\r\n");
		snprintf(path, sizeof(path),
		    "%s/dav/addressbooks/contacts/card-%u.vcf", outdir, i);
		write_file(path, b.p, b.len, 0);
	}
	free(b.p);
	(void)user;
}

static void
gen_sieve(void)
{
	static const char active[] =
	    "require [\"fileinto\", \"imap4flags\"];\n"
	    "# move list traffic away from the inbox\n"
	    "if header :contains \"List-Id\" \"dev.lists.example.org\" {\n"
	    "  fileinto \"Projects/Alpha\";\n"
	    "  stop;\n"
	    "}\n"
	    "if header :contains \"Subject\" \"invoice\" {\n"
	    "  addflag \"$label1\";\n"
	    "}\n";
	static const char inactive[] =
	    "require [\"vacation\"];\n"
	    "vacation :days 7 :subject \"Away\" \"I am away until Monday.\";\n";
	char path[4200];

	snprintf(path, sizeof(path), "%s/sieve", outdir);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/sieve/main.sieve", outdir);
	write_file(path, active, sizeof(active) - 1, 0);
	snprintf(path, sizeof(path), "%s/sieve/vacation.sieve", outdir);
	write_file(path, inactive, sizeof(inactive) - 1, 0);
}

int
main(int argc, char **argv)
{
	const char *profile = "standard", *user = "user@example.org";
	unsigned seed = 1, count = 300, big_mb = 0;
	char path[4200];
	int c;

	while ((c = getopt(argc, argv, "B:n:o:p:S:s:u:")) != -1) {
		switch (c) {
		case 'B': big_mb = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': outdir = optarg; break;
		case 'p': profile = optarg; break;
		case 'S': sep = optarg[0]; break;
		case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'u': user = optarg; break;
		default:
			fprintf(stderr, "usage: mkcorpus [-s seed] [-n count] "
			    "[-B big-MB] [-p standard|bench] [-S sep] [-u user] -o dir\n");
			return 64;
		}
	}
	if (!outdir || (strcmp(profile, "standard") && strcmp(profile, "bench"))) {
		fprintf(stderr, "mkcorpus: need -o dir and a known profile\n");
		return 64;
	}
	/* one stream per (seed, user), so users differ but repeat */
	rng = seed;
	for (const char *p = user; *p; p++)
		rng = rng * 131 + (unsigned char)*p;

	mkdirs(outdir);
	snprintf(path, sizeof(path), "%s/manifest.tsv", outdir);
	if (!(manifest = fopen(path, "w")))
		die("cannot write '%s'", path);
	gen_mail(user, profile, count, big_mb, seed);
	if (strcmp(profile, "bench")) {
		gen_dav(user, seed);
		gen_sieve();
	}
	if (fclose(manifest) != 0)
		die("cannot write '%s'", path);
	return 0;
}
