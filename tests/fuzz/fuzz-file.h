/*
 * fuzz-file.h: for the fuzz targets whose parser reads a file: the input
 * written to a new file under /tmp, its name in `path` (a mkstemp(3)
 * template).  0, or -1 when it cannot be written (the input is skipped).
 */
#include <unistd.h>

static inline int
fuzz_file(char *path, const uint8_t *data, size_t size)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}
