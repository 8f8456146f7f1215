/*
 * io.h - writing a whole buffer to a file descriptor, and reading one.
 */
#ifndef SMITHERS_COMMON_IO_H
#define SMITHERS_COMMON_IO_H

#include <stddef.h>

/*
 * Write the LEN bytes at BUF to FD, going on after short writes and after
 * EINTR. 0 when all are written; -1 with write(2)'s errno otherwise (EAGAIN
 * on a non-blocking fd that is full, EPIPE, ENOSPC, ...), or EIO should
 * write(2) ever return 0; a prefix may then have been written.
 */
int cm_write_all(int fd, const void *buf, size_t len);

/*
 * Read LEN bytes from FD into BUF, going on after short reads and after
 * EINTR. 0 when all are read; -1 with read(2)'s errno otherwise, or ENODATA
 * when FD ended before; a prefix may then have been read.
 */
int cm_read_all(int fd, void *buf, size_t len);

#endif /* SMITHERS_COMMON_IO_H */
