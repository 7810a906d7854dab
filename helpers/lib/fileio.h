/*
 * fileio.h: whole files, written so that a reader sees the old or the new
 * content and never a part: a temporary file beside the target, fsync,
 * rename, fsync of the directory.
 */
#ifndef MIGRATE_FILEIO_H
#define MIGRATE_FILEIO_H

#include <stddef.h>

struct buf;

/* Replace `path` with `len` bytes of `data`, mode 0644 (or `mode`). */
int file_write_atomic(const char *path, const void *data, size_t len,
    int mode, struct buf *err);

/* All `len` bytes to `fd`, in one write(2) where it takes them: a line
 * of a log that threads or processes append to does not mix with
 * another.  0, or -1 with errno set. */
int write_fully(int fd, const void *data, size_t len);

/* Read all of `path` into `out` (appended); -1 with `err` set. */
int file_read(const char *path, struct buf *out, struct buf *err);

/* mkdir -p, mode 0700 for what it makes. */
int mkdir_p(const char *dir, struct buf *err);

#endif
