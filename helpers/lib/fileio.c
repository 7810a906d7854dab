#include "compat.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

#include "buf.h"
#include "fileio.h"
#include "xalloc.h"

static int
fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd, ret;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int
write_fully(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, int mode,
    struct buf *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	const char *p = data;
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode ? mode : 0644);
	if (fd < 0) {
		buf_addf(err, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (write_fully(fd, p, len) < 0) {
		buf_addf(err, "cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		goto unlink;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		buf_addf(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto unlink;
	}
	if (rename(tmp, path) < 0) {
		buf_addf(err, "cannot rename '%s' to '%s': %s", tmp, path,
		    strerror(errno));
		goto unlink;
	}
	ret = 0;
	if (fsync_dir_of(path) < 0) {
		buf_addf(err, "cannot sync the directory of '%s': %s", path,
		    strerror(errno));
		ret = -1;
	}
	goto out;
unlink:
	unlink(tmp);
out:
	free(tmp);
	return ret;
}

int
file_read(const char *path, struct buf *out, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		buf_addf(err, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		char chunk[65536];

		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(out, chunk, n) < 0) {
			errno = EFBIG;
			n = -1;
			break;
		}
	}
	close(fd);
	if (n < 0) {
		buf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
mkdir_p(const char *dir, struct buf *err)
{
	char *copy = xstrdup(dir), *p, c;
	int ret = 0;

	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			buf_addf(err, "cannot make directory '%s': %s", copy,
			    strerror(errno));
			ret = -1;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return ret;
}
