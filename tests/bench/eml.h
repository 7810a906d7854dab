/*
 * eml.h: for the bench clients, a Maildir file read whole, with CRLF line
 * ends as an IMAP server would send it.  Exits on error.
 */
#ifndef MIGRATE_BENCH_EML_H
#define MIGRATE_BENCH_EML_H

#include <fcntl.h>
#include <sys/stat.h>

#include "xalloc.h"

static char *
eml_read(const char *path, size_t *len_r)
{
	struct stat st;
	char *data, *out;
	size_t i, n = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "cannot read '%s': %s\n", path, strerror(errno));
		exit(1);
	}
	data = xmalloc((size_t)st.st_size + 1);
	if (read(fd, data, (size_t)st.st_size) != st.st_size) {
		fprintf(stderr, "cannot read '%s'\n", path);
		exit(1);
	}
	close(fd);
	out = xmalloc(2 * (size_t)st.st_size + 1);
	for (i = 0; i < (size_t)st.st_size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = data[i];
	}
	free(data);
	*len_r = n;
	return out;
}

#endif
